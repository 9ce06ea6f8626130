"""Fold QuantizeLinear/DequantizeLinear (QDQ) pairs: the ops between them run in int8.

On the NPU a QDQ-quantised model runs its convolutions, matmuls and eltwise ops on int8 data;
requantisation is done for free by the DPU's post-processing stage. So the Q/DQ nodes cost
nothing and disappear, and the tensors between them carry int8 (or uint8...) data:

1. ``x -> Q -> q -> DQ -> y``, where ``q`` feeds only DQ nodes and ``x`` feeds only that Q:
   both nodes go, consumers of ``y`` read ``x``, and ``x`` becomes an int8 tensor (also when ``x``
   is a graph input: the model is then fed int8 data, as the compiled NPU blob would be).
2. ``t -> DQ -> y`` where ``t`` already holds integer data (an int8 weight, an int32 bias, the
   output of a Q that stays): the DQ goes and consumers of ``y`` read ``t``.
3. Data-movement ops (Reshape, Transpose, MaxPool, Concat...) that now read int8 data produce
   int8 data too.

A Q or DQ that matches none of these (a lone Q on a float tensor, a DQ of a float tensor) stays
and lowering treats it as a SHAVE op. Q/DQ nodes acting on constants only are folded away later
with every other constant-only node.
"""

from __future__ import annotations

from dataclasses import replace

from nbperf.frontend.dtypes import FLOAT_TYPES, QUANT_ACTIVATION_TYPES, QUANT_CONSTANT_TYPES
from nbperf.frontend.ir import Node
from nbperf.frontend.propagate import Propagated

_QDQ_DOMAINS = ("", "ai.onnx", "com.microsoft")

# Ops that move or select data without arithmetic: int8 in, int8 out. (Concat/Max-like ops need
# every data input quantised; see ``_data_inputs``.)
LAYOUT_OPS = frozenset(
    {
        "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split",
        "Gather", "GatherElements", "GatherND", "Concat", "Expand", "Tile", "Pad", "MaxPool",
        "DepthToSpace", "SpaceToDepth", "Resize", "Upsample", "ReduceMax", "ReduceMin",
    }
)
_MULTI_DATA_INPUT_OPS = frozenset({"Concat"})


def _is(node: Node, op_type: str) -> bool:
    return node.op_type == op_type and node.domain in _QDQ_DOMAINS


def fold_qdq(g: Propagated) -> Propagated:
    """Rewrite ``g`` (in place for its tensor facts) and return it with Q/DQ pairs folded."""
    if not any(_is(n, "QuantizeLinear") or _is(n, "DequantizeLinear") for n in g.nodes):
        return g
    tensors = g.tensors
    outputs = set(g.outputs)
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(g.nodes):
        for name in n.inputs:
            if name:
                consumers.setdefault(name, []).append(i)

    removed: set[int] = set()
    alias: dict[str, str] = {}
    quantized = set(g.quantized)

    # 1. Q -> DQ pairs on non-constant tensors.
    for i, q in enumerate(g.nodes):
        if not _is(q, "QuantizeLinear") or not q.inputs or not q.outputs[0]:
            continue
        x, qout = q.inputs[0], q.outputs[0]
        if tensors[x].const or x in outputs or qout in outputs:
            continue
        dqs = consumers.get(qout, [])
        if not dqs or any(not _is(g.nodes[j], "DequantizeLinear") for j in dqs):
            continue
        if any(g.nodes[j].inputs[0] != qout for j in dqs):  # qout used as a scale / zero point
            continue
        if consumers.get(x, []) != [i]:
            continue
        removed.add(i)
        for j in dqs:
            removed.add(j)
            alias[g.nodes[j].outputs[0]] = x
        tensors[x].elem = tensors[qout].elem
        quantized.add(x)

    # 2. DQ of integer data (weights, biases, activations produced by a remaining Q).
    for j, dq in enumerate(g.nodes):
        if j in removed or not _is(dq, "DequantizeLinear") or not dq.inputs:
            continue
        t = _resolve(alias, dq.inputs[0])
        info = tensors[t]
        allowed = QUANT_CONSTANT_TYPES if info.const else QUANT_ACTIVATION_TYPES
        if info.elem not in allowed:
            continue
        removed.add(j)
        alias[dq.outputs[0]] = t
        quantized.add(t)

    # Rewire consumers and graph outputs; 3. propagate int8 through data-movement ops.
    nodes: list[Node] = []
    for j, n in enumerate(g.nodes):
        if j in removed:
            continue
        inputs = tuple(_resolve(alias, name) if name else name for name in n.inputs)
        if inputs != n.inputs:
            n = replace(n, inputs=inputs)
        _propagate_int(n, tensors, quantized)
        nodes.append(n)

    g.nodes = nodes
    g.outputs = [_resolve(alias, o) for o in g.outputs]
    g.quantized = quantized
    return g


def _resolve(alias: dict[str, str], name: str) -> str:
    while name in alias:
        name = alias[name]
    return name


def _propagate_int(n: Node, tensors: dict, quantized: set[str]) -> None:
    if n.op_type not in LAYOUT_OPS or n.domain not in ("", "ai.onnx") or not n.inputs or not n.inputs[0]:
        return
    data = [i for i in n.inputs if i] if n.op_type in _MULTI_DATA_INPUT_OPS else [n.inputs[0]]
    elems = {tensors[i].elem for i in data}
    if len(elems) != 1:
        return
    elem = elems.pop()
    if elem not in QUANT_ACTIVATION_TYPES:
        return
    for out in n.outputs:
        info = tensors.get(out) if out else None
        if info is not None and info.elem in FLOAT_TYPES:
            info.elem = elem
            info.value = None  # a float value computed before the rewrite no longer applies
            info.proto = None
            quantized.add(out)
