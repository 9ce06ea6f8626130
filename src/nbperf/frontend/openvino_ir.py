"""Read an OpenVINO IR (``.xml`` + ``.bin``, or the ``.xml`` alone) into the nbperf graph IR.

The IR is read with the ``openvino`` package (the ``nbperf[openvino]`` extra), whose shape
inference gives every tensor its static shape. Its operators are mapped onto the ONNX operators
nbperf lowers, so a network gives the same estimate from IR as from ONNX:

- opset operators with an ONNX twin keep their meaning (Convolution -> Conv, GroupConvolution ->
  Conv with ``group``, ConvolutionBackpropData -> ConvTranspose, MatMul's ``transpose_b`` on a
  constant -> the transposed weight, on an activation -> a Transpose before it, as ONNX models
  write it, SoftMax -> Softmax, MVN -> MeanVarianceNormalization, Interpolate -> Resize ...);
- a ReduceMean / ReduceMax over every spatial axis becomes a global pooling, as the NPU compiler
  converts it (npu_compiler IE/transforms/passes/convert_reduce_to_pooling.cpp);
- FakeQuantize (what NNCF writes into int8 IR) marks its output as int8 data and costs nothing:
  the DPU requantizes in its post-processing stage, as nbperf's Q/DQ folding has it for ONNX;
- constant subgraphs (weights decompressed from fp16 by Convert) are constants;
- anything else keeps its OpenVINO type name and is costed as an unknown op, listed loudly.

Without the ``.bin`` the weights are zeros of the right size (a weightless model). The values of
small constants that carry meaning (a Transpose's order, an MVN's axes) are then unknown: the
order is recovered from the shapes where they determine it, and an MVN normalizes its last axis
(the usual layer norm).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

from nbperf.errors import ModelError
from nbperf.frontend.ir import Graph, Node, Tensor

KEEP_VALUE_ELEMENTS = 1 << 16  # as the ONNX frontend: small constants keep their values

# OpenVINO element types -> the numpy/ONNX names the IR uses
_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64", "i8": "int8",
           "u8": "uint8", "i16": "int16", "u16": "uint16", "i32": "int32", "u32": "uint32", "i64": "int64",
           "u64": "uint64", "boolean": "bool", "i4": "int4", "u4": "uint4", "u1": "uint8"}

# Same meaning, ONNX name (attributes carried over where they matter to lowering)
_RENAMED = {
    "Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div", "Maximum": "Max", "Minimum": "Min",
    "Power": "Pow", "Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
    "Sqrt": "Sqrt", "Abs": "Abs", "Erf": "Erf", "Floor": "Floor", "Ceiling": "Ceil", "Negative": "Neg",
    "Swish": "Swish", "HSwish": "HardSwish", "HSigmoid": "HardSigmoid", "Mish": "Mish",
    "SoftPlus": "Softplus",
    "Elu": "Elu", "Gelu": "Gelu", "PRelu": "PRelu", "Sin": "Sin", "Cos": "Cos", "Select": "Where",
    "Equal": "Equal", "Greater": "Greater", "Less": "Less", "GreaterEqual": "GreaterOrEqual",
    "LessEqual": "LessOrEqual", "LogicalAnd": "And", "LogicalOr": "Or", "LogicalNot": "Not",
    "Concat": "Concat", "Split": "Split", "VariadicSplit": "Split", "StridedSlice": "Slice", "Slice": "Slice",
    "Reshape": "Reshape", "Squeeze": "Squeeze", "Unsqueeze": "Unsqueeze", "Gather": "Gather",
    "GatherElements": "GatherElements", "GatherND": "GatherND", "ScatterNDUpdate": "ScatterND",
    "ScatterElementsUpdate": "ScatterElements", "Tile": "Tile", "Broadcast": "Expand", "Pad": "Pad",
    "Interpolate": "Resize", "DepthToSpace": "DepthToSpace", "SpaceToDepth": "SpaceToDepth",
    "TopK": "TopK", "ReduceSum": "ReduceSum", "ReduceProd": "ReduceProd", "ReduceMin": "ReduceMin",
    "ReduceL1": "ReduceL1", "ReduceL2": "ReduceL2", "CumSum": "CumSum", "NormalizeL2": "LpNormalization",
    "SoftMax": "Softmax", "Softmax": "Softmax", "LogSoftmax": "LogSoftmax", "Convert": "Cast",
    "Range": "Range", "Einsum": "Einsum", "GridSample": "GridSample",
}


def load_ir(path: str | Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """The graph of the OpenVINO IR at ``path`` (its ``.bin`` beside it, or none: weightless)."""
    try:
        import openvino as ov
    except ImportError:
        raise ModelError(f"{path} is an OpenVINO IR: reading it needs the openvino package "
                         "(pip install 'nbperf[openvino]')") from None
    xml = Path(path)
    weights = xml.with_suffix(".bin")
    try:
        if not weights.exists():  # weightless: the shapes the IR was saved with, read from the XML
            try:
                layers = _XmlModel(xml.read_text(encoding="utf-8"), input_shapes)
            except (KeyError, ValueError, IndexError) as e:  # an edge, port or attribute that is not there
                raise ModelError(f"{path} is not a valid OpenVINO IR: a layer, port or attribute it "
                                 f"refers to is missing or malformed ({type(e).__name__}: {e})") from None
            return _Converter(layers, xml.stem, weightless=True).graph()
        model = ov.Core().read_model(str(xml), str(weights))
        if input_shapes:
            model.reshape({name: ov.PartialShape(list(shape)) for name, shape in input_shapes.items()})
    except (OSError, UnicodeDecodeError, ElementTree.ParseError) as e:
        raise ModelError(f"cannot read OpenVINO IR {path}: {e}") from None
    except RuntimeError as e:  # openvino's own validation: the IR is malformed
        raise ModelError(f"{path} is not a valid OpenVINO IR: {_reason(e)}") from None
    return _Converter(model, xml.stem, weightless=False).graph()


def _reason(e: BaseException) -> str:
    """openvino's message without its "Exception from <file>:<line>:" location lines."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip() and not ln.startswith("Exception from")]
    return (lines[0] if lines else type(e).__name__)[:200]


