"""The Python API of issue 12: load once, estimate on many arch points, provenance in every
report, short repr, summary / to_dict / layers_frame, and presets parsed once."""

from __future__ import annotations

import csv
import json

import onnx
import pytest
from tests.conftest import EXAMPLES
from tests.onnx_builders import conv_model

import nbperf
from nbperf.arch import loader
from nbperf.cli import main
from nbperf.errors import UsageError
from nbperf.report.records import estimate_record

RESNET = EXAMPLES / "resnet50.onnx"
WIDER = ["dpu.macs_per_tile=4096"]


@pytest.fixture(scope="module")
def resnet():
    return nbperf.load(RESNET)


def test_loaded_model_gives_the_same_numbers_as_a_path(resnet):
    direct = nbperf.estimate(RESNET, "npu3720", arch_overrides=WIDER)
    reused = nbperf.estimate(resnet, "npu3720", arch_overrides=WIDER)
    assert reused.latency_ns == direct.latency_ns and reused.model == "resnet50.onnx"
    assert estimate_record(reused) == estimate_record(direct)


def test_lowering_is_cached_per_precision(resnet):
    assert resnet.lowered("int8") is resnet.lowered("int8")
    assert resnet.lowered(None) is not resnet.lowered("int8")


def test_in_memory_model_proto_is_loaded_and_left_unchanged():
    proto = conv_model(16, 32, 28, 3)
    before = proto.SerializeToString()
    result = nbperf.estimate(proto, "npu4000")
    assert result.latency_ms > 0 and proto.SerializeToString() == before
    loaded = nbperf.load(proto)
    assert loaded.input_shapes == {"x": (1, 16, 28, 28)}


def test_bad_model_object_and_shapes_on_a_loaded_model_are_usage_errors(resnet):
    with pytest.raises(UsageError, match="cannot load a int"):
        nbperf.load(42)
    with pytest.raises(UsageError, match="cannot be changed"):
        nbperf.estimate(resnet, "npu4000", input_shapes={"input.1": (1, 3, 112, 112)})


def test_invalid_in_memory_model_is_a_model_error():
    bad = onnx.ModelProto()
    with pytest.raises(nbperf.NbperfError, match="in-memory model"):
        nbperf.load(bad)


def test_provenance_names_overrides_shapes_strategies_and_version(resnet):
    result = nbperf.estimate(resnet, "npu4000", arch_overrides=WIDER, strategies={"all": "SOK"},
                             policy="compiler")
    prov = result.provenance
    assert result.arch_label == "npu4000+dpu.macs_per_tile=4096"
    assert prov.input_shapes == (("input.1", (1, 3, 224, 224)),) and prov.strategies == (("all", "SOK"),)
    record = result.to_dict()
    assert record["arch"] == "npu4000+dpu.macs_per_tile=4096"
    assert record["provenance"] == {
        "arch": "npu4000+dpu.macs_per_tile=4096", "arch_base": "npu4000",
        "arch_overrides": ["dpu.macs_per_tile=4096"], "input_shapes": {"input.1": [1, 3, 224, 224]},
        "strategies": {"all": "SOK"}, "policy": "compiler", "cost_model": "math", "schedule": "serial",
        "precision_requested": None, "weight_sparsity_assumed": None, "activation_sparsity": None,
        "nbperf_version": nbperf.__version__}
    assert nbperf.estimate(resnet, "npu4000", weight_sparsity=0.5).to_dict()["provenance"][
        "weight_sparsity_assumed"] == 0.5


def test_every_cli_report_names_the_what_if(capsys, tmp_path):
    out_json, out_csv, out_trace = tmp_path / "e.json", tmp_path / "e.csv", tmp_path / "e.trace.json"
    code = main(["estimate", str(RESNET), "--set", "dpu.macs_per_tile=4096", "--schedule", "emulator",
                 "--json", str(out_json), "--csv", str(out_csv), "--trace", str(out_trace), "--top", "3"])
    out = capsys.readouterr().out
    assert code == 0
    label = "npu4000+dpu.macs_per_tile=4096"
    assert f"resnet50.onnx on {label}" in out.replace("\n", "")
    assert json.loads(out_json.read_text())["provenance"]["arch_overrides"] == ["dpu.macs_per_tile=4096"]
    row = next(csv.DictReader(out_csv.open()))
    assert row["arch"] == label and row["input_shapes"] == "input.1=1x3x224x224"
    assert row["schedule"] == "emulator" and row["nbperf_version"] == nbperf.__version__
    meta = json.loads(out_trace.read_text())["otherData"]
    assert meta["arch"] == label and meta["nbperf_version"] == nbperf.__version__


def test_repr_is_short_and_summary_is_flat(resnet):
    result = nbperf.estimate(resnet, "npu4000")
    assert len(repr(result)) < 200 and "latency_ms=" in repr(result)
    assert len(repr(resnet)) < 200
    summary = result.summary()
    assert all(not isinstance(v, dict | list) for v in summary.values())
    assert summary["latency_ms"] == round(result.latency_ms, 6) and summary["arch"] == "npu4000"
    assert "throughput_fps" not in result.summary(modes=False)


def test_layers_frame():
    pandas = pytest.importorskip("pandas", reason="layers_frame needs pandas (the sweep extra)")
    result = nbperf.estimate(EXAMPLES / "fsrcnn_x2_540p.onnx", "npu4000")
    frame = result.layers_frame()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(result.schedule.tasks)
    assert frame["compute_us"].sum() > 0


def test_presets_are_parsed_once_per_process(monkeypatch):
    nbperf.load_arch("npu4000", ["tiles=3"])
    calls = []
    monkeypatch.setattr(loader, "_parse", lambda *a: calls.append(a) or {})
    assert nbperf.load_arch("npu4000", ["tiles=3"]).tiles == 3
    assert nbperf.load_arch("npu4000", ["tiles=5"]).tiles == 5  # a new point: validated, not re-parsed
    assert calls == []


def test_cached_points_do_not_leak_overrides():
    wide = nbperf.load_arch("npu4000", ["dpu.macs_per_tile=4096"])
    plain = nbperf.load_arch("npu4000")
    assert wide.dpu.macs_per_tile == 4096 and plain.dpu.macs_per_tile != 4096


def test_import_nbperf_is_lazy():
    import subprocess
    import sys

    code = ("import sys, nbperf; assert 'nbperf.api' not in sys.modules and 'onnx' not in sys.modules; "
            "nbperf.estimate; assert 'nbperf.api' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_compare_and_sweep_stay_functions_after_their_modules_are_imported():
    """``from nbperf.compare import ...`` must not turn ``nbperf.compare`` into the module."""
    import subprocess
    import sys

    code = ("import nbperf\nfrom nbperf.compare import comparison_record\n"
            "from nbperf.sweep import OPTION_KEYS\nimport nbperf.compare\n"
            "assert callable(nbperf.compare) and callable(nbperf.sweep)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
