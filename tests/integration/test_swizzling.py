"""Swizzling (issue 15): the buffers the compiler swizzles, their padded CMX size, the compiler's
swizzling-aware CMX fit check, and the DPU cycles a part without swizzling pays."""

from __future__ import annotations

import math

import pytest
from onnx import TensorProto, helper
from tests.onnx_builders import chain_model, weight

import nbperf
from nbperf.arch import load_arch
from nbperf.cost.inventory import dpu_rows
from nbperf.errors import ArchError
from nbperf.strategy.swizzling import fit_bytes, stored_bytes, stored_weight_bytes, swizzled_activations

NPU4000 = load_arch("npu4000")
NPU3720 = load_arch("npu3720")


def test_stored_size_rounds_swizzled_buffers_to_the_parts_alignment():
    assert stored_bytes(1100, NPU4000, swizzled=True) == 2048  # 1 KB on NPU40XX
    assert stored_bytes(1100, NPU3720, swizzled=True) == 1536  # 512 B on NPU37XX
    assert stored_bytes(1100, NPU4000, swizzled=False) == 1152  # 64 B otherwise
    assert stored_bytes(1100, load_arch("vpu2.0"), swizzled=True) == 1152  # no swizzling on VPU 2.0
    assert stored_bytes(0, NPU4000, swizzled=True) == 0


def test_fit_check_places_every_buffer_at_a_swizzling_address():
    """calculateAlignedBuffersMemoryRequirement: buffers sorted by their padding to a 32 KB boundary,
    largest first; each starts at a multiple of 32 KB and rounds up to 1 KB."""
    # padding to 32 KB: 1000 -> 31768, 40000 -> 25536, 70000 -> 28304: order 1000, 70000, 40000
    expected = 32768 + (65536 + 32768) + 40960  # 1000 -> [0, 1024), 70000 -> [32K, 32K+70656), 40000 last
    assert fit_bytes([40000, 1000, 70000], NPU4000) == expected
    assert fit_bytes([40000, 1000, 70000], load_arch("vpu2.0")) == 111000  # no swizzling: the sum
    assert fit_bytes([], NPU4000) == 0


def test_swizzled_weights_move_padded_per_tile_segment():
    """A swizzled constant is padded to the swizzling size alignment in DDR too, each tile's segment
    of split weights on its own."""
    assert stored_weight_bytes(1100, 1, NPU4000, swizzled=True) == 2048
    assert stored_weight_bytes(6000, 6, NPU4000, swizzled=True) == 6 * 1024  # 1000 B per tile
    assert stored_weight_bytes(6000, 6, NPU3720, swizzled=True) == 6 * 1024  # 1000 -> 1024 on 512 B
    assert stored_weight_bytes(1100, 1, NPU4000, swizzled=False) == 1100
    assert stored_weight_bytes(1100, 1, load_arch("vpu2.0"), swizzled=True) == 1100
    assert stored_weight_bytes(0, 6, NPU4000, swizzled=True) == 0


def test_a_depthwise_layers_weight_dma_moves_the_padding():
    """A 64-channel 3x3 depthwise conv has 64 x 9 x 2 B of fp16 weights plus its weight table: each
    plan moves them padded to 1 KB per segment on npu4000, exactly as many bytes unswizzled."""
    from tests.onnx_builders import conv_model

    model = nbperf.load(conv_model(64, 64, 28, 3, group=64))
    on = nbperf.estimate(model, "npu4000")
    off = nbperf.estimate(model, "npu4000", arch_overrides=["compiler.weights_swizzling=false"])
    conv_on = next(t for t in on.schedule.tasks if t.op.name == "conv")
    conv_off = next(t for t in off.schedule.tasks if t.op.name == "conv")
    raw = conv_on.op.weight_bytes
    assert conv_off.weight_ddr_bytes == raw
    segments = conv_on.candidate.weight_segments
    per_segment = math.ceil(raw / segments)
    assert conv_on.weight_ddr_bytes == segments * math.ceil(per_segment / 1024) * 1024 > raw


def _chain():
    """conv -> conv -> Softmax (SHAVE) -> graph output: only the first conv's output is DPU-to-DPU."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="c1", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Conv", ["a", "w2"], ["b"], name="c2", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Softmax", ["b"], ["y"], name="sm", axis=1)]
    return chain_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 28, 28])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 28, 28])],
                       [weight("w1", (64, 64, 3, 3)), weight("w2", (64, 64, 3, 3))])


def test_only_dpu_to_dpu_activations_are_swizzled():
    result = nbperf.estimate(_chain(), "npu4000")
    assert swizzled_activations(result.graph, result.arch) == frozenset({"a"})
    layers = {layer["name"]: layer for layer in result.to_dict()["layers"]}
    assert layers["c1"]["swizzled"] == ["weights", "output"]  # its input comes from the host
    assert layers["c2"]["swizzled"] == ["input", "weights"]  # its output goes to a SHAVE kernel
    assert layers["sm"]["swizzled"] == []
    assert layers["c1"]["cmx_fit_bytes_per_tile"] >= layers["c1"]["cmx_bytes_per_tile"]
    off = nbperf.estimate(_chain(), "npu4000", arch_overrides=["compiler.activation_swizzling=false",
                                                               "compiler.weights_swizzling=false"])
    assert swizzled_activations(off.graph, off.arch) == frozenset()
    assert all(layer["swizzled"] == [] for layer in off.to_dict()["layers"])


def test_a_part_without_swizzling_pays_vpunns_unswizzled_cycles():
    on = nbperf.estimate(_chain(), "npu4000")
    off = nbperf.estimate(_chain(), "npu4000", arch_overrides=["compiler.activation_swizzling=false"])
    conv_on = next(t for t in on.schedule.tasks if t.op.name == "c2")
    conv_off = next(t for t in off.schedule.tasks if t.op.name == "c2")
    assert conv_off.compute.cycles > 1.4 * conv_on.compute.cycles  # 1.56 on the DPU workload
    assert off.latency_ns > on.latency_ns


@pytest.mark.parametrize("arch", ["npu4000", "npu3720"])
def test_turning_swizzling_off_is_never_faster_on_resnet50(arch):
    from tests.conftest import EXAMPLES

    model = nbperf.load(EXAMPLES / "resnet50.onnx")
    on = nbperf.estimate(model, arch)
    off = nbperf.estimate(model, arch, arch_overrides=["compiler.activation_swizzling=false"])
    assert off.latency_ns > on.latency_ns


def test_vpunn_descriptors_name_the_swizzling_key():
    for arch, overrides, key in (("npu4000", [], "KEY_5"), ("npu3720", [], "KEY_5"),
                                 ("npu4000", ["compiler.activation_swizzling=false"], "KEY_0"),
                                 ("vpu2.0", [], "KEY_0")):
        result = nbperf.estimate(_chain(), arch, arch_overrides=overrides)
        row = dpu_rows(result.graph, result.arch, result.plan)[0]
        assert {k.name for k in (*row.descriptor.input_swizzling, *row.descriptor.output_swizzling)} == {key}


def test_swizzling_needs_the_parts_alignments():
    with pytest.raises(ArchError, match=r"compiler swizzling needs cmx\.swizzling_size_alignment_bytes"):
        load_arch("vpu2.0", ["compiler.activation_swizzling=true"])
    with pytest.raises(ArchError, match="go together"):
        load_arch("npu4000", ["cmx.swizzling_address_alignment_bytes=null"])
