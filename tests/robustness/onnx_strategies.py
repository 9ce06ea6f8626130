"""Hypothesis strategies that build hostile ONNX inputs.

- ``mutated_bytes``: a real serialized model with bytes flipped, inserted, deleted or cut off.
- ``random_models``: well-formed protobufs of random graphs (Conv, MatMul, Add, Softmax, Reshape,
  Concat, Transpose, MaxPool, a custom-domain op, ...) with random shapes and attributes, mostly
  valid and sometimes not (negative pads, zero channels, mismatched shapes, bad axes).
- ``mutated_models``: a real model with structural edits (attribute values and types, initializer
  dims and types, inputs rewired, op types swapped, opsets changed).

Every builder tracks shapes with ONNX's own shape inference so that later ops are usually
compatible with earlier ones and many cases get all the way through estimation.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper, shape_inference

F = TensorProto.FLOAT
CUSTOM_DOMAIN = "custom.ops"

# ---------------------------------------------------------------------------------------------
# seeds


def small_seed_models() -> dict[str, bytes]:
    """Serialized small models built with onnx.helper (one per feature nbperf handles)."""
    models: dict[str, onnx.ModelProto] = {}
    conv = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc", "fb"], ["y"], name="fc", transB=1),
        helper.make_node("Softmax", ["y"], ["prob"], name="softmax", axis=-1),
    ]
    models["conv_net"] = _model(conv, [("x", [1, 3, 8, 8])], ["prob"], [
        numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "w"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b"),
        external("fc", [10, 64]),
        numpy_helper.from_array(np.zeros(10, np.float32), "fb"),
    ])
    attn = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q"),
        helper.make_node("Shape", ["x"], ["sh"], name="shape"),
        helper.make_node("Gather", ["sh", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "tail"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["q", "target"], ["qh"], name="reshape"),
        helper.make_node("Transpose", ["qh"], ["qt"], name="transpose", perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["qh"], ["kt"], name="transpose_k", perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["qt", "kt"], ["s"], name="scores"),
        helper.make_node("Softmax", ["s"], ["a"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["a", "qt"], ["o"], name="ctx"),
        helper.make_node("ReduceMean", ["o"], ["y"], name="mean", axes=[-1], keepdims=1),
    ]
    models["attention"] = _model(attn, [("x", [2, 8, 16])], ["y"], [
        external("wq", [16, 16]),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "zero1"),
        numpy_helper.from_array(np.array([8, 4, 4], np.int64), "tail"),
    ])
    custom = [
        helper.make_node("Magic", ["x"], ["m"], name="magic", domain=CUSTOM_DOMAIN),
        helper.make_node("Add", ["m", "x"], ["y"], name="add"),
    ]
    models["custom_op"] = _model(custom, [("x", [1, 4, 6, 6])], ["y"], [], value_info=[("m", [1, 4, 6, 6])])
    return {name: m.SerializeToString() for name, m in models.items()}


def seed_models(examples: Path) -> dict[str, bytes]:
    """The shipped example models plus the small helper-built ones."""
    seeds = {p.name: p.read_bytes() for p in sorted(examples.glob("*.onnx"))}
    seeds.update(small_seed_models())
    return seeds


def external(name: str, dims: list[int], elem: int = F, location: str = "weights.bin") -> TensorProto:
    """A weightless initializer: dims only, data in an external file that does not exist."""
    t = TensorProto(name=name, data_type=elem, dims=dims, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "0")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def _model(nodes: list[onnx.NodeProto], inputs: list[tuple[str, list[int | str] | None]], outputs: list[str],
           inits: list[TensorProto], value_info: list[tuple[str, list[int]]] = (),  # type: ignore[assignment]
           opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "fuzz",
        [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
        [helper.make_tensor_value_info(o, F, None) for o in outputs],
        inits,
        value_info=[helper.make_tensor_value_info(n, F, s) for n, s in value_info],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                   helper.make_opsetid(CUSTOM_DOMAIN, 1)])


# ---------------------------------------------------------------------------------------------
# mutated bytes


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: dict[str, bytes]) -> bytes:
    """A seed model's bytes with 1-4 random edits: bit flip, overwrite, insert, delete, truncate."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate"]))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        else:
            del data[pos:]
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# random graphs


