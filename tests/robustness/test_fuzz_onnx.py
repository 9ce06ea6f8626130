"""Fuzzing the ONNX frontend: every hostile model either estimates or fails with one NbperfError line.

Three generators (see ``onnx_strategies``): mutated protobuf bytes of real models, random
well-formed graphs with random ops, shapes and attributes, and structural edits of real models.
Each runs at least 500 deterministic cases, each under a hypothesis deadline and a SIGALRM guard.
A hostile model is the user's problem: an ``InternalError`` (a bug in nbperf) fails the case, and
through the command line (``test_hostile_models_through_the_cli``) exit code 3 never occurs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from onnx_strategies import mutated_bytes, mutated_models, random_models, seed_models
from robustness_helpers import BROKEN, EXAMPLES, FUZZ, INTERNAL_WORDS, check_outcome, time_limit

import nbperf
from nbperf.cli import main

SEEDS = seed_models(EXAMPLES)


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="nbperf-fuzz-") as d:
        yield Path(d)


def _estimate_bytes(workdir: Path, data: bytes) -> str:
    path = workdir / "case.onnx"
    path.write_bytes(data)
    return check_outcome(lambda: nbperf.estimate(path, "npu4000"))


def test_seed_models_estimate(workdir):
    """The unmutated seeds are good models: the fuzzers start from something that works."""
    for name, data in SEEDS.items():
        assert _estimate_bytes(workdir, data) == "ok", name


@FUZZ
@given(data=mutated_bytes(SEEDS))
def test_mutated_protobuf_bytes(workdir, data):
    event(_estimate_bytes(workdir, data))


@FUZZ
@given(model=random_models())
def test_random_graphs(workdir, model):
    note(onnx.printer.to_text(model))
    event(_estimate_bytes(workdir, model.SerializeToString()))


@FUZZ
@given(data=mutated_models(SEEDS))
def test_structurally_mutated_models(workdir, data):
    event(_estimate_bytes(workdir, data))


@FUZZ
@given(data=st.one_of(mutated_bytes(SEEDS), mutated_models(SEEDS)))
def test_hostile_models_through_the_cli(workdir, capsys, data):
    """The real entry point: exit 0, or exit 2 with one ``nbperf: error:`` line; never exit 3."""
    path = workdir / "cli_case.onnx"
    path.write_bytes(data)
    with time_limit():
        code = main(["estimate", str(path), "-q"])
    captured = capsys.readouterr()
    assert code != 3 and not any(w in captured.err.lower() for w in INTERNAL_WORDS), captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    if code == 0:
        assert all(line.startswith("nbperf: warning: ") for line in lines), captured.err
    else:
        assert code == 2, (code, captured.err)
        assert len(lines) == 1 and lines[0].startswith("nbperf: error: "), captured.err
    event(f"exit {code}")


SHAPE_VALUES = st.one_of(
    st.tuples(st.sampled_from([1, 2, 8, 0, -1, 1 << 40]), st.just(3), st.just(16), st.just(16)).map(list),
    st.lists(st.one_of(st.integers(-2, 40), st.sampled_from([1 << 20, 1 << 62, True, 2.0, "3", None])),
             max_size=6),
    st.sampled_from([None, "1x3x16x16", 7, {"a": 1}, (1, 3, 16, 16), b"1"]),
)


@FUZZ
@given(shapes=st.dictionaries(st.sampled_from(["x", "x", "image", "", "ids"]), SHAPE_VALUES, max_size=2))
def test_random_input_shapes(shapes):
    """``input_shapes`` from Python callers: any mapping either estimates or is one ModelError line."""
    model = BROKEN / ("dynamic_dim.onnx" if "image" not in shapes else "ok_conv.onnx")
    event(check_outcome(lambda: nbperf.estimate(model, "npu4000", input_shapes=shapes)))
