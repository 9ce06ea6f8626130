"""Convert ONNX node attributes to plain Python values."""

from __future__ import annotations

from typing import Any

from onnx import AttributeProto, NodeProto, helper

from nbperf.frontend.folding import tensor_value


def convert_attrs(node: NodeProto) -> dict[str, Any]:
    """``{name: value}`` with ints, floats, str, lists of those, or numpy arrays for tensors.

    Subgraph attributes (If/Loop/Scan bodies) become the subgraph's name: lowering treats such
    nodes as opaque. A tensor attribute stored as external data becomes ``None``.
    """
    result: dict[str, Any] = {}
    for a in node.attribute:
        result[a.name] = _convert(a)
    return result


def _convert(a: AttributeProto) -> Any:
    t = a.type
    if t == AttributeProto.INT:
        return int(a.i)
    if t == AttributeProto.FLOAT:
        return float(a.f)
    if t == AttributeProto.STRING:
        return _text(a.s)
    if t == AttributeProto.INTS:
        return [int(v) for v in a.ints]
    if t == AttributeProto.FLOATS:
        return [float(v) for v in a.floats]
    if t == AttributeProto.STRINGS:
        return [_text(v) for v in a.strings]
    if t == AttributeProto.TENSOR:
        return tensor_value(a.t)
    if t == AttributeProto.TENSORS:
        return [tensor_value(v) for v in a.tensors]
    if t == AttributeProto.GRAPH:
        return a.g.name
    if t == AttributeProto.GRAPHS:
        return [g.name for g in a.graphs]
    try:  # sparse tensors, type protos; ONNX refuses an unknown type or a ref_attr_name (ValueError)
        value = helper.get_attribute_value(a)
    except ValueError:
        return None
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")
