"""The hand-written corpus of broken inputs (tests/data/broken, made by make_corpus.py) through the CLI.

Each file is run through the real entry point ``nbperf.cli.main``: a broken input ends in exactly
one stderr line ``nbperf: error: ...`` with the expected words and exit code 2; a model with an
op nbperf does not know but whose output shape is declared is estimated, with one warning line
and the op listed in the JSON's unknown_ops. A few run in a real ``python -m nbperf`` process to
prove no traceback reaches stderr. No corpus file, listed in the tables or not, may end in exit
code 3 (an internal error): a broken input is the user's problem, never reported as nbperf's bug.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from robustness_helpers import BROKEN, INTERNAL_WORDS, REPO_ROOT, subprocess_env

from nbperf.cli import main

OK_MODEL = BROKEN / "ok_conv.onnx"
GOOD = {"ok_conv.onnx", "unknown_domain_op.onnx"}  # corpus files that estimate
ON_DISK = sorted(p.name for p in BROKEN.iterdir() if p.suffix in (".onnx", ".yaml"))

# file -> (substring of the one-line error, exit code)
MODEL_CASES = {
    "empty.onnx": ("empty.onnx is not a valid ONNX model: the file is empty", 2),
    "text.onnx": ("text.onnx is not a valid ONNX model: cannot parse it", 2),
    "truncated.onnx": ("truncated.onnx is not a valid ONNX model: cannot parse it", 2),
    "cyclic.onnx": ("its graph has a cycle through node 'loop_add' (Add)", 2),
    "dynamic_dim.onnx": ("input 'x' has a dynamic dimension 'batch' (shape [batch,3,16,16]); "
                         "give it with --input-shape x=1x3x16x16", 2),
    "negative_pads.onnx": ("node 'conv' (Conv) has pads [-1, -1, -1, -1]; they must be non-negative", 2),
    "zero_channel_conv.onnx": ("output 'y' of node 'conv' (Conv) has a zero-sized dimension "
                               "(shape [1,0,16,16])", 2),
    "group_zero_conv.onnx": ("node 'conv' (Conv) has group 0; it must be a positive integer", 2),
    "unknown_domain_op_no_shape.onnx": ("node 'fancy' uses operator 'FancyNorm' ('com.example' domain), "
                                        "which nbperf does not know, and the model gives no static shape "
                                        "for its output 'n'", 2),
    "external_data_escape.onnx": ("initializer 'w' points its external data at '../../etc/passwd', outside "
                                  "the model's folder; refusing it", 2),
    "huge_tensor.onnx": ("input 'x' has 7.04e+13 elements (shape [1048576,1048576,64]); nbperf supports at "
                         "most 2^36 elements per tensor", 2),
    "missing.onnx": ("model file not found:", 2),
}
ARCH_CASES = {
    "negative_macs.yaml": ("dpu.macs_per_tile = -2048: Input should be greater than or equal to 16", 2),
    "unknown_key_typo.yaml": ("unknown field 'dpu.macs_per_tle' (did you mean 'macs_per_tile'?)", 2),
    "non_numeric.yaml": ("dma.ddr_bandwidth_gbps = 'fast': Input should be a valid number", 2),
    "missing_section.yaml": ("missing field 'cmx'", 2),
    "infinite_value.yaml": ("shave.cycles_per_element.softmax = inf: must be a finite number", 2),
    "not_a_mapping.yaml": ("must be a YAML mapping of fields, got list", 2),
    "bad_syntax.yaml": ("is not valid YAML at line 3", 2),
}


def _argv(name: str) -> list[str]:
    if name.endswith(".yaml"):
        return ["estimate", str(OK_MODEL), "--arch", str(BROKEN / name), "-q"]
    return ["estimate", str(BROKEN / name), "-q"]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {err!r}"
    assert lines[0].startswith("nbperf: error: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def test_corpus_is_complete():
    """Every file the table names exists (made by make_corpus.py), and every corpus file is tested."""
    on_disk = {p.name for p in BROKEN.iterdir() if p.suffix in (".onnx", ".yaml")}
    tested = (set(MODEL_CASES) - {"missing.onnx"}) | set(ARCH_CASES) | GOOD
    assert on_disk == tested
    assert all((BROKEN / n).stat().st_size < 2048 for n in on_disk), "corpus files stay tiny"


@pytest.mark.parametrize("name", sorted({**MODEL_CASES, **ARCH_CASES}))
def test_broken_input_is_one_line_with_its_message(name, capsys):
    message, code = {**MODEL_CASES, **ARCH_CASES}[name]
    assert main(_argv(name)) == code
    captured = capsys.readouterr()
    assert message in _one_error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize("name", [*ON_DISK, "missing.onnx"])
def test_no_corpus_file_is_an_internal_error(name, capsys):
    """Every file on disk (whatever the tables say): exit 0, or exit 2 with one clear error line;
    never exit 3, never words that call it a bug in nbperf."""
    code = main(_argv(name))
    captured = capsys.readouterr()
    assert code != 3, captured.err
    assert not any(w in captured.err.lower() for w in INTERNAL_WORDS), captured.err
    if name in GOOD:
        assert code == 0, captured.err
    else:
        assert code == 2, captured.err
        line = _one_error_line(captured.err)
        assert len(line) > len("nbperf: error: ") + 10, line


def test_the_good_model_estimates(capsys):
    assert main(["estimate", str(OK_MODEL), "-q"]) == 0
    captured = capsys.readouterr()
    assert "ok_conv.onnx on npu4000:" in captured.out and captured.err == ""


def test_unknown_domain_op_with_a_declared_shape_is_estimated_and_listed_loudly(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["estimate", str(BROKEN / "unknown_domain_op.onnx"), "--json", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("nbperf: warning: ")
    assert "fancy (FancyNorm)" in warnings[0] and "generic SHAVE" in warnings[0]
    report = json.loads(out.read_text())
    assert report["unknown_ops"] == ["fancy (FancyNorm)"]
    assert [layer["unknown"] for layer in report["layers"] if layer["name"] == "fancy"] == [True]


@pytest.mark.parametrize("name", ["empty.onnx", "truncated.onnx", "negative_pads.onnx",
                                  "unknown_domain_op_no_shape.onnx", "negative_macs.yaml",
                                  "unknown_key_typo.yaml"])
def test_real_process_prints_one_line_and_no_traceback(name):
    message, code = {**MODEL_CASES, **ARCH_CASES}[name]
    proc = subprocess.run([sys.executable, "-m", "nbperf", *_argv(name)], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=subprocess_env(), timeout=120)
    assert proc.returncode == code, proc.stderr
    assert message in _one_error_line(proc.stderr)
    assert proc.stdout == ""


def test_real_process_warns_for_the_unknown_op():
    proc = subprocess.run([sys.executable, "-m", "nbperf", *_argv("unknown_domain_op.onnx")],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("nbperf: warning: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
