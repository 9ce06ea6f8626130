"""Weightless scale models built with onnx.helper: a ~1B-parameter decoder LM and a 4K super-resolution net.

Every weight is an initializer with its dims and an external-data location (``weights.bin``) that
does not exist, so nothing big is ever allocated: the 1.3 G-parameter decoder is a few hundred KB
of protobuf. Both builders take their sizes as arguments, so tests build small versions.

    from model_builders import decoder_lm, super_resolution, save
    path = save(decoder_lm(layers=2, d_model=64, heads=4, ffn=256, vocab=100, seq=16), folder)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
OPSET = 17  # LayerNormalization is a standard op from 17


def weightless(name: str, dims: list[int], elem: int = F) -> TensorProto:
    """An initializer with dims only; its data would live in weights.bin beside the model."""
    t = TensorProto(name=name, data_type=elem, dims=dims, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(4 * math.prod(dims)))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def weight(self, name: str, dims: list[int]) -> str:
        self.inits.append(weightless(name, dims))
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, n_out: int = 1, **attrs: object) -> str:
        outputs = [name] if n_out == 1 else [f"{name}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def model(self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]
              ) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 producer_name="nbperf-benchmarks")


def decoder_lm(layers: int = 24, d_model: int = 2048, heads: int = 16, ffn: int = 8192, vocab: int = 32000,
               seq: int = 512) -> onnx.ModelProto:
    """A pre-norm decoder-only transformer (GPT-style) on ``seq`` tokens.

    Token + position embeddings; per layer: LayerNormalization, fused QKV MatMul + bias, Split,
    multi-head attention (Q x K^T, scale, causal-mask Add, Softmax, x V), output projection + bias,
    residual Add, LayerNormalization, MLP up + bias, erf GELU (Div, Erf, Add, Mul, Mul), down + bias,
    residual Add; final LayerNormalization and the LM-head MatMul to ``vocab`` logits.
    """
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
    head_dim = d_model // heads
    g = _Graph()
    g.const("split_qkv", np.array([d_model] * 3, np.int64))
    g.const("to_heads", np.array([1, seq, heads, head_dim], np.int64))
    g.const("to_model", np.array([1, seq, d_model], np.int64))
    g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    g.const("one", np.array(1.0, np.float32))
    g.const("half", np.array(0.5, np.float32))
    g.weight("causal_mask", [1, 1, seq, seq])

    def norm(x: str, name: str) -> str:
        gamma, beta = g.weight(f"{name}.g", [d_model]), g.weight(f"{name}.b", [d_model])
        return g.op("LayerNormalization", [x, gamma, beta], name, axis=-1)

    def split_heads(t: str, name: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [t, "to_heads"], f"{name}_heads")], f"{name}_t", perm=perm)

    tokens = g.op("Gather", [g.weight("tok_embed", [vocab, d_model]), "ids"], "tok_embed/gather")
    x = g.op("Add", [tokens, g.weight("pos_embed", [1, seq, d_model])], "pos_embed/add")
    for i in range(layers):
        p = f"layer{i}"
        h = norm(x, f"{p}/ln1")
        qkv = g.op("MatMul", [h, g.weight(f"{p}.qkv.w", [d_model, 3 * d_model])], f"{p}/qkv")
        qkv = g.op("Add", [qkv, g.weight(f"{p}.qkv.b", [3 * d_model])], f"{p}/qkv_bias")
        g.op("Split", [qkv, "split_qkv"], f"{p}/split", n_out=3, axis=-1)
        q, k, v = (f"{p}/split_{j}" for j in range(3))
        q = split_heads(q, f"{p}/q", [0, 2, 1, 3])
        k = split_heads(k, f"{p}/k", [0, 2, 3, 1])  # K^T per head
        v = split_heads(v, f"{p}/v", [0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, k], f"{p}/scores"), "scale"], f"{p}/scaled")
        masked = g.op("Add", [scores, "causal_mask"], f"{p}/masked")
        probs = g.op("Softmax", [masked], f"{p}/softmax", axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{p}/context")], f"{p}/context_t",
                       perm=[0, 2, 1, 3])
        merged = g.op("Reshape", [context, "to_model"], f"{p}/merge")
        attn = g.op("MatMul", [merged, g.weight(f"{p}.proj.w", [d_model, d_model])], f"{p}/proj")
        attn = g.op("Add", [attn, g.weight(f"{p}.proj.b", [d_model])], f"{p}/proj_bias")
        x = g.op("Add", [x, attn], f"{p}/residual1")
        h = norm(x, f"{p}/ln2")
        up = g.op("MatMul", [h, g.weight(f"{p}.up.w", [d_model, ffn])], f"{p}/up")
        up = g.op("Add", [up, g.weight(f"{p}.up.b", [ffn])], f"{p}/up_bias")
        erf = g.op("Erf", [g.op("Div", [up, "sqrt2"], f"{p}/gelu_div")], f"{p}/gelu_erf")
        gelu = g.op("Mul", [up, g.op("Add", [erf, "one"], f"{p}/gelu_add")], f"{p}/gelu_mul")
        gelu = g.op("Mul", [gelu, "half"], f"{p}/gelu")
        down = g.op("MatMul", [gelu, g.weight(f"{p}.down.w", [ffn, d_model])], f"{p}/down")
        down = g.op("Add", [down, g.weight(f"{p}.down.b", [d_model])], f"{p}/down_bias")
        x = g.op("Add", [x, down], f"{p}/residual2")
    h = norm(x, "ln_f")
    g.op("MatMul", [h, g.weight("lm_head.w", [d_model, vocab])], "logits")
    return g.model(f"decoder_lm_{layers}x{d_model}",
                   [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq])],
                   [helper.make_tensor_value_info("logits", F, [1, seq, vocab])])


def _attention(g: _Graph, x: str, name: str, batch: int, seq: int, d_model: int, heads: int) -> str:
    """Multi-head self-attention over ``batch`` independent sequences of ``seq`` tokens, x of shape
    [batch, seq, d_model]: QKV projection, per-head Q x K^T, scale, Softmax, x V, output projection."""
    head_dim = d_model // heads
    to_heads = g.const(f"{name}.to_heads", np.array([batch, seq, heads, head_dim], np.int64))
    to_model = g.const(f"{name}.to_model", np.array([batch, seq, d_model], np.int64))
    scale = g.const(f"{name}.scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    split = g.const(f"{name}.split", np.array([d_model] * 3, np.int64))
    qkv = g.op("MatMul", [x, g.weight(f"{name}.qkv.w", [d_model, 3 * d_model])], f"{name}/qkv")
    g.op("Split", [qkv, split], f"{name}/split", n_out=3, axis=-1)
    q, k, v = (g.op("Transpose", [g.op("Reshape", [f"{name}/split_{j}", to_heads], f"{name}/{t}_heads")],
                    f"{name}/{t}_t", perm=perm)
               for j, (t, perm) in enumerate((("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3]))))
    scores = g.op("Mul", [g.op("MatMul", [q, k], f"{name}/scores"), scale], f"{name}/scaled")
    probs = g.op("Softmax", [scores], f"{name}/softmax", axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{name}/context")], f"{name}/context_t",
                   perm=[0, 2, 1, 3])
    merged = g.op("Reshape", [context, to_model], f"{name}/merge")
    return g.op("MatMul", [merged, g.weight(f"{name}.proj.w", [d_model, d_model])], f"{name}/proj")


def video_transformer(frames: int = 8, size: int = 224, patch: int = 16, d_model: int = 768, heads: int = 12,
                      layers: int = 1, classes: int = 400) -> onnx.ModelProto:
    """A TimesFormer-style video transformer with divided space-time attention.

    A Conv3d patch embedding (kernel and stride 1 x patch x patch) turns ``frames`` RGB frames into
    frames x (size / patch)^2 tokens. Per layer: temporal attention (each spatial position attends
    over the frames), spatial attention (each frame attends over its patches), each with a residual
    Add and a LayerNormalization before it, then a GELU MLP; mean-pooled tokens feed a classifier.
    """
    side = size // patch
    tokens = side * side
    g = _Graph()
    g.const("to_tokens", np.array([1, d_model, frames * tokens], np.int64))
    g.const("by_time", np.array([frames, tokens, d_model], np.int64))
    g.const("by_space", np.array([1, frames, tokens, d_model], np.int64))
    g.const("flat", np.array([1, frames * tokens, d_model], np.int64))
    embed = g.op("Conv", ["video", g.weight("patch.w", [d_model, 3, 1, patch, patch])], "patch_embed",
                 kernel_shape=[1, patch, patch], strides=[1, patch, patch])
    x = g.op("Transpose", [g.op("Reshape", [embed, "to_tokens"], "tokens")], "tokens_t", perm=[0, 2, 1])

    def norm(t: str, name: str) -> str:
        gamma, beta = g.weight(f"{name}.g", [d_model]), g.weight(f"{name}.b", [d_model])
        return g.op("LayerNormalization", [t, gamma, beta], name, axis=-1)

    for i in range(layers):
        p = f"layer{i}"
        # temporal: [frames, tokens, d] -> [tokens, frames, d]
        h = g.op("Reshape", [norm(x, f"{p}/ln_t"), "by_time"], f"{p}/time_view")
        h = g.op("Transpose", [h], f"{p}/time_t", perm=[1, 0, 2])
        h = _attention(g, h, f"{p}/time_attn", tokens, frames, d_model, heads)
        h = g.op("Transpose", [h], f"{p}/time_back", perm=[1, 0, 2])
        x = g.op("Add", [x, g.op("Reshape", [h, "flat"], f"{p}/time_flat")], f"{p}/time_residual")
        # spatial: [frames, tokens, d]
        h = g.op("Reshape", [norm(x, f"{p}/ln_s"), "by_time"], f"{p}/space_view")
        h = _attention(g, h, f"{p}/space_attn", frames, tokens, d_model, heads)
        x = g.op("Add", [x, g.op("Reshape", [h, "flat"], f"{p}/space_flat")], f"{p}/space_residual")
        h = norm(x, f"{p}/ln_mlp")
        up = g.op("MatMul", [h, g.weight(f"{p}.up.w", [d_model, 4 * d_model])], f"{p}/up")
        gelu = g.op("Gelu", [up], f"{p}/gelu") if OPSET >= 20 else g.op("Relu", [up], f"{p}/act")
        x = g.op("Add", [x, g.op("MatMul", [gelu, g.weight(f"{p}.down.w", [4 * d_model, d_model])],
                                 f"{p}/down")], f"{p}/mlp_residual")
    pooled = g.op("ReduceMean", [norm(x, "ln_f")], "pool", axes=[1], keepdims=0)
    g.op("Gemm", [pooled, g.weight("head.w", [d_model, classes])], "head")
    return g.model(f"video_transformer_{frames}x{size}",
                   [helper.make_tensor_value_info("video", F, [1, 3, frames, size, size])],
                   [helper.make_tensor_value_info("head", F, [1, classes])])


def swiglu_ffn(tokens: int = 4096, d_model: int = 4096, ffn: int = 14336) -> onnx.ModelProto:
    """A Llama-style SwiGLU feed-forward block: down(silu(x W_gate) * (x W_up)) on ``tokens`` tokens."""
    g = _Graph()
    gate = g.op("MatMul", ["x", g.weight("gate.w", [d_model, ffn])], "gate")
    up = g.op("MatMul", ["x", g.weight("up.w", [d_model, ffn])], "up")
    silu = g.op("Mul", [gate, g.op("Sigmoid", [gate], "sigmoid")], "silu")
    g.op("MatMul", [g.op("Mul", [silu, up], "glu"), g.weight("down.w", [ffn, d_model])], "down")
    return g.model(f"swiglu_{tokens}x{d_model}x{ffn}",
                   [helper.make_tensor_value_info("x", F, [1, tokens, d_model])],
                   [helper.make_tensor_value_info("down", F, [1, tokens, d_model])])


def super_resolution(out_width: int = 3840, out_height: int = 2160, scale: int = 2, features: int = 56,
                     shrink: int = 12, mapping: int = 4, channels: int = 3) -> onnx.ModelProto:
    """An FSRCNN/ESPCN-like super-resolution net producing an ``out_width`` x ``out_height`` image.

    On the low-resolution input: 5x5 feature extraction, 1x1 shrink, ``mapping`` 3x3 convs, 1x1
    expand (each with PReLU), a 3x3 conv to ``channels * scale^2`` and DepthToSpace (sub-pixel
    upscaling) to the full resolution.
    """
    if out_width % scale or out_height % scale:
        raise ValueError(f"output {out_width}x{out_height} is not a multiple of the scale {scale}")
    g = _Graph()

    def conv(x: str, name: str, cin: int, cout: int, k: int, prelu: bool = True) -> str:
        y = g.op("Conv", [x, g.weight(f"{name}.w", [cout, cin, k, k]), g.weight(f"{name}.b", [cout])], name,
                 kernel_shape=[k, k], pads=[k // 2] * 4)
        return g.op("PRelu", [y, g.weight(f"{name}.slope", [cout, 1, 1])], f"{name}/prelu") if prelu else y

    x = conv("image", "extract", channels, features, 5)
    x = conv(x, "shrink", features, shrink, 1)
    for i in range(mapping):
        x = conv(x, f"map{i}", shrink, shrink, 3)
    x = conv(x, "expand", shrink, features, 1)
    x = conv(x, "subpixel", features, channels * scale * scale, 3, prelu=False)
    g.op("DepthToSpace", [x], "upscaled", blocksize=scale, mode="CRD")
    low_res = [1, channels, out_height // scale, out_width // scale]
    return g.model(f"sr_x{scale}_{out_width}x{out_height}",
                   [helper.make_tensor_value_info("image", F, low_res)],
                   [helper.make_tensor_value_info("upscaled", F, [1, channels, out_height, out_width])])


def parameter_count(model: onnx.ModelProto) -> int:
    """Weights (float initializers); shape and scalar constants are not parameters."""
    return sum(math.prod(t.dims) for t in model.graph.initializer if t.data_type == F and len(t.dims) >= 1
               and t.name != "causal_mask")


def save(model: onnx.ModelProto, folder: Path, name: str | None = None) -> Path:
    """Write ``model`` (weightless, so small) to ``folder``; return its path."""
    path = Path(folder) / (name or f"{model.graph.name}.onnx")
    path.write_bytes(model.SerializeToString())
    return path
