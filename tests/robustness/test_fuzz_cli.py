"""Fuzzing the command line: any combination of options ends in exit 0, or exit 2 with one
``nbperf: error:`` line; never exit 3 (an internal error) and never a traceback.

Found: every click usage error (a non-integer --top, an unknown option or command) ended as
"internal error", exit 3, because typer 0.29 raises its vendored click's exceptions, which are not
``click.ClickException`` (fixed in cli.py main).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from robustness_helpers import BROKEN, EXAMPLES, FUZZ, time_limit

from nbperf.cli import main

MODELS = [str(EXAMPLES / "fsrcnn_x2_540p.onnx"), *(str(BROKEN / name) for name in (
    "ok_conv.onnx", "unknown_domain_op.onnx", "dynamic_dim.onnx", "empty.onnx"))]
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
INT_TEXT = st.sampled_from(["-1", "0", "1", "2", "5", "1000000", "99999999999999999999", "x", "", "1.5"])
OPTIONS = {
    "--arch": st.sampled_from(["npu4000", "npu3720", "vpu2.0", "npu4000-4k", "npu9999", "", "x.yaml",
                               str(BROKEN / "negative_macs.yaml")]),
    "--precision": st.sampled_from(["int8", "fp16", "int4", "", "INT8"]),
    "--input-shape": st.one_of(st.sampled_from([
        "x=1x3x16x16", "x=1x3x0x16", "x=1xtwo", "=1", "x=", "image=1x3x540x960", "x=-1x3x16x16",
        "x=" + "x".join(["99999"] * 6)]), TEXT),
    "--set": st.one_of(st.sampled_from([
        "dpu.macs_per_tile=4096", "tiles=1", "tiles=0", "cmx.bytes_per_tile=1024", "dpu.nope=1", "=",
        "dma.ddr_bandwidth_gbps=.inf"]), TEXT),
    "--cost": st.sampled_from(["math", "emulator", "vpunn", ""]),
    "--policy": st.sampled_from(["optimal", "compiler", "greedy", ""]),
    "--strategy": st.one_of(st.sampled_from([
        "all=SOH", "all=SOK", "all=Clustering", "all=HKSwitch", "conv=SOK", "all=NOPE", "=SOH",
        "all="]), TEXT),
    "--top": INT_TEXT,
    "--json": st.sampled_from(["{out}/r.json", "{out}/no/such/folder/r.json", "{out}", "{out}/" + "r" * 300]),
    "--csv": st.sampled_from(["{out}/r.csv", "{out}/no/r.csv", "{out}"]),
    "--trace": st.sampled_from(["{out}/t.json", "{out}/no/t.json"]),
    "--prefetch-depth": INT_TEXT,
    "--barriers": INT_TEXT,
}
FLAGS = ["-q", "--quiet"]


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    args = ["estimate", draw(st.sampled_from(MODELS))]
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=4)):
        args += [option, draw(OPTIONS[option])]
    if draw(st.integers(0, 3)):
        args.append(draw(st.sampled_from(FLAGS)))  # the full table is slow to render; mostly skip it
    return args


@pytest.fixture(scope="module")
def outdir():
    with tempfile.TemporaryDirectory(prefix="nbperf-cli-fuzz-") as d:
        yield Path(d)


@FUZZ
@given(args=argv())
def test_cli_never_fails_internally(args, capsys, outdir):
    args = [a.replace("{out}", str(outdir)) for a in args]
    note(repr(args))
    with time_limit():
        code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err, captured.err
    if code == 0:
        assert all(line.startswith("nbperf: warning: ") for line in captured.err.splitlines() if line.strip())
    else:
        assert code == 2, (code, captured.err)
        lines = [line for line in captured.err.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("nbperf: error: ")]
        assert len(errors) == 1 and len(lines) - len(errors) <= 1, captured.err
    event(f"exit {code}")


@pytest.mark.parametrize("args,message", [
    (["estimate", MODELS[0], "--top", "x"], "Invalid value for '--top'"),
    (["estimate", MODELS[0], "--bogus"], "No such option: --bogus"),
    (["estimat", MODELS[0]], "No such command 'estimat'. Did you mean 'estimate'?"),
])
def test_click_usage_errors_are_exit_2(args, message, capsys):
    """Was: 'nbperf: internal error: BadParameter ...', exit 3."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("nbperf: error: ") and message in err
