"""Silicon correlation and calibration (issue 16): overlays, factors in the one cost path, name
matching, `nbperf correlate` and `nbperf calibrate`.

Every measured file here is synthetic (an estimate's own layer times, scaled per class, with
noise) and says so in its first line: no figure in these tests is a silicon measurement."""

from __future__ import annotations

import csv
import json
import math

import pytest
from tests.conftest import EXAMPLES

import nbperf
from nbperf.arch.model import DPU_OP_CLASSES, CalibrationSpec
from nbperf.calibration.classes import op_class
from nbperf.calibration.fit import Sample, fit
from nbperf.calibration.recost import FixedPlan
from nbperf.calibration.synthetic import synthetic_layers, write_synthetic
from nbperf.cli import main
from nbperf.cost import TaskCoster, get_backend
from nbperf.errors import ArchError
from nbperf.lower.npu_ops import DpuKind
from nbperf.measured.matching import lookup, name_index

RESNET = EXAMPLES / "resnet50.onnx"
MOBILENET = EXAMPLES / "mobilenet_v2_int8_qdq.onnx"
TRUTH = CalibrationSpec(dpu={"conv": 1.3, "eltwise": 1.8, "dwconv": 0.8})


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    return lines[0]


@pytest.fixture(scope="module")
def resnet() -> nbperf.Estimate:
    return nbperf.estimate(RESNET, "npu4000")


# -- the arch: calibration section and overlays ---------------------------------------------------

def test_dpu_classes_are_the_lowering_kinds():
    assert tuple(k.value for k in DpuKind) == DPU_OP_CLASSES


def test_overlay_merges_over_its_base(tmp_path):
    (tmp_path / "mid.yaml").write_text("base: npu4000\ntiles: 4\ndma: {ddr_bandwidth_gbps: 50}\n")
    (tmp_path / "top.yaml").write_text("base: mid.yaml\nname: mine\ncalibration: {dpu: {conv: 1.25}}\n")
    spec = nbperf.load_arch(tmp_path / "top.yaml")
    base = nbperf.load_arch("npu4000")
    assert (spec.name, spec.tiles, spec.dma.ddr_bandwidth_gbps) == ("mine", 4, 50)
    assert spec.dma.channels == base.dma.channels  # a section merges field by field
    assert spec.calibration.dpu_factor("conv") == 1.25 and spec.calibration.dpu_factor("pool") == 1.0


@pytest.mark.parametrize("text, message", [
    ("base: nope\n", "unknown arch 'nope'"),
    ("base: 3\n", "base must be a preset name or a YAML path"),
    ("base: self.yaml\n", "levels of base"),
    ("base: npu4000\ncalibration: {shave: {sofmax: 1.2}}\n", "unknown SHAVE op class 'sofmax'"),
    ("base: npu4000\ncalibration: {dpu: {conv: 40}}\n", "calibration.dpu.conv"),
    ("base: npu4000\ncalibration: {dpu: {convolution: 1.1}}\n", "calibration.dpu.convolution"),
])
def test_bad_overlays_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "self.yaml"
    path.write_text(text)
    with pytest.raises(ArchError, match=message) as info:
        nbperf.load_arch(path)
    assert "\n" not in info.value.message