@dataclass
class _Graph:
    opset: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[TensorProto] = field(default_factory=list)
    inputs: list[onnx.ValueInfoProto] = field(default_factory=list)
    value_info: list[onnx.ValueInfoProto] = field(default_factory=list)
    shapes: dict[str, list[int] | None] = field(default_factory=dict)  # activations only
    counter: int = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, array: np.ndarray, prefix: str = "c") -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, dims: list[int], inline: bool) -> str:
        name = self.name("w")
        if inline and math.prod(dims) <= 4096 and all(d >= 0 for d in dims):
            self.inits.append(numpy_helper.from_array(np.full(dims, 0.01, np.float32), name))
        else:
            self.inits.append(external(name, dims))
        return name

    def model(self, outputs: list[onnx.ValueInfoProto], custom_opset: bool = True) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "random", self.inputs, outputs, self.inits,
                                  value_info=self.value_info)
        opsets = [helper.make_opsetid("", self.opset)]
        if custom_opset:
            opsets.append(helper.make_opsetid(CUSTOM_DOMAIN, 1))
        return helper.make_model(graph, opset_imports=opsets)

    def node(self, op: str, inputs: list[str], n_outputs: int = 1, **attrs: object) -> onnx.NodeProto:
        """A named node (empty list attributes are left out: ONNX cannot type them)."""
        kept = {k: v for k, v in attrs.items() if not (isinstance(v, list) and not v)}
        outputs = [self.name("t") for _ in range(n_outputs)]
        return helper.make_node(op, inputs, outputs, name=self.name("n"), **kept)

    def add(self, node: onnx.NodeProto) -> None:
        """Append ``node`` and learn its output shapes from ONNX shape inference (None if unknown)."""
        self.nodes.append(node)
        shapes = _infer(self, node)
        for out in node.output:
            if out:
                self.shapes[out] = shapes.get(out)


def _infer(g: _Graph, node: onnx.NodeProto) -> dict[str, list[int] | None]:
    # ONNX's C++ shape inference aborts the process (a failed std::clamp assertion in Slice) on
    # negative dims: only static, non-negative inputs are worth inferring from anyway. The whole
    # graph is re-inferred, so a graph input's negative dim is hidden too (as a named dim): an
    # earlier Slice of it aborted the generator once (found with NBPERF_FUZZ_RANDOM=1).
    if any(g.shapes.get(i, [1]) is None for i in node.input if i in g.shapes):
        return {}
    try:
        model = g.model([helper.make_tensor_value_info(o, F, None) for o in node.output if o])
        for vi in model.graph.input:
            for d in vi.type.tensor_type.shape.dim:
                if d.HasField("dim_value") and d.dim_value < 0:
                    d.dim_param = "negative"
        inferred = shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        return {}
    found: dict[str, list[int] | None] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        tt = vi.type.tensor_type
        if vi.name in node.output and tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            found[vi.name] = dims if all(d >= 0 for d in dims) else None
    return found


def _rare(draw: st.DrawFn, one_in: int = 8) -> bool:
    """True about once in ``one_in`` draws: switches a generator into its invalid branch."""
    return draw(st.integers(0, one_in - 1)) == 0


def _dims(draw: st.DrawFn, rank: int) -> list[int | str]:
    """Small dims; rarely zero, negative, named (dynamic) or large ones, or an absurd shape.

    Large dims (1e5, 2^20) make large but legal tensors; two of them make tensors over 2^36
    elements, which the frontend refuses. (Inputs of 1e9 - 2^36 elements once made the strategy
    search's tiling loop run for minutes, fixed in d6dfc31.)
    """
    if rank and _rare(draw, 40):
        return [1 << 30] * rank if rank > 1 else [1 << 50]
    dims: list[int | str] = [draw(st.integers(1, 12)) for _ in range(rank)]
    for _ in range(draw(st.integers(0, 2)) if rank and _rare(draw, 4) else 0):
        dims[draw(st.integers(0, rank - 1))] = draw(st.sampled_from([0, -1, "batch", 100_000, 1 << 20]))
    return dims


