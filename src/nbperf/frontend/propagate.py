"""Static shape propagation with constant folding, node by node in topological order.

Every tensor gets a static shape and an element type. Tensors computed only from constants are
constants themselves (weights, shape tensors); their value is known when it was small enough to
evaluate. Nodes are not removed here: the QDQ rewrite still needs to see weight dequantisation,
and ``build.finish`` drops constant-only nodes at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, NodeProto, TensorProto, TypeProto, helper, numpy_helper

from nbperf.errors import ModelError
from nbperf.frontend.attrs import convert_attrs
from nbperf.frontend.checks import check_attributes, check_node, check_shape
from nbperf.frontend.contrib_shapes import MS_DOMAIN, as_plain_conv, contrib_shapes
from nbperf.frontend.dtypes import elem_of_array
from nbperf.frontend.folding import (
    BOUNDED_OUTPUT,
    MAX_FOLD_ELEMENTS,
    BadSparseTensor,
    Evaluator,
    constant_node_value,
    is_foldable_op,
    tensor_value,
)
from nbperf.frontend.input_shapes import format_dims, model_inputs, resolve_input_shapes
from nbperf.frontend.ir import Node
from nbperf.frontend.onnx_loader import invalid
from nbperf.frontend.shapes import InferenceFailed, InferredType, ShapeInferer, parse_type
from nbperf.frontend.toposort import implicit_inputs, topological_order

MAX_INPUT_DATA_ELEMENTS = 4096  # known values handed to shape inference (shape-like tensors)
_STANDARD_DOMAINS = ("", "ai.onnx")


@dataclass
class TInfo:
    """Mutable per-tensor facts while the graph is being built (turned into ``ir.Tensor`` at the end)."""

    elem: int
    shape: tuple[int, ...]
    const: bool = False
    value: np.ndarray | None = None
    proto: TensorProto | None = None  # inline initializer data, converted only when needed

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass
class Propagated:
    """Result of propagation: every node (topological order) and the facts about every tensor."""

    name: str
    nodes: list[Node]
    tensors: dict[str, TInfo]
    inputs: list[str]
    outputs: list[str]
    quantized: set[str] = field(default_factory=set)
    opset: int = 0  # the default domain's opset version (0: not stated)


def propagate(
    model: ModelProto, input_shapes: dict[str, tuple[int, ...]] | None, path: str
) -> Propagated:
    return _Propagator(model, path).run(input_shapes)


class _Propagator:
    def __init__(self, model: ModelProto, path: str) -> None:
        self.model = model
        self.graph = model.graph
        self.path = path
        self.opsets: dict[str, int] = {}
        for o in model.opset_import:
            self.opsets["" if o.domain == "ai.onnx" else o.domain] = int(o.version)
        self.inferer = ShapeInferer(model.opset_import, model.ir_version)
        self.evaluator = Evaluator({d: v for d, v in self.opsets.items() if d == ""} or {"": 1})
        self.tensors: dict[str, TInfo] = {}
        self._type_cache: dict[str, TypeProto] = {}
        self._data_cache: dict[str, TensorProto | None] = {}
        # Shape inference of a node reads its op, attributes, opset and input types and values,
        # never its names: the repeated blocks of a transformer infer once (by output position).
        self._inferred: dict[tuple[object, ...], tuple[InferredType | None, ...]] = {}
        self.declared: dict[str, Any] = {}
        for vi in [*self.graph.value_info, *self.graph.output]:
            if vi.type.HasField("tensor_type"):
                self.declared[vi.name] = vi.type

    # -- driver --------------------------------------------------------------------------------

    def run(self, input_shapes: dict[str, tuple[int, ...]] | None) -> Propagated:
        g = self.graph
        self._add_initializers()
        inputs = model_inputs(g, set(self.tensors))
        for name, (elem, shape) in resolve_input_shapes(inputs, input_shapes, self.path).items():
            check_shape(self.path, f"input '{name}'", shape)
            self.tensors[name] = TInfo(elem, shape)

        protos = list(g.node)
        implicit = {i: implicit_inputs(n) for i, n in enumerate(protos) if _has_subgraph(n)}
        order = topological_order(protos, set(self.tensors), self.path, implicit)

        self.needed: set[str] = {o.name for o in g.output}
        for i, n in enumerate(protos):
            self.needed.update(n.input)
            self.needed.update(implicit.get(i, ()))

        names = _unique_names(protos)
        nodes: list[Node] = []
        for i in order:
            proto = protos[i]
            outputs = self._visit(proto, names[i], implicit.get(i, []))
            nodes.append(
                Node(
                    name=names[i],
                    op_type=proto.op_type,
                    inputs=tuple(proto.input),
                    outputs=outputs,
                    attrs=convert_attrs(proto),
                    domain=proto.domain,
                )
            )
        for o in g.output:
            if o.name not in self.tensors:
                raise invalid(self.path, f"graph output '{o.name}' is not produced by any node")
        return Propagated(
            name=g.name or Path(self.path).stem,
            nodes=nodes,
            tensors=self.tensors,
            inputs=[vi.name for vi in inputs],
            outputs=[o.name for o in g.output],
            opset=self.opsets.get("", 0),
        )

    def _add_initializers(self) -> None:
        for t in self.graph.initializer:
            shape = tuple(int(d) for d in t.dims)
            if any(d < 0 for d in shape):
                raise invalid(self.path, f"initializer '{t.name}' has a negative dimension {list(shape)}")
            check_shape(self.path, f"initializer '{t.name}'", shape)
            inline = t if t.data_location != TensorProto.EXTERNAL else None
            self.tensors[t.name] = TInfo(t.data_type, shape, const=True, proto=inline)
        for s in self.graph.sparse_initializer:
            shape = tuple(int(d) for d in s.dims)
            check_shape(self.path, f"sparse initializer '{s.values.name}'", shape)
            self.tensors[s.values.name] = TInfo(s.values.data_type, shape, const=True)

    # -- one node ------------------------------------------------------------------------------

    def _visit(self, node: NodeProto, label: str, implicit: list[str]) -> tuple[str, ...]:
        """Set the TInfo of every output of ``node``; return its output names.

        An output that nobody reads and whose shape cannot be found is blanked ("").
        """
        op = node.op_type
        domain = "" if node.domain == "ai.onnx" else node.domain
        ins = [self.tensors[n] if n else None for n in node.input]
        present = [t for t in ins if t is not None]
        all_const = all(t.const for t in present)
        version = self.opsets.get(domain)
        schema = self.inferer.schema(op, domain, version) if version is not None else None
        check_attributes(node, schema, label, self.path)
        check_node(node, label, self.path, [t.shape if t else None for t in ins], standard=domain == "")

        if domain == "" and node.output[0]:
            if op == "Constant":
                self._constant(node, label)
                return tuple(node.output)
            if op == "Identity" and len(ins) == 1 and ins[0] is not None and len(node.output) == 1:
                src = ins[0]
                self.tensors[node.output[0]] = TInfo(src.elem, src.shape, src.const, src.value, src.proto)
                return tuple(node.output)
            if op in ("Shape", "Size") and ins and ins[0] is not None:
                self._set_value(node.output[0], _shape_op(node, ins[0].shape))
                return tuple(node.output)

        inferred: dict[str, InferredType] = {}
        failure: str | None = None
        inferred_node = node
        if schema is None and domain == MS_DOMAIN:
            if op == "FusedConv":  # a Conv with its activation: ONNX's Conv inference sizes it
                inferred_node, schema = as_plain_conv(node), self.inferer.schema("Conv", "", 11)
            else:
                infos = [(t.elem, t.shape) if t else None for t in ins]
                shapes = contrib_shapes(node, domain, infos)
                inferred = {o: (elem, list(dims)) for o, (elem, dims) in shapes.items()}
        if schema is not None:
            data = self._input_data(node)
            key = None if implicit else (
                op, domain, version, tuple(a.SerializeToString() for a in node.attribute),
                tuple((t.elem, t.shape) if t is not None else None for t in ins),
                tuple(_value_key(data.get(n)) for n in node.input), tuple(bool(o) for o in node.output))
            known = self._inferred.get(key) if key is not None else None
            if known is not None:
                inferred = {o: t for o, t in zip(node.output, known, strict=True) if o and t is not None}
            else:
                try:
                    types = self._input_types(inferred_node, implicit)
                    inferred = self.inferer.infer(inferred_node, schema, types, data)
                except InferenceFailed as e:
                    failure = str(e)
                if key is not None and failure is None:
                    self._inferred[key] = tuple(inferred.get(o) if o else None for o in node.output)

        foldable = all_const and is_foldable_op(node, domain, [t.value if t else None for t in ins])
        if foldable and version is not None and self._try_evaluate(node, version, ins, inferred):
            return tuple(node.output)
        if failure is not None:
            # ONNX rejected the node (wrong ranks, bad attributes...): a shape the file declares for
            # its output does not make it valid, and lowering must not see it.
            out = next(o for o in node.output if o)
            raise self._unresolved(node, label, out, domain, True, inferred, failure)

        outputs = list(node.output)
        for k, out in enumerate(outputs):
            if not out:
                continue
            resolved = self._static(inferred.get(out)) or self._static(_declared(self.declared.get(out)))
            if resolved is None and domain == "" and op == "NonMaxSuppression":
                resolved = _nms_bound(ins)
            if resolved is None:
                if k > 0 and out not in self.needed:
                    outputs[k] = ""  # an unused optional output nobody can size: drop it
                    continue
                raise self._unresolved(node, label, out, domain, schema is not None, inferred, failure)
            elem, shape = resolved
            check_shape(self.path, f"output '{out}' of node '{label}' ({op})", shape)
            if not elem:
                elem = present[0].elem if present else TensorProto.FLOAT
            if not foldable and 0 in shape:
                raise ModelError(
                    f"{self.path}: output '{out}' of node '{label}' ({op}) has a zero-sized "
                    f"dimension (shape {format_dims(shape)}); nbperf cannot estimate empty tensors"
                )
            self.tensors[out] = TInfo(elem, shape, const=foldable)
        return tuple(outputs)

    def _constant(self, node: NodeProto, label: str) -> None:
        for a in node.attribute:  # numpy would read a -1 dim as "whatever fits"
            if a.name in ("value", "sparse_value"):
                dims = a.t.dims if a.name == "value" else a.sparse_tensor.dims
                check_shape(self.path, f"the value of Constant node '{label}'", [int(d) for d in dims])
        try:
            value, proto = constant_node_value(node)
        except BadSparseTensor as e:
            raise ModelError(
                f"{self.path}: the sparse_value of Constant node '{label}' does not fit its dims ({e})"
            ) from None
        out = node.output[0]
        sparse = next((a.sparse_tensor for a in node.attribute if a.name == "sparse_value"), None)
        if value is not None:
            self._set_value(out, value)
        elif proto is not None:
            inline = proto if proto.data_location != TensorProto.EXTERNAL else None
            self.tensors[out] = TInfo(proto.data_type, tuple(int(d) for d in proto.dims), True, proto=inline)
        elif sparse is not None:
            # Too large to expand, or its data is external: like a sparse initializer, a constant
            # whose shape is known and whose value is not.
            self.tensors[out] = TInfo(sparse.values.data_type, tuple(int(d) for d in sparse.dims), True)
        else:
            raise invalid(self.path, f"Constant node '{label}' has no usable value attribute")

    def _try_evaluate(
        self, node: NodeProto, version: int, ins: list[TInfo | None], inferred: dict[str, InferredType]
    ) -> bool:
        if sum(t.elements for t in ins if t is not None) > MAX_FOLD_ELEMENTS:
            return False
        total = 0
        for out in node.output:
            if not out:
                continue
            r = self._static(inferred.get(out))
            if r is None:
                if node.op_type not in BOUNDED_OUTPUT:
                    return False  # cannot size the output before computing it: do not risk it
                continue
            total += int(np.prod(r[1], dtype=np.int64))
        if total > MAX_FOLD_ELEMENTS:
            return False
        values: list[np.ndarray | None] = []
        for name, t in zip(node.input, ins, strict=True):
            if t is None:
                values.append(None)
                continue
            v = self._value(name)
            if v is None:
                return False
            values.append(v)
        results = self.evaluator.evaluate(node, version, values)
        if results is None or len(results) < sum(1 for o in node.output if o):
            return False
        for out, arr in zip(node.output, results, strict=False):
            if out:
                self._set_value(out, arr)
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _set_value(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value)
        self.tensors[name] = TInfo(elem_of_array(value), tuple(int(d) for d in value.shape), True, value)

    def _value(self, name: str) -> np.ndarray | None:
        t = self.tensors[name]
        if t.value is None and t.proto is not None and t.elements <= MAX_FOLD_ELEMENTS:
            t.value = tensor_value(t.proto)
        return t.value

    def _input_types(self, node: NodeProto, implicit: list[str]) -> dict[str, TypeProto]:
        types: dict[str, TypeProto] = {}
        for name in (*node.input, *implicit):
            if not name or name in types:
                continue
            tp = self._type_cache.get(name)
            if tp is None:
                t = self.tensors[name]
                # ONNX's C++ inference aborts the process on some negative dims: never hand it one.
                check_shape(self.path, f"tensor '{name}'", t.shape)
                tp = helper.make_tensor_type_proto(t.elem, t.shape)
                self._type_cache[name] = tp
            types[name] = tp
        return types

    def _input_data(self, node: NodeProto) -> dict[str, TensorProto]:
        data: dict[str, TensorProto] = {}
        for name in node.input:
            if not name or name in data:
                continue
            if name not in self._data_cache:
                t = self.tensors[name]
                proto = None
                if t.const and t.elements <= MAX_INPUT_DATA_ELEMENTS:
                    v = self._value(name)
                    if v is not None and v.dtype.kind not in "OUS":
                        try:
                            proto = numpy_helper.from_array(v, name)
                        except ValueError:  # a dtype with no ONNX element type: no data for inference
                            proto = None
                self._data_cache[name] = proto
            proto = self._data_cache[name]
            if proto is not None:
                data[name] = proto
        return data

    @staticmethod
    def _static(t: InferredType | None) -> tuple[int, tuple[int, ...]] | None:
        if t is None or t[1] is None:
            return None
        dims = t[1]
        if any(not isinstance(d, int) or d < 0 for d in dims):
            return None
        return t[0], tuple(dims)  # type: ignore[arg-type]

    def _unresolved(
        self,
        node: NodeProto,
        label: str,
        out: str,
        domain: str,
        known_op: bool,
        inferred: dict[str, InferredType],
        failure: str | None,
    ) -> ModelError:
        op = node.op_type
        if not known_op:
            where = f"'{domain}' domain" if domain else "default domain at this opset"
            return ModelError(
                f"{self.path}: node '{label}' uses operator '{op}' ({where}), which nbperf does not "
                f"know, and the model gives no static shape for its output '{out}'"
            )
        if failure is not None:
            return ModelError(
                f"{self.path}: cannot infer the shape of output '{out}' of node '{label}' ({op}): {failure}"
            )
        got = inferred.get(out)
        shape = "unknown rank" if got is None or got[1] is None else f"shape {format_dims(got[1])}"
        return ModelError(
            f"{self.path}: output '{out}' of node '{label}' ({op}) has no static shape ({shape}); "
            "give dynamic input dimensions with --input-shape"
        )


def _nms_bound(ins: list[TInfo | None]) -> tuple[int, tuple[int, ...]] | None:
    """NonMaxSuppression's selected indices at their largest, [batch x classes x kept per class, 3]:
    the NPU plugin runs it with that static bound (OpenVINO's NonMaxSuppressionIEInternal, which
    the NPU compiler's frontend maps, IE.cpp)."""
    boxes, scores = ins[0], ins[1] if len(ins) > 1 else None
    if boxes is None or scores is None or len(boxes.shape) != 3 or len(scores.shape) != 3:
        return None
    per_class = boxes.shape[1]
    limit = ins[2] if len(ins) > 2 else None
    if limit is not None and limit.value is not None and limit.value.size:
        per_class = min(per_class, max(0, int(np.ravel(limit.value)[0])))
    else:
        per_class = 0  # no max_output_boxes_per_class: ONNX selects none
    count = boxes.shape[0] * scores.shape[1] * per_class
    return (TensorProto.INT64, (count, 3)) if count else None


def _has_subgraph(node: NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def _declared(tp: TypeProto | None) -> InferredType | None:
    return parse_type(tp) if tp is not None else None


def _shape_op(node: NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    start, end = 0, None
    for a in node.attribute:
        if a.name == "start":
            start = int(a.i)
        elif a.name == "end":
            end = int(a.i)
    return np.array(shape[start:end], dtype=np.int64)


def _unique_names(nodes: list[NodeProto]) -> list[str]:
    """Node names, synthesising ``{op_type}_{index}`` for empty ones and de-duplicating clashes."""
    taken = {n.name for n in nodes if n.name}
    seen: set[str] = set()
    names: list[str] = []
    for i, n in enumerate(nodes):
        name = n.name or f"{n.op_type}_{i}"
        if name in seen or (not n.name and name in taken):
            k = 1
            while f"{name}_{k}" in taken or f"{name}_{k}" in seen:
                k += 1
            name = f"{name}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _value_key(proto: TensorProto | None) -> tuple[object, ...] | None:
    """A known input value as shape inference sees it, without its name."""
    if proto is None:
        return None
    unnamed = TensorProto()
    unnamed.CopyFrom(proto)
    unnamed.name = ""
    return (proto.data_type, tuple(proto.dims), unnamed.SerializeToString())
