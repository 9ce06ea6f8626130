"""Every shared model's latency equals the pinned one in latencies.json (regenerate.py writes it):
a change in any reported number fails here until the file is regenerated and reviewed."""

from __future__ import annotations

import json

import pytest

from tests.golden.regenerate import ARCHS, DECIMALS, GOLDEN, PRECISIONS, SCHEDULES

PINNED = json.loads(GOLDEN.read_text(encoding="utf-8"))["models"]


def test_every_shared_model_is_pinned(shared_models):
    assert sorted(PINNED) == sorted(p.stem for p in shared_models.glob("*.onnx")), \
        "run python3 tests/golden/regenerate.py after adding or removing a shared model"


@pytest.mark.parametrize("model", sorted(PINNED))
def test_latencies_match_the_golden_file(model, shared_models):
    import nbperf
    from nbperf.frontend import load_model

    graph = load_model(shared_models / f"{model}.onnx")
    moved = []
    for arch in ARCHS:
        for precision in PRECISIONS:
            for schedule in SCHEDULES:
                got = round(nbperf.estimate(graph, arch, precision=precision, schedule=schedule).latency_ms,
                            DECIMALS)
                want = PINNED[model][arch][precision][schedule]
                if got != want:
                    moved.append(f"{arch} {precision} {schedule}: {want} -> {got} ms")
    assert not moved, (f"{model} moved ({'; '.join(moved)}): if intended, run python3 "
                       f"tests/golden/regenerate.py and give the before/after and the reason in the commit")


def test_the_golden_file_has_every_configuration():
    for model, archs in PINNED.items():
        assert sorted(archs) == sorted(ARCHS), model
        for precisions in archs.values():
            assert sorted(precisions) == sorted(PRECISIONS), model
            for schedules in precisions.values():
                assert sorted(schedules) == sorted(SCHEDULES), model
                assert all(v > 0 for v in schedules.values()), model