# -- a weightless IR, read from its XML -------------------------------------------------------------
# openvino cannot infer shapes without the constants' values (a Reshape's target lives in the .bin),
# but the XML records every port's dims as they were when the IR was saved. These small classes
# give the converter the same view of them that openvino's Model and Node objects give.
# the XML serializer's legacy names for a few types (openvino core/src/pass/serialize.cpp)
_XML_TYPES = {"Const": "Constant", "ReLU": "Relu", "PReLU": "PRelu"}
_PRECISIONS = {"FP32": "f32", "FP16": "f16", "BF16": "bf16", "FP64": "f64", "I8": "i8", "U8": "u8",
               "I16": "i16", "U16": "u16", "I32": "i32", "U32": "u32", "I64": "i64", "U64": "u64",
               "BOOL": "boolean", "I4": "i4", "U4": "u4", "U1": "u1"}


class _XmlName:
    def __init__(self, name: str) -> None:
        self._name = name

    def get_type_name(self) -> str:
        return self._name


class _XmlShape:
    def __init__(self, dims: list[int]) -> None:
        self.dims = dims
        self.is_dynamic = any(d < 0 for d in dims)

    def to_shape(self) -> list[int]:
        return self.dims

    def __str__(self) -> str:
        return "[" + ",".join("?" if d < 0 else str(d) for d in self.dims) + "]"


class _XmlOutput:
    def __init__(self, layer: _XmlLayer, index: int, dims: list[int], precision: str) -> None:
        self.layer, self.index, self.dims, self.precision = layer, index, dims, precision

    def get_node(self) -> _XmlLayer:
        return self.layer

    def get_index(self) -> int:
        return self.index

    def get_partial_shape(self) -> _XmlShape:
        return _XmlShape(self.dims)

    def get_element_type(self) -> _XmlName:
        return _XmlName(self.precision)

    def get_source_output(self) -> _XmlOutput:
        return self


