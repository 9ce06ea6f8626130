"""Workload descriptors in VPUNN's vocabulary: what nbperf asks a cost backend, field for field.

Intel's VPUNN cost model (intel/npu-nn-cost-model, Apache-2.0) prices one DPU workload described
by ``DPUWorkload`` (include/vpu/dpu_workload.h) and one DMA by ``DMAWorkload``
(include/vpu/dma_workload.h); its enums live in include/vpu/dpu_types.h and dma_types.h
(@8a2ae92). The dataclasses here carry the same fields, in the same order, with the same
conventions: tensors as (W, H, C, B), kernels and strides as (W, H), padding as (Top, Bottom,
Left, Right), enum members named as VPUNN names them and numbered as it numbers them. So a row
nbperf exports can be costed offline by VPUNN or by any tool that reads VPUNN workloads, and the
``vpunn`` backend builds its objects from them attribute by attribute.

How an nbperf workload maps (the compiler's conventions where it has them):

- channels are padded to the DPU's 16-channel block on the output, and on the input of a
  convolution; a convolution with fewer than 16 input channels is ``CM_CONVOLUTION`` with its own
  channel count (VPUNN device_valid_valuesVPU2_7.h input_channels_restrictions);
- the input window is what the workload's output rows read: padding is the effective padding of
  the layer where the window crosses its border, halo the rows read from a neighbour tile's share
  under a split over height (VPUNN dpu_halo.h ``input_0_halo``);
- a matrix multiplication is a 1x1 convolution over its rows, folded into a W x H plane as the
  compiler folds it (``_matmul_plane``), with its batch (heads) as B;
- pooling is ``MAXPOOL`` (nbperf prices max and average pooling alike; the compiler turns most
  average pools into depthwise convolutions, convert_avg_pool_to_dw_conv.cpp);
- the activation function is ``NONE`` and sparsity is off: nbperf does not model either per
  workload yet.

The ``key`` of a descriptor names what its cost depends on: every field except where the workload
sits (offsets, output halo), its MPE mode (a backend picks the best one, as the compiler asks
VPUNN for each) and its label. The math backend's cycles, a table's and VPUNN's are all keyed by it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum, IntEnum
from typing import Any

from nbperf.arch.model import ArchSpec, Precision
from nbperf.cost.math_model import best_mode
from nbperf.cost.workload import ROW_SPLITS, DpuWorkload, matmul_plane
from nbperf.errors import UsageError
from nbperf.lower.npu_ops import DpuKind, DpuWork

CHANNEL_BLOCK = 16  # DPU channel granularity (VPUNN output_channels_restrictions: multiples of 16)


class VPUDevice(IntEnum):
    VPU_2_0 = 0
    VPU_2_1 = 1
    VPU_2_7 = 2
    VPU_4_0 = 3
    NPU_5_0 = 4


class Operation(IntEnum):
    CONVOLUTION = 0
    DW_CONVOLUTION = 1
    ELTWISE = 2
    MAXPOOL = 3
    AVEPOOL = 4
    CM_CONVOLUTION = 5
    LAYER_NORM = 6
    ELTWISE_MUL = 7
    REDUCE_MS = 8
    REDUCE_SUMSQUARES = 9


class DataType(IntEnum):
    UINT8 = 0
    INT8 = 1
    FLOAT16 = 2
    BFLOAT16 = 3


class Layout(IntEnum):
    ZMAJOR = 0
    CMAJOR = 1
    XYZ = 2
    XZY = 3
    YXZ = 4
    YZX = 5
    ZXY = 6
    ZYX = 7
    INVALID = 8


class ExecutionMode(IntEnum):
    VECTOR = 0
    MATRIX = 1
    VECTOR_FP16 = 2
    CUBOID_16x16 = 3
    CUBOID_8x16 = 4
    CUBOID_4x16 = 5


class ActivationFunction(IntEnum):
    NONE = 0
    RELU = 1
    LRELU = 2
    ADD = 3
    SUB = 4
    MULT = 5


class Swizzling(IntEnum):
    KEY_0 = 0  # disabled
    KEY_1 = 1
    KEY_2 = 2
    KEY_3 = 3
    KEY_4 = 4
    KEY_5 = 5


class ISIStrategy(IntEnum):
    CLUSTERING = 0
    SPLIT_OVER_H = 1
    SPLIT_OVER_K = 2
    SPLIT_OVER_K_nxtHW = 3


class MemoryLocation(IntEnum):
    DRAM = 0
    CMX = 1
    CSRAM = 2
    UPA = 3


# nbperf's multi-tile strategies as VPUNN's isi_strategy (HKSwitch splits its rows like SOH and
# broadcasts its output: VPUNN's SPLIT_OVER_K_nxtHW names the SOK-after-HW case, not this one).
ISI_OF_STRATEGY = {"Clustering": ISIStrategy.CLUSTERING, "SplitOverHeight": ISIStrategy.SPLIT_OVER_H,
                   "HKSwitch": ISIStrategy.SPLIT_OVER_H, "SplitOverKernel": ISIStrategy.SPLIT_OVER_K,
                   "SplitOverWidth": ISIStrategy.CLUSTERING}
DTYPE_OF_PRECISION: dict[str, DataType] = {"int8": DataType.UINT8, "fp16": DataType.FLOAT16}


@dataclass(frozen=True)
class VPUTensor:
    """VPUNN ``VPUTensor``: shape as (W, H, C, B), data type, layout, sparsity."""

    shape: tuple[int, int, int, int]
    dtype: DataType
    layout: Layout = Layout.ZXY
    sparsity: bool = False


@dataclass(frozen=True)
class HaloInfoHWC:
    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0
    front: int = 0
    back: int = 0


@dataclass(frozen=True)
class HaloWorkload:
    """VPUNN ``HaloWorkload``: rows/columns read from (input) or written to (output) other tiles."""

    input_0_halo: HaloInfoHWC = HaloInfoHWC()
    output_0_halo: HaloInfoHWC = HaloInfoHWC()
    output_0_halo_broadcast_cnt: HaloInfoHWC = HaloInfoHWC()
    output_0_inbound_halo: HaloInfoHWC = HaloInfoHWC()


@dataclass(frozen=True)
class DPUWorkload:
    """VPUNN ``DPUWorkload``, the fields it prices with, in its order."""

    device: VPUDevice
    op: Operation
    inputs: tuple[VPUTensor]
    outputs: tuple[VPUTensor]
    kernels: tuple[int, int]  # W, H
    strides: tuple[int, int]  # W, H
    padding: tuple[int, int, int, int]  # Top, Bottom, Left, Right
    execution_order: ExecutionMode
    activation_function: ActivationFunction = ActivationFunction.NONE
    act_sparsity: float = 0.0
    weight_sparsity: float = 0.0
    input_swizzling: tuple[Swizzling, Swizzling] = (Swizzling.KEY_0, Swizzling.KEY_0)
    output_swizzling: tuple[Swizzling] = (Swizzling.KEY_0,)
    output_write_tiles: int = 1
    offsets: tuple[int, int, int, int] = (0, 0, 0, 0)  # W, H, C, B of the output origin in the layer
    isi_strategy: ISIStrategy = ISIStrategy.CLUSTERING
    weight_sparsity_enabled: bool = False
    halo: HaloWorkload = field(default_factory=HaloWorkload)
    weight_type: DataType | None = None
    layer_info: str = ""

    @property
    def key(self) -> str:
        """What the cost depends on (everything but offsets, output halo, MPE mode and label)."""
        data = to_plain(self)
        for name in ("offsets", "execution_order", "layer_info"):
            data.pop(name)
        data["halo"] = data["halo"]["input_0_halo"]
        return "dpu-" + _digest(data)


@dataclass(frozen=True)
class DMAWorkload:
    """VPUNN ``DMAWorkload``: one transfer, its tensors and where they live."""

    device: VPUDevice
    input: VPUTensor
    output: VPUTensor
    input_location: MemoryLocation
    output_location: MemoryLocation
    output_write_tiles: int = 1

    @property
    def key(self) -> str:
        return "dma-" + _digest(to_plain(self))


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def to_plain(value: Any) -> Any:
    """A descriptor as plain JSON values, enums by their VPUNN member name."""
    if isinstance(value, Enum):
        return value.name
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_plain(getattr(value, k)) for k in asdict(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    return value


# -- building descriptors from nbperf workloads ------------------------------------------------
def device_of(arch: ArchSpec) -> VPUDevice:
    """The VPUNN device an arch is, from its ``device`` field."""
    if arch.device is None:
        raise UsageError(f"arch {arch.name} names no VPUNN device: set its 'device' field "
                         f"(one of VPU_2_0, VPU_2_7, VPU_4_0, NPU_5_0) to describe its workloads")
    return VPUDevice[arch.device]


def _pad16(channels: int) -> int:
    return -(-channels // CHANNEL_BLOCK) * CHANNEL_BLOCK


@dataclass(frozen=True)
class _Window:
    """The input extent a run of output rows (or columns) reads, and its padding and halo."""

    extent: int
    pad_before: int
    pad_after: int
    halo_before: int = 0
    halo_after: int = 0


def input_window(in_extent: int, out_extent: int, kernel: int, stride: int, first: int, count: int,
                 owned: tuple[int, int] | None = None) -> _Window:
    """Input rows read by output rows [first, first + count) of a layer with ``in_extent`` input and
    ``out_extent`` output rows. The layer's padding is its effective padding: what its output size
    needs, at most (kernel - 1) / 2 before (the rest after, as ONNX SAME_UPPER and the compiler
    place an odd total). ``owned`` output rows [a, b) of a tile: input rows outside its share of
    the input (the same fraction) are halo, read from a neighbour."""
    in_extent = in_extent or out_extent
    total = max(0, (out_extent - 1) * stride + kernel - in_extent)
    if total > kernel - 1:
        # More padding than a kernel can take: an upsampling layer (ConvTranspose as nbperf lowers
        # it, a stride-1 convolution over the zero-inserted input). It reads a virtual input of its
        # output's size, padded as a 'same' convolution.
        in_extent, total = (out_extent - 1) * stride + 1, kernel - 1
        owned = None
    before = min(total, (kernel - 1) // 2)
    start = first * stride - before
    end = (first + count - 1) * stride + kernel - 1 - before  # last row read, inclusive
    lo, hi = max(0, start), min(in_extent - 1, end)
    halo = (0, 0)
    if owned is not None and owned != (0, out_extent):
        own_lo = owned[0] * in_extent // out_extent
        own_hi = owned[1] * in_extent // out_extent - 1
        halo = (max(0, own_lo - lo), max(0, hi - own_hi))
    return _Window(hi - lo + 1, max(0, -start), max(0, end - (in_extent - 1)), *halo)


def _aligned_eltwise(elements: int) -> tuple[int, int, int, int]:
    """An element-wise op whose channels are not 16-aligned runs on its tensor shape-cast to 16
    channels, the rest spread over H and W as evenly as their factors allow (the compiler's
    AdjustInputShape ExpandEltwisePattern, adjust_input_shape.cpp, with getShapeCastExpandedShapeInDimC
    in IE/utils/shape_infer.cpp): W x H x 16 x 1."""
    spatial = elements // CHANNEL_BLOCK
    width = next(f for f in range(math.isqrt(spatial), 0, -1) if spatial % f == 0)
    return (width, spatial // width, CHANNEL_BLOCK, 1)


def _operation(work: DpuWork) -> Operation:
    if work.kind is DpuKind.DWCONV:
        return Operation.DW_CONVOLUTION
    if work.kind is DpuKind.POOL:
        return Operation.MAXPOOL
    if work.kind is DpuKind.ELTWISE:
        return Operation.ELTWISE
    return Operation.CM_CONVOLUTION if work.in_k < CHANNEL_BLOCK and not work.flat_spatial \
        else Operation.CONVOLUTION


def isi_strategy(strategy: str, output_write_tiles: int) -> ISIStrategy:
    """VPUNN's isi_strategy of a workload: a split over channels whose output stays on its own tile
    (not broadcast) is, to the workload, a clustering one (VPUNN accepts SPLIT_OVER_K only with a
    broadcast: "SOK + output_write_tiles=1 is not supported", dpu_types.h ISIStrategy)."""
    isi = ISI_OF_STRATEGY[strategy]
    return ISIStrategy.CLUSTERING if isi is ISIStrategy.SPLIT_OVER_K and output_write_tiles == 1 else isi


def describe_dpu(workload: DpuWorkload, arch: ArchSpec, mode: str | None = None,
                 label: str = "") -> DPUWorkload:
    """The VPUNN descriptor of one nbperf workload on ``arch`` (in MPE ``mode``, if given)."""
    work, place = workload.work, workload.placement
    layer = place.layer if place is not None else work
    offset = place.offset if place is not None else (0, 0, 0)
    dtype = DTYPE_OF_PRECISION[workload.precision]
    layout = Layout.ZMAJOR if device_of(arch) is VPUDevice.VPU_2_0 else Layout.ZXY
    op = _operation(work)
    out_c = _pad16(work.out_k)
    if work.kind is DpuKind.ELTWISE and work.out_k % CHANNEL_BLOCK and not work.out_elements % CHANNEL_BLOCK:
        out_shape = in_shape = _aligned_eltwise(work.out_elements)
        padding, halo = (0, 0, 0, 0), HaloWorkload()
    elif work.flat_spatial or work.kind is DpuKind.ELTWISE:
        rows = work.out_w * work.out_h if work.flat_spatial else work.out_h
        width = 1 if work.flat_spatial else work.out_w
        plane = matmul_plane(rows, work.in_k) if work.flat_spatial else (width, rows)
        out_shape = (*plane, out_c, work.batch)
        in_c = out_c if work.kind is DpuKind.ELTWISE else _pad16(work.in_k)
        in_shape = (out_shape[0], out_shape[1], in_c, work.batch)
        padding, halo = (0, 0, 0, 0), HaloWorkload()
    else:
        owned = place.tile_rows if place is not None and workload.strategy in ROW_SPLITS else None
        rows = input_window(layer.in_h, layer.out_h, work.kernel_h, work.stride_h, offset[1], work.out_h,
                            owned)
        cols = input_window(layer.in_w, layer.out_w, work.kernel_w, work.stride_w, offset[0], work.out_w)
        if op is Operation.CONVOLUTION:
            in_c = _pad16(work.in_k)
        elif op is Operation.CM_CONVOLUTION:
            in_c = work.in_k
        else:  # depthwise and pooling read their own channels
            in_c = out_c
        out_shape = (work.out_w, work.out_h, out_c, work.batch)
        in_shape = (cols.extent, rows.extent, in_c, work.batch)
        padding = (rows.pad_before, rows.pad_after, cols.pad_before, cols.pad_after)
        halo = HaloWorkload(input_0_halo=HaloInfoHWC(top=rows.halo_before, bottom=rows.halo_after))
    if mode is None and work.kind is not DpuKind.ELTWISE:
        mode = best_mode(work, arch, workload.precision)[0].name  # nbperf's pick: the math model's
    execution = ExecutionMode[mode or _first_mode(arch, workload.precision)]
    # sparse inputs only where the part gains from them (the lowering's choice, dpu.input_sparsity_cycles)
    sparse_input = arch.dpu.input_sparsity_ratio(work.input_sparsity, workload.precision) < 1
    key = Swizzling.KEY_5 if workload.swizzled else Swizzling.KEY_0  # the compiler's only key is 5
    return DPUWorkload(
        device=device_of(arch), op=op,
        inputs=(VPUTensor(in_shape, dtype, layout, sparse_input),),
        outputs=(VPUTensor(out_shape, dtype, layout),),
        act_sparsity=work.input_sparsity if sparse_input else 0.0,
        input_swizzling=(key, key),
        output_swizzling=(key,),
        kernels=(work.kernel_w, work.kernel_h), strides=(work.stride_w, work.stride_h), padding=padding,
        execution_order=execution, output_write_tiles=workload.output_write_tiles,
        offsets=(offset[0], offset[1], offset[2], 0),
        isi_strategy=isi_strategy(workload.strategy, workload.output_write_tiles),
        halo=halo, weight_type=None if op in (Operation.ELTWISE, Operation.MAXPOOL) else dtype,
        weight_sparsity=work.weight_sparsity, weight_sparsity_enabled=work.weight_sparsity > 0,
        layer_info=label)


def _first_mode(arch: ArchSpec, precision: Precision) -> str:
    return next((m.name for m in arch.dpu.mpe_modes if precision in m.precisions), arch.dpu.mpe_modes[0].name)


def describe_dma(arch: ArchSpec, nbytes: int, source: MemoryLocation, destination: MemoryLocation,
                 write_tiles: int = 1) -> DMAWorkload:
    """One DMA transfer of ``nbytes`` as a byte vector (VPUNN prices a legacy DMA by its size)."""
    tensor = VPUTensor((nbytes, 1, 1, 1), DataType.UINT8)
    return DMAWorkload(device_of(arch), tensor, tensor, source, destination, write_tiles)
