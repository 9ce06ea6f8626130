"""VPUNN workload descriptors of hand-worked layers: every exported field checked against values
worked out here, on paper, from the layer's geometry and the compiler's conventions."""

from __future__ import annotations

from tests.onnx_builders import conv_model

import nbperf
from nbperf.arch import load_arch
from nbperf.cost.descriptors import (
    DataType,
    ExecutionMode,
    HaloInfoHWC,
    ISIStrategy,
    Layout,
    Operation,
    VPUDevice,
    describe_dpu,
)
from nbperf.cost.workload import DpuWorkload, Placement
from nbperf.lower.npu_ops import DpuKind, DpuWork

NPU3720 = load_arch("npu3720")
STEM = DpuWork(DpuKind.CONV, out_w=112, out_h=112, out_k=64, in_k=3, kernel_h=7, kernel_w=7, stride_h=2,
               stride_w=2, in_h=224, in_w=224)


def test_resnet_stem_7x7_stride_2_with_3_input_channels():
    d = describe_dpu(DpuWorkload(STEM, "fp16"), NPU3720, "CUBOID_16x16", "stem")
    assert d.device is VPUDevice.VPU_2_7  # npu3720 is VPU 2.7
    assert d.op is Operation.CM_CONVOLUTION  # fewer than 16 input channels: channel-major convolution
    # Input: the whole 224 x 224 image, 3 channels kept as they are (CM_CONVOLUTION takes 1..15).
    assert d.inputs[0].shape == (224, 224, 3, 1)
    assert (d.inputs[0].dtype, d.inputs[0].layout) == (DataType.FLOAT16, Layout.ZXY)
    assert d.outputs[0].shape == (112, 112, 64, 1)
    assert d.kernels == (7, 7) and d.strides == (2, 2)
    # 112 rows at stride 2 with a 7-row window need (112 - 1) * 2 + 7 = 229 rows: 5 of padding.
    # At most (7 - 1) / 2 = 3 go before (ONNX's pads=3), the other 2 after (the 3rd is never read).
    assert d.padding == (3, 2, 3, 2)
    assert d.execution_order is ExecutionMode.CUBOID_16x16
    assert d.isi_strategy is ISIStrategy.CLUSTERING and d.output_write_tiles == 1
    assert d.offsets == (0, 0, 0, 0)
    assert d.halo.input_0_halo == HaloInfoHWC()
    assert d.weight_type is DataType.FLOAT16 and d.layer_info == "stem"


def test_3x3_split_over_height_on_2_tiles_reads_a_halo_row_from_the_neighbour():
    layer = DpuWork(DpuKind.CONV, out_w=56, out_h=56, out_k=64, in_k=64, kernel_h=3, kernel_w=3,
                    in_h=56, in_w=56)
    tile_rows = DpuWork(DpuKind.CONV, out_w=56, out_h=28, out_k=64, in_k=64, kernel_h=3, kernel_w=3,
                        in_h=56, in_w=56)
    first = describe_dpu(DpuWorkload(tile_rows, "int8", 1, "SplitOverHeight", Placement(layer, (0, 28))),
                         NPU3720, "CUBOID_16x16")
    # Tile 0 computes output rows 0..27: with one row of padding on top it reads input rows 0..28,
    # 29 rows; it owns input rows 0..27 (half of 56), so row 28 is a halo row from tile 1.
    assert first.op is Operation.CONVOLUTION
    assert first.inputs[0].shape == (56, 29, 64, 1)
    assert first.inputs[0].dtype is DataType.UINT8
    assert first.outputs[0].shape == (56, 28, 64, 1)
    assert first.padding == (1, 0, 1, 1)
    assert first.halo.input_0_halo == HaloInfoHWC(top=0, bottom=1)
    assert first.isi_strategy is ISIStrategy.SPLIT_OVER_H and first.offsets == (0, 0, 0, 0)
    second = describe_dpu(DpuWorkload(tile_rows, "int8", 1, "SplitOverHeight",
                                      Placement(layer, (28, 56), (0, 28, 0))), NPU3720, "CUBOID_16x16")
    # Tile 1, rows 28..55: reads input rows 27..55 and pads one row at the bottom; row 27 is tile 0's.
    assert second.inputs[0].shape == (56, 29, 64, 1)
    assert second.padding == (0, 1, 1, 1)
    assert second.halo.input_0_halo == HaloInfoHWC(top=1, bottom=0)
    assert second.offsets == (0, 28, 0, 0)
    assert first.key != second.key  # different windows, padding and halo: different costs


