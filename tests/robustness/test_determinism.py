"""Determinism: the same inputs give byte-identical JSON and CSV, within a process and across processes.

The cross-process check uses a ProcessPoolExecutor with 2 spawned workers: each is a fresh
interpreter with its own string-hash seed, so any dependence on set or dict-of-str iteration order,
object ids or timing would show up as a byte difference.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from onnx_strategies import small_seed_models
from robustness_helpers import EXAMPLES, reports_in_child

import nbperf
from nbperf.arch import preset_text
from nbperf.report import to_csv, to_json

COSTS = ("math", "emulator")


@pytest.fixture(scope="module")
def models():
    """The shipped examples plus small helper-built models (a custom op, attention, a classifier)."""
    with tempfile.TemporaryDirectory(prefix="nbperf-determinism-") as d:
        paths = sorted(EXAMPLES.glob("*.onnx"))
        for name, data in small_seed_models().items():
            path = Path(d) / f"{name}.onnx"
            path.write_bytes(data)
            paths.append(path)
        yield [str(p) for p in paths]


def _reports(model: str, cost: str) -> tuple[str, str]:
    result = nbperf.estimate(model, "npu4000", cost_model=cost)
    return to_json(result), to_csv(result)


@pytest.mark.parametrize("cost", COSTS)
def test_same_process_runs_are_byte_identical(models, cost):
    for model in models:
        first = _reports(model, cost)
        assert first[0] and first[1], model
        for _ in range(2):
            assert _reports(model, cost) == first, model


def test_reports_do_not_depend_on_the_arch_source(models, tmp_path):
    """A preset by name and the same preset copied to a YAML file give the same bytes."""
    copy = tmp_path / "npu4000.yaml"
    copy.write_text(preset_text("npu4000"))
    for model in models:
        by_name = nbperf.estimate(model, "npu4000")
        by_file = nbperf.estimate(model, copy)
        assert (to_json(by_name), to_csv(by_name)) == (to_json(by_file), to_csv(by_file)), model


def test_separate_processes_give_byte_identical_reports(models):
    expected = {(m, c): _reports(m, c) for m in models for c in COSTS}
    jobs = [(m, c) for m in models for c in COSTS] * 2  # every job twice, spread over both workers
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [(job, pool.submit(reports_in_child, job[0], "npu4000", job[1])) for job in jobs]
        seeds = set()
        for job, future in futures:
            reports, seed_probe = future.result(timeout=300)
            seeds.add(seed_probe)
            for json_text, csv_text in reports:
                assert json_text == expected[job][0], f"JSON of {job} differs in a child process"
                assert csv_text == expected[job][1], f"CSV of {job} differs in a child process"
    if not os.environ.get("PYTHONHASHSEED"):
        # The children hashed strings differently from this process: the check above meant something.
        assert seeds != {hash("nbperf-hash-seed-probe")}
