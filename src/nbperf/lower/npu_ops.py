"""NPU operations: what lowering hands to strategy, scheduling and costing.

Every ONNX node ends up in exactly one place: inside one ``NpuOp`` (as its anchor or as a
fused/pattern member), or as a free view. Frozen dataclasses; passes rebuild, never mutate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from nbperf.arch.model import Precision


class Engine(StrEnum):
    """Which hardware unit runs a task."""

    DPU = "DPU"  # MAC array + PPE: conv, matmul, pooling, element-wise
    SHAVE = "SHAVE"  # vector cores: everything the DPU cannot do
    DMA = "DMA"  # data movement only: concat, slice, transpose, gather...
    NONE = "none"  # free view: reshape, flatten, folded Q/DQ


class DpuKind(StrEnum):
    CONV = "conv"
    DWCONV = "dwconv"
    MATMUL = "matmul"
    ELTWISE = "eltwise"
    POOL = "pool"


@dataclass(frozen=True)
class DpuWork:
    """The output cube and reduction of a DPU task, per independent instance.

    ``batch`` counts independent instances (batch items, attention heads, groups of a grouped conv)
    that run one after another. ``in_k`` is the reduction depth per output element excluding the
    kernel window (input channels per group; 1 for depthwise and pooling; 0 for element-wise).
    ``dense_in_factor`` > 1 marks ConvTranspose: the DPU computes on the zero-inserted input.
    """

    kind: DpuKind
    out_w: int
    out_h: int
    out_k: int
    in_k: int
    kernel_h: int = 1
    kernel_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    batch: int = 1
    flat_spatial: bool = False  # matmul rows: padded as one dimension, not as a W x H grid
    in_h: int = 0  # input rows and columns (0: same as the output), for split footprints
    in_w: int = 0
    weight_sparsity: float = 0.0  # share of zero weights the compiler compressed away (0: dense)
    input_sparsity: float = 0.0  # share of zeros of the activation input when it arrives sparse (0: dense)
    inserted_zeros: float = 0.0  # of those, the zeros an SE op's virtual input inserts (not useful MACs)

    @property
    def out_elements(self) -> int:
        return self.batch * self.out_w * self.out_h * self.out_k


@dataclass(frozen=True)
class NpuOp:
    """One task-level operation of the lowered network.

    Byte counts are at the op's NPU precision (int8: 1 B, fp16: 2 B per element).
    ``weight_bytes`` covers constant operands moved DDR -> CMX, weight table included.
    ``macs`` counts useful multiply-accumulates (published-count convention); the cost model
    charges padding and zero-insertion on top.
    """

    name: str
    op_type: str
    engine: Engine
    precision: Precision
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_bytes: int
    output_bytes: int
    weight_bytes: int = 0
    macs: int = 0
    dpu: DpuWork | None = None
    shave_class: str | None = None
    shave_kernel: str | None = None  # the profiled SHAVE kernel it runs, when the arch has its table
    elements: int = 0  # SHAVE: elements processed; DMA: elements moved
    row_elements: int = 0  # SHAVE kernel priced per row (softmax, MVN): elements of one row
    cube: tuple[int, ...] = ()  # SHAVE kernel priced per row: its output as (N, C, H, W)
    permuted: int = 0  # DMA: elements it reorders one by one (a permute DMA), 0 for a (strided) copy
    permute_planes: int = 0  # permute DMA: the planes the compiler cuts it along, over the ports
    fused: tuple[str, ...] = ()  # ONNX nodes folded into this op (bias, activation, pattern members)
    weight_dense_bytes: int = 0  # ``weight_bytes`` before weight compression (0: not compressed)
    weight_zero_blocks: float = 0.0  # share of all-zero 16-input-channel weight blocks (measured)
    weight_inputs: tuple[str, ...] = ()  # activation inputs used as weights (attention K and V)
    inplace_input: str | None = None  # element-wise: the input whose buffer the output overwrites
    unknown: bool = False  # op nbperf does not know: generic SHAVE fallback cost
    precision_reason: str = ""  # why it runs in ``precision``
    lowering: str = ""  # how the compiler lowers it when that is a choice (SE pointers, a DMA, ...)
    se_table_bytes: int = 0  # SE table and sparsity map an SE op reads (an input, in DDR until moved)

    @property
    def is_free(self) -> bool:
        return self.engine is Engine.NONE


@dataclass(frozen=True)
class NpuGraph:
    """The lowered network in execution order.

    ``aliases`` maps a view's output tensor to the tensor it views, so data flow is followable.
    ``tensor_bytes`` gives every activation tensor's size at its NPU precision.
    """

    name: str
    ops: tuple[NpuOp, ...]
    tensor_bytes: dict[str, int]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    aliases: dict[str, str]
    unknown_ops: tuple[str, ...]  # "name (OpType)" of every op costed with the generic fallback
    default_precision: Precision
    host_io_bytes: int = 0  # the network's inputs and outputs as the host holds them (ONNX dtypes)
    unmeasured_weights: tuple[str, ...] = ()  # DPU ops whose weights the file lacks and no share was given
    ddr_constants: tuple[str, ...] = ()  # compiler-made buffers in DDR from the start (SE tables)

    def resolve(self, tensor: str) -> str:
        """Follow view aliases to the tensor that owns the data."""
        seen = 0
        while tensor in self.aliases and seen < len(self.aliases):
            tensor = self.aliases[tensor]
            seen += 1
        return tensor


def nchw(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Any rank as (N, C, H, W): 1-D convs get H = 1; extra spatial dims fold into H."""
    if len(shape) >= 4:
        return shape[0], shape[1], math.prod(shape[2:-1]), shape[-1]
    if len(shape) == 3:
        return shape[0], shape[1], 1, shape[2]
    if len(shape) == 2:
        return shape[0], shape[1], 1, 1
    return 1, math.prod(shape), 1, 1
