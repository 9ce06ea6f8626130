"""`nbperf sweep` and `nbperf.sweep`: grid checks, rows, resume after an interruption, executors
that agree, and the shared per-layer cost memo."""

from __future__ import annotations

import csv
import sys

import pytest
from tests.conftest import EXAMPLES
from tests.onnx_builders import conv_model, save

import nbperf
from nbperf.cli import main
from nbperf.cost import tasks as cost_tasks
from nbperf.sweep import runner as sweep_runner
from nbperf.sweep import sweep

GRID = ["dpu.macs_per_tile=2048,4096", "tiles=2,4", "precision=int8,fp16"]


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two small synthetic convolution models (fast, so a sweep has many points)."""
    folder = tmp_path_factory.mktemp("models")
    save(conv_model(32, 64, 28, 3), folder, "a_conv.onnx")
    save(conv_model(64, 128, 14, 1), folder, "b_conv.onnx")
    return folder


def test_rows_cover_the_cartesian_product(models):
    result = sweep([models], "npu4000", GRID, executor="serial")
    assert len(result.rows) == 2 * 8 and result.ran == 16 and not result.failed
    row = result.rows[0]
    assert row["model"] == "a_conv.onnx" and row["point"] == "dpu.macs_per_tile=2048,tiles=2,precision=int8"
    assert row["grid.dpu.macs_per_tile"] == 2048 and row["grid.tiles"] == 2
    assert row["grid.precision"] == "int8"
    assert row["arch"] == "npu4000+dpu.macs_per_tile=2048+tiles=2" and row["tiles"] == 2
    assert row["area_proxy_macs"] == 2 * 2048 and row["precision"] == "int8"
    assert row["latency_ms"] > 0 and row["throughput_fps"] > 0 and row["error"] == ""
    # each row equals a direct estimate at its point
    direct = nbperf.estimate(models / "b_conv.onnx", "npu4000", precision="fp16",
                             arch_overrides=["dpu.macs_per_tile=4096", "tiles=4"])
    last = result.rows[-1]
    assert last["point"] == "dpu.macs_per_tile=4096,tiles=4,precision=fp16"
    assert last["latency_ms"] == round(direct.latency_ms, 6)


def test_interrupted_sweep_resumes_to_the_same_file(models, tmp_path, monkeypatch):
    for suffix in (".csv", ".parquet"):
        if suffix == ".parquet":
            pytest.importorskip("pyarrow", reason="Parquet results need pyarrow (the sweep extra)")
        straight = tmp_path / f"straight{suffix}"
        sweep([models], "npu4000", GRID, out=straight, executor="serial")
        resumed = tmp_path / f"resumed{suffix}"
        # the module (nbperf.sweep is the function): checkpoint after every row
        monkeypatch.setattr(sys.modules["nbperf.sweep"], "CHECKPOINT_SECONDS", 0.0)

        def stop_after_five(done, total):
            if done == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            sweep([models], "npu4000", GRID, out=resumed, executor="serial", on_progress=stop_after_five)
        assert resumed.exists()  # the checkpoint of the rows done before the interruption
        second = sweep([models], "npu4000", GRID, out=resumed, executor="serial")
        assert second.skipped >= 4 and second.ran == 16 - second.skipped
        assert resumed.read_bytes() == straight.read_bytes(), suffix
        third = sweep([models], "npu4000", GRID, out=resumed, executor="serial")
        assert third.ran == 0 and third.skipped == 16
        assert resumed.read_bytes() == straight.read_bytes()


def test_pool_and_serial_give_identical_rows(models):
    serial = sweep([models], "npu4000", GRID, executor="serial").rows
    pooled = sweep([models], "npu4000", GRID, executor="pool", workers=2).rows
    assert pooled == serial


def test_ray_gives_the_same_rows_as_the_pool(models):
    """Ray's old local_mode is gone (Ray 2.60 refuses it); a local single-node cluster started by
    the sweep is how Ray runs on one machine now."""
    pytest.importorskip("ray", reason="Ray is an extra (pip install 'nbperf[ray]')")
    grid = ["tiles=2,4", "precision=int8,fp16"]
    pooled = sweep([models], "npu4000", grid, executor="pool", workers=2).rows
    rayed = sweep([models], "npu4000", grid, executor="ray", workers=2).rows
    assert rayed == pooled


def test_infeasible_point_is_a_row_error_not_the_end(models):
    result = sweep([models / "a_conv.onnx"], "npu4000", ["cmx.bytes_per_tile=1024,2097152"],
                   executor="serial")
    bad, good = result.rows
    assert "CMX" in bad["error"] and "latency_ms" not in bad, bad
    assert good["error"] == "" and good["latency_ms"] > 0


def test_internal_errors_are_marked_as_ours(models, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("nbperf.api.estimate", broken)
    result = sweep([models / "a_conv.onnx"], "npu4000", ["tiles=2"], executor="serial")
    assert result.rows[0]["error"].startswith("internal error (a bug in nbperf): ZeroDivisionError")


def test_shared_cost_memo_is_exact_and_shared(models):
    """Compute costs read only the DPU, SHAVE and CMX-port fields: points that differ in tiles,
    CMX size or DDR bandwidth share one memo, and sharing never changes a number."""
    cost_tasks._memos.clear()
    model = nbperf.load(models / "a_conv.onnx")
    points = [["tiles=2"], ["tiles=6"], ["cmx.bytes_per_tile=1048576"], ["dma.ddr_bandwidth_gbps=20"]]
    shared = [nbperf.estimate(model, "npu4000", arch_overrides=p).latency_ns for p in points]
    assert len(cost_tasks._memos) == 1
    nbperf.estimate(model, "npu4000", arch_overrides=["dpu.macs_per_tile=4096"])
    assert len(cost_tasks._memos) == 2
    cost_tasks._memos.clear()
    fresh = []
    for p in points:
        cost_tasks._memos.clear()
        fresh.append(nbperf.estimate(model, "npu4000", arch_overrides=p).latency_ns)
    assert shared == fresh


def test_models_reused_within_a_worker(models):
    sweep_runner._loaded.clear()
    sweep([models], "npu4000", ["tiles=2,4,6"], executor="serial")
    assert len(sweep_runner._loaded) == 2


def test_cli_sweep_writes_csv_and_resumes(capsys, models, tmp_path):
    out = tmp_path / "r.csv"
    code, _, err = run(capsys, "sweep", "--models", str(models / "*.onnx"), "--grid", "tiles=2,4",
                       "--out", str(out), "--executor", "serial", "--no-modes")
    assert code == 0, err
    assert "4 rows; 4 estimated" in err
    rows = list(csv.DictReader(out.open()))
    assert [r["point"] for r in rows] == ["tiles=2", "tiles=4"] * 2 and "throughput_fps" not in rows[0]
    code, _, err = run(capsys, "sweep", "--models", str(models), "--grid", "tiles=2,4", "--out", str(out),
                       "--executor", "serial", "--no-modes")
    assert code == 0 and "0 estimated" in err and "4 already there" in err


@pytest.mark.parametrize("argv, message", [
    (["--grid", "dpu.macs_per_tiles=4096"], "no field 'macs_per_tiles'"),
    (["--grid", "tiles="], "empty value list"),
    (["--grid", "tiles=2,,4"], "empty value list"),
    (["--grid", "tiles=two"], "valid integer"),
    (["--grid", "tiles=2", "--grid", "tiles=4"], "given twice"),
    (["--grid", "tiles=2,2"], "repeated"),
    (["--grid", "precision=int4"], "not one of"),
    (["--grid", "policy=greedy"], "not one of"),
    (["--grid", "weight_sparsity=0.5,1.5"], "'1.5' is not a share in [0, 1)"),
    (["--grid", "activation_sparsity=lots"], "not a share in [0, 1) or measure"),
    (["--executor", "dask"], "'dask' is not one of 'pool', 'ray', 'serial'"),
    (["--address", "ray://x:1"], "needs --executor ray"),
])
def test_cli_bad_grid_is_one_line(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "sweep", "--models", str(EXAMPLES / "resnet50.onnx"), "--out",
                       str(tmp_path / "r.csv"), *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "r.csv").exists()


def test_sparsity_axes_sweep_what_an_estimate_with_those_shares_gives(tmp_path):
    from tests.integration.test_weight_sparsity import weightless

    path = save(weightless(conv_model(128, 256, 28, 3)), tmp_path, "weightless.onnx")
    result = sweep([path], "npu3720", {"weight_sparsity": [0, 0.5], "activation_sparsity": [0, 0.6]},
                   executor="serial")
    assert [r["point"] for r in result.rows] == [
        "weight_sparsity=0,activation_sparsity=0", "weight_sparsity=0,activation_sparsity=0.6",
        "weight_sparsity=0.5,activation_sparsity=0", "weight_sparsity=0.5,activation_sparsity=0.6"]
    for row in result.rows:
        direct = nbperf.estimate(path, "npu3720", weight_sparsity=row["grid.weight_sparsity"],
                                 activation_sparsity=row["grid.activation_sparsity"])
        assert row["latency_ms"] == round(direct.latency_ms, 6)
    dense, pruned = result.rows[0], result.rows[2]
    assert pruned["weight_ddr_bytes"] < dense["weight_ddr_bytes"]
    assert pruned["latency_ms"] < dense["latency_ms"]


def test_cli_refuses_to_resume_another_sweep(capsys, models, tmp_path):
    out = tmp_path / "r.csv"
    assert run(capsys, "sweep", "-m", str(models), "-g", "tiles=2", "--out", str(out), "--executor",
               "serial", "--no-modes")[0] == 0
    code, _, err = run(capsys, "sweep", "-m", str(models), "-g", "dpu.macs_per_tile=4096", "--out", str(out))
    assert code == 2 and "holds a sweep over grid.tiles" in err


def test_shared_memo_and_loaded_models_stay_bounded(models, monkeypatch):
    """A long NAS loop or a sweep over many models must not keep every workload or model."""
    monkeypatch.setattr(cost_tasks, "_SHARED_ENTRIES", 10)
    cost_tasks._memos.clear()
    model = nbperf.load(models / "a_conv.onnx")
    first = nbperf.estimate(model, "npu4000").latency_ns
    (workloads, by_calibration, _), = cost_tasks._memos.values()
    (task_costs,) = by_calibration.values()
    assert len(workloads) + len(task_costs) > 10
    workloads["sentinel"] = None
    again = nbperf.estimate(model, "npu4000").latency_ns  # over the bound: starts over, same number
    assert again == first and "sentinel" not in workloads
    monkeypatch.setattr(sweep_runner, "_LOADED_KEPT", 1)
    sweep_runner._loaded.clear()
    sweep([models], "npu4000", ["tiles=2"], executor="serial")
    assert len(sweep_runner._loaded) == 1
