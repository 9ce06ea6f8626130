"""Composite operators rewritten into the operators the NPU runs, before any other pattern.

Each rewrite follows how the NPU toolchain runs the op (OpenVINO's ONNX frontend decomposes ONNX
Runtime's contrib ops, openvinotoolkit/openvino src/frontends/onnx/frontend/src/op/com.microsoft/;
the NPU compiler splits what is left), so its work is counted exactly and priced by the rules
every other op uses:

- attention (ONNX ``Attention``, com.microsoft ``Attention`` / ``MultiHeadAttention``): the
  QKV projection, heads split, Q x K^T, scale, mask (causal or given), Softmax, x V, heads merged;
- recurrent nets: an LSTM's or RNN's input projection runs as one DPU MatMul over the whole
  sequence and the recurrence as the SHAVE sequence kernel (npu_compiler
  IE/transforms/passes/decompose_lstm_sequence.cpp, ExtractWeightsAndBiasesFromLSTMSequence); a
  GRU runs whole on the SHAVE gru_sequence kernel (VPUIP sw_kernel.cpp);
- norms with a residual (``SkipLayerNormalization``) or embeddings (``EmbedLayerNormalization``):
  Add / Gather, then the norm;
- GELU variants -> Gelu, QuickGelu -> Swish (x sigmoid(1.702 x)), bias forms -> Add first;
  SwiGLU -> Swish and Mul;
- ``FusedConv`` / ``FusedMatMul`` -> Conv / MatMul with their activation, transposes or scale;
- integer and QLinear forms (``QLinearConv``, ``ConvInteger``, ``QLinearMatMul``,
  ``MatMulInteger``) -> Conv / MatMul on their 8-bit operands (which makes them int8 ops).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from nbperf.frontend.ir import Graph, Node, Tensor
from nbperf.lower.patterns import NBPERF_DOMAIN

MS = "com.microsoft"
RECURRENT_MACS_ATTR = "nbperf_recurrent_macs"  # a recurrence's MACs (its SHAVE kernel's work)
RECURRENT_KINDS = {"LSTM": 4, "GRU": 3, "RNN": 1}  # gates per direction


class _Builder:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.tensors = dict(graph.tensors)
        self.nodes: list[Node] = []

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def tensor(self, name: str, shape: tuple[int, ...], like: str, const: bool = False,
               value: np.ndarray | None = None) -> str:
        dims = tuple(int(d) for d in shape)
        self.tensors[name] = Tensor(name, dims, self.tensors[like].dtype, const, value)
        return name

    def const(self, name: str, shape: tuple[int, ...], like: str, value: np.ndarray | None = None) -> str:
        return self.tensor(name, shape, like, const=True, value=value)

    def node(self, name: str, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(Node(name, op_type, tuple(inputs), (output,), attrs))
        return output

    def op(self, name: str, op_type: str, inputs: list[str], shape: tuple[int, ...], **attrs: Any) -> str:
        """One node with a new output tensor named after it, shaped ``shape``, typed like input 0."""
        return self.node(name, op_type, inputs, self.tensor(name, shape, inputs[0]), **attrs)


def decompose(graph: Graph) -> Graph:
    """``graph`` with every composite operator this module knows rewritten."""
    b = _Builder(graph)
    changed = False
    for node in graph.nodes:
        rule = _RULES.get((node.domain if node.domain != "ai.onnx" else "", node.op_type))
        if rule is None or not rule(b, node):
            b.nodes.append(node)
        else:
            changed = True
    return replace(graph, nodes=tuple(b.nodes), tensors=b.tensors) if changed else graph


def _present(node: Node, i: int) -> str:
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i] else ""


# -- attention -----------------------------------------------------------------------------------
def _heads(b: _Builder, x: str, name: str, heads: int) -> str:
    """[B, S, heads x d] -> [B, heads, S, d] (Reshape, Transpose), as exported attention writes it."""
    batch, seq, hidden = b.shape(x)
    split = b.op(f"{name}/heads", "Reshape", [x], (batch, seq, heads, hidden // heads))
    return b.op(f"{name}/heads_t", "Transpose", [split], (batch, heads, seq, hidden // heads),
                perm=[0, 2, 1, 3])


def _core(b: _Builder, name: str, q: str, k: str, v: str, mask: str, causal: bool, scale: float | None,
          out: str | None = None) -> str:
    """softmax(Q x K^T x scale + mask) x V over [B, H, L, E] heads; returns [B, H, L, Ev]."""
    *lead, length, depth = b.shape(q)
    keys, ev = b.shape(k)[-2], b.shape(v)[-1]
    rank = len(b.shape(k))
    k_t = b.op(f"{name}/key_t", "Transpose", [k], (*b.shape(k)[:-2], depth, keys),
               perm=[*range(rank - 2), rank - 1, rank - 2])
    scores = b.op(f"{name}/scores", "MatMul", [q, k_t], (*lead, length, keys))
    factor = scale if scale else 1 / math.sqrt(depth)
    scale_t = b.const(f"{name}/scale", (), q, np.array(factor, np.float32))
    scaled = b.op(f"{name}/scaled", "Mul", [scores, scale_t], (*lead, length, keys))
    if not mask and causal:
        mask = b.const(f"{name}/causal_mask", (length, keys), q)
    if mask:
        scaled = b.op(f"{name}/masked", "Add", [scaled, mask], (*lead, length, keys))
    probs = b.op(f"{name}/softmax", "Softmax", [scaled], (*lead, length, keys), axis=-1)
    if out is not None:
        return b.node(f"{name}/context", "MatMul", [probs, v], out)
    return b.op(f"{name}/context", "MatMul", [probs, v], (*lead, length, ev))


def _merge(b: _Builder, context: str, name: str, out: str) -> str:
    """[B, H, L, E] -> [B, L, H x E] into ``out``."""
    batch, heads, length, depth = b.shape(context)
    back = b.op(f"{name}/merge_t", "Transpose", [context], (batch, length, heads, depth), perm=[0, 2, 1, 3])
    return b.node(f"{name}/merge", "Reshape", [back], out)


def _onnx_attention(b: _Builder, node: Node) -> bool:
    """ONNX Attention (opset 23): 4-D [B, H, L, E] operands, or 3-D with q/kv_num_heads."""
    q, k, v = node.inputs[:3]
    mask = _present(node, 3)
    a = node.attrs
    causal, scale = bool(a.get("is_causal", 0)), a.get("scale")
    if len(b.shape(q)) == 3:
        q = _heads(b, q, f"{node.name}/q", int(a.get("q_num_heads", 1)))
        k = _heads(b, k, f"{node.name}/k", int(a.get("kv_num_heads", 1)))
        v = _heads(b, v, f"{node.name}/v", int(a.get("kv_num_heads", 1)))
        _merge(b, _core(b, node.name, q, k, v, mask, causal, scale), node.name, node.outputs[0])
    else:
        _core(b, node.name, q, k, v, mask, causal, scale, out=node.outputs[0])
    _presents(b, node, [_present(node, 4), _present(node, 5)], [node.inputs[1], node.inputs[2]])
    return True


def _presents(b: _Builder, node: Node, pasts: list[str], news: list[str]) -> None:
    """present_key / present_value = the cache with this step's keys / values appended (DMA)."""
    for out, past, new in zip(node.outputs[1:3], pasts, news, strict=False):
        if out:
            b.node(f"{node.name}/{out}", "Concat", [p for p in (past, new) if p], out, axis=-2)


