"""Lowering: IR graph -> NPU ops, as a visible sequence of named rewrites."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nbperf.arch.model import PRECISION_BYTES, Precision
from nbperf.frontend.ir import Graph
from nbperf.lower.decompose import decompose
from nbperf.lower.npu_ops import DpuKind, Engine, NpuGraph, NpuOp
from nbperf.lower.patterns import (
    compose_matmul_transposes,
    fold_odu_permutes,
    fuse_gelu,
    fuse_layernorm,
    fuse_norm_scale_bias,
    fuse_ppe,
    fuse_swish,
    fuse_transposes,
    split_large_pools,
    unroll_conv3d,
)
from nbperf.lower.precision import insert_conversions
from nbperf.lower.rules import DATA_DTYPES, LowerContext, lower_node
from nbperf.lower.upsampling import LoweringOptions, lower_upsampling

# Float graphs (fp32 included) run as fp16 on the NPU; quantized parts run int8 per op regardless.
DEFAULT_PRECISION: Precision = "fp16"


def mark_inplace(ops: tuple[NpuOp, ...], aliases: dict[str, str], outputs: set[str]) -> tuple[NpuOp, ...]:
    """Like the compiler, let a DPU element-wise op write its output over an input it is the last
    reader of (same size): the op then needs no output buffer of its own. Of two such inputs it
    takes the one produced earlier (a residual branch), so the new tensor keeps the longer-lived
    buffer's place in CMX."""

    def resolve(t: str) -> str:
        while t in aliases:
            t = aliases[t]
        return t

    last_reader: dict[str, int] = {}
    producer: dict[str, int] = {}
    for index, op in enumerate(ops):
        if not op.is_free:
            for t in map(resolve, op.inputs):
                last_reader[t] = index
        for t in op.outputs:
            producer.setdefault(resolve(t), index)
    resolved_outputs = set(map(resolve, outputs))
    marked = []
    for index, op in enumerate(ops):
        if op.dpu is not None and op.dpu.kind is DpuKind.ELTWISE and len(op.outputs) == 1 \
                and op.input_bytes == 2 * op.output_bytes:
            dying = [t for t in op.inputs if last_reader.get(resolve(t)) == index and op.inputs.count(t) == 1
                     and resolve(t) not in resolved_outputs]
            if dying:
                op = replace(op, inplace_input=min(dying, key=lambda t: producer.get(resolve(t), -1)))
        marked.append(op)
    return tuple(marked)


def lower(graph: Graph, precision: Precision | None = None,
          weight_sparsity: float | Mapping[str, float] | None = None,
          activation_sparsity: Mapping[str, float] | None = None,
          options: LoweringOptions | None = None) -> NpuGraph:
    """Lower an IR graph to NPU ops. ``precision`` int8 quantizes a float model as NNCF does for
    the NPU, fp16 runs every op in fp16 (see ``lower.precision``). ``weight_sparsity`` is the share
    of zero weights assumed where the file holds no weights, for every layer or by layer name
    (measured ones are used as they are);
    ``activation_sparsity`` the share of zeros per activation tensor (the compiler's runtime
    statistics), which makes DPU inputs sparse above its threshold. ``options`` are the part's
    compiler options lowering follows (SE pointer operations, the DepthToSpace rewrite; default:
    all off, a part without them)."""
    graph = decompose(graph)  # attention, recurrent, contrib and quantized forms -> the ops the NPU runs
    # DepthToSpace, ConvTranspose, Resize -> SE DPU ops, Upsampling DMA + conv, or copies, per part
    graph = lower_upsampling(graph, options or LoweringOptions(), precision)
    graph = fuse_transposes(graph)  # Transpose of a Transpose -> one Transpose
    graph = split_large_pools(graph)  # windows over 11 x 11 -> chains of small pools, as the compiler does
    graph = fuse_gelu(graph)  # Erf-based GELU pattern -> one SHAVE op
    graph = fuse_layernorm(graph)  # ReduceMean/Sub/Pow/Sqrt/Div pattern -> one SHAVE op
    graph = fuse_norm_scale_bias(graph)  # MVN * gamma + beta (OpenVINO's layer norm) -> one SHAVE op
    graph = fuse_swish(graph)  # Sigmoid -> Mul of the same input -> one SHAVE Swish kernel
    graph = fuse_ppe(graph)  # bias, scale, ReLU family -> PPE of the producing DPU op
    graph = unroll_conv3d(graph)  # 3-D conv -> 2-D convs per depth tap + Adds, as the compiler does
    graph = compose_matmul_transposes(graph)  # a MatMul B's transpose meets the compiler's own
    graph = fold_odu_permutes(graph)  # a transpose right after a conv / pool / add: its ODU writes it
    ctx = LowerContext(graph, DEFAULT_PRECISION, precision, weight_sparsity=weight_sparsity,
                       activation_sparsity=activation_sparsity or {})
    ops = tuple(lower_node(node, ctx) for node in graph.nodes)
    data = {t for t, info in graph.tensors.items() if info.dtype in DATA_DTYPES and not info.is_constant}
    produced = {t: ctx.arrives_in(t) for t in graph.inputs if t in data}
    produced.update((t, p) for t, p in ctx.produced.items() if t in data)
    ops, precisions = insert_conversions(ops, produced, {t: graph.tensors[t].shape for t in data})
    aliases = {op.outputs[0]: op.inputs[0] for op in ops
               if op.engine is Engine.NONE and op.inputs and len(op.outputs) == 1}
    ops = mark_inplace(ops, aliases, set(graph.outputs))  # element-wise outputs reuse a dying input
    tensor_bytes: dict[str, int] = {}
    for t in graph.inputs:
        tensor_bytes[t] = ctx.npu_bytes(t, precisions.get(t, ctx.arrives_in(t)))
    for op in ops:
        for t in (*op.inputs, *op.outputs):
            if t in tensor_bytes:
                continue
            if t in graph.tensors:
                tensor_bytes[t] = ctx.npu_bytes(t, precisions.get(t, op.precision))
            else:  # a converted copy of the op's input
                tensor_bytes[t] = op.elements * PRECISION_BYTES[precisions[t]]
    unknown = tuple(f"{op.name} ({op.op_type})" for op in ops if op.unknown)
    produced_here = {t for op in ops for t in op.outputs}
    # Buffers the compiler makes and keeps in DDR (SE tables and sparsity maps): read, never produced.
    ddr_constants = tuple(dict.fromkeys(t for op in ops if not op.is_free for t in op.inputs
                                        if t not in produced_here and t not in graph.inputs))
    host_io = sum(graph.tensors[t].size_bytes for t in dict.fromkeys((*graph.inputs, *graph.outputs)))
    return NpuGraph(name=graph.name, ops=ops, tensor_bytes=tensor_bytes, inputs=graph.inputs,
                    outputs=graph.outputs, aliases=aliases, unknown_ops=unknown,
                    default_precision=precision or ctx.default_precision, host_io_bytes=host_io,
                    unmeasured_weights=tuple(ctx.unmeasured), ddr_constants=ddr_constants)