class _XmlLayer:
    def __init__(self, element: ElementTree.Element) -> None:
        self.id, self.name = element.attrib["id"], element.attrib["name"]
        self.type = _XML_TYPES.get(element.attrib["type"], element.attrib["type"])
        data = element.find("data")
        self.attrs = {k: _attr_value(v) for k, v in (data.attrib if data is not None else {}).items()}
        own = self.attrs.get("element_type")
        self.in_ports = [p.attrib["id"] for p in element.findall("input/port")]
        ports = element.findall("output/port")
        self.outputs = [_XmlOutput(self, i, [int(d.text or -1) for d in p.findall("dim")],
                                   str(own) if own else _PRECISIONS.get(p.attrib.get("precision", ""), "f32"))
                        for i, p in enumerate(ports)]
        self.out_ports = {p.attrib["id"]: i for i, p in enumerate(element.findall("output/port"))}
        self.sources: list[_XmlOutput] = []

    def get_type_name(self) -> str:
        return self.type

    def get_friendly_name(self) -> str:
        return self.name

    def get_output_size(self) -> int:
        return len(self.outputs)

    def get_input_size(self) -> int:
        return len(self.sources)

    def input(self, index: int) -> _XmlOutput:
        return self.sources[index]

    def output(self, index: int) -> _XmlOutput:
        return self.outputs[index]

    def get_attributes(self) -> dict[str, Any]:
        return self.attrs


class _XmlModel:
    """The layers of an IR's XML in dependency order, each input linked to its source port."""

    def __init__(self, text: str, input_shapes: dict[str, tuple[int, ...]] | None) -> None:
        root = ElementTree.fromstring(text)
        layers = {el.attrib["id"]: _XmlLayer(el) for el in root.iter("layer")}
        by_port: dict[tuple[str, str], tuple[str, str]] = {}
        for edge in root.iter("edge"):
            a = edge.attrib
            by_port[(a["to-layer"], a["to-port"])] = (a["from-layer"], a["from-port"])
        for layer in layers.values():
            for port in layer.in_ports:
                source, out_port = by_port[(layer.id, port)]
                producer = layers[source]
                layer.sources.append(producer.outputs[producer.out_ports[out_port]])
        for name, shape in (input_shapes or {}).items():
            found = [la for la in layers.values() if la.type == "Parameter" and la.name == name]
            if not found:
                raise ModelError(f"--input-shape names '{name}', which is not an input of the IR")
            saved = found[0].outputs[0].dims
            if all(d >= 0 for d in saved) and tuple(saved) != tuple(shape):
                raise ModelError(f"--input-shape {name}: a weightless IR keeps the shapes it was saved with "
                                 f"({'x'.join(map(str, saved))}); put its .bin beside the .xml to reshape it")
            found[0].outputs[0].dims = list(shape)
        self.layers = _dependency_order(list(layers.values()))

    def get_ordered_ops(self) -> list[_XmlLayer]:
        return self.layers


def _dependency_order(layers: list[_XmlLayer]) -> list[_XmlLayer]:
    """Layers with every producer before its consumers, otherwise in file order."""
    done: set[str] = set()
    ordered: list[_XmlLayer] = []
    pending = list(layers)
    while pending:
        ready = [la for la in pending if all(s.layer.id in done for s in la.sources)]
        if not ready:
            raise ModelError(f"the IR's graph has a cycle through layer '{pending[0].name}'")
        for la in ready:
            done.add(la.id)
        ordered.extend(ready)
        pending = [la for la in pending if la.id not in done]
    return ordered


def _attr_value(text: str) -> Any:
    """An IR attribute as Python: "2,2" -> [2, 2], "true" -> True, "3" -> 3, "0.5" -> 0.5."""
    if text in ("true", "false"):
        return text == "true"
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts if p]
    except ValueError:
        try:
            values = [float(p) for p in parts if p]  # type: ignore[misc]
        except ValueError:
            return text
    return values if "," in text or not values else values[0]


