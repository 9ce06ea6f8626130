"""Per-op lowering rules: one small function per family of ONNX ops, registered by op type.

A rule reads one (possibly pattern-fused) IR node and returns the ``NpuOp`` it becomes.
Ops without a rule fall back to ``lower_unknown``: a generic SHAVE element-wise cost, flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from nbperf.arch.model import PRECISION_BYTES, Precision
from nbperf.frontend.ir import Graph, Node, Tensor
from nbperf.lower.decompose import RECURRENT_MACS_ATTR
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuOp, nchw
from nbperf.lower.patterns import (
    CONV3D_ADDS_ATTR,
    CONV3D_OUT_ATTR,
    CONV3D_PLANES_ATTR,
    EFFECTIVE_PERM_ATTR,
    FUSED_ATTR,
    NBPERF_DOMAIN,
    ODU_PERMUTE_ATTR,
    ROW_ELEMENTS_ATTR,
)
from nbperf.lower.precision import FOLLOWS_INPUT, SHAVE_FP16, dpu_precision, nncf_type
from nbperf.lower.upsampling import (
    FOR_DPU_OP_ATTR,
    LOWERING_ATTR,
    REASON_ATTR,
    SE_GEOMETRY_ATTR,
    SE_KERNEL_ATTR,
    SE_SPARSE_ATTR,
    SE_STRIDE_ATTR,
    UPSAMPLING,
    USEFUL_MACS_ATTR,
    SeGeometry,
    int_list_attr,
)

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "nbperf"})
DATA_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64", "int8", "uint8"})  # not indices
WEIGHT_TABLE_BYTES_PER_CHANNEL = 16  # one weight-table entry per output channel (compiler layout)


@dataclass(frozen=True)
class LowerContext:
    """What a rule may read: the graph, how to size tensors at NPU precision, and the precision
    each tensor was produced in so far (rules run in graph order)."""

    graph: Graph
    default_precision: Precision
    force_precision: Precision | None
    produced: dict[str, Precision] = field(default_factory=dict)
    # the share of zero weights where the file has no weights: one for every layer, or by layer name
    weight_sparsity: float | Mapping[str, float] | None = None
    activation_sparsity: Mapping[str, float] = field(default_factory=dict)  # share of zeros per tensor
    unmeasured: list[str] = field(default_factory=list)  # DPU ops whose weights are absent and assumed dense
    dpu_outputs: set[str] = field(default_factory=set)  # tensors written by a DPU op so far

    @cached_property
    def readers(self) -> dict[str, int]:
        """How many nodes read each tensor (a graph output counts one more: the host reads it)."""
        counts = {t: len(nodes) for t, nodes in self.graph.consumers().items()}
        for t in self.graph.outputs:
            counts[t] = counts.get(t, 0) + 1
        return counts

    def arrives_in(self, tensor: str) -> Precision:
        """The precision ``tensor`` reaches its readers in: its producer's, or for a graph input
        int8 when the model quantizes it (unless forced to fp16) and fp16 otherwise (the host
        feeds float)."""
        if tensor in self.produced:
            return self.produced[tensor]
        t = self.graph.tensors[tensor]
        quantized = tensor in self.graph.quantized or t.dtype in {"int8", "uint8"}
        return "int8" if quantized and self.force_precision != "fp16" else "fp16"

    def precision_of(self, node: Node, engine: Engine = Engine.DPU) -> Precision:
        return self.decide(node, engine)[0]

    def decide(self, node: Node, engine: Engine) -> tuple[Precision, str]:
        """The precision ``node`` runs in on ``engine``, and why (see ``lower.precision``)."""
        data = [t for t in self.activations(node) if self.graph.tensors[t].dtype in DATA_DTYPES]
        produced = self.arrives_in(data[0]) if data else self.default_precision
        tensors = [self.graph.tensors[t] for t in (*node.inputs, *node.outputs) if t]
        quantized = any(t.name in self.graph.quantized or t.dtype in {"int8", "uint8"} for t in tensors)
        if engine is Engine.SHAVE:
            return "fp16", SHAVE_FP16
        if FOR_DPU_OP_ATTR in node.attrs:  # a copy made for a DPU op's input: in that op's precision
            precision, _ = dpu_precision(node.attrs[FOR_DPU_OP_ATTR], self.force_precision, quantized,
                                         produced, self.default_precision)
            return precision, f"the input of a {node.attrs[FOR_DPU_OP_ATTR]} in its precision"
        if engine in (Engine.DMA, Engine.NONE):
            if data:
                return produced, FOLLOWS_INPUT
            # rows of a constant table (an embedding): int8 where quantized (NNCF's EMBEDDING weights)
            return ("int8" if quantized else self.force_precision or self.default_precision), FOLLOWS_INPUT
        return dpu_precision(nncf_type(node.op_type, node.attrs), self.force_precision, quantized, produced,
                             self.default_precision)

    def npu_bytes(self, tensor: str, precision: Precision) -> int:
        """Size of a tensor on the NPU: floats at the op precision, integers as int32 at most."""
        t = self.graph.tensors[tensor]
        if t.dtype in {"float32", "float16", "bfloat16", "float64", "int8", "uint8"}:
            return t.elements * (1 if precision == "int8" else 2)
        if t.dtype in {"int4", "uint4"}:  # 4-bit weights stay packed, two per byte
            return math.ceil(t.elements / 2)
        return t.elements * min(4, max(1, t.size_bytes // max(1, t.elements)))

    def is_const(self, tensor: str) -> bool:
        return bool(tensor) and self.graph.tensors[tensor].is_constant

    def activations(self, node: Node) -> tuple[str, ...]:
        return tuple(i for i in node.inputs if i and not self.is_const(i))

    def tensor(self, name: str) -> Tensor:
        return self.graph.tensors[name]


Rule = Callable[[Node, LowerContext], NpuOp]
RULES: dict[str, Rule] = {}


def register(*op_types: str) -> Callable[[Rule], Rule]:
    def deco(rule: Rule) -> Rule:
        for op in op_types:
            RULES[op] = rule
        return rule
    return deco


def _base(node: Node, ctx: LowerContext, engine: Engine, **fields: object) -> NpuOp:
    """Common fields: activation inputs and outputs sized at the node's precision, which the
    outputs are produced in from then on."""
    precision, reason = ctx.decide(node, engine)
    inputs = ctx.activations(node)
    outputs = tuple(o for o in node.outputs if o)
    for o in outputs:
        ctx.produced[o] = precision
        if engine is Engine.DPU:
            ctx.dpu_outputs.add(o)
    if engine is Engine.DPU and fields.get("dpu") is not None and fields.get("weight_bytes"):
        fields.update(_compressed_weights(node, ctx, precision, fields))  # type: ignore[arg-type]
        weight = _weight_tensor(node, ctx)
        if weight is not None and weight.zero_block_fraction:
            fields["weight_zero_blocks"] = weight.zero_block_fraction
    if engine is Engine.DPU and fields.get("dpu") is not None and inputs:
        fields.update(_sparse_input(inputs[0], ctx, fields["dpu"]))  # type: ignore[arg-type]
    return NpuOp(
        name=node.name,
        op_type=node.op_type,
        engine=engine,
        precision=precision,
        inputs=inputs,
        outputs=outputs,
        input_bytes=sum(ctx.npu_bytes(i, precision) for i in inputs),  # conversions bring them to it
        output_bytes=sum(ctx.npu_bytes(o, precision) for o in outputs),
        fused=tuple(node.attrs.get(FUSED_ATTR, ())),
        precision_reason=reason,
        lowering=str(node.attrs.get(REASON_ATTR, "")),
        **fields,  # type: ignore[arg-type]
    )


# The compiler compresses an NCE op's weights when at least this share of them is zero (its
# default RATIO heuristic, enable-weights-sparsity on by default on NPU 37XX and 40XX):
# WEIGHTS_SPARSITY_FLOAT_RATIO_THRESHOLD / _INT_RATIO_THRESHOLD in VPU/utils/strategy_manager/
# sparsity_strategy.hpp, used by VPU/transforms/passes/sparsify_weights.cpp (npu_compiler@150e202).
WEIGHT_SPARSITY_THRESHOLD = {"fp16": 0.0625, "int8": 0.125}
# Compressed weights, per output channel: the non-zero values aligned up to 16 B
# (VPU_WEIGHT_SET_BYTE_ALIGNMENT, VPU/utils/nce_invariant.hpp:36; getSparsityRatio in
# nce_sparsity.cpp), and a one-bit-per-weight sparsity map aligned up to 16 B
# (inferWeightsSparsityMapShape, nce_sparsity.cpp:345). The compiler compares the share saved by
# the aligned values with its threshold, and skips weights over 8K input channels
# (RatioBasedWeightsSparsityStrategy, sparsity_strategy.cpp:41-61; VPU_DIMENSION_LIMIT).
WEIGHT_SET_ALIGNMENT_BYTES = 16
WEIGHT_SPARSITY_MAX_INPUT_CHANNELS = 8192


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _compressed_weights(node: Node, ctx: LowerContext, precision: Precision,
                        fields: dict[str, object]) -> dict[str, object]:
    """A DPU op's weights as the compiler stores them: compressed (each output channel's non-zero
    values plus its one-bit-per-value sparsity map, both aligned to 16 B) when the aligned values
    save at least the compiler's threshold, else unchanged. The share of zeros is measured from
    the file's weights, or the ``weight_sparsity`` asked for when it has none; assumed: the zeros
    are spread evenly over the output channels."""
    weight = _weight_tensor(node, ctx)
    if weight is None:
        return {}
    tensor = weight.name
    measured = weight.zero_fraction
    assumed = ctx.weight_sparsity
    if isinstance(assumed, Mapping):
        assumed = assumed.get(node.name)
    if measured is None and assumed is None:
        ctx.unmeasured.append(node.name)
    zeros = measured if measured is not None else assumed or 0.0
    work = fields["dpu"]
    elements = ctx.graph.tensors[tensor].elements
    channels = work.out_k * work.batch  # type: ignore[attr-defined]
    if zeros <= 0 or channels <= 0 or elements % channels:
        return {}
    per_channel = elements // channels  # input channels x kernel window of one output channel
    if work.in_k > WEIGHT_SPARSITY_MAX_INPUT_CHANNELS:  # type: ignore[attr-defined]
        return {}
    dense = ctx.npu_bytes(tensor, precision)
    value_bytes = dense // max(1, elements)
    values = channels * _align(math.ceil(per_channel * (1 - zeros)) * value_bytes, WEIGHT_SET_ALIGNMENT_BYTES)
    if 1 - values / dense < WEIGHT_SPARSITY_THRESHOLD[precision]:
        return {}
    stored = values + channels * _align(math.ceil(per_channel / 8), WEIGHT_SET_ALIGNMENT_BYTES)
    if stored >= dense:
        return {}
    total = int(fields["weight_bytes"])  # type: ignore[call-overload]
    return {"weight_bytes": total - dense + stored, "weight_dense_bytes": total,
            "dpu": replace(work, weight_sparsity=zeros)}  # type: ignore[type-var]


# The compiler makes a DPU input sparse when the model's runtime statistics say at least this share
# of it is zero (MINIMAL_SPARSITY_THRESHOLD, VPU/utils/nce_sparsity.hpp:107; likelySparsityConsumer
# in nce_sparsity.cpp), and only with at least 16 input channels (supportsSparseInputs,
# VPU/IR/ops_interfaces.cpp:34), for NCE ops with SPARSE_INPUTS support (npu_compiler@150e202).
ACTIVATION_SPARSITY_THRESHOLD = 0.2
SPARSE_INPUT_MIN_CHANNELS = 16


def _sparse_input(tensor: str, ctx: LowerContext, work: DpuWork) -> dict[str, object]:
    """A convolution's or matmul's activation input as the compiler feeds it: sparse, with its
    share of zeros, when the statistics pass the compiler's threshold and a DPU op writes it for
    this reader alone; else dense (no change). Whether sparse inputs save cycles is the arch's
    (``dpu.input_sparsity_cycles``)."""
    share = ctx.activation_sparsity.get(tensor, 0.0)
    if (share < ACTIVATION_SPARSITY_THRESHOLD or work.kind not in {DpuKind.CONV, DpuKind.MATMUL}
            or work.in_k < SPARSE_INPUT_MIN_CHANNELS or not _writes_sparse(tensor, ctx)):
        return {}
    inserted = work.inserted_zeros  # an SE input: its real data's zeros come on top of the inserted ones
    return {"dpu": replace(work, input_sparsity=inserted + (1 - inserted) * share)}


def _writes_sparse(tensor: str, ctx: LowerContext) -> bool:
    """Whether the compiler's Sparsify before a reader of ``tensor`` fuses into its producer, which
    then writes the output sparse: the producer is a DPU op with sparse outputs (every NCE op) and
    ``tensor`` has no other reader (``fuseSparsify``, ``fuse_sparsity_ops.cpp``). A Sparsify left
    unfused is removed under the default profile S0 (``RemoveExtraSparsifyOp``,
    ``optimize_sparsity_ops.cpp``; ``act-sparsity-profile`` init "S0"), and the input stays
    dense. Assumed: the producer is never in the super-dense mode that turns sparse outputs off
    (its output would have too few channels for a sparse reader)."""
    return tensor in ctx.dpu_outputs and ctx.readers.get(tensor, 0) == 1


def _weight_tensor(node: Node, ctx: LowerContext) -> Tensor | None:
    """A DPU op's weights: its largest constant input (None without one)."""
    weights = [i for i in node.inputs if i and ctx.is_const(i)]
    return ctx.graph.tensors[max(weights, key=lambda i: ctx.graph.tensors[i].elements)] if weights else None


