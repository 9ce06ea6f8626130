"""Valid models are never refused on capacity: what does not fit CMX is tiled further.

Synthetic video (a Conv3d patch embedding and divided space-time attention over 8 x 196 tokens)
and long-sequence (4096 tokens) models estimate under both schedules, with MACs equal to an
independent count from the ONNX spec, and the report names the ops that needed tiling beyond rows
and channels. A Llama-style SwiGLU block lands within 2x of its roofline.
"""

from __future__ import annotations

import json

import onnx
import pytest
from benchmarks.model_builders import decoder_lm, swiglu_ffn, video_transformer
from tests.spec_macs import spec_macs

import nbperf
from nbperf.cli import main


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "timesformer.onnx"
    onnx.save(video_transformer(frames=8, size=224, patch=16, d_model=768, heads=12, layers=1), path)
    return path


@pytest.fixture(scope="module")
def long_sequence(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "decoder_4k.onnx"
    onnx.save(decoder_lm(layers=1, d_model=2048, heads=16, ffn=8192, vocab=1000, seq=4096), path)
    return path


@pytest.mark.parametrize("schedule", ["serial", "emulator"])
@pytest.mark.parametrize("which", ["video", "long_sequence"])
def test_large_attention_models_estimate_with_exact_macs(request, which, schedule):
    path = request.getfixturevalue(which)
    result = nbperf.estimate(path, "npu4000", schedule=schedule)
    assert result.unknown_ops == () and result.latency_ns > 0
    assert result.macs == spec_macs(onnx.load(path, load_external_data=False))
    tilings = [t.candidate.tiling for t in result.schedule.tasks if t.candidate.tiling is not None]
    further = [tiling for tiling in tilings if tiling.extra]
    assert further, "attention over thousands of tokens or heads needs tiling beyond rows and channels"


def test_the_report_names_the_ops_tiled_further(video, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert main(["estimate", str(video), "--arch", "npu4000", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "tiled further" in out and "time_attn/scores (batch items in" in " ".join(out.split())
    layers = {layer["name"]: layer for layer in json.loads(report.read_text())["layers"]}
    scores = layers["layer0/time_attn/scores"]
    assert scores["batch_groups"] > 1 and scores["subtiles"] > 1


def test_a_swiglu_block_lands_within_2x_of_its_roofline(tmp_path):
    """Stream's Llama-style FFN: [4096 x 4096] x [4096 x 14336] (gate and up) and back. Its bound
    is max(weight bytes / DDR bandwidth, MACs / peak MAC rate); the estimate may be slower (host
    copies, element-wise ops, DMA) but not by more than 2x."""
    path = tmp_path / "swiglu.onnx"
    onnx.save(swiglu_ffn(tokens=4096, d_model=4096, ffn=14336), path)
    result = nbperf.estimate(path, "npu4000")
    arch = result.arch
    weight_bytes = 3 * 4096 * 14336 * 2  # fp16
    macs_per_ns = arch.peak_tops("fp16") * 1e12 / 2 / 1e9
    bound_ns = max(weight_bytes / arch.dma.ddr_bandwidth_gbps, result.macs / macs_per_ns)
    assert bound_ns <= result.latency_ns <= 2 * bound_ns, (result.latency_ns, bound_ns)


@pytest.mark.parametrize("schedule", ["serial", "emulator"])
def test_a_softmax_row_longer_than_cmx_is_chunked_not_refused(tmp_path, schedule):
    """One 2M-element row (4 MB in fp16) cannot sit in CMX: it streams in chunks, twice."""
    node = onnx.helper.make_node("Softmax", ["x"], ["y"], axis=-1)
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 2_000_000])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    graph = onnx.helper.make_graph([node], "wide", [x], [y])
    path = tmp_path / "wide_softmax.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    result = nbperf.estimate(path, "npu4000", schedule=schedule)
    (task,) = result.schedule.tasks
    assert task.candidate.tiling is not None and task.candidate.tiling.passes == 2
    assert "read twice" in task.candidate.tiling.extra


@pytest.mark.parametrize("schedule", ["serial", "emulator"])
def test_a_global_pool_over_a_large_plane_splits_into_small_pools(tmp_path, schedule):
    """handle_large_kernels.cpp: a 240 x 240 window (whole plane, 7 MB in fp16 at 64 channels) runs
    as pools of 10, 8 and 3, each striding by its kernel, instead of being refused."""
    node = onnx.helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap")
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 64, 240, 240])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    path = tmp_path / "gap.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([node], "gap", [x], [y]),
                                     opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    result = nbperf.estimate(path, "npu4000", schedule=schedule)
    pools = [(t.op.name, t.op.dpu.kernel_h) for t in result.schedule.tasks]
    assert pools == [("gap/part0", 10), ("gap/part1", 8), ("gap", 3)]