def _pick(draw: st.DrawFn, g: _Graph, rank: int | None = None) -> tuple[str, list[int] | None]:
    names = sorted(g.shapes)
    if rank is not None and not _rare(draw):
        fitting = [n for n in names if g.shapes[n] is not None and len(g.shapes[n]) == rank]  # type: ignore[arg-type]
        names = fitting or names
    name = draw(st.sampled_from(names))
    return name, g.shapes[name]


def _ints(draw: st.DrawFn, n: int, low: int, high: int, bad: tuple[int, ...] = (-1, 0)) -> list[int]:
    if _rare(draw):
        return draw(st.lists(st.sampled_from([*bad, low, high]), min_size=max(0, n - 1), max_size=n + 1))
    return [draw(st.integers(low, high))] * n


def _conv(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g, 4)
    rank = len(shape) if shape else 4
    spatial = max(1, rank - 2)
    c = shape[1] if shape and len(shape) > 1 else draw(st.integers(1, 4))
    group = 1
    if c > 1 and draw(st.booleans()):
        group = c  # depthwise
    if _rare(draw):
        group = draw(st.sampled_from([0, -1, 2, 3]))
    out_ch = draw(st.integers(1, 16)) if not _rare(draw) else 0
    if group > 0 and out_ch % group:
        out_ch = group * max(1, out_ch // group)
    k = draw(st.integers(1, 3))
    w_in = c // group if group > 0 and c % group == 0 else c
    if _rare(draw):
        w_in = draw(st.integers(0, 5))
    window = [k] * spatial
    dims = [out_ch, w_in, *window] if op == "Conv" else [w_in * max(group, 1), out_ch, *window]
    w = g.weight(dims, draw(st.booleans()))
    inputs = [x, w]
    if draw(st.booleans()):
        inputs.append(g.weight([out_ch if op == "Conv" else out_ch * max(group, 1)], True))
    attrs: dict[str, object] = {"kernel_shape": window if not _rare(draw) else _ints(draw, spatial, 1, 4)}
    if draw(st.booleans()):
        attrs["pads"] = _ints(draw, 2 * spatial, 0, k // 2 + 1, bad=(-1, -2))
    if draw(st.booleans()):
        attrs["strides"] = _ints(draw, spatial, 1, 2)
    if draw(st.booleans()):
        attrs["dilations"] = _ints(draw, spatial, 1, 2)
    if group != 1:
        attrs["group"] = group
    if _rare(draw):
        attrs.pop("pads", None)
        attrs["auto_pad"] = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "BOGUS"]))
    if op == "ConvTranspose" and draw(st.booleans()):
        attrs["output_padding"] = _ints(draw, spatial, 0, 1)
    g.add(g.node(op, inputs, **attrs))


def _pool(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g, 4)
    spatial = max(1, len(shape) - 2) if shape else 2
    attrs: dict[str, object] = {}
    if op in ("MaxPool", "AveragePool"):
        k = draw(st.integers(1, 3))
        attrs["kernel_shape"] = [k] * spatial if not _rare(draw) else _ints(draw, spatial, 1, 3)
        if draw(st.booleans()):
            attrs["strides"] = _ints(draw, spatial, 1, 2)
        if draw(st.booleans()):
            attrs["pads"] = _ints(draw, 2 * spatial, 0, max(0, k - 1), bad=(-1, 5))
        if draw(st.booleans()):
            attrs["ceil_mode"] = 1
    g.add(g.node(op, [x], **attrs))


def _matmul(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g, 2 if op == "Gemm" else None)
    k = shape[-1] if shape else draw(st.integers(1, 8))
    if _rare(draw):
        k = draw(st.integers(0, 9))
    n = draw(st.integers(1, 16))
    if draw(st.booleans()) or op == "Gemm":
        trans_b = op == "Gemm" and draw(st.booleans())
        other = g.weight([n, k] if trans_b else [k, n], draw(st.booleans()))
        attrs = {"transB": 1} if trans_b else {}
        inputs = [x, other]
        if op == "Gemm" and draw(st.booleans()):
            inputs.append(g.weight([n], True))
        g.add(g.node(op, inputs, **attrs))
    else:
        other, _ = _pick(draw, g)
        g.add(helper.make_node(op, [x, other], [g.name("t")], name=g.name("n")))