def test_factors_scale_compute_of_their_class_only(resnet):
    """The factors act in the one cost path: under a fixed plan a conv factor of 2 doubles every
    conv layer's compute and leaves the other classes' compute alone."""
    plan = FixedPlan(resnet)
    spec = resnet.arch.model_copy(update={"calibration": CalibrationSpec(dpu={"conv": 2.0})})
    scaled = TaskCoster(spec, get_backend("math"))
    plain = TaskCoster(resnet.arch, get_backend("math"))
    ops = {op.name: op for op in resnet.graph.ops}
    for op in resnet.graph.ops:
        if op.dpu is not None:
            a = plain.dpu_task(op.dpu, op.precision, op.macs)
            b = scaled.dpu_task(op.dpu, op.precision, op.macs)
            expected = 2 if op.dpu.kind is DpuKind.CONV else 1
            assert abs(b.cycles - expected * a.cycles) <= 1, op.name
        if op.shave_class is not None:
            a = plain.shave_task(op.shave_class, op.elements, op.precision)
            assert scaled.shave_task(op.shave_class, op.elements, op.precision) == a
    base, doubled = plan.layer_ns(resnet.arch.calibration), plan.layer_ns(CalibrationSpec(dpu={"conv": 2.0}))
    for name, ns in base.items():
        kind = op_class(ops[name])
        if kind != "dpu.conv":
            assert doubled[name] == pytest.approx(ns, rel=1e-9), name
    tasks = {t.op.name: t for t in resnet.schedule.tasks}
    bound = [n for n in base if op_class(ops[n]) == "dpu.conv" and tasks[n].bound.value == "compute"]
    assert len(bound) > 20
    for name in bound:  # a compute-bound conv grows by its compute time, exactly
        assert doubled[name] - base[name] == pytest.approx(tasks[name].compute.ns, rel=0.02), name
    assert sum(doubled.values()) > sum(base.values())  # (a conv after a slower one may hide more DMA)


def test_fixed_plan_reproduces_the_schedule(resnet):
    times = FixedPlan(resnet).layer_ns(resnet.arch.calibration)
    spans = {t.op.name: t.end_ns - t.start_ns for t in resnet.schedule.tasks}
    assert times == pytest.approx(spans, rel=1e-9)


# -- matching names -------------------------------------------------------------------------------

def test_names_match_as_profilers_write_them(resnet):
    index = name_index(resnet.graph.ops)
    conv = "/layer1/layer1.0/conv1/Conv"
    relu = next(op for op in resnet.graph.ops if op.name == conv).fused[-1]
    out = next(op for op in resnet.graph.ops if op.name == conv).outputs[0]
    assert lookup(conv, index) == (conv, "layer")
    assert lookup(conv.lstrip("/"), index) == (conv, "layer")
    assert lookup(f"{conv}?t_Convolution", index) == (conv, "layer (prefix)")
    assert lookup(f"{conv}/WithoutBiases", index) == (conv, "layer (prefix)")
    assert lookup(relu, index) == (conv, "fused node")
    assert lookup(out, index) == (conv, "output tensor")
    assert lookup("Convert_1234", index) is None


# -- correlate ------------------------------------------------------------------------------------

def _synthetic(tmp_path, estimate, calibration, noise, seed=0, name="m.csv"):
    path = tmp_path / name
    write_synthetic(path, synthetic_layers(estimate, calibration, noise, seed), f"{estimate.model} test data")
    return path


def test_correlate_own_times_is_exact(capsys, tmp_path, resnet):
    measured = _synthetic(tmp_path, resnet, resnet.arch.calibration, 0.0)
    code, out, err = run(capsys, "correlate", RESNET, "--measured", measured, "--json", "-")
    assert code == 0, err
    record = json.loads(out)
    assert record["overall"]["layers"] == len(resnet.schedule.tasks)
    assert record["overall"]["within_10_pct"] == 100.0 and record["overall"]["mape_pct"] < 0.01
    assert record["unmatched_measured"] == [] and record["unmeasured_layers"] == []
    assert set(record["by_op_class"]) == {"dpu.conv", "dpu.eltwise", "dpu.pool", "dpu.matmul"}


def test_correlate_reports_misses_per_class_and_files(capsys, tmp_path, resnet):
    measured = _synthetic(tmp_path, resnet, TRUTH, 0.1)
    rows = list(csv.reader(measured.read_text().splitlines()[1:]))
    with measured.open("a") as f:  # one layer nbperf does not have, and one it lacks a measurement for
        f.write("Convert_999,3.5,Convert\n")
    text = measured.read_text().replace(rows[5][0] + ",", "#dropped,")
    kept = [line for line in text.splitlines() if not line.startswith("#dropped")]
    measured.write_text("\n".join(kept) + "\n")
    html, table = tmp_path / "c.html", tmp_path / "c.csv"
    code, out, err = run(capsys, "correlate", RESNET, "--measured", measured, "--html", html, "--csv", table)
    assert code == 0, err
    assert "all layers" in out and "dpu.conv" in out and "within 10%" in out
    assert f"whole model: estimated {resnet.schedule.makespan_ns / 1e3:,.1f} us on the device vs" in out
    assert "1 measured layers (3.5 us) match no nbperf layer: Convert_999" in err
    assert "1 nbperf layers" in err and rows[5][0] in err
    page = html.read_text()
    assert "nbperf-correlate-scatter" in page and '"type":"log"' in page.replace(" ", "")
    layers = list(csv.DictReader(table.open()))
    assert len(layers) == len(resnet.schedule.tasks) - 1 and {"ratio", "op_class", "bound"} <= set(layers[0])


