"""Weight sparsity (issue 15, first part): measured from the file's weights or assumed for a
weightless model, compressed as the compiler does above its threshold, and priced in bytes and
MAC cycles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, numpy_helper
from tests.onnx_builders import conv_model

import nbperf
from nbperf.cost.inventory import dpu_rows
from nbperf.errors import UsageError


def pruned_conv(zeros: float, channels: int = 256, hw: int = 28, seed: int = 0):
    """A weight-heavy 3x3 conv whose weights are magnitude-pruned to ``zeros`` with numpy."""
    model = conv_model(channels, channels, hw, 3)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32)
    if zeros > 0:
        w[np.abs(w) < np.quantile(np.abs(w), zeros)] = 0.0
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    return model


def weightless(model):
    """``model`` with its weights stored outside the file, and that file absent (as the shared
    weightless models are)."""
    for t in model.graph.initializer:
        size = t.ByteSize()
        t.ClearField("float_data")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "weights.absent"), ("offset", "0"), ("length", str(size))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return model


def conv_op(result: nbperf.Estimate):
    return next(op for op in result.graph.ops if op.op_type == "Conv")


def test_half_pruned_weights_cut_weight_dma_by_over_40_percent():
    dense = nbperf.estimate(pruned_conv(0.0), "npu4000")
    sparse = nbperf.estimate(pruned_conv(0.5), "npu4000")
    op = conv_op(sparse)
    assert op.dpu.weight_sparsity == pytest.approx(0.5, abs=1e-3)
    assert op.weight_dense_bytes == conv_op(dense).weight_bytes
    assert sparse.weight_ddr_bytes < 0.6 * dense.weight_ddr_bytes
    assert sparse.latency_ns < dense.latency_ns
    record = sparse.to_dict()["layers"][0]
    assert record["weight_sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert record["weight_bytes"] < 0.6 * record["weight_dense_bytes"]


def test_below_the_compilers_threshold_nothing_changes():
    """fp16 weights are compressed from 6.25% zeros on (sparsity_strategy.hpp): 5% stays dense."""
    dense = nbperf.estimate(pruned_conv(0.0), "npu4000")
    few = nbperf.estimate(pruned_conv(0.05), "npu4000")
    assert conv_op(few).dpu.weight_sparsity == 0 and conv_op(few).weight_dense_bytes == 0
    assert few.latency_ns == dense.latency_ns and few.weight_ddr_bytes == dense.weight_ddr_bytes


def test_measured_weights_win_over_the_assumed_share():
    measured = nbperf.estimate(pruned_conv(0.5), "npu4000", weight_sparsity=0.9)
    assert conv_op(measured).dpu.weight_sparsity == pytest.approx(0.5, abs=1e-3)
    assert measured.provenance.weight_sparsity == 0.9


def test_an_all_zero_tensor_is_a_placeholder_not_a_pruned_layer():
    model = pruned_conv(0.0)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((256, 256, 3, 3), np.float32), "w"))
    assert conv_op(nbperf.estimate(model, "npu4000")).dpu.weight_sparsity == 0


def test_mac_cycles_follow_the_arch_curve():
    arch = nbperf.load_arch("npu4000")
    dense = nbperf.estimate(pruned_conv(0.0), arch)
    sparse = nbperf.estimate(pruned_conv(0.0), arch, weight_sparsity=0.5)
    assert sparse.provenance.weight_sparsity == 0.5  # the file's weights are dense: measured 0, kept
    assert conv_op(sparse).dpu.weight_sparsity == 0
    model = weightless(conv_model(256, 256, 28, 3))
    half = nbperf.estimate(model, arch, weight_sparsity=0.5)
    full = nbperf.estimate(model, arch)
    a, b = full.schedule.tasks[0].compute, half.schedule.tasks[0].compute
    assert b.limit == "mac" and b.cycles < a.cycles
    if a.limit == "mac":  # the same task both ways: MAC cycles at the curve's 50% point
        assert b.cycles - arch.dpu.task_overhead_cycles == pytest.approx(
            0.47 * (a.cycles - arch.dpu.task_overhead_cycles), rel=0.05)
    assert dense.latency_ns == full.latency_ns  # dense weights and no weights price alike


def test_vpunn_descriptors_carry_the_sparsity():
    result = nbperf.estimate(pruned_conv(0.5), "npu4000")
    row = dpu_rows(result.graph, result.arch, result.plan)[0]
    assert row.descriptor.weight_sparsity == pytest.approx(0.5, abs=1e-3)
    assert row.descriptor.weight_sparsity_enabled


def test_bad_share_is_a_usage_error():
    with pytest.raises(UsageError, match="weight sparsity must be in"):
        nbperf.estimate(conv_model(16, 16, 8, 3), "npu4000", weight_sparsity=1.0)


_WEIGHTLESS = None


def _weightless_chain() -> nbperf.LoadedModel:
    global _WEIGHTLESS
    if _WEIGHTLESS is None:
        _WEIGHTLESS = nbperf.load(weightless(conv_model(128, 256, 28, 3)))
    return _WEIGHTLESS


@settings(max_examples=25, deadline=None)
@given(low=st.floats(0, 0.95), high=st.floats(0, 0.95),
       arch=st.sampled_from(["npu3720", "npu4000", "vpu2.0"]))
def test_sparsity_never_adds_bytes_or_time(low, high, arch):
    low, high = sorted((low, high))
    model = _weightless_chain()
    dense = nbperf.estimate(model, arch)
    less = nbperf.estimate(model, arch, weight_sparsity=low)
    more = nbperf.estimate(model, arch, weight_sparsity=high)
    for result in (less, more):
        assert result.weight_ddr_bytes <= dense.weight_ddr_bytes
        assert result.latency_ns <= dense.latency_ns * (1 + 1e-9)
    assert more.weight_ddr_bytes <= less.weight_ddr_bytes
    assert more.latency_ns <= less.latency_ns * (1 + 1e-9)


def test_weightless_files_say_so_in_one_line(capsys, tmp_path):
    import onnx

    from nbperf.cli import main

    path = tmp_path / "weightless.onnx"
    onnx.save(weightless(conv_model(64, 64, 14, 3)), path)
    with_weights = tmp_path / "weights.onnx"
    onnx.save(pruned_conv(0.5, channels=64, hw=14), with_weights)
    cases = (([str(path)], 1), ([str(path), "--weight-sparsity", "0.5"], 0), ([str(with_weights)], 0),
             ([str(path), "--quiet"], 0))
    for argv, notes in cases:
        assert main(["estimate", *argv]) == 0
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "holds no weights" in line]
        assert len(lines) == notes, (argv, err)
        assert all(line.startswith("nbperf: warning: the file holds no weights for 1 layer(s): priced dense")
                   for line in lines)


def test_utilisation_and_ddr_report_what_compression_does():
    """MAC utilisation counts the MACs the DPU performs (not the compressed zeros), so it stays a
    share of the peak; the report gives the weight bytes moved and what they would be raw."""
    dense = nbperf.estimate(pruned_conv(0.0), "npu4000")
    sparse = nbperf.estimate(pruned_conv(0.75), "npu4000")
    utils = [t.compute.mac_utilisation for t in sparse.schedule.tasks if t.compute.mac_utilisation]
    assert utils and all(0 < u <= 1 for u in utils)
    record = sparse.to_dict()
    conv = next(t for t in sparse.schedule.tasks if t.op.weight_bytes)
    raw, parts = conv.op.weight_dense_bytes, conv.candidate.weight_parts  # swizzled pieces pad to 1 KB
    assert raw <= record["weight_ddr_dense_bytes"] < raw + 1024 * parts
    assert record["weight_ddr_dense_bytes"] > record["weight_ddr_bytes"]
    assert dense.to_dict()["weight_ddr_dense_bytes"] == dense.to_dict()["weight_ddr_bytes"]


def test_all_zero_16_channel_blocks_are_measured_and_reported():
    """Pruning whole 16-input-channel blocks shows as weight_zero_blocks; pruning single weights
    to the same share leaves (almost) no block all zero."""
    model = conv_model(64, 64, 14, 3)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    w[:, :32] = 0.0  # the first two blocks of every output channel and tap
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    layer = nbperf.estimate(model, "npu4000").to_dict()["layers"][0]
    assert layer["weight_zero_blocks"] == 0.5 and layer["weight_sparsity"] == 0.5
    scattered = nbperf.estimate(pruned_conv(0.5, channels=64, hw=14), "npu4000").to_dict()["layers"][0]
    assert scattered["weight_sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert scattered["weight_zero_blocks"] < 0.01
