"""Cost backends: workloads exported, priced back through ``--cost table:``, counted when they fall
back to the math model, VPUNN when it is installed, and a cost model of one's own."""

from __future__ import annotations

import builtins
import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES, REPO_ROOT

import nbperf
from nbperf.cli import main
from nbperf.cost import TaskCoster, get_backend
from nbperf.cost.inventory import layer_sources, op_workloads
from nbperf.lower.npu_ops import Engine

RESNET = EXAMPLES / "resnet50.onnx"
FIXTURE = REPO_ROOT / "tests" / "data" / "vpunn"
HAS_VPUNN = importlib.util.find_spec("vpunn") is not None
NO_VPUNN = "VPUNN's Python module (import vpunn) is not installed: it has no wheel (docs/cost-backends.md)"


@pytest.fixture(scope="module")
def resnet():
    return nbperf.estimate(RESNET, "npu4000")


def _table(path: Path, cycles: dict[str, int]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["key", "cycles"])
        writer.writerows(sorted(cycles.items()))
    return path


def _busy_cycles(result, backend) -> dict[str, int]:
    """Per DPU layer of ``result``'s plan, the busiest DPU's workload time under ``backend``: its
    compute less every overhead, plus each workload run's own set-up (what a table's figure, a
    workload's whole time, covers)."""
    assert result.arch.dpu.dpus_per_tile == 1
    coster = TaskCoster(result.arch, backend)
    out = {}
    for op in result.plan.ops:
        cand = result.plan.placements[op.name].chosen
        if op.engine is Engine.DPU and cand.work is not None:
            rows, channels, inner = cand.split
            cost = coster.dpu_subtiles(cand.work, op.precision, cand.useful_macs, rows, channels,
                                       cand.write_tiles, cand.strategy.value, inner, op.dpu)
            runs = sum(count for _, count in op_workloads(coster, op, cand))
            setup = runs * result.arch.dpu.workload_overhead_cycles
            out[op.name] = cost.cycles - cost.overhead_cycles + setup
    return out


def test_round_trip_every_workload_at_1_5x_gives_dpu_time_at_1_5x(resnet, tmp_path):
    rows = [r for r in nbperf.workloads(resnet, dma=False) if r.count]
    table = _table(tmp_path / "costs.csv", {r.descriptor.key: round(r.math_cycles * 1.5) for r in rows})
    backend = get_backend(f"table:{table}")
    math_busy, table_busy = _busy_cycles(resnet, get_backend("math")), _busy_cycles(resnet, backend)
    runs = {}
    for r in rows:
        runs[r.layer] = runs.get(r.layer, 0) + r.count
    assert set(math_busy) == set(runs) and len(runs) > 50
    for layer, cycles in math_busy.items():
        # Each run's figure is rounded once: at most half a cycle per run from exactly 1.5x.
        assert abs(table_busy[layer] - 1.5 * cycles) <= 0.5 * runs[layer], layer
    total_math, total_table = sum(math_busy.values()), sum(table_busy.values())
    assert abs(total_table / total_math - 1.5) < 1e-3
    sources = layer_sources(resnet.graph, resnet.plan, TaskCoster(resnet.arch, backend), backend)
    assert all(s.runs == {"table": runs[layer]} for layer, s in sources.items())


def test_round_trip_through_a_whole_estimate(resnet, tmp_path):
    """The same with ``estimate`` itself: every workload the search may price is in the table (at
    1.5x), so the search runs on the table's figures and may pick another plan; whatever it picks,
    each DPU layer's workload time is 1.5x what the math model gives that same plan."""
    rows = [r for r in nbperf.workloads(resnet, dma=False, searched=True) if r.kind == "DPU"]
    table = _table(tmp_path / "costs.csv", {r.descriptor.key: round(r.math_cycles * 1.5) for r in rows})
    result = nbperf.estimate(RESNET, "npu4000", cost_model=f"table:{table}")
    assert result.cost_fallbacks[0] == 0 and result.cost_fallbacks[1] > 100
    setup = result.arch.dpu.workload_overhead_cycles
    table_busy = {}
    for task in result.schedule.tasks:
        if task.op.name in result.cost_sources:
            runs = sum(result.cost_sources[task.op.name].runs.values())
            table_busy[task.op.name] = task.compute.cycles - task.compute.overhead_cycles + runs * setup
    math_busy = _busy_cycles(result, get_backend("math"))  # the table's plan, priced by the math model
    assert set(table_busy) == set(math_busy)
    for layer, cycles in math_busy.items():
        runs = sum(result.cost_sources[layer].runs.values())
        assert abs(table_busy[layer] - 1.5 * cycles) <= 0.5 * runs, layer


