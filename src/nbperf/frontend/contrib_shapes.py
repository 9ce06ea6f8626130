"""Output shapes of ONNX Runtime's transformer contrib operators (the ``com.microsoft`` domain).

ONNX's shape inference does not know them, yet exported transformers carry them (the ONNX Runtime
transformer optimizer writes them). The shapes follow ONNX Runtime's operator documentation
(onnxruntime docs/ContribOperators.md); lowering decomposes the ops (``lower/decompose.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onnx import NodeProto, TensorProto, helper

MS_DOMAIN = "com.microsoft"

# (elem type, dims) of one input, or None when the input is absent
Info = tuple[int, tuple[int, ...]] | None
Shapes = dict[str, tuple[int, list[int]]]


def _attrs(node: NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _like_first(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """Element-wise ops: the output is shaped like the first input."""
    first = ins[0]
    if first is None:
        return {}
    return {node.output[0]: (first[0], list(first[1]))} if node.output and node.output[0] else {}


def _skip_layer_norm(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """output and input_skip_bias_sum like the input; mean and inv_std_var with a last axis of 1."""
    first = ins[0]
    if first is None:
        return {}
    elem, shape = first
    stats = [*shape[:-1], 1]
    dims = [list(shape), stats, stats, list(shape)]
    return {out: (elem if k in (0, 3) else TensorProto.FLOAT, dims[k])
            for k, out in enumerate(node.output[:4]) if out}


def _attention(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """Attention(input [B, S, D], weights [D, 3 x hidden], ...) -> [B, S, v hidden]."""
    x, w = ins[0], ins[1] if len(ins) > 1 else None
    if x is None or w is None:
        return {}
    sizes = _attrs(node).get("qkv_hidden_sizes")
    v_hidden = int(sizes[2]) if sizes else w[1][1] // 3  # type: ignore[index]
    return {node.output[0]: (x[0], [*x[1][:-1], v_hidden])}


def _multi_head_attention(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """MultiHeadAttention(query [B, S, D], key, value [B, L, Dv] or [B, N, L, H]) -> [B, S, Dv]."""
    q = ins[0]
    v = ins[2] if len(ins) > 2 else None
    if q is None:
        return {}
    if v is None or len(q[1]) != 3:  # packed QKV: [B, S, N, 3, H]
        heads = int(_attrs(node).get("num_heads", 1))  # type: ignore[arg-type]
        dv = q[1][-1] if len(q[1]) == 3 else heads * q[1][-1]
        return {node.output[0]: (q[0], [q[1][0], q[1][1], dv])}
    dv = v[1][-1] if len(v[1]) == 3 else v[1][1] * v[1][3]
    return {node.output[0]: (q[0], [q[1][0], q[1][1], dv])}


def _embed_layer_norm(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """EmbedLayerNormalization(input_ids [B, S], ..., word_embedding [V, H], ...) -> output [B, S, H],
    mask_index [B]."""
    ids, words = ins[0], ins[2] if len(ins) > 2 else None
    if ids is None or words is None:
        return {}
    b, s = ids[1]
    out = {node.output[0]: (words[0], [b, s, words[1][1]])}
    if len(node.output) > 1 and node.output[1]:
        out[node.output[1]] = (TensorProto.INT32, [b])
    if len(node.output) > 2 and node.output[2]:
        out[node.output[2]] = (words[0], [b, s, words[1][1]])
    return out


def _fused_matmul(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """FusedMatMul: MatMul of optionally transposed operands (last two axes)."""
    a, b = ins[0], ins[1] if len(ins) > 1 else None
    if a is None or b is None or len(a[1]) < 2 or len(b[1]) < 2:
        return {}
    attrs = _attrs(node)
    sa = list(a[1]) if not attrs.get("transA") else [*a[1][:-2], a[1][-1], a[1][-2]]
    sb = list(b[1]) if not attrs.get("transB") else [*b[1][:-2], b[1][-1], b[1][-2]]
    batch_a, batch_b = sa[:-2], sb[:-2]
    rank = max(len(batch_a), len(batch_b))
    batch_a, batch_b = [1] * (rank - len(batch_a)) + batch_a, [1] * (rank - len(batch_b)) + batch_b
    batch = [max(x, y) for x, y in zip(batch_a, batch_b, strict=True)]
    return {node.output[0]: (a[0], [*batch, sa[-2], sb[-1]])}


def _matmul_of(a_index: int, b_index: int, elem: int | None = None,
               trans: bool = False) -> Callable[..., Shapes]:
    """Quantized matmul forms: the MatMul (or Gemm, with its transposes) of two of the inputs."""
    def rule(node: NodeProto, ins: Sequence[Info]) -> Shapes:
        a, b = ins[a_index], ins[b_index] if len(ins) > b_index else None
        if a is None or b is None:
            return {}
        attrs = _attrs(node) if trans else {}
        sa = a[1] if not attrs.get("transA") else (*a[1][:-2], a[1][-1], a[1][-2])
        sb = b[1] if not attrs.get("transB") else (*b[1][:-2], b[1][-1], b[1][-2])
        return {node.output[0]: (elem or a[0], [*sa[:-1], sb[-1]])}
    return rule


def _matmul_nbits(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """MatMulNBits(A [.., K], packed B; N) -> [.., N]."""
    a = ins[0]
    if a is None:
        return {}
    return {node.output[0]: (a[0], [*a[1][:-1], int(_attrs(node)["N"])])}  # type: ignore[call-overload]


def _broadcast(a_index: int, b_index: int) -> Callable[..., Shapes]:
    """QLinearAdd / QLinearMul: numpy broadcasting of two of the inputs."""
    def rule(node: NodeProto, ins: Sequence[Info]) -> Shapes:
        a, b = ins[a_index], ins[b_index] if len(ins) > b_index else None
        if a is None or b is None:
            return {}
        rank = max(len(a[1]), len(b[1]))
        da = (1,) * (rank - len(a[1])) + tuple(a[1])
        db = (1,) * (rank - len(b[1])) + tuple(b[1])
        return {node.output[0]: (a[0], [max(x, y) for x, y in zip(da, db, strict=True)])}
    return rule


def _quantized_lstm(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """DynamicQuantizeLSTM(X [S, B, I], W [D, I, 4H], ...) -> Y [S, D, B, H], Y_h, Y_c [D, B, H]."""
    x, w = ins[0], ins[1] if len(ins) > 1 else None
    if x is None or w is None:
        return {}
    hidden = int(_attrs(node).get("hidden_size", w[1][2] // 4))  # type: ignore[call-overload]
    steps, batch, directions = x[1][0], x[1][1], w[1][0]
    dims = [[steps, directions, batch, hidden], [directions, batch, hidden], [directions, batch, hidden]]
    return {out: (x[0], dims[k]) for k, out in enumerate(node.output[:3]) if out}


def _group_query_attention(node: NodeProto, ins: Sequence[Info]) -> Shapes:
    """GroupQueryAttention(query [B, S, Nq x D], key [B, S, Nkv x D], ..., past_key [B, Nkv, P, D])
    -> output like query, present_key / present_value [B, Nkv, P + S, D]."""
    q, k = ins[0], ins[1] if len(ins) > 1 else None
    past = ins[3] if len(ins) > 3 else None
    if q is None or k is None:
        return {}
    attrs = _attrs(node)
    heads, kv_heads = int(attrs.get("num_heads", 1)), int(attrs.get("kv_num_heads", 1))  # type: ignore[call-overload]
    batch, seq, hidden = q[1]
    depth = hidden // heads
    total = (past[1][2] if past is not None else 0) + seq
    out = {node.output[0]: (q[0], [batch, seq, hidden])}
    for name in node.output[1:3]:
        if name:
            out[name] = (q[0], [batch, kv_heads, total, depth])
    return out


SHAPES: dict[str, Callable[[NodeProto, Sequence[Info]], Shapes]] = {
    "QOrderedMatMul": _matmul_of(0, 2), "DynamicQuantizeMatMul": _matmul_of(0, 1),
    "MatMulIntegerToFloat": _matmul_of(0, 1, TensorProto.FLOAT), "QGemm": _matmul_of(0, 3, trans=True),
    "MatMulNBits": _matmul_nbits, "QLinearAdd": _broadcast(0, 3), "QLinearMul": _broadcast(0, 3),
    "DynamicQuantizeLSTM": _quantized_lstm, "GroupQueryAttention": _group_query_attention,
    "FastGelu": _like_first, "BiasGelu": _like_first, "QuickGelu": _like_first, "Gelu": _like_first,
    "BiasAdd": _like_first, "RotaryEmbedding": _like_first, "SimplifiedLayerNormalization": _like_first,
    "SkipLayerNormalization": _skip_layer_norm, "SkipSimplifiedLayerNormalization": _skip_layer_norm,
    "Attention": _attention, "MultiHeadAttention": _multi_head_attention,
    "EmbedLayerNormalization": _embed_layer_norm, "FusedMatMul": _fused_matmul,
}


def contrib_shapes(node: NodeProto, domain: str, ins: Sequence[Info]) -> Shapes:
    """Output (elem, dims) of a known contrib op by output name; {} for any other node."""
    rule = SHAPES.get(node.op_type) if domain == MS_DOMAIN else None
    return rule(node, ins) if rule is not None else {}


def as_plain_conv(node: NodeProto) -> NodeProto:
    """A FusedConv as the Conv it wraps (its activation attributes dropped), for shape inference."""
    conv = NodeProto()
    conv.CopyFrom(node)
    conv.op_type, conv.domain = "Conv", ""
    kept = [a for a in node.attribute if not a.name.startswith("activation")]
    del conv.attribute[:]
    conv.attribute.extend(kept)
    del conv.input[3:]  # Z, the optional sum input, is not a Conv input
    return conv
