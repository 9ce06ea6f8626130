"""`nbperf compare` and `nbperf.compare`: sides, per-layer speedups, notes, files and bad input."""

from __future__ import annotations

import csv
import json

import pytest
from tests.conftest import EXAMPLES

import nbperf
from nbperf.cli import main
from nbperf.compare import compare, split_arch_point
from nbperf.errors import UsageError

RESNET = str(EXAMPLES / "resnet50.onnx")
MOBILENET = str(EXAMPLES / "mobilenet_v2_int8_qdq.onnx")
WIDER = "npu4000+dpu.macs_per_tile=4096"


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_split_arch_point():
    assert split_arch_point("npu4000") == ("npu4000", [])
    assert split_arch_point("npu4000+dpu.macs_per_tile=4096+tiles=4") == (
        "npu4000", ["dpu.macs_per_tile=4096", "tiles=4"])
    with pytest.raises(UsageError, match="must look like"):
        split_arch_point("npu4000+tiles")


@pytest.fixture(scope="module")
def wider() -> nbperf.compare:
    return compare([RESNET], ["npu4000", WIDER])


def test_sides_are_labelled_with_their_overrides(wider):
    assert wider.labels == ("npu4000", WIDER)
    assert wider.estimates[1].arch.dpu.macs_per_tile == 4096
    assert wider.estimates[1].provenance.arch_overrides == ("dpu.macs_per_tile=4096",)


def test_rows_sorted_by_largest_change_and_speedups_consistent(wider):
    changes = [r.largest_change_ns for r in wider.layers]
    assert changes == sorted(changes, reverse=True)
    assert len(wider.layers) == len(wider.estimates[0].schedule.tasks)
    for row in wider.layers:
        a, b = row.sides
        assert row.speedup(1) == pytest.approx(a.time_ns / b.time_ns)
    total = wider.total_speedup(1)
    assert total == pytest.approx(wider.estimates[0].latency_ns / wider.estimates[1].latency_ns)
    assert 1.0 < total < 2.0


def test_unchanged_layers_say_what_holds_them_back(wider):
    unchanged = [r for r in wider.layers if abs(r.speedup(1) - 1) <= 1e-3]
    assert unchanged, "a 2x-MAC part leaves some layers (element-wise, DMA-bound) as they were"
    for row in unchanged:
        assert row.note(1) == f"gains nothing: {row.sides[1].bound} bound"
        assert not row.sides[1].bound.endswith("(mac)")  # a MAC-bound layer would have gained
    for row in wider.layers:
        if row.note(1):
            assert abs(row.speedup(1) - 1) <= 1e-3


def test_two_models_on_one_arch_match_layers_by_name():
    result = compare([RESNET, MOBILENET], ["npu4000"])
    assert result.labels == ("resnet50.onnx", "mobilenet_v2_int8_qdq.onnx")
    names_a = {t.op.name for t in result.estimates[0].schedule.tasks}
    names_b = {t.op.name for t in result.estimates[1].schedule.tasks}
    assert len(result.layers) == len(names_a | names_b)
    one_sided = [r for r in result.layers if None in r.sides]
    assert len(one_sided) == len(names_a ^ names_b)
    assert all(r.note(1) == "only on one side" and r.speedup(1) is None for r in one_sided)


def test_cli_tables_json_and_csv(capsys, tmp_path):
    out_json, out_csv = tmp_path / "c.json", tmp_path / "c.csv"
    code, out, err = run(capsys, "compare", RESNET, "--arch", "npu4000", "--arch", WIDER, "--top", "5",
                         "--json", str(out_json), "--csv", str(out_csv))
    assert code == 0, err
    assert "baseline npu4000" in out and WIDER in out and "5 of 72 layers" in out
    record = json.loads(out_json.read_text())
    assert [s["label"] for s in record["sides"]] == ["npu4000", WIDER]
    assert record["sides"][1]["provenance"]["arch_overrides"] == ["dpu.macs_per_tile=4096"]
    assert 1 < record["sides"][1]["speedup"] < 2
    assert len(record["layers"]) == 72
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 72 and f"{WIDER} speedup" in rows[0] and f"{WIDER} note" in rows[0]


def test_cli_json_to_stdout(capsys):
    code, out, err = run(capsys, "compare", "--model", RESNET, "--model", MOBILENET, "--json", "-")
    assert code == 0, err
    assert json.loads(out)["baseline"] == "resnet50.onnx"


@pytest.mark.parametrize("argv, message", [
    (["compare", RESNET], "two sides"),
    (["compare", RESNET, "--model", MOBILENET, "-a", "npu4000", "-a", "npu3720"], "not both"),
    (["compare", RESNET, "-a", "npu4000", "-a", "npu4000+macs"], "must look like"),
    (["compare", RESNET, "-a", "npu4000", "-a", "npu4000+dpu.macs_per_tiles=4096"], "no field"),
    (["compare", RESNET, "-a", "npu4000", "-a", "npu3720", "--top", "-1"], "--top"),
])
def test_cli_bad_input_is_one_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_wider_macs_on_every_shared_model(shared_models):
    """Issue 12: npu4000 vs npu4000 with 4096 MACs: total speedup between 1x and 2x on every shared
    model, per-layer speedups for every layer, and the layers that do not move marked with why. (A
    single layer may gain more than 2x: with more MACs the plan changes, and a layer that paid a
    layout transition on the baseline may not pay it any more.)"""
    for path in sorted(shared_models.glob("*.onnx")):
        result = compare([path], ["npu4000", WIDER])
        assert 1.0 <= result.total_speedup(1) <= 2.0, path.name
        for row in result.layers:
            assert row.speedup(1) is not None, (path.name, row.name)
            bound = row.sides[1].bound
            if bound.startswith("dma") and row.sides[0].bound == bound and abs(row.speedup(1) - 1) < 1e-3:
                assert row.note(1).startswith("gains nothing"), (path.name, row.name)