def test_rows_missing_from_the_table_are_counted_as_fallbacks(resnet, tmp_path):
    rows = [r for r in nbperf.workloads(resnet, dma=False) if r.count]
    keys = sorted({r.descriptor.key for r in rows})
    dropped = set(keys[:3])
    table = _table(tmp_path / "costs.csv",
                   {r.descriptor.key: r.math_cycles for r in rows if r.descriptor.key not in dropped})
    backend = get_backend(f"table:{table}")
    sources = layer_sources(resnet.graph, resnet.plan, TaskCoster(resnet.arch, backend), backend)
    fell = sum(s.runs.get("math", 0) for s in sources.values())
    assert fell == sum(r.count for r in rows if r.descriptor.key in dropped) > 0
    reasons = {reason for s in sources.values() for reason in s.reasons}
    assert reasons == {f"no row for {key}" for key in dropped}


def test_cli_export_and_table_estimate_end_to_end(tmp_path, capsys):
    exported = tmp_path / "workloads.csv"
    assert main(["workloads", str(RESNET), "--arch", "npu4000", "--out", str(exported), "--searched"]) == 0
    said = capsys.readouterr().out
    assert "DPU workloads" in said and "more the search priced" in said and "DMA transfers" in said
    rows = list(csv.DictReader(exported.open()))
    dpu = [r for r in rows if r["kind"] == "DPU"]
    assert {"key", "device", "operation", "input_0_width", "kernel_pad_top", "isi_strategy",
            "output_write_tiles", "halo_input_0_bottom"} <= set(rows[0])
    assert len({r["row_id"] for r in rows}) == len(rows)  # a stable, unique id per row
    assert {r["input_location"] for r in rows if r["kind"] == "DMA"} >= {"DRAM", "CMX"}
    # Every workload the search priced is in the table: the estimate uses none of the math model's.
    table = _table(tmp_path / "costs.csv", {r["key"]: int(r["math_cycles"]) * 2 for r in dpu})
    assert main(["estimate", str(RESNET), "-a", "npu4000", "--cost", f"table:{table}", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cost_fallbacks"] == 0 and report["cost_workloads"] > 0
    dpu_layers = [la for la in report["layers"] if la["engine"] == "DPU"]
    assert {la["cost_source"] for la in dpu_layers} == {"table"}
    assert {la["compute_limit"] for la in dpu_layers} == {"external"}
    # Half the keys gone: the table says which layers fell back, and why.
    half = _table(tmp_path / "half.csv", {r["key"]: int(r["math_cycles"]) for r in dpu[::2]})
    assert main(["estimate", str(RESNET), "--arch", "npu4000", "--cost", f"table:{half}"]) == 0
    out = capsys.readouterr().out
    assert "costed by" in out and "fell back to the math model" in out and "table fallback" in out


def test_jsonl_export_carries_the_nested_descriptor(tmp_path):
    out = tmp_path / "w.jsonl"
    assert main(["workloads", str(RESNET), "--arch", "npu3720", "--out", str(out), "--no-dma", "-q"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and {r["kind"] for r in rows} == {"DPU"}
    d = rows[0]["descriptor"]
    assert d["device"] == "VPU_2_7" and len(d["inputs"][0]["shape"]) == 4 and len(d["padding"]) == 4
    assert set(d["halo"]) == {"input_0_halo", "output_0_halo", "output_0_halo_broadcast_cnt",
                              "output_0_inbound_halo"}


@pytest.mark.parametrize(("content", "says"), [
    ("layer,cycles\nx,1\n", "has no key column"),
    ("key,cycles\ndpu-1,lots\n", "'lots' is not a number"),
    ("key,cycles\ndpu-1,5\ndpu-1,6\n", "key dpu-1 has 5 cycles on line 2 and 6 on line 3"),
    ("key,cycles\ndpu-1,-4\n", "negative cycles"),
])
def test_a_bad_cost_table_is_one_line_and_exit_2(tmp_path, capsys, content, says):
    table = tmp_path / "t.csv"
    table.write_text(content)
    assert main(["estimate", str(RESNET), "--cost", f"table:{table}", "-q"]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_cost_list_and_unknown_cost_models(capsys):
    assert main(["estimate", str(RESNET), "--cost", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("math", "table:FILE", "vpunn:MODEL.vpunn"))
    assert main(["estimate", str(RESNET), "--cost", "nope", "-q"]) == 2
    assert "unknown cost model 'nope'; available: math, table:FILE, vpunn" in capsys.readouterr().err
    assert main(["estimate", str(RESNET), "--cost", "table", "-q"]) == 2
    assert "needs a file" in capsys.readouterr().err


def test_vpunn_not_installed_is_one_line_with_how_to_install(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_vpunn(name, *args, **kwargs):
        if name == "vpunn":
            raise ImportError("No module named 'vpunn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vpunn)
    monkeypatch.delitem(sys.modules, "vpunn", raising=False)
    assert main(["estimate", str(RESNET), "--cost", "vpunn", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "VPUNN's Python module is not installed" in err and "docs/cost-backends.md" in err


def test_a_registered_cost_model_prices_every_dpu_workload():
    example = REPO_ROOT / "examples" / "custom_cost_model.py"
    spec = importlib.util.spec_from_file_location("custom_cost_model", example)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # registers "ideal"
    fast, slow = (nbperf.estimate(RESNET, "npu4000", cost_model=f"ideal:{e}") for e in ("1.0", "0.5"))
    assert fast.cost_model == "ideal:1.0" and slow.latency_ms > fast.latency_ms
    assert {s.label for s in fast.cost_sources.values()} == {"ideal"}


# -- the VPUNN fixture ----------------------------------------------------------------------------
def _fixture_rows() -> list[dict[str, str]]:
    return list(csv.DictReader((FIXTURE / "workloads.csv").open()))


@pytest.mark.parametrize("part", ["npu3720", "npu4000"])
def test_the_fixture_replayed_through_a_table_gives_its_vpunn_cycles_back(part):
    rows = [r for r in _fixture_rows()
            if r["part"] == part and r["model"] == "resnet50" and r["precision"] == "model"]
    backend = get_backend(f"table:{FIXTURE / 'workloads.csv'}")  # what --cost table:FILE builds
    result = nbperf.estimate(RESNET, part, cost_model="math")  # the plan the fixture was made from
    coster = TaskCoster(result.arch, backend)
    by_id = {r["row_id"]: r for r in rows}
    checked = 0
    for op in result.plan.ops:
        cand = result.plan.placements[op.name].chosen
        if op.engine is not Engine.DPU or cand.work is None:
            continue
        for i, (workload, _) in enumerate(op_workloads(coster, op, cand)):
            stored = by_id[f"{op.name}/dpu{i}"]
            priced = backend.dpu_workload(workload, result.arch)
            if stored["cycles"]:
                assert priced.cycles + result.arch.dpu.workload_overhead_cycles == int(stored["cycles"])
                assert backend.priced(workload, result.arch).source == "table"
                checked += 1
            else:  # VPUNN refused it: the table has no figure, so the math model prices it
                assert backend.priced(workload, result.arch).reason.startswith("no cycles in its row")
    assert checked == len([r for r in rows if r["cycles"]]) > 50


def test_the_fixture_is_labelled():
    meta = json.loads((FIXTURE / "fixture.json").read_text())
    assert len(meta["vpunn_commit"]) == 40 and meta["date"] and meta["parts"]["npu3720"]["vpunn_model"]
    assert meta["parts"]["npu4000"]["vpunn_dma_model"] == "dma_4_0.vpunn"
    assert meta["rows"] == len(_fixture_rows())
    assert meta["dma_rows"] == len(list(csv.DictReader((FIXTURE / "dma.csv").open())))
    assert "not silicon" in meta["what"]


def test_validation_page_is_what_the_fixture_gives():
    done = subprocess.run([sys.executable, str(REPO_ROOT / "validation" / "vpunn_agreement.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not HAS_VPUNN, reason=NO_VPUNN)
def test_vpunn_backend_prices_like_the_fixture(monkeypatch):
    folder = os.environ.get("NBPERF_VPUNN_MODELS")
    if not folder:
        pytest.skip("NBPERF_VPUNN_MODELS (VPUNN's models folder) is not set")
    result = nbperf.estimate(RESNET, "npu3720", cost_model="vpunn")
    fixture = {r["key"]: r for r in _fixture_rows() if r["part"] == "npu3720"}
    rows = [r for r in nbperf.workloads(result, dma=False) if r.count and r.descriptor.key in fixture]
    backend = get_backend("vpunn")
    assert rows
    for row in rows:
        stored = fixture[row.descriptor.key]
        found = backend.price(row.descriptor, result.arch)
        got = found if isinstance(found, str) else str(found[0])
        assert got == (stored["vpunn_error"] or stored["cycles"])
    assert result.cost_fallbacks[1] > 0
    assert any(s.label.startswith("vpunn") for s in result.cost_sources.values())
    stored_dma = {r["key"]: r for r in csv.DictReader((FIXTURE / "dma.csv").open())
                  if r["part"] == "npu3720"}
    transfers = [r for r in nbperf.workloads(result) if r.kind == "DMA" and r.descriptor.key in stored_dma]
    assert transfers and result.dma_fallbacks[1] > 0
    for row in transfers:
        found = backend.lookup_dma(row.descriptor, result.arch)
        assert str(found) == stored_dma[row.descriptor.key]["cycles"]


# -- DMA transfers priced by a table --------------------------------------------------------------
def test_dma_rows_of_a_table_time_every_emulated_transfer(tmp_path):
    base = nbperf.estimate(RESNET, "npu4000", schedule="emulator")
    rows = nbperf.workloads(base, searched=True)
    # DMA figures at 3x the DMA model's, DPU workloads as they are: the plan may change, but every
    # transfer the search or the task graph asks for has a row.
    table = _table(tmp_path / "dma.csv", {r.descriptor.key: r.math_cycles * (3 if r.kind == "DMA" else 1)
                                          for r in rows})
    result = nbperf.estimate(RESNET, "npu4000", schedule="emulator", cost_model=f"table:{table}")
    assert result.dma_fallbacks[0] == sum(1 for t in result.emulation.graph.tasks if t.permuted)
    assert result.dma_fallbacks[1] > 100
    cycles = {r.descriptor.key: r.math_cycles * 3 for r in rows if r.kind == "DMA"}
    mhz = result.arch.dpu.frequency_mhz
    timed = 0
    for task, when in zip(result.emulation.graph.tasks, result.emulation.times, strict=True):
        if task.kind.value != "DMA" or task.permuted:
            continue
        assert task.external_ns is not None
        # Alone on the DDR it takes exactly the table's time; sharing the DDR, never less.
        assert when.end_ns - when.start_ns >= task.external_ns * (1 - 1e-9)
        timed += 1
        assert any(abs(c * 1e3 / mhz - task.external_ns) < 1e-6 for c in (cycles.values()))
    assert timed > 100
    # Slower transfers never make the estimate faster.
    assert result.latency_ms >= base.latency_ms


def test_missing_dma_rows_are_counted_with_their_reason(tmp_path, capsys):
    result = nbperf.estimate(RESNET, "npu4000")
    rows = nbperf.workloads(result)
    dpu_only = _table(tmp_path / "dpu.csv",
                      {r.descriptor.key: r.math_cycles for r in rows if r.kind == "DPU"})
    assert main(["estimate", str(RESNET), "--cost", f"table:{dpu_only}", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cost_dma_transfers"] > 100
    assert report["cost_dma_fallbacks"] == report["cost_dma_transfers"]  # not one DMA row in the table
    assert main(["estimate", str(RESNET), "--cost", f"table:{dpu_only}"]) == 0
    assert "by the DMA model (no row for dma-" in capsys.readouterr().out