def test_correlate_foreign_names_is_one_line_error(capsys, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("layer,time_us\n" + "".join(f"encoder.{i}.attn,{10 + i}\n" for i in range(6)))
    code, _, err = run(capsys, "correlate", RESNET, "--measured", path)
    line = one_error_line(err)
    assert code == 2 and "6 of 6 executed layers match no layer of resnet50" in line
    assert "'encoder.0.attn'" in line and "'/conv1/Conv'" in line


def test_correlate_needs_its_inputs(capsys):
    code, _, err = run(capsys, "correlate", RESNET)
    assert code == 2 and "needs MODEL and --measured" in one_error_line(err)


def test_whole_model_runs_compare_in_their_mode(capsys, tmp_path, resnet):
    runs = tmp_path / "runs.csv"
    hint = resnet.latency_hint.latency_ms
    runs.write_text("# SYNTHETIC runs, not silicon measurements\nmodel,arch,precision,mode,latency_ms,fps\n"
                    f"resnet50,npu4000,,latency,{hint * 1.25},\n"
                    f"resnet50,npu4000,,throughput,,{resnet.throughput_fps / 2}\n"
                    "bert,npu4000,,latency,3.0,\n")
    code, out, err = run(capsys, "correlate", "--models", RESNET, "--runs", runs, "--json", "-")
    assert code == 0, err
    record = json.loads(out)
    ratios = [(r["mode"], r["time_ratio"]) for r in record["runs"]]
    assert ratios == [("latency", pytest.approx(0.8, abs=1e-3)), ("throughput", pytest.approx(0.5, abs=1e-3))]
    assert record["geomean_time_ratio"] == pytest.approx(math.sqrt(0.4), abs=1e-3)
    assert record["unpaired_runs"] == ["bert"]


# -- calibrate ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def estimates() -> list[nbperf.Estimate]:
    return [nbperf.estimate(RESNET, "npu4000"), nbperf.estimate(MOBILENET, "npu4000")]


_FITS: dict[int, object] = {}


def _fit(estimates: list[nbperf.Estimate], seed: int):
    """The fit of synthetic measurements made with known factors and 10% log-normal noise."""
    if seed not in _FITS:
        samples = []
        for est in estimates:
            rows = synthetic_layers(est, TRUTH, 0.1, seed)
            classes = {op.name: op_class(op) for op in est.graph.ops}
            samples.append(Sample(est.model, FixedPlan(est),
                                  {n: t for n, t, c in rows if c.startswith("dpu.")}, classes))
        _FITS[seed] = fit(samples, holdout=0.25)
    return _FITS[seed]


@pytest.mark.parametrize("seed", range(10))
def test_calibration_recovers_known_factors(estimates, seed):
    """Synthetic measurements made with known factors and 10% log-normal noise, the first ten seeds:
    the classes with at least 20 training layers (conv, eltwise) come back within 5%; every fitted
    class lies within three of its stated standard errors."""
    result = _fit(estimates, seed)
    fitted = {c.op_class: c for c in result.classes if c.status == "fitted"}
    assert set(fitted) == {"dpu.conv", "dpu.dwconv", "dpu.eltwise"}
    for c in fitted.values():
        truth = TRUTH.dpu_factor(c.op_class.removeprefix("dpu."))
        error = abs(c.factor / truth - 1)
        if c.layers >= 20:
            assert error <= 0.05, c
        assert error <= 3 * c.rel_stderr, c
    assert result.held_after.mape_pct < result.held_before.mape_pct
    assert result.held_after.within_10_pct > result.held_before.within_10_pct


def test_depthwise_says_it_is_known_less_well_than_conv(estimates):
    """Depthwise, 13 training layers of which few follow their compute, states a larger standard
    error than conv over the first ten seeds (so 5% is not promised there:
    benchmarks/bench_calibrate.py has the spread); one seed alone may draw the other way."""
    fits = [{c.op_class: c for c in _fit(estimates, seed).classes} for seed in range(10)]
    depthwise = sum(f["dpu.dwconv"].rel_stderr for f in fits) / len(fits)
    conv = sum(f["dpu.conv"].rel_stderr for f in fits) / len(fits)
    assert depthwise > 1.5 * conv


def test_cli_calibrate_writes_an_overlay_estimate_takes(capsys, tmp_path, estimates):
    files = [_synthetic(tmp_path, est, TRUTH, 0.1, seed=3, name=f"{est.model}.csv") for est in estimates]
    out = tmp_path / "cal.yaml"
    code, text, err = run(capsys, "calibrate", RESNET, MOBILENET, "--arch", "npu4000", "--measured", files[0],
                          "--measured", files[1], "--out", out, "--json", tmp_path / "fit.json")
    assert code == 0, err
    assert "dpu.conv" in text and "held out" in text and f"wrote {out}" in text
    spec = nbperf.load_arch(out)
    assert spec.name == "npu4000-calibrated" and spec.tiles == nbperf.load_arch("npu4000").tiles
    assert spec.calibration.dpu_factor("conv") == pytest.approx(1.3, rel=0.05)
    assert "held-out MAPE" in spec.calibration.fitted_from
    record = json.loads((tmp_path / "fit.json").read_text())
    before, after = record["models"][0]["latency_ms_before"], record["models"][0]["latency_ms_after"]
    assert after > before  # conv and eltwise slower on the (synthetic) part
    code, text, err = run(capsys, "estimate", RESNET, "--arch", out, "-q")
    assert code == 0 and "npu4000-calibrated" in text


def test_cli_calibrate_pairs_models_and_files(capsys, tmp_path):
    code, _, err = run(capsys, "calibrate", RESNET, MOBILENET, "--measured", tmp_path / "a.csv",
                       "--out", tmp_path / "o.yaml")
    assert code == 2 and "one --measured file per model" in one_error_line(err)


def test_correlate_a_benchmark_app_report(capsys):
    """The synthetic counters written by OpenVINO's writer (tests/data/measured): every executed row
    lands on a layer; what nbperf lowers differently is said, not hidden."""
    report = EXAMPLES.parent.parent / "tests" / "data" / "measured" / "benchmark_detailed_counters_report.csv"
    code, out, err = run(capsys, "correlate", RESNET, "--measured", report, "--json", "-")
    assert code == 0, err
    record = json.loads(out)
    assert record["measured"]["requests"] == 2 and record["unmatched_measured"] == []
    assert record["not_executed"] == ["/relu/Relu"]  # optimized out: fused into the convolution
    layers = {r["layer"]: r for r in record["layers"]}
    assert layers["/conv1/Conv"]["measured_us"] == pytest.approx(101.0)  # (96 + 106) / 2
    assert layers["/Flatten"]["bound"] == "free" and layers["/Flatten"]["estimated_us"] == 0
    assert record["engine_differs"] == ["/avgpool/GlobalAveragePool"]  # the file says Shave
    assert record["overall"]["geomean_ratio"] is None  # a free layer has no ratio to average


def test_public_api(resnet, tmp_path):
    measured = _synthetic(tmp_path, resnet, TRUTH, 0.0)
    corr = nbperf.correlate(resnet, measured)
    assert corr.grouped("op_class")["dpu.conv"].geomean_ratio < 1  # silicon (synthetic) slower
    session = nbperf.calibrate([RESNET], [measured], "npu4000", holdout=0.0)
    fitted = {c.op_class: c.factor for c in session.fit.classes}
    assert fitted["dpu.conv"] == pytest.approx(1.3, rel=0.01)  # no noise: only rounding