def _ms_attention(b: _Builder, node: Node) -> bool:
    """com.microsoft Attention: input x [B, S, D] projected by weights [D, Dq + Dk + Dv] (+ bias)."""
    x, w = node.inputs[:2]
    bias, mask = _present(node, 2), _present(node, 3)
    heads = int(node.attrs.get("num_heads", 1))
    batch, seq, _ = b.shape(x)
    total = b.shape(w)[1]
    sizes = [int(s) for s in node.attrs.get("qkv_hidden_sizes", [total // 3] * 3)]
    qkv = b.op(f"{node.name}/qkv", "MatMul", [x, w], (batch, seq, total))
    if bias:
        qkv = b.op(f"{node.name}/qkv_bias", "Add", [qkv, bias], (batch, seq, total))
    parts = [b.tensor(f"{node.name}/{p}", (batch, seq, n), x) for p, n in zip("qkv", sizes, strict=True)]
    b.nodes.append(Node(f"{node.name}/split", "Split", (qkv,), tuple(parts), {"axis": -1}))
    q, k, v = (_heads(b, t, t, heads) for t in parts)
    causal = bool(node.attrs.get("unidirectional", 0))
    context = _core(b, node.name, q, k, v, mask, causal, node.attrs.get("scale"))
    _merge(b, context, node.name, node.outputs[0])
    return True


def _ms_multi_head_attention(b: _Builder, node: Node) -> bool:
    """com.microsoft MultiHeadAttention: query [B, S, D], key / value [B, L, D] or [B, N, L, H]."""
    q, k, v = node.inputs[0], _present(node, 1), _present(node, 2)
    if not k or not v or len(b.shape(q)) != 3:
        return False  # packed QKV forms: left to the generic cost, listed
    heads = int(node.attrs.get("num_heads", 1))
    qh = _heads(b, q, f"{node.name}/q", heads)
    kh = k if len(b.shape(k)) == 4 else _heads(b, k, f"{node.name}/k", heads)
    vh = v if len(b.shape(v)) == 4 else _heads(b, v, f"{node.name}/v", heads)
    mask = _present(node, 5) or _present(node, 4)  # attention_bias, else key_padding_mask
    causal = bool(node.attrs.get("unidirectional", 0))
    context = _core(b, node.name, qh, kh, vh, mask, causal, node.attrs.get("scale"))
    _merge(b, context, node.name, node.outputs[0])
    return True


# -- recurrent nets ----------------------------------------------------------------------------------
def _recurrent(b: _Builder, node: Node) -> bool:
    """LSTM / RNN: the input projection for every step as one DPU MatMul, then the recurrence on
    SHAVE; GRU: all of it on SHAVE. The recurrence's MACs (per step: batch x gates x hidden x hidden
    per direction) are counted on its node."""
    x, w = node.inputs[:2]
    gates = RECURRENT_KINDS[node.op_type]
    directions, gate_rows, features = b.shape(w)
    hidden = gate_rows // gates
    shape = b.shape(x)
    steps, batch = (shape[1], shape[0]) if int(node.attrs.get("layout", 0)) else (shape[0], shape[1])
    recurrent_macs = steps * batch * directions * gate_rows * hidden
    inputs = [x]
    if node.op_type != "GRU":
        w_t = b.const(f"{node.name}/w_t", (features, directions * gate_rows), w)
        projected = b.op(f"{node.name}/input_projection", "MatMul", [x, w_t],
                         (*shape[:-1], directions * gate_rows))
        inputs = [projected]
    else:
        recurrent_macs += steps * batch * directions * gate_rows * features
    inputs += [t for t in node.inputs[5:7] if t]  # initial_h, initial_c
    b.nodes.append(Node(f"{node.name}/recurrence", f"{node.op_type}Sequence", tuple(inputs), node.outputs,
                        {RECURRENT_MACS_ATTR: recurrent_macs}, domain=NBPERF_DOMAIN))
    return True


# -- norms and activations --------------------------------------------------------------------------
def _skip_layer_norm(b: _Builder, node: Node) -> bool:
    """(Simplified)SkipLayerNormalization(x, skip, gamma, [beta], [bias]) = norm(x + skip + bias)."""
    x, skip, gamma = node.inputs[:3]
    simplified = node.op_type.startswith("SkipSimplified")
    beta = "" if simplified else _present(node, 3)
    bias = _present(node, 3 if simplified else 4)
    shape = b.shape(x)
    total = node.outputs[3] if len(node.outputs) > 3 and node.outputs[3] else ""  # input_skip_bias_sum
    summed = b.op(f"{node.name}/skip_add", "Add", [x, skip], shape) if bias or not total else \
        b.node(f"{node.name}/skip_add", "Add", [x, skip], total)
    if bias:
        summed = b.node(f"{node.name}/bias_add", "Add", [summed, bias], total) if total else \
            b.op(f"{node.name}/bias_add", "Add", [summed, bias], shape)
    norm = "SimplifiedLayerNormalization" if simplified else "LayerNormalization"
    b.node(f"{node.name}/norm", norm, [summed, gamma, *([beta] if beta else [])], node.outputs[0], axis=-1)
    return True


def _embed_layer_norm(b: _Builder, node: Node) -> bool:
    """EmbedLayerNormalization: word (+ position, + segment) embedding lookups, summed, normed."""
    ids, segments, words, positions, segment_table, gamma, beta = (
        _present(node, i) for i in range(7))
    mask = _present(node, 7)
    batch, seq = b.shape(ids)
    hidden = b.shape(words)[1]
    summed = b.op(f"{node.name}/word", "Gather", [words, ids], (batch, seq, hidden))
    b.tensors[summed] = replace(b.tensors[summed], dtype=b.tensors[words].dtype)
    if positions:
        rows = b.const(f"{node.name}/positions", (1, seq, hidden), words)
        summed = b.op(f"{node.name}/position_add", "Add", [summed, rows], (batch, seq, hidden))
    if segments and segment_table:
        seg = b.op(f"{node.name}/segment", "Gather", [segment_table, segments], (batch, seq, hidden))
        b.tensors[seg] = replace(b.tensors[seg], dtype=b.tensors[words].dtype)
        summed = b.op(f"{node.name}/segment_add", "Add", [summed, seg], (batch, seq, hidden))
    if len(node.outputs) > 2 and node.outputs[2]:
        summed = b.node(f"{node.name}/embedding_sum", "Identity", [summed], node.outputs[2])
    b.node(f"{node.name}/norm", "LayerNormalization", [summed, gamma, beta], node.outputs[0], axis=-1)
    if len(node.outputs) > 1 and node.outputs[1]:  # mask_index: each row's token count
        if mask:
            b.node(f"{node.name}/mask_index", "ReduceSum", [mask], node.outputs[1], keepdims=0)
        else:
            b.tensors[node.outputs[1]] = replace(b.tensors[node.outputs[1]], is_constant=True)
    return True


def _gelu(b: _Builder, node: Node) -> bool:
    """FastGelu / BiasGelu / Gelu (X, [bias]) -> [Add] + Gelu; QuickGelu -> Swish (x sigmoid(a x))."""
    x, bias = node.inputs[0], _present(node, 1)
    if bias:
        x = b.op(f"{node.name}/bias", "Add", [x, bias], b.shape(x))
    kind = "Swish" if node.op_type == "QuickGelu" else "Gelu"
    b.node(node.name, kind, [x], node.outputs[0])
    return True


def _swiglu(b: _Builder, node: Node) -> bool:
    """SwiGLU(A, B) = Swish(A) x B (ONNX opset 28): the SHAVE Swish kernel, then an element-wise Mul."""
    gate, value = node.inputs[:2]
    swished = b.op(f"{node.name}/swish", "Swish", [gate], b.shape(gate))
    b.node(node.name, "Mul", [swished, value], node.outputs[0])
    return True


def _bias_add(b: _Builder, node: Node) -> bool:
    """BiasAdd(X, bias, skip) = X + bias + skip."""
    x, bias, skip = node.inputs[:3]
    b.node(f"{node.name}/skip", "Add", [b.op(f"{node.name}/bias", "Add", [x, bias], b.shape(x)), skip],
           node.outputs[0])
    return True


def _renamed(op_type: str, domain: str = "") -> Any:
    """An op that is a standard one under another name and domain."""
    def rule(b: _Builder, node: Node) -> bool:
        b.nodes.append(replace(node, op_type=op_type, domain=domain))
        return True
    return rule


# -- fused and quantized forms -------------------------------------------------------------------
_ACTIVATIONS = {"Relu": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "LeakyRelu": "LeakyRelu",
                "Clip": "Clip", "HardSigmoid": "HardSigmoid"}


def _fused_conv(b: _Builder, node: Node) -> bool:
    """FusedConv(X, W, [B], [Z]; activation) = activation(Conv(X, W, B) + Z)."""
    attrs = {k: v for k, v in node.attrs.items() if not k.startswith("activation")}
    shape = b.shape(node.outputs[0])
    activation = _ACTIVATIONS.get(str(node.attrs.get("activation", "")))
    z = _present(node, 3)
    conv_inputs = [t for t in node.inputs[:3] if t]
    y = b.op(f"{node.name}/conv", "Conv", conv_inputs, shape, **attrs) if z or activation \
        else b.node(node.name, "Conv", conv_inputs, node.outputs[0], **attrs)
    if z:
        y = b.op(f"{node.name}/sum", "Add", [y, z], shape) if activation else \
            b.node(f"{node.name}/sum", "Add", [y, z], node.outputs[0])
    if activation:
        b.node(f"{node.name}/{activation.lower()}", activation, [y], node.outputs[0])
    return True


def _fused_matmul(b: _Builder, node: Node) -> bool:
    """FusedMatMul(A, B; transA, transB, alpha) = alpha x op(A) x op(B)."""
    operands = []
    for name, flag in zip(node.inputs[:2], ("transA", "transB"), strict=True):
        shape = b.shape(name)
        if not node.attrs.get(flag):
            operands.append(name)
            continue
        swapped = (*shape[:-2], shape[-1], shape[-2])
        rank = len(shape)
        if b.tensors[name].is_constant:
            operands.append(b.const(f"{node.name}/{flag}", swapped, name))
        else:
            operands.append(b.op(f"{node.name}/{flag}", "Transpose", [name], swapped,
                                 perm=[*range(rank - 2), rank - 1, rank - 2]))
    alpha = float(node.attrs.get("alpha", 1.0))
    if alpha == 1.0:
        b.node(node.name, "MatMul", operands, node.outputs[0])
    else:
        product = b.op(f"{node.name}/matmul", "MatMul", operands, b.shape(node.outputs[0]))
        scale = b.const(f"{node.name}/alpha", (), product, np.array(alpha, np.float32))
        b.node(f"{node.name}/alpha_mul", "Mul", [product, scale], node.outputs[0])
    return True


def _integer(inputs: tuple[int, ...], op_type: str) -> Any:
    """A quantized form as the plain op on its 8-bit operands (their dtype makes the op int8)."""
    def rule(b: _Builder, node: Node) -> bool:
        picked = [node.inputs[i] for i in inputs if len(node.inputs) > i and node.inputs[i]]
        keep = {k: v for k, v in node.attrs.items() if op_type == "Conv"}
        b.nodes.append(Node(node.name, op_type, tuple(picked), node.outputs[:1], keep))
        return True
    return rule


def _quantized_matmul(a_index: int, b_index: int, gemm: bool = False) -> Any:
    """QOrderedMatMul, DynamicQuantizeMatMul, MatMulIntegerToFloat, QGemm: an int8 MatMul of two
    inputs (dynamic quantization makes the activation int8 too: OpenVINO's frontend inserts its
    quantize step, a SHAVE op of the input's size, counted here as a Cast)."""
    def rule(b: _Builder, node: Node) -> bool:
        a_in, b_in = node.inputs[a_index], node.inputs[b_index]
        if b.tensors[a_in].dtype not in ("int8", "uint8"):
            quantized = b.op(f"{node.name}/quantize", "Cast", [a_in], b.shape(a_in), to=3)
            b.tensors[quantized] = replace(b.tensors[quantized], dtype="int8")
            a_in = quantized
        if gemm:
            attrs = {k: v for k, v in node.attrs.items() if k in ("transA", "transB")}
            b.node(node.name, "Gemm", [a_in, b_in], node.outputs[0], **attrs)
        else:
            b.node(node.name, "MatMul", [a_in, b_in], node.outputs[0])
        if b.tensors[b_in].dtype not in ("int8", "uint8"):
            b.tensors[b_in] = replace(b.tensors[b_in], dtype="int8")
        return True
    return rule


def _matmul_nbits(b: _Builder, node: Node) -> bool:
    """MatMulNBits: a MatMul whose [K, N] weights stay packed at ``bits`` per element (the NPU
    decompresses 4-bit weights in the DPU; nbperf moves and stores them packed)."""
    k, n, bits = (int(node.attrs[key]) for key in ("K", "N", "bits"))
    weights = b.const(f"{node.name}/weights", (k, n), node.inputs[0])
    b.tensors[weights] = replace(b.tensors[weights], dtype="int4" if bits <= 4 else "int8")
    b.node(node.name, "MatMul", [node.inputs[0], weights], node.outputs[0])
    return True


def _quantized_binary(op_type: str) -> Any:
    """QLinearAdd / QLinearMul(A, As, Az, B, Bs, Bz, Cs, Cz): the element-wise op on int8 data."""
    def rule(b: _Builder, node: Node) -> bool:
        b.node(node.name, op_type, [node.inputs[0], node.inputs[3]], node.outputs[0])
        return True
    return rule


def _quantized_lstm(b: _Builder, node: Node) -> bool:
    """DynamicQuantizeLSTM: an LSTM with int8 weights [D, I, 4H] (transposed against ONNX's)."""
    directions, features, gate_rows = b.shape(node.inputs[1])
    w = b.const(f"{node.name}/w", (directions, gate_rows, features), node.inputs[1])
    b.tensors[w] = replace(b.tensors[w], dtype="int8")
    return _recurrent(b, replace(node, op_type="LSTM", inputs=(node.inputs[0], w, *node.inputs[2:])))


def _group_query_attention(b: _Builder, node: Node) -> bool:
    """GroupQueryAttention: query / key / value heads (rotary embedding on SHAVE when asked), this
    step's keys and values appended to the cache (present_key / present_value), attention of the
    query heads over the shared key / value heads."""
    q, k, v = node.inputs[0], _present(node, 1), _present(node, 2)
    if not k or not v:
        return False  # packed QKV: left to the generic cost, listed
    heads, kv_heads = int(node.attrs.get("num_heads", 1)), int(node.attrs.get("kv_num_heads", 1))
    qh = _heads(b, q, f"{node.name}/q", heads)
    kh = _heads(b, k, f"{node.name}/k", kv_heads)
    vh = _heads(b, v, f"{node.name}/v", kv_heads)
    if node.attrs.get("do_rotary"):
        qh = b.op(f"{node.name}/q_rotary", "RotaryEmbedding", [qh], b.shape(qh))
        kh = b.op(f"{node.name}/k_rotary", "RotaryEmbedding", [kh], b.shape(kh))
    keys, values = kh, vh
    for index, (new, role) in enumerate(((kh, "key"), (vh, "value"))):
        past = _present(node, 3 + index)
        out = node.outputs[1 + index] if len(node.outputs) > 1 + index and node.outputs[1 + index] else ""
        if past or out:
            batch, groups, seq, depth = b.shape(new)
            total = (b.shape(past)[2] if past else 0) + seq
            cache = out or b.tensor(f"{node.name}/present_{role}", (batch, groups, total, depth), new)
            b.node(f"{node.name}/present_{role}", "Concat", [p for p in (past, new) if p], cache, axis=2)
            keys, values = (cache, values) if role == "key" else (keys, cache)
    causal = b.shape(qh)[2] > 1  # a decoder's self-attention over more than one new token
    context = _core(b, node.name, qh, keys, values, "", causal, node.attrs.get("scale"))
    _merge(b, context, node.name, node.outputs[0])
    return True


_RULES: dict[tuple[str, str], Any] = {
    ("", "Attention"): _onnx_attention,
    ("", "SwiGLU"): _swiglu,
    ("", "LSTM"): _recurrent, ("", "GRU"): _recurrent, ("", "RNN"): _recurrent,
    ("", "QLinearConv"): _integer((0, 3, 8), "Conv"), ("", "ConvInteger"): _integer((0, 1), "Conv"),
    ("", "QLinearMatMul"): _integer((0, 3), "MatMul"), ("", "MatMulInteger"): _integer((0, 1), "MatMul"),
    (MS, "Attention"): _ms_attention, (MS, "MultiHeadAttention"): _ms_multi_head_attention,
    (MS, "SkipLayerNormalization"): _skip_layer_norm,
    (MS, "SkipSimplifiedLayerNormalization"): _skip_layer_norm,
    (MS, "EmbedLayerNormalization"): _embed_layer_norm,
    (MS, "FastGelu"): _gelu, (MS, "BiasGelu"): _gelu, (MS, "Gelu"): _gelu, (MS, "QuickGelu"): _gelu,
    (MS, "BiasAdd"): _bias_add, (MS, "FusedConv"): _fused_conv, (MS, "FusedMatMul"): _fused_matmul,
    (MS, "RotaryEmbedding"): _renamed("RotaryEmbedding"),
    (MS, "QOrderedMatMul"): _quantized_matmul(0, 2), (MS, "DynamicQuantizeMatMul"): _quantized_matmul(0, 1),
    (MS, "MatMulIntegerToFloat"): _quantized_matmul(0, 1), (MS, "QGemm"): _quantized_matmul(0, 3, gemm=True),
    (MS, "MatMulNBits"): _matmul_nbits,
    (MS, "QLinearAdd"): _quantized_binary("Add"), (MS, "QLinearMul"): _quantized_binary("Mul"),
    (MS, "DynamicQuantizeLSTM"): _quantized_lstm, (MS, "GroupQueryAttention"): _group_query_attention,
    (MS, "SimplifiedLayerNormalization"): _renamed("SimplifiedLayerNormalization"),
}
