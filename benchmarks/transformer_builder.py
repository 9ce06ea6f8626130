"""A weightless decoder-only transformer built with onnx.helper, for scale benchmarks and tests.

Every weight is declared with its shape and an external-data location that does not exist, so a
1B-parameter model costs a few hundred kilobytes of protobuf, as the shared models do.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _weight(name: str, dims: list[int]) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    return tensor


def decoder_model(layers: int = 24, d_model: int = 2048, heads: int = 16, ffn: int = 8192,
                  vocab: int = 32000, seq: int = 512) -> onnx.ModelProto:
    """Pre-norm decoder: embedding, ``layers`` x (attention + GELU MLP), final norm, LM head."""
    head_dim = d_model // heads
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = [
        _weight("embed", [vocab, d_model]), _weight("lm_head", [d_model, vocab]),
        numpy_helper.from_array(np.array([1, seq, heads, head_dim], np.int64), "split_heads"),
        numpy_helper.from_array(np.array([1, seq, d_model], np.int64), "merge_heads"),
        numpy_helper.from_array(np.array(1.0 / np.sqrt(head_dim), np.float32), "scale"),
        numpy_helper.from_array(np.array(1.4142135, np.float32), "sqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]
    nodes.append(helper.make_node("Gather", ["embed", "ids"], ["h0"], name="embed"))
    x = "h0"
    for i in range(layers):
        p = f"l{i}"

        def node(op, ins, out, p=p, **attrs):
            nodes.append(helper.make_node(op, ins, [f"{p}_{out}"], name=f"{p}/{out}", **attrs))
            return f"{p}_{out}"

        norms = [(name, [d_model]) for name in ("ln1_g", "ln1_b", "ln2_g", "ln2_b")]
        square = [(name, [d_model, d_model]) for name in ("wq", "wk", "wv", "wo")]
        for w, dims in (*norms, *square, ("w_up", [d_model, ffn]), ("w_down", [ffn, d_model])):
            inits.append(_weight(f"{p}_{w}", dims))
        n1 = node("LayerNormalization", [x, f"{p}_ln1_g", f"{p}_ln1_b"], "ln1", axis=-1)
        heads_of = {}
        for name in ("q", "k", "v"):
            proj = node("MatMul", [n1, f"{p}_w{name}"], name)
            split = node("Reshape", [proj, "split_heads"], f"{name}_split")
            perm = [0, 2, 3, 1] if name == "k" else [0, 2, 1, 3]
            heads_of[name] = node("Transpose", [split], f"{name}_heads", perm=perm)
        scores = node("MatMul", [heads_of["q"], heads_of["k"]], "scores")
        scaled = node("Mul", [scores, "scale"], "scaled")
        probs = node("Softmax", [scaled], "probs", axis=-1)
        context = node("MatMul", [probs, heads_of["v"]], "context")
        context_t = node("Transpose", [context], "context_t", perm=[0, 2, 1, 3])
        merged = node("Reshape", [context_t, "merge_heads"], "merged")
        attn = node("MatMul", [merged, f"{p}_wo"], "attn")
        h1 = node("Add", [x, attn], "res1")
        n2 = node("LayerNormalization", [h1, f"{p}_ln2_g", f"{p}_ln2_b"], "ln2", axis=-1)
        up = node("MatMul", [n2, f"{p}_w_up"], "up")
        erf = node("Erf", [node("Div", [up, "sqrt2"], "gelu_div")], "gelu_erf")
        gelu = node("Mul", [node("Mul", [up, node("Add", [erf, "one"], "gelu_add")], "gelu_mul"), "half"],
                    "gelu")
        down = node("MatMul", [gelu, f"{p}_w_down"], "down")
        x = node("Add", [h1, down], "res2")
    inits += [_weight("lnf_g", [d_model]), _weight("lnf_b", [d_model])]
    nodes.append(helper.make_node("LayerNormalization", [x, "lnf_g", "lnf_b"], ["final"], name="final_norm",
                                  axis=-1))
    nodes.append(helper.make_node("MatMul", ["final", "lm_head"], ["logits"], name="lm_head"))
    graph = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, seq, vocab])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def parameter_count(model: onnx.ModelProto) -> int:
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if len(t.dims) >= 1 and t.dims[0] > 8)