def test_split_over_kernel_1x1_on_6_tiles_as_exported(tmp_path):
    # 1x1 conv, 256 -> 512 channels on 14 x 14, forced SOK on npu4000 (6 tiles): 512 channels are 32
    # blocks of 16; 32 / 6 tiles = 6 blocks (96 channels) per tile, the last tile the 32 left.
    model = tmp_path / "sok.onnx"
    model.write_bytes(conv_model(256, 512, 14, 1, relu=False).SerializeToString())
    result = nbperf.estimate(model, "npu4000", strategies={"conv": "SOK"})
    rows = [r for r in nbperf.workloads(result, dma=False) if r.layer == "conv"]
    chosen = result.plan.placements["conv"].chosen
    assert len(rows) == 1 and rows[0].tiles == 6 and rows[0].count == 1
    d = rows[0].descriptor
    assert d.device is VPUDevice.VPU_4_0 and d.op is Operation.CONVOLUTION
    assert d.inputs[0].shape == (14, 14, 256, 1)  # every tile reads the whole input
    assert d.outputs[0].shape == (14, 14, 96, 1)  # the busiest tile's 96 channels
    assert d.kernels == (1, 1) and d.strides == (1, 1) and d.padding == (0, 0, 0, 0)
    assert chosen.label == "SOK>dup"  # the output is broadcast to every tile ...
    assert (d.isi_strategy, d.output_write_tiles) == (ISIStrategy.SPLIT_OVER_K, 6)  # ... so the ODU writes 6
    # Kept segmented instead, the workload writes its own tile only: to VPUNN a clustering one (it
    # has no SOK without broadcast).
    segmented = describe_dpu(DpuWorkload(chosen.work, "fp16", 1, "SplitOverKernel"), load_arch("npu4000"))
    assert (segmented.isi_strategy, segmented.output_write_tiles) == (ISIStrategy.CLUSTERING, 1)


def test_a_matmul_is_folded_into_a_4_row_plane_like_the_compiler_does():
    # 128 rows x 768 -> 768: W = 128 rows, H = 1 is reshaped to W = 32, H = 4 (ReshapeConvInput).
    work = DpuWork(DpuKind.MATMUL, out_w=128, out_h=1, out_k=768, in_k=768, flat_spatial=True, in_h=1,
                   in_w=128)
    d = describe_dpu(DpuWorkload(work, "int8"), NPU3720)
    assert d.op is Operation.CONVOLUTION
    assert d.inputs[0].shape == (32, 4, 768, 1) and d.outputs[0].shape == (32, 4, 768, 1)


def test_an_eltwise_with_unaligned_channels_is_shape_cast_to_16_channels():
    # 197 x 768 x 1 channel = 151,296 elements = 9,456 x 16: spread as evenly as factors allow.
    work = DpuWork(DpuKind.ELTWISE, out_w=768, out_h=1, out_k=1, in_k=0, batch=197)
    d = describe_dpu(DpuWorkload(work, "fp16"), NPU3720)
    assert d.op is Operation.ELTWISE
    w, h, c, b = d.outputs[0].shape
    assert (c, b, w * h) == (16, 1, 9_456) and w <= h and w == 48  # 9456 = 48 x 197
    assert d.weight_type is None
