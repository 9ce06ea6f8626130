"""Every model in ../shared/models estimates end to end, with published MAC counts."""

from __future__ import annotations

import json

import pytest
from tests.conftest import SHARED_MODELS

import nbperf
from nbperf.cli import main

MODELS = sorted(p.name for p in SHARED_MODELS.glob("*.onnx")) or ["(shared models absent)"]

# Published multiply-accumulate counts (DESIGN.md section 5), conv + matmul + gemm.
PUBLISHED_MACS = {
    "resnet50.onnx": 4.09e9,
    "mobilenet_v2.onnx": 0.30e9,
    "vit_b_16.onnx": 17.56e9,
    "bert_base_s128.onnx": 11.17e9,
}


@pytest.mark.parametrize("model", MODELS)
def test_cli_estimates_every_shared_model_with_no_unknown_ops(model, shared_models, tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(["estimate", str(shared_models / model), "--arch", "npu4000", "--json", str(out), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning" not in captured.err
    report = json.loads(out.read_text())
    assert report["unknown_ops"] == []
    assert report["latency_ms"] > 0 and report["fps"] > 0
    assert report["layers"], "a real network has layers"
    for layer in report["layers"]:
        assert layer["end_us"] >= layer["start_us"]
        assert layer["engine"] in {"DPU", "SHAVE", "DMA"}


@pytest.mark.parametrize("model,published", sorted(PUBLISHED_MACS.items()))
def test_conv_and_matmul_macs_match_published_counts(model, published, shared_models):
    result = nbperf.estimate(shared_models / model, "npu4000")
    macs = sum(t.op.macs for t in result.schedule.tasks if t.op.op_type in {"Conv", "MatMul", "Gemm"})
    assert macs == pytest.approx(published, rel=0.01)


def test_quantized_mobilenet_runs_int8_and_faster_than_float(shared_models):
    qdq = nbperf.estimate(shared_models / "mobilenet_v2_int8_qdq.onnx", "npu4000")
    fp = nbperf.estimate(shared_models / "mobilenet_v2.onnx", "npu4000")
    assert qdq.precision == "int8"
    assert {t.op.op_type for t in qdq.schedule.tasks}.isdisjoint({"QuantizeLinear", "DequantizeLinear"})
    assert qdq.latency_ms < fp.latency_ms


def test_transformers_fuse_gelu_and_keep_softmax_on_shave(shared_models):
    for model in ("vit_b_16.onnx", "bert_base_s128.onnx"):
        result = nbperf.estimate(shared_models / model, "npu4000")
        engines = {t.op.op_type: t.op.engine.value for t in result.schedule.tasks}
        assert engines["Gelu"] == "SHAVE" and engines["Softmax"] == "SHAVE"
        assert engines["LayerNormalization"] == "SHAVE"
        assert "Erf" not in engines, "the Erf GELU pattern is fused into one op"