class _Converter:
    def __init__(self, model: Any, name: str, weightless: bool) -> None:
        self.model, self.name, self.weightless = model, name, weightless
        self.nodes: list[Node] = []
        self.tensors: dict[str, Tensor] = {}
        self.quantized: set[str] = set()
        self.inputs: list[str] = []
        self.outputs: list[str] = []

    # -- names and tensors --------------------------------------------------------------------
    @staticmethod
    def _out_name(op: Any, port: int) -> str:
        return op.get_friendly_name() if op.get_output_size() == 1 else f"{op.get_friendly_name()}:{port}"

    def _source(self, op: Any, index: int) -> str:
        out = op.input(index).get_source_output()
        return self._out_name(out.get_node(), out.get_index())

    def _shape(self, output: Any) -> tuple[int, ...]:
        shape = output.get_partial_shape()
        if shape.is_dynamic:
            node = output.get_node()
            if self.weightless and node.get_type_name() != "Parameter":
                raise ModelError(f"{self.name}: output of '{node.get_friendly_name()}' has a dynamic shape "
                                 f"{shape} in the XML; without the .bin openvino cannot infer it: put the "
                                 "weights file beside the .xml, or save the IR with static shapes")
            raise ModelError(f"{self.name}: output of '{node.get_friendly_name()}' has a dynamic shape "
                             f"{shape}; give dynamic input dimensions with --input-shape")
        return tuple(int(d) for d in shape.to_shape())

    def _add(self, op: Any, port: int, const: bool = False, value: np.ndarray | None = None,
             name: str | None = None, shape: tuple[int, ...] | None = None) -> str:
        output = op.output(port)
        name = name or self._out_name(op, port)
        dtype = _DTYPES.get(output.get_element_type().get_type_name(), "float32")
        shape = shape if shape is not None else self._shape(output)
        self.tensors[name] = Tensor(name, shape, dtype, const, value)
        return name

    def _is_const(self, name: str) -> bool:
        return self.tensors[name].is_constant

    # -- the walk -------------------------------------------------------------------------------
    def graph(self) -> Graph:
        for op in self.model.get_ordered_ops():
            kind = op.get_type_name()
            if kind == "Parameter":
                self.inputs.append(self._add(op, 0))
            elif kind == "Result":
                self.outputs.append(self._source(op, 0))
            elif kind == "Constant":
                self._constant(op)
            elif all(self._is_const(self._source(op, i)) for i in range(op.get_input_size())):
                for port in range(op.get_output_size()):  # folded at compile time
                    self._add(op, port, const=True)
                if kind == "FakeQuantize" and _int8(op):  # a quantized weight
                    self.quantized.add(self._out_name(op, 0))
            else:
                self._node(op, kind)
        return Graph(name=self.name, nodes=tuple(self.nodes), tensors=self.tensors, inputs=tuple(self.inputs),
                     outputs=tuple(self.outputs), quantized=frozenset(self.quantized))

    def _constant(self, op: Any) -> None:
        shape = self._shape(op.output(0))
        value = None
        if not self.weightless and math.prod(shape) <= KEEP_VALUE_ELEMENTS:
            value = np.array(op.get_data())
        self._add(op, 0, const=True, value=value)

    def _emit(self, op: Any, op_type: str, inputs: list[str], attrs: dict[str, Any] | None = None) -> None:
        outputs = tuple(self._add(op, port) for port in range(op.get_output_size()))
        self.nodes.append(Node(op.get_friendly_name(), op_type, tuple(inputs), outputs, attrs or {}))

    def _node(self, op: Any, kind: str) -> None:
        inputs = [self._source(op, i) for i in range(op.get_input_size())]
        a = op.get_attributes()
        handler = getattr(self, f"_op_{kind}", None)
        if handler is not None:
            handler(op, inputs, a)
        elif kind in _RENAMED:
            attrs = {"axis": int(a["axis"])} if "axis" in a and kind in ("Concat", "SoftMax", "Softmax",
                                                                          "LogSoftmax", "Gather") else {}
            self._emit(op, _RENAMED[kind], inputs, attrs)
        else:
            self.nodes.append(Node(op.get_friendly_name(), kind, tuple(inputs),
                                   tuple(self._add(op, p) for p in range(op.get_output_size())), {},
                                   domain="org.openvinotoolkit"))

    # -- operators that need more than a new name ---------------------------------------------------
    @staticmethod
    def _window(a: dict[str, Any]) -> dict[str, Any]:
        pads = [*a.get("pads_begin", []), *a.get("pads_end", [])]
        return {"strides": list(a.get("strides", [])), "dilations": list(a.get("dilations", [])),
                "pads": pads}

    def _op_Convolution(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        w = self.tensors[inputs[1]].shape
        self._emit(op, "Conv", inputs, {**self._window(a), "kernel_shape": list(w[2:])})

    def _op_GroupConvolution(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        groups, per_group, *rest = self.tensors[inputs[1]].shape  # [G, O/G, I/G, kh, kw] -> [O, I/G, kh, kw]
        weights = self._reshaped(inputs[1], (groups * per_group, *rest))
        self._emit(op, "Conv", [inputs[0], weights, *inputs[2:]],
                   {**self._window(a), "kernel_shape": list(rest[1:]), "group": groups})

    def _op_ConvolutionBackpropData(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        w = self.tensors[inputs[1]].shape
        self._emit(op, "ConvTranspose", inputs[:2],
                   {**self._window(a), "kernel_shape": list(w[2:]),
                    "output_padding": list(a.get("output_padding", []))})

    def _op_GroupConvolutionBackpropData(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        groups, c_in, c_out, *kernel = self.tensors[inputs[1]].shape  # [G, C/G, M/G, k...] -> [C, M/G, k...]
        weights = self._reshaped(inputs[1], (groups * c_in, c_out, *kernel))
        self._emit(op, "ConvTranspose", [inputs[0], weights],
                   {**self._window(a), "kernel_shape": kernel, "group": groups})

    def _reshaped(self, name: str, shape: tuple[int, ...]) -> str:
        t = self.tensors[name]
        new = f"{name}/as_onnx"
        self.tensors[new] = Tensor(new, shape, t.dtype, t.is_constant, None)
        return new

    def _op_MatMul(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        operands = []
        for name, flag in zip(inputs, ("transpose_a", "transpose_b"), strict=True):
            shape = self.tensors[name].shape
            if not a.get(flag) or len(shape) < 2:
                operands.append(name)
            elif self._is_const(name):  # a transposed weight is just the weight in the other order
                operands.append(self._reshaped(name, (*shape[:-2], shape[-1], shape[-2])))
            else:  # ONNX writes the transpose as its own node; so does nbperf
                t = self.tensors[name]
                swapped = f"{op.get_friendly_name()}/{flag}"
                perm = [*range(len(shape) - 2), len(shape) - 1, len(shape) - 2]
                self.tensors[swapped] = Tensor(swapped, (*shape[:-2], shape[-1], shape[-2]), t.dtype)
                self.nodes.append(Node(swapped, "Transpose", (name,), (swapped,), {"perm": perm}))
                operands.append(swapped)
        self._emit(op, "MatMul", operands)

    def _op_Clamp(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        bounds = []
        for key in ("min", "max"):
            name = f"{op.get_friendly_name()}/{key}"
            self.tensors[name] = Tensor(name, (), "float32", True, np.array(a[key], np.float32))
            bounds.append(name)
        self._emit(op, "Clip", [inputs[0], *bounds])

    def _op_MaxPool(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        self._emit(op, "MaxPool", inputs, {**self._window(a), "kernel_shape": list(a["kernel"])})

    def _op_AvgPool(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        self._emit(op, "AveragePool", inputs, {**self._window(a), "kernel_shape": list(a["kernel"])})

    def _reduce(self, op: Any, inputs: list[str], pooled: str, reduced: str) -> None:
        x = self.tensors[inputs[0]].shape
        y = self._shape(op.output(0))
        spatial_gone = len(x) >= 3 and len(y) == len(x) and y[:2] == x[:2] and all(d == 1 for d in y[2:])
        self._emit(op, pooled if spatial_gone else reduced, inputs[:1])

    def _op_ReduceMean(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        self._reduce(op, inputs, "GlobalAveragePool", "ReduceMean")

    def _op_ReduceMax(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        self._reduce(op, inputs, "GlobalMaxPool", "ReduceMax")

    def _op_Transpose(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        self._emit(op, "Transpose", inputs[:1], {"perm": self._order(op, inputs)})

    def _order(self, op: Any, inputs: list[str]) -> list[int]:
        """A Transpose's order: its constant, or (weightless IR) the first order that maps the input
        shape onto the output shape."""
        known = self.tensors[inputs[1]].value
        if known is not None:
            return [int(v) for v in np.ravel(known)]
        x, y = self.tensors[inputs[0]].shape, self._shape(op.output(0))
        return next((list(p) for p in permutations(range(len(x))) if tuple(x[i] for i in p) == y),
                    list(range(len(x))))

    def _op_MVN(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        rank = len(self.tensors[inputs[0]].shape)
        axes = [rank - 1]
        if len(inputs) > 1 and self.tensors[inputs[1]].value is not None:
            axes = [int(v) % rank for v in np.ravel(self.tensors[inputs[1]].value)]
        elif a.get("across_channels") is not None:  # MVN-1: channels and spatial, or spatial only
            axes = list(range(1 if a["across_channels"] else 2, rank))
        self._emit(op, "MeanVarianceNormalization", inputs[:1], {"axes": axes})

    def _op_ScaledDotProductAttention(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        """OpenVINO's fused attention, decomposed as the NPU plugin runs it when the compiler has no
        kernel for it (openvino ScaledDotProductAttentionDecomposition): Q x K^T, scale, mask,
        Softmax, x V; the same nodes an ONNX attention block has."""
        name = op.get_friendly_name()
        q, k, v = inputs[:3]
        (*lead, length, _), (*_, keys, depth) = self.tensors[q].shape, self.tensors[k].shape
        dtype = self.tensors[q].dtype

        def tensor(suffix: str, shape: tuple[int, ...], const: bool = False,
                   value: np.ndarray | None = None) -> str:
            t = f"{name}/{suffix}"
            self.tensors[t] = Tensor(t, shape, dtype, const, value)
            return t

        def node(suffix: str, op_type: str, ins: list[str], out: str,
                 attrs: dict[str, Any] | None = None) -> None:
            self.nodes.append(Node(f"{name}/{suffix}", op_type, tuple(ins), (out,), attrs or {}))

        rank = len(self.tensors[k].shape)
        key_t = tensor("key_t", (*lead, depth, keys))
        node("key_t", "Transpose", [k], key_t, {"perm": [*range(rank - 2), rank - 1, rank - 2]})
        scores = tensor("scores", (*lead, length, keys))
        node("scores", "MatMul", [q, key_t], scores)
        default_scale = np.array(1 / math.sqrt(depth), np.float32)
        scale = inputs[4] if len(inputs) > 4 else tensor("scale", (), True, default_scale)
        scaled = tensor("scaled", (*lead, length, keys))
        node("scaled", "Mul", [scores, scale], scaled)
        mask = inputs[3] if len(inputs) > 3 else None
        if mask is None and a.get("causal"):  # applied as a constant mask added on SHAVE
            mask = tensor("causal_mask", (length, keys), True)
        if mask is not None:
            masked = tensor("masked", (*lead, length, keys))
            node("masked", "Add", [scaled, mask], masked)
            scaled = masked
        probs = tensor("softmax", (*lead, length, keys))
        node("softmax", "Softmax", [scaled], probs, {"axis": -1})
        out = self._add(op, 0)
        self.nodes.append(Node(name, "MatMul", (probs, v), (out,), {}))

    def _op_FakeQuantize(self, op: Any, inputs: list[str], a: dict[str, Any]) -> None:
        """NNCF's int8 marker: free (the DPU requantizes in its PPE); the tensor it quantizes and
        its output carry int8, as a folded Q/DQ pair's do in an ONNX model."""
        out = self._add(op, 0)
        if _int8(op):
            self.quantized.update((inputs[0], out))
            if inputs[0] in self.inputs:  # fed int8, as the compiled blob is (frontend/qdq.py, rule 1)
                self.tensors[inputs[0]] = replace(self.tensors[inputs[0]], dtype="int8")
        self.nodes.append(Node(op.get_friendly_name(), "Identity", (inputs[0],), (out,), {}))


def _int8(op: Any) -> bool:
    """A FakeQuantize to at most 256 levels: 8-bit data."""
    return int(op.get_attributes().get("levels", 256)) <= 256