def _weight_bytes(ctx: LowerContext, node: Node, precision: Precision, out_channels: int) -> int:
    const = sum(ctx.npu_bytes(i, precision) for i in node.inputs if ctx.is_const(i))
    return const + WEIGHT_TABLE_BYTES_PER_CHANNEL * out_channels


ConvGeometry = tuple[tuple[int, int, int, int], int, int, int, int, int]


def _conv_geometry(node: Node, ctx: LowerContext) -> ConvGeometry:
    """((N, C, H, W) of the input, K, Ho, Wo of the output, kernel height, kernel width)."""
    cube = nchw(ctx.tensor(node.inputs[0]).shape)
    _, k, ho, wo = nchw(ctx.tensor(node.outputs[0]).shape)
    w_shape = ctx.tensor(node.inputs[1]).shape
    kh = w_shape[2] if len(w_shape) > 3 else 1
    kw = w_shape[-1] if len(w_shape) > 2 else 1
    return cube, k, ho, wo, kh, kw


@register("Conv")
def lower_conv(node: Node, ctx: LowerContext) -> NpuOp:
    (n, c, h, w), k, ho, wo, kh, kw = _conv_geometry(node, ctx)
    w_shape = ctx.tensor(node.inputs[1]).shape
    strides = int_list_attr(node, "strides", [1, 1])
    strides = strides if len(strides) > 1 else [1, *strides]  # 1-D: rows do not move
    dilations = int_list_attr(node, "dilations", [1, 1])
    if CONV3D_PLANES_ATTR in node.attrs:  # unrolled 3-D conv: one 2-D conv per depth tap
        x = ctx.tensor(node.inputs[0]).shape
        n, c, h, w = int(node.attrs[CONV3D_PLANES_ATTR]), x[1], x[3], x[4]
        k, (ho, wo) = w_shape[0], ctx.tensor(node.outputs[0]).shape[-2:]  # taps planes or the 5-D output
        kh, kw, strides, dilations = w_shape[3], w_shape[4], strides[1:], dilations[1:]
    # The compiler expands a dilated kernel with zeros: the DPU pays for the dilated window.
    dkh, dkw = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[-1] + 1
    group = int(node.attrs.get("group", 1))
    depthwise = group > 1 and group == c and k % group == 0 and w_shape[1] == 1
    if depthwise:
        work = DpuWork(DpuKind.DWCONV, out_w=wo, out_h=ho, out_k=k, in_k=1, kernel_h=dkh, kernel_w=dkw,
                       stride_h=strides[0], stride_w=strides[-1], batch=n, in_h=h, in_w=w)
    else:
        work = DpuWork(DpuKind.CONV, out_w=wo, out_h=ho, out_k=k // group, in_k=c // group, kernel_h=dkh,
                       kernel_w=dkw, stride_h=strides[0], stride_w=strides[-1], batch=n * group,
                       in_h=h, in_w=w)
    macs = n * k * ho * wo * (c // group) * kh * kw
    if CONV3D_PLANES_ATTR in node.attrs:  # the published count: every output voxel, the whole kernel
        macs = math.prod(node.attrs[CONV3D_OUT_ATTR]) * (c // group) * math.prod(w_shape[2:])
    macs = int(node.attrs.get(USEFUL_MACS_ATTR, macs))  # a rewritten op keeps its original's count
    precision = ctx.precision_of(node)
    return _base(node, ctx, Engine.DPU, dpu=work, macs=macs,
                 weight_bytes=_weight_bytes(ctx, node, precision, k))


@register("ConvTranspose")
def lower_conv_transpose(node: Node, ctx: LowerContext) -> NpuOp:
    """A transposed conv as lower/upsampling.py marked it: over a virtual zero-inserted input
    (SE pointers), over the materialised one (after its Upsampling DMA), or, for the 1-D and
    unrolled 3-D forms, as a stride-1 conv over the zero-inserted input whose footprint is the
    real input. The DPU pays for the dense output volume; ``macs`` counts only the useful MACs."""
    (n, c, h, w), k, ho, wo, kh, kw = _conv_geometry(node, ctx)
    group = int(node.attrs.get("group", 1))
    macs = n * c * h * w * (k // group) * kh * kw
    if CONV3D_PLANES_ATTR in node.attrs:  # unrolled 3-D: one 2-D transposed conv per input plane and tap
        x, w_shape = ctx.tensor(node.inputs[0]).shape, ctx.tensor(node.inputs[1]).shape
        n, c, h, w = int(node.attrs[CONV3D_PLANES_ATTR]), x[1], x[3], x[4]
        ho, wo = ctx.tensor(node.outputs[0]).shape[-2:]
        kh, kw = w_shape[3], w_shape[4]
        macs = math.prod(x) * (k // group) * math.prod(w_shape[2:])  # every input voxel, whole kernel
    macs = int(node.attrs.get(USEFUL_MACS_ATTR, macs))
    work = DpuWork(DpuKind.CONV, out_w=wo, out_h=ho, out_k=k // group, in_k=c // group,
                   kernel_h=kh, kernel_w=kw, batch=n * group, in_h=h, in_w=w)
    se: SeGeometry | None = node.attrs.get(SE_GEOMETRY_ATTR)
    if se is not None and node.attrs.get(SE_SPARSE_ATTR, True):
        # the sparsity map marks the inserted zeros
        work = replace(work, input_sparsity=se.zero_share, inserted_zeros=se.zero_share)
    precision = ctx.precision_of(node)
    return _base(node, ctx, Engine.DPU, dpu=work, macs=macs,
                 weight_bytes=_weight_bytes(ctx, node, precision, k), se_table_bytes=_se_bytes(se))


def _se_bytes(se: SeGeometry | None) -> int:
    return se.table_bytes + se.map_bytes if se is not None else 0


def lower_se_interpolate(node: Node, ctx: LowerContext) -> NpuOp:
    """An NCE interpolate (lower/upsampling.py): a conv over the virtually replicated input with
    compiler-made weights, C x C x kernel (one input channel set per kernel), plus the weight
    table. Its useful MACs: each output element's kernel window over its own channel."""
    n, c, h, w = nchw(ctx.tensor(node.inputs[0]).shape)
    _, k, ho, wo = nchw(ctx.tensor(node.outputs[0]).shape)
    kh, kw = node.attrs[SE_KERNEL_ATTR]
    sh, sw = node.attrs[SE_STRIDE_ATTR]
    se: SeGeometry = node.attrs[SE_GEOMETRY_ATTR]
    work = DpuWork(DpuKind.CONV, out_w=wo, out_h=ho, out_k=k, in_k=c, kernel_h=kh, kernel_w=kw,
                   stride_h=sh, stride_w=sw, batch=n, in_h=h, in_w=w)
    op = _base(node, ctx, Engine.DPU, dpu=work, macs=n * k * ho * wo * kh * kw, se_table_bytes=_se_bytes(se))
    # The compiler makes these weights: no tensor of the file to measure or compress.
    return replace(op, weight_bytes=c * k * kh * kw * PRECISION_BYTES[op.precision]
                   + WEIGHT_TABLE_BYTES_PER_CHANNEL * k)


@register("MatMul", "Gemm")
def lower_matmul(node: Node, ctx: LowerContext) -> NpuOp:
    a = list(ctx.tensor(node.inputs[0]).shape)
    b = list(ctx.tensor(node.inputs[1]).shape)
    if node.op_type == "Gemm":
        if node.attrs.get("transA"):
            a = a[::-1]
        if node.attrs.get("transB"):
            b = b[::-1]
    a = [1, *a] if len(a) == 1 else a
    b = [*b, 1] if len(b) == 1 else b
    m, kdim, ndim = a[-2], a[-1], b[-1]
    out = ctx.tensor(node.outputs[0]).shape
    batch = math.prod(out) // max(1, m * ndim)
    if len(b) == 2 and batch > 1:
        # One right-hand matrix shared by every batch item: the compiler reshapes [..., M, K] x [K, N]
        # into a single (batch x M) x K x N matmul rather than a batch of small ones.
        m, batch = batch * m, 1
    work = DpuWork(DpuKind.MATMUL, out_w=m, out_h=1, out_k=ndim, in_k=kdim, batch=batch, flat_spatial=True,
                   in_h=1, in_w=m)
    precision = ctx.precision_of(node)
    weight_like = () if ctx.is_const(node.inputs[1]) else (node.inputs[1],)
    # An activation x activation matmul (attention) still needs a weight table per output channel.
    table_channels = ndim * (batch if weight_like else 1)
    return _base(node, ctx, Engine.DPU, dpu=work, macs=batch * m * ndim * kdim, weight_inputs=weight_like,
                 weight_bytes=_weight_bytes(ctx, node, precision, table_channels))


@register("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool")
def lower_pool(node: Node, ctx: LowerContext) -> NpuOp:
    if _software_pool(node, ctx):
        return _lower_shave_pool(node, ctx)
    n, c, h, w = nchw(ctx.tensor(node.inputs[0]).shape)
    _, _, ho, wo = nchw(ctx.tensor(node.outputs[0]).shape)
    if node.op_type.startswith("Global"):
        kh, kw, sh, sw = h, w, 1, 1
    else:
        kernel = int_list_attr(node, "kernel_shape", [1, 1])
        strides = int_list_attr(node, "strides", [1] * len(kernel))
        # A 1-D window spans columns only (its input is N x C x 1 x L), not kernel x kernel.
        kh, sh = (kernel[0], strides[0]) if len(kernel) > 1 else (1, 1)
        kw, sw = kernel[-1], strides[-1]
    work = DpuWork(DpuKind.POOL, out_w=wo, out_h=ho, out_k=c, in_k=1, kernel_h=kh, kernel_w=kw,
                   stride_h=sh, stride_w=sw, batch=n, in_h=h, in_w=w)
    return _base(node, ctx, Engine.DPU, dpu=work)


@register("LSTMSequence", "GRUSequence", "RNNSequence")
def lower_recurrence(node: Node, ctx: LowerContext) -> NpuOp:
    """A recurrence left by lower/decompose.py: the SHAVE lstm_sequence / gru_sequence kernel (VPUIP
    sw_kernel.cpp). No VPUNN profile: each of its MACs costs one element at the element-wise
    class rate (assumed)."""
    macs = int(node.attrs[RECURRENT_MACS_ATTR])
    return _base(node, ctx, Engine.SHAVE, shave_class="elementwise", elements=macs, macs=macs)


@register("DeformConv")
def lower_deformable_conv(node: Node, ctx: LowerContext) -> NpuOp:
    """The compiler's DeformableConvolution is a SHAVE kernel (frontend IE.cpp maps it, no NCE form):
    a convolution's MACs, each one element at the element-wise class rate (assumed), the offsets'
    bilinear sampling included in that rate."""
    (n, c, _, _), k, ho, wo, kh, kw = _conv_geometry(node, ctx)
    group = int(node.attrs.get("group", 1))
    macs = n * k * ho * wo * (c // group) * kh * kw
    return _base(node, ctx, Engine.SHAVE, shave_class="elementwise", elements=macs, macs=macs)


@register("Einsum")
def lower_einsum(node: Node, ctx: LowerContext) -> NpuOp:
    """A two-operand contraction is a (batched) matmul (OpenVINO's Einsum decomposition turns it
    into Transposes, Reshapes and a MatMul): indices in both operands and the output are the batch,
    in one operand and the output its rows or columns, in both operands only the inner dimension.
    Anything else (one operand: a transpose or a reduction) runs on SHAVE as a reduction."""
    terms = _einsum_terms(node, ctx)
    if terms is None:
        return lower_shave(node, ctx, "reduction")
    batch, m, n, k = terms
    work = DpuWork(DpuKind.MATMUL, out_w=m, out_h=1, out_k=n, in_k=k, batch=batch, flat_spatial=True,
                   in_h=1, in_w=m)
    precision = ctx.precision_of(node)
    weight_like = () if ctx.is_const(node.inputs[1]) else (node.inputs[1],)
    return _base(node, ctx, Engine.DPU, dpu=work, macs=batch * m * n * k, weight_inputs=weight_like,
                 weight_bytes=_weight_bytes(ctx, node, precision, n * (batch if weight_like else 1)))


def _einsum_terms(node: Node, ctx: LowerContext) -> tuple[int, int, int, int] | None:
    """(batch, rows, columns, inner) of a two-operand Einsum, or None."""
    equation = str(node.attrs.get("equation", "")).replace(" ", "")
    if "->" not in equation or "." in equation or len(node.inputs) != 2:
        return None
    lhs, out = equation.split("->")
    operands = lhs.split(",")
    if len(operands) != 2:
        return None
    sizes: dict[str, int] = {}
    for letters, name in zip(operands, node.inputs, strict=True):
        shape = ctx.tensor(name).shape
        if len(letters) != len(shape):
            return None
        sizes.update(zip(letters, shape, strict=True))
    a, b, o = set(operands[0]), set(operands[1]), set(out)
    if (a | b) - (a & b) - o:  # an index summed within one operand: not a plain contraction
        return None

    def size(group: set[str]) -> int:
        return math.prod(sizes[i] for i in group)
    return size(a & b & o), size((a - b) & o), size((b - a) & o), size((a & b) - o)


def _software_pool(node: Node, ctx: LowerContext) -> bool:
    """A window the DPU cannot pool: the NPU compiler lowers MaxPool/AvgPool to the NCE only on 4-D
    tensors (NCEMaxPoolOp::isSupported, nce_max_pool.cpp:60; 3-D ones become 4-D first,
    convert_nce_ops_to_4d.cpp), and a dilated MaxPool is OpenVINO's MaxPool-8, which has no NCE
    form; both run the SHAVE max_pool / avg_pool kernels (VPUIP sw_kernel.cpp)."""
    if node.op_type.startswith("Global"):
        return False  # a whole-plane window: the DPU pools the folded plane
    dilated = any(int(d) > 1 for d in node.attrs.get("dilations", ()))
    return len(ctx.tensor(node.inputs[0]).shape) > 4 or dilated


def _lower_shave_pool(node: Node, ctx: LowerContext) -> NpuOp:
    """A SHAVE pool reduces each output's window: output elements x window elements at the
    reduction class rate (assumed: VPUNN has no profiled pool row for VPU 2.7 / 4.0)."""
    window = math.prod(int_list_attr(node, "kernel_shape", [1]))
    elements = ctx.tensor(node.outputs[0]).elements * window
    return _base(node, ctx, Engine.SHAVE, shave_class="reduction", elements=elements)


def lower_depth_sum(node: Node, ctx: LowerContext) -> NpuOp:
    """The Adds that sum an unrolled 3-D conv's taps: one DPU element-wise op per Add, each over
    one output plane (see patterns.unroll_conv3d)."""
    _, k, ho, wo = ctx.tensor(node.inputs[0]).shape
    adds = int(node.attrs[CONV3D_ADDS_ATTR])
    work = DpuWork(DpuKind.ELTWISE, out_w=wo, out_h=ho, out_k=k, in_k=0, batch=adds)
    return _base(node, ctx, Engine.DPU, dpu=work, elements=work.out_elements)


def lower_dpu_eltwise(node: Node, ctx: LowerContext) -> NpuOp:
    n, c, h, w = nchw(ctx.tensor(node.outputs[0]).shape)
    work = DpuWork(DpuKind.ELTWISE, out_w=w, out_h=h, out_k=c, in_k=0, batch=n)
    return _base(node, ctx, Engine.DPU, dpu=work, elements=work.out_elements)


# SHAVE op classes (cycles per element come from the arch's ShaveSpec).
SHAVE_CLASSES: dict[str, tuple[str, ...]] = {
    "elementwise": ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "Equal", "Greater",
                    "GreaterOrEqual", "Less", "LessOrEqual", "Where", "Not", "And", "Or", "Xor", "Cast",
                    "Abs", "Neg", "Floor", "Ceil", "Round", "Sign", "Mod", "Reciprocal",
                    "BatchNormalization", "IsNaN", "IsInf", "BitShift", "QuantizeLinear",
                    "DequantizeLinear", "DynamicQuantizeLinear", "ConstantOfShape", "Range", "Trilu",
                    "CastLike", "RandomUniform", "RandomUniformLike", "RotaryEmbedding", "Col2Im"),
    "activation": ("Relu", "Clip", "LeakyRelu", "PRelu", "HardSigmoid", "HardSwish", "ThresholdedRelu",
                   "Shrink", "Celu"),
    "transcendental": ("Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Gelu", "Softplus", "Softsign",
                       "Mish", "Swish", "Elu", "Selu", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
                       "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
                       # OpenVINO's ONNX frontend builds RandomNormal from RandomUniform + Box-Muller
                       "RandomNormal", "RandomNormalLike",
                       # the compiler's DFT / RDFT SHAVE kernels (frontend IE.cpp); STFT frames the same
                       "DFT", "STFT"),
    "softmax": ("Softmax", "LogSoftmax", "Hardmax"),
    "normalization": ("LayerNormalization", "InstanceNormalization", "GroupNormalization",
                      "LpNormalization", "MeanVarianceNormalization", "RMSNormalization",
                      "SimplifiedLayerNormalization", "LRN"),
    "reduction": ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                  "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
                  "CumSum", "CumProd", "LpPool"),
    "resize": ("Resize", "Upsample", "GridSample"),
    "gather": ("GatherElements", "GatherND", "ScatterND", "ScatterElements", "TopK", "OneHot", "RoiAlign",
               "MaxUnpool", "NonMaxSuppression"),
}
SHAVE_CLASS_OF = {op: cls for cls, ops in SHAVE_CLASSES.items() for op in ops}
# The SHAVE kernel each op runs, named as VPUNN's per-device tables name their rows
# (src/shave/shave_layers_vpu_2_7.csv, shave_layers_vpu_40.csv in intel/npu-nn-cost-model); an arch
# prices the kernels it has a row for and the op class otherwise.
SHAVE_KERNEL_OF = {"Sigmoid": "sigmoid", "Swish": "swish", "Gelu": "gelu", "Exp": "exp", "Tanh": "tanh",
                   "HardSwish": "hswish", "HardSigmoid": "hardsigmoid", "Elu": "elu", "Selu": "selu",
                   "Mish": "mish", "Sqrt": "sqrt", "Log": "log", "Abs": "abs", "Relu": "relu",
                   "PRelu": "prelu", "Clip": "clamp", "Mul": "multiply", "Max": "maximum",
                   "Softplus": "softplus", "Erf": "erf"}


def lower_shave(node: Node, ctx: LowerContext, shave_class: str, unknown: bool = False) -> NpuOp:
    # Reductions and resizes touch the larger of input and output; others the output.
    sizes = [ctx.tensor(t).elements for t in (*ctx.activations(node), *node.outputs) if t]
    elements = max(sizes, default=0)
    kernel, row_elements = (None, 0) if unknown else _row_kernel(node, ctx)
    if kernel is None and not unknown:
        kernel = SHAVE_KERNEL_OF.get(node.op_type)
    cube = nchw(ctx.tensor(node.outputs[0]).shape) if row_elements else ()
    return _base(node, ctx, Engine.SHAVE, shave_class=shave_class, elements=elements, unknown=unknown,
                 shave_kernel=kernel, row_elements=row_elements, cube=cube)


def _row_kernel(node: Node, ctx: LowerContext) -> tuple[str | None, int]:
    """The row-priced SHAVE kernel (cost/shave_rows.py) ``node`` runs and the elements of one of
    its rows, or (None, 0). Layer, instance and mean-variance norms over trailing axes become the
    compiler's MVN1 per channel (convert_mvn6_to_mvn1.cpp reshapes a last-axis norm so its rows
    are channels); a group norm normalizes across the channels of a group."""
    shape = ctx.tensor(node.inputs[0]).shape if node.inputs and node.inputs[0] else ()
    rank = len(shape)
    if not shape or not math.prod(shape):
        return None, 0
    op = node.op_type
    if op == "Softmax":
        axis = node.attrs.get("axis", -1 if not ctx.graph.opset or ctx.graph.opset >= 13 else 1)
        axis %= rank
        # Before opset 13 Softmax spans every axis from ``axis`` on (a 2-D coercion).
        axes = [axis] if not ctx.graph.opset or ctx.graph.opset >= 13 else list(range(axis, rank))
        return "softmax", math.prod(shape[a] for a in axes)
    if op == "LayerNormalization":
        if ROW_ELEMENTS_ATTR in node.attrs:  # a decomposed layer norm fused by the lowering
            return "mvn", int(node.attrs[ROW_ELEMENTS_ATTR])
        axis = node.attrs.get("axis", -1) % rank
        return "mvn", math.prod(shape[axis:])
    if op == "InstanceNormalization" and rank >= 3:
        return "mvn", math.prod(shape[2:])
    if op == "MeanVarianceNormalization":
        axes = sorted({a % rank for a in node.attrs.get("axes", [0, 2, 3] if rank == 4 else [0])})
        if 1 in axes and rank > 1:
            return "mvn_across_channels", math.prod(shape[a] for a in axes if a)
        return "mvn", math.prod(shape[a] for a in axes if a)
    if op == "GroupNormalization" and rank >= 3 and node.attrs.get("num_groups"):
        groups = int(node.attrs["num_groups"])
        if groups >= 1 and shape[1] % groups == 0:
            return "mvn_across_channels", shape[1] // groups * math.prod(shape[2:])
    return None, 0


def lower_unknown(node: Node, ctx: LowerContext) -> NpuOp:
    return lower_shave(node, ctx, "generic", unknown=True)


# Ops that only move data: the DMA engine copies (strided) between CMX and DDR.
DMA_OPS = frozenset({"Concat", "Split", "Slice", "Transpose", "Gather", "Pad", "Tile", "Expand",
                     "DepthToSpace", "SpaceToDepth", "ReverseSequence"})
# Ops that change only the view of a buffer.
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})


def lower_dma(node: Node, ctx: LowerContext) -> NpuOp:
    precision = ctx.precision_of(node, Engine.DMA)
    out_elements = sum(ctx.tensor(o).elements for o in node.outputs if o)
    # Gathering rows of a constant table (embeddings) reads those rows from DDR.
    gathered = sum(ctx.npu_bytes(o, precision) for o in node.outputs if o) \
        if node.op_type == "Gather" and ctx.is_const(node.inputs[0]) else 0
    permuted = planes = 0
    if node.op_type == "Transpose":
        if ODU_PERMUTE_ATTR in node.attrs:
            return lower_view(node, ctx)  # its producer's ODU writes the permuted order
        perm = node.attrs.get(EFFECTIVE_PERM_ATTR, node.attrs.get("perm"))
        shape = ctx.tensor(node.inputs[0]).shape
        kind = permute_kind(shape, perm)
        if kind == "view":
            return lower_view(node, ctx)
        if kind == "permute":
            permuted, planes = out_elements, permute_planes(shape, perm)
    if node.op_type == "DepthToSpace" and str(node.attrs.get("mode", "DCR")).upper() == "CRD":
        permuted, planes = _depth_first_d2s_runs(node, ctx, out_elements)
    return _base(node, ctx, Engine.DMA, elements=out_elements, weight_bytes=gathered, permuted=permuted,
                 permute_planes=planes)


def _depth_first_d2s_runs(node: Node, ctx: LowerContext, out_elements: int) -> tuple[int, int]:
    """A depth-first (CRD) DepthToSpace on NHWC data as the compiler's DepthToSpaceDMA moves it:
    input channels / block DMAs over the ports, each gathering runs of only ``block`` contiguous
    elements (VPUIP/transforms/passes/unroll_depth_to_space_dma.cpp, DEPTH_FIRST). Priced like a
    permute, one run per CMX clock (assumed: a run far under a CMX word costs a word access, as
    VPUNN prices a permute's one-element words); blocks-first runs are whole output channel
    groups, a strided copy."""
    block = max(1, int(node.attrs.get("blocksize", 1)))
    channels = nchw(ctx.tensor(node.inputs[0]).shape)[1]
    return -(-out_elements // block), max(1, channels // block)


def permute_planes(shape: tuple[int, ...], perm: list[int] | None) -> int:
    """The planes of a permute DMA, the axis the compiler cuts it along (npu_compiler
    VPUIP/utils/convert_to_dma_utils.cpp getPermuteDMANumPlaneDim): size-1 axes dropped and
    axes that stay neighbours merged, the outermost merged axis, or the middle one when only the
    inner two swap (CWH)."""
    order = [int(p) for p in perm] if perm else list(range(len(shape) - 1, -1, -1))
    kept = [a for a in order if shape[a] != 1]
    groups: list[list[int]] = []  # output order, runs of input axes that stay neighbours
    for a in kept:
        if groups and a == groups[-1][-1] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    by_input = sorted(groups)  # merged input axes, outermost first
    sizes = [math.prod(shape[a] for a in g) for g in by_input]
    merged_perm = [by_input.index(g) for g in groups]
    if merged_perm == [0, 2, 1]:
        return sizes[1]
    return sizes[0] if sizes else 1


def permute_kind(shape: tuple[int, ...], perm: list[int] | None) -> str:
    """What a Transpose of ``shape`` by ``perm`` costs the NPU:
    - "view": once size-1 axes are dropped the others keep their order, a reinterpretation (the
      compiler's isTrivialPermute -> PermuteCast / Reshape, npu_compiler utils/permute_utils.cpp);
    - "copy": the innermost axis stays innermost, so whole rows move: a strided DMA at copy
      bandwidth (assumed: a DMA descriptor strides over rows; VPUNN prices no such case);
    - "permute": the innermost axis changes, every element lands on its own: a permute DMA at one
      element per CMX clock (VPUNN dma_theoretical_cost_provider.h)."""
    order = [int(p) for p in perm] if perm else list(range(len(shape) - 1, -1, -1))
    kept = [a for a in order if shape[a] != 1]
    if kept == sorted(kept):
        return "view"
    return "copy" if kept[-1] == max(kept) else "permute"


def lower_view(node: Node, ctx: LowerContext) -> NpuOp:
    return _base(node, ctx, Engine.NONE)


def lower_node(node: Node, ctx: LowerContext) -> NpuOp:
    """Pick the rule for one node. Element-wise ops go to the DPU only for same-shape activations."""
    op = node.op_type
    if node.inputs and all(ctx.is_const(i) for i in node.inputs if i):
        return _base(node, ctx, Engine.NONE)  # compile-time constant expression
    if node.domain not in STANDARD_DOMAINS:
        return lower_unknown(node, ctx)  # a custom op named like a standard one is not that op
    if CONV3D_ADDS_ATTR in node.attrs:
        return lower_depth_sum(node, ctx)
    lowering = node.attrs.get(LOWERING_ATTR)
    if op in ("Resize", "Upsample") and lowering == "se":
        return lower_se_interpolate(node, ctx)
    if (op == UPSAMPLING and node.domain == NBPERF_DOMAIN) or lowering == "strided_concat":
        return lower_dma(node, ctx)  # copies: the zero-inserted input, or the replicated rows
    if op in {"Add", "Sub", "Mul"} and len(ctx.activations(node)) == 2:
        shapes = {ctx.tensor(i).shape for i in ctx.activations(node)}
        if len(shapes) == 1:
            return lower_dpu_eltwise(node, ctx)
    if op in RULES:
        return RULES[op](node, ctx)
    if op in VIEW_OPS:
        return lower_view(node, ctx)
    if op in DMA_OPS:
        return lower_dma(node, ctx)
    if op in SHAVE_CLASS_OF:
        return lower_shave(node, ctx, SHAVE_CLASS_OF[op])
    return lower_unknown(node, ctx)