def _binary(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g)
    mode = draw(st.sampled_from(["same", "scalar", "channel", "any"]))
    if mode == "same":
        other = x
    elif mode == "scalar":
        other = g.const(np.array(draw(st.sampled_from([0.5, 2.0, 0.0, -1.0])), np.float32))
    elif mode == "channel" and shape:
        other = g.weight([shape[-1]], True)
    else:
        other, _ = _pick(draw, g)
    inputs = [x, other] if draw(st.booleans()) else [other, x]
    g.add(helper.make_node(op, inputs, [g.name("t")], name=g.name("n")))


def _unary(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g)
    attrs: dict[str, object] = {}
    rank = len(shape) if shape is not None else 4
    if op in ("Softmax", "LogSoftmax", "Flatten", "LayerNormalization"):
        attrs["axis"] = draw(st.integers(-rank - 1, rank))
    elif op == "LeakyRelu":
        attrs["alpha"] = draw(st.sampled_from([0.01, -1.0, float("nan")]))
    elif op == "Cast":
        attrs["to"] = draw(st.sampled_from([F, TensorProto.FLOAT16, TensorProto.INT8, TensorProto.INT64,
                                            TensorProto.BOOL, TensorProto.STRING, TensorProto.UINT4, 0, 999]))
    elif op == "DepthToSpace":
        attrs["blocksize"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            attrs["mode"] = draw(st.sampled_from(["DCR", "CRD", "XYZ"]))
    elif op == "Transpose":
        perm = draw(st.permutations(list(range(rank))))
        if _rare(draw):
            perm = draw(st.lists(st.integers(-2, rank + 1), max_size=rank + 1))
        if perm:
            attrs["perm"] = list(perm)
    inputs = [x]
    if op == "LayerNormalization":
        axis = attrs["axis"]
        assert isinstance(axis, int)
        norm = shape[axis:] if shape is not None and -rank <= axis < rank else [1]
        inputs.append(g.weight(list(norm) or [1], True))
    g.add(g.node(op, inputs, **attrs))


def _reshape(draw: st.DrawFn, g: _Graph) -> None:
    x, shape = _pick(draw, g)
    total = math.prod(shape) if shape else 1
    choice = draw(st.sampled_from(["flat", "keep_batch", "split", "random"]))
    if choice == "flat":
        target = [-1]
    elif choice == "keep_batch":
        target = [0, -1]
    elif choice == "split" and total % 2 == 0:
        target = [2, -1]
    else:
        target = draw(st.lists(st.integers(-2, 12), min_size=1, max_size=5))
    g.add(g.node("Reshape", [x, g.const(np.array(target, np.int64))]))


def _concat(draw: st.DrawFn, g: _Graph) -> None:
    a, shape = _pick(draw, g)
    b = a if draw(st.booleans()) else _pick(draw, g)[0]
    rank = len(shape) if shape is not None else 4
    valid = rank > 0 and not _rare(draw)
    axis = draw(st.integers(-rank, rank - 1)) if valid else draw(st.sampled_from([rank, -rank - 1, 99]))
    g.add(helper.make_node("Concat", [a, b], [g.name("t")], name=g.name("n"), axis=axis))


def _slice_split(draw: st.DrawFn, g: _Graph, op: str) -> None:
    x, shape = _pick(draw, g)
    rank = len(shape) if shape is not None else 4
    axis = draw(st.integers(-rank, rank - 1)) if rank and not _rare(draw) else draw(st.integers(-6, 6))
    if op == "Slice":
        starts = g.const(np.array([draw(st.integers(-3, 3))], np.int64))
        ends = g.const(np.array([draw(st.sampled_from([-1, 1, 2, 1 << 40]))], np.int64))
        axes = g.const(np.array([axis], np.int64))
        g.add(helper.make_node("Slice", [x, starts, ends, axes], [g.name("t")], name=g.name("n")))
    else:
        outs = [g.name("t"), g.name("t")]
        g.add(helper.make_node("Split", [x], outs, name=g.name("n"), axis=axis,
                               **({"num_outputs": 2} if g.opset >= 18 else {})))


def _reduce(draw: st.DrawFn, g: _Graph) -> None:
    x, shape = _pick(draw, g)
    rank = len(shape) if shape is not None else 4
    axes = [draw(st.integers(-rank - 1, rank))]
    keep = draw(st.integers(0, 1))
    if g.opset >= 18:
        node = helper.make_node("ReduceMean", [x, g.const(np.array(axes, np.int64))], [g.name("t")],
                                name=g.name("n"), keepdims=keep)
    else:
        node = helper.make_node("ReduceMean", [x], [g.name("t")], name=g.name("n"), axes=axes, keepdims=keep)
    g.add(node)


def _pad(draw: st.DrawFn, g: _Graph) -> None:
    x, shape = _pick(draw, g)
    rank = len(shape) if shape is not None else 4
    pads = draw(st.lists(st.integers(-2, 2), min_size=2 * rank, max_size=2 * rank))
    if _rare(draw):
        pads = pads[:-1]
    g.add(helper.make_node("Pad", [x, g.const(np.array(pads, np.int64))], [g.name("t")], name=g.name("n")))


def _custom(draw: st.DrawFn, g: _Graph) -> None:
    x, shape = _pick(draw, g)
    out = g.name("t")
    declared = draw(st.sampled_from(["same", "other", "none", "dynamic"]))
    if declared == "same" and shape is not None:
        g.value_info.append(helper.make_tensor_value_info(out, F, shape))
    elif declared == "other":
        g.value_info.append(helper.make_tensor_value_info(out, F, [draw(st.integers(1, 6)), 3]))
    elif declared == "dynamic":
        g.value_info.append(helper.make_tensor_value_info(out, F, ["n", 3]))
    domain = CUSTOM_DOMAIN if not _rare(draw, 4) else draw(st.sampled_from(["", "com.unknown"]))
    g.add(helper.make_node(draw(st.sampled_from(["Magic", "FusedThing"])), [x], [out], name=g.name("n"),
                           domain=domain, flavour=draw(st.integers(-3, 3))))


def _gelu_or_layernorm(draw: st.DrawFn, g: _Graph, op: str) -> None:
    """The decomposed patterns lowering fuses, on random inputs."""
    x, shape = _pick(draw, g)
    if op == "gelu":
        d = g.name("t")
        e = g.name("t")
        a = g.name("t")
        m = g.name("t")
        for node in (
            helper.make_node("Div", [x, g.const(np.array(1.4142135, np.float32))], [d], name=g.name("n")),
            helper.make_node("Erf", [d], [e], name=g.name("n")),
            helper.make_node("Add", [e, g.const(np.array(1.0, np.float32))], [a], name=g.name("n")),
            helper.make_node("Mul", [x, a], [m], name=g.name("n")),
            helper.make_node("Mul", [m, g.const(np.array(0.5, np.float32))], [g.name("t")], name=g.name("n")),
        ):
            g.add(node)
        return
    rank = len(shape) if shape is not None else 3
    axes = [-1] if not _rare(draw) else [draw(st.integers(-rank, rank))]
    mean, sub, sq, var, eps, sd = (g.name("t") for _ in range(6))

    def reduce(src: str, dst: str) -> onnx.NodeProto:
        if g.opset >= 18:
            return helper.make_node("ReduceMean", [src, g.const(np.array(axes, np.int64))], [dst],
                                    name=g.name("n"))
        return helper.make_node("ReduceMean", [src], [dst], name=g.name("n"), axes=axes)

    for node in (
        reduce(x, mean),
        helper.make_node("Sub", [x, mean], [sub], name=g.name("n")),
        helper.make_node("Pow", [sub, g.const(np.array(2.0, np.float32))], [sq], name=g.name("n")),
        reduce(sq, var),
        helper.make_node("Add", [var, g.const(np.array(1e-5, np.float32))], [eps], name=g.name("n")),
        helper.make_node("Sqrt", [eps], [sd], name=g.name("n")),
        helper.make_node("Div", [sub, sd], [g.name("t")], name=g.name("n")),
    ):
        g.add(node)


def _shape_chain(draw: st.DrawFn, g: _Graph) -> None:
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape: a dynamic reshape nbperf must fold."""
    x, shape = _pick(draw, g)
    rank = len(shape) if shape is not None else 2
    sh, n, n1, target = g.name("t"), g.name("t"), g.name("t"), g.name("t")
    idx = draw(st.integers(-rank, rank - 1)) if rank and not _rare(draw) else draw(st.integers(-5, 5))
    g.add(helper.make_node("Shape", [x], [sh], name=g.name("n")))
    g.add(helper.make_node("Gather", [sh, g.const(np.array(idx, np.int64))], [n], name=g.name("n"), axis=0))
    g.add(helper.make_node("Unsqueeze", [n, g.const(np.array([0], np.int64))], [n1], name=g.name("n")))
    g.add(helper.make_node("Concat", [n1, g.const(np.array([-1], np.int64))], [target], name=g.name("n"),
                           axis=0))
    g.add(helper.make_node("Reshape", [x, target], [g.name("t")], name=g.name("n")))


OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Mul", "Sub", "Relu", "Sigmoid", "Tanh", "Softmax",
       "LeakyRelu", "Reshape", "Concat", "Transpose", "MaxPool", "AveragePool", "GlobalAveragePool",
       "Flatten", "Slice", "Split", "ReduceMean", "Pad", "DepthToSpace", "Cast", "LayerNormalization",
       "Identity", "custom", "gelu", "layernorm", "shape_chain")


def _add_op(draw: st.DrawFn, g: _Graph, op: str) -> None:
    if op in ("Conv", "ConvTranspose"):
        _conv(draw, g, op)
    elif op in ("MaxPool", "AveragePool", "GlobalAveragePool"):
        _pool(draw, g, op)
    elif op in ("MatMul", "Gemm"):
        _matmul(draw, g, op)
    elif op in ("Add", "Mul", "Sub"):
        _binary(draw, g, op)
    elif op == "Reshape":
        _reshape(draw, g)
    elif op == "Concat":
        _concat(draw, g)
    elif op in ("Slice", "Split"):
        _slice_split(draw, g, op)
    elif op == "ReduceMean":
        _reduce(draw, g)
    elif op == "Pad":
        _pad(draw, g)
    elif op == "custom":
        _custom(draw, g)
    elif op in ("gelu", "layernorm"):
        _gelu_or_layernorm(draw, g, op)
    elif op == "shape_chain":
        _shape_chain(draw, g)
    else:
        _unary(draw, g, op)


@st.composite
def random_models(draw: st.DrawFn) -> onnx.ModelProto:
    """A random graph of 1-6 ops (or op patterns) on 1-2 random inputs."""
    g = _Graph(opset=draw(st.sampled_from([13, 17, 18, 20])))
    for _ in range(draw(st.integers(1, 2))):
        rank = draw(st.sampled_from([4, 4, 4, 3, 2, 1, 5, 0]))
        dims = _dims(draw, rank)
        name = g.name("in")
        g.inputs.append(helper.make_tensor_value_info(name, F, dims))
        static = all(isinstance(d, int) and d > 0 for d in dims)
        g.shapes[name] = [int(d) for d in dims] if static else None  # type: ignore[arg-type]
    for _ in range(draw(st.integers(1, 6))):
        _add_op(draw, g, draw(st.sampled_from(OPS)))
    produced = [o for n in g.nodes for o in n.output if o]
    outs = [produced[-1]]
    if len(produced) > 1 and draw(st.booleans()):
        outs.insert(0, draw(st.sampled_from(produced[:-1])))
    outputs = []
    for o in outs:
        declared = draw(st.sampled_from(["none", "none", "inferred", "wrong"]))
        shape = g.shapes.get(o) if declared == "inferred" else [3, 3] if declared == "wrong" else None
        outputs.append(helper.make_tensor_value_info(o, F, shape))
    if _rare(draw, 6):
        draw(st.randoms(use_true_random=False)).shuffle(g.nodes)  # files may list nodes in any order
    return g.model(outputs, custom_opset=not _rare(draw, 6))


# ---------------------------------------------------------------------------------------------
# structural mutations of real models


_OP_SWAPS = ("Relu", "Conv", "MatMul", "Add", "Softmax", "Reshape", "Concat", "Transpose", "MaxPool",
             "Gemm", "Identity", "Split", "If", "Loop", "NonZero", "Magic", "DequantizeLinear", "Resize")


def _random_attr_value(draw: st.DrawFn, a: onnx.AttributeProto) -> None:
    big = st.sampled_from([-(1 << 40), -2, -1, 0, 1, 2, 3, 7, 1 << 31, 1 << 62])
    kind = draw(st.sampled_from(["value", "type", "clear"]))
    if kind == "value":
        if a.type == onnx.AttributeProto.INT:
            a.i = draw(big)
        elif a.type == onnx.AttributeProto.INTS:
            a.ClearField("ints")
            a.ints.extend(draw(st.lists(big, max_size=6)))
        elif a.type == onnx.AttributeProto.FLOAT:
            a.f = draw(st.floats(allow_nan=True, allow_infinity=True, width=32))
        elif a.type == onnx.AttributeProto.STRING:
            a.s = draw(st.binary(max_size=8))
        else:
            a.type = draw(st.integers(0, 14))
    elif kind == "type":
        a.type = draw(st.integers(0, 14))
    else:
        a.ClearField("ints")
        a.ClearField("floats")
        a.i = 0


@st.composite
def mutated_models(draw: st.DrawFn, seeds: dict[str, bytes]) -> bytes:
    """A seed model with 1-3 structural edits, re-serialized."""
    name = draw(st.sampled_from(sorted(seeds)))
    model = onnx.ModelProto()
    model.ParseFromString(seeds[name])
    g = model.graph
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["attr", "attr", "init_dims", "init_type", "input_dims", "rewire",
                                     "op_type", "drop_node", "dup_node", "opset", "output", "domain"]))
        nodes = list(g.node)
        if kind in ("attr", "rewire", "op_type", "drop_node", "dup_node", "domain") and not nodes:
            continue
        node = g.node[draw(st.integers(0, len(nodes) - 1))] if nodes else None
        if kind == "attr" and node is not None:
            if node.attribute:
                _random_attr_value(draw, node.attribute[draw(st.integers(0, len(node.attribute) - 1))])
            else:
                value = st.one_of(st.integers(-3, 5), st.lists(st.integers(-2, 5), min_size=1, max_size=4))
                node.attribute.append(helper.make_attribute(
                    draw(st.sampled_from(["axis", "group", "perm", "kernel_shape", "pads"])), draw(value)))
        elif kind == "init_dims" and len(g.initializer):
            t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            t.ClearField("dims")
            t.dims.extend(draw(st.lists(st.sampled_from([0, 1, 2, 3, 64, -1, 1 << 20, 1 << 50]), max_size=5)))
        elif kind == "init_type" and len(g.initializer):
            t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
            t.data_type = draw(st.integers(0, 25))
        elif kind == "input_dims" and len(g.input):
            tt = g.input[draw(st.integers(0, len(g.input) - 1))].type.tensor_type
            if tt.HasField("shape") and len(tt.shape.dim):
                d = tt.shape.dim[draw(st.integers(0, len(tt.shape.dim) - 1))]
                # 1 << 14 is a large image, 1 << 20 a huge one; 1 << 50 makes every tensor too big.
                value = draw(st.sampled_from([0, -1, 1, 2, 1 << 14, 1 << 20, 1 << 50, "n", ""]))
                if isinstance(value, str):
                    d.dim_param = value
                else:
                    d.dim_value = value
            else:
                tt.elem_type = draw(st.integers(0, 25))
        elif kind == "rewire" and node is not None and len(node.input):
            names = [*sorted({o for n in nodes for o in n.output} | {i.name for i in g.input}), "", "ghost"]
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
        elif kind == "op_type" and node is not None:
            node.op_type = draw(st.sampled_from(_OP_SWAPS))
        elif kind == "domain" and node is not None:
            node.domain = draw(st.sampled_from(["", "ai.onnx", CUSTOM_DOMAIN, "com.microsoft", "x"]))
        elif kind == "drop_node" and node is not None:
            g.node.remove(node)
        elif kind == "dup_node" and node is not None:
            g.node.append(copy.deepcopy(node))
        elif kind == "opset":
            del model.opset_import[:]
            if draw(st.booleans()):
                model.opset_import.append(helper.make_opsetid("", draw(st.integers(1, 26))))
        elif kind == "output" and len(g.output):
            g.output[0].name = draw(st.sampled_from(
                sorted({o for n in nodes for o in n.output} | {"nothing"})))
    return model.SerializeToString()
