"""Sanity checks that ONNX's own shape inference does not make, run on every node.

ONNX shape inference accepts some nodes that have no meaning (``group=0``, a Conv whose weight
does not match its input channels, an attribute of undefined type, a kernel_shape that disagrees
with the weight) and ignores some absurd sizes. Lowering relies on the IR being meaningful, so the
frontend refuses such nodes here with a one-line ``ModelError`` that names the node.
"""

from __future__ import annotations

from collections.abc import Sequence

from onnx import AttributeProto, NodeProto, defs

from nbperf.errors import ModelError
from nbperf.frontend.input_shapes import format_dims as _format_all

_MAX_SHOWN_DIMS = 8


def format_dims(dims: Sequence[int]) -> str:
    """``[1,3,224,224]``; a hostile rank-10000 shape is cut short to keep messages readable."""
    if len(dims) <= _MAX_SHOWN_DIMS:
        return _format_all(dims)
    return _format_all([*dims[:_MAX_SHOWN_DIMS], f"... ({len(dims)} dims)"])

# A tensor with more elements than this is not a real network's tensor: 2^36 (68.7 G) elements
# take 64 GiB even at int8, more than the memory an NPU shares with its host. The largest
# activations of 4K video or LLM logits are around 2^30. Refusing absurd sizes up front keeps cost
# arithmetic in range and the later stages' work bounded.
MAX_TENSOR_ELEMENTS = 1 << 36

_CONV_OPS = {"Conv": 1, "ConvTranspose": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> weight input index
_WINDOW_OPS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool",
                         "LpPool"})
_AUTO_PADS = frozenset({"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"})
# Q/DQ nodes the Q/DQ folding reads, in every domain it folds (ONNX has no schema for Microsoft's).
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
_QDQ_DOMAINS = frozenset({"", "ai.onnx", "com.microsoft"})


def check_shape(path: str, what: str, shape: Sequence[int]) -> None:
    """Refuse a negative dimension or an absurdly large tensor (``what`` names the tensor)."""
    if any(d < 0 for d in shape):
        raise ModelError(f"{path}: {what} has a negative dimension (shape {format_dims(shape)})")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_TENSOR_ELEMENTS:
        raise ModelError(
            f"{path}: {what} has {elements:.3g} elements (shape {format_dims(shape)}); "
            "nbperf supports at most 2^36 elements per tensor"
        )


def check_attributes(node: NodeProto, schema: defs.OpSchema | None, label: str, path: str) -> None:
    """Every attribute has a defined type, the type the operator's schema declares for it."""
    for a in node.attribute:
        if a.type == AttributeProto.UNDEFINED:
            raise ModelError(f"{path}: attribute '{a.name}' of node '{label}' ({node.op_type}) has no type")
        if schema is None:
            continue
        declared = schema.attributes.get(a.name)
        if declared is not None and int(declared.type.value) != a.type:
            raise ModelError(
                f"{path}: attribute '{a.name}' of node '{label}' ({node.op_type}) is "
                f"{AttributeProto.AttributeType.Name(a.type)}, expected "
                f"{AttributeProto.AttributeType.Name(int(declared.type.value))}"
            )


def check_node(
    node: NodeProto, label: str, path: str, input_shapes: Sequence[tuple[int, ...] | None], standard: bool
) -> None:
    """A node has an output, a Q/DQ node its data input; standard-domain nodes that lowering reads
    closely are meaningful."""
    if not any(node.output):
        raise ModelError(f"{path}: node '{label}' ({node.op_type}) has no outputs")
    if node.op_type in _QDQ_OPS and node.domain in _QDQ_DOMAINS and not (node.input and node.input[0]):
        raise ModelError(f"{path}: node '{label}' ({node.op_type}) has no data input (its input 0 is empty)")
    if not standard:
        return
    op = node.op_type
    if op in _WINDOW_OPS:
        _check_window(node, label, path)
    if op in _CONV_OPS:
        _check_conv(node, label, path, input_shapes, _CONV_OPS[op])


def _ints(node: NodeProto, name: str) -> list[int] | None:
    for a in node.attribute:
        if a.name == name:
            return [int(v) for v in a.ints] if a.type == AttributeProto.INTS else None
    return None


def _check_window(node: NodeProto, label: str, path: str) -> None:
    where = f"node '{label}' ({node.op_type})"
    for name, low in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("pads", 0)):
        values = _ints(node, name)
        if values and any(v < low for v in values):
            what = "positive" if low else "non-negative"
            raise ModelError(f"{path}: {where} has {name} {values}; they must be {what}")
    for a in node.attribute:
        if a.name == "auto_pad" and a.type == AttributeProto.STRING:
            value = a.s.decode("utf-8", errors="replace")
            if value not in _AUTO_PADS:
                raise ModelError(
                    f"{path}: {where} has auto_pad '{value}'; allowed: {', '.join(sorted(_AUTO_PADS))}"
                )


def _check_conv(
    node: NodeProto, label: str, path: str, shapes: Sequence[tuple[int, ...] | None], w_index: int
) -> None:
    where = f"node '{label}' ({node.op_type})"
    group = 1
    for a in node.attribute:
        if a.name == "group" and a.type == AttributeProto.INT:
            group = int(a.i)
    if group < 1:
        raise ModelError(f"{path}: {where} has group {group}; it must be a positive integer")
    x = shapes[0] if shapes else None
    w = shapes[w_index] if len(shapes) > w_index else None
    if x is None or w is None:
        return  # a missing input is reported by shape inference
    if len(x) < 3 or len(w) != len(x):
        raise ModelError(
            f"{path}: {where} needs an input of rank >= 3 and a weight of the same rank, got input "
            f"{format_dims(x)} and weight {format_dims(w)}"
        )
    channels = x[1]
    if node.op_type == "ConvTranspose":
        expected, kind = w[0], "weight dimension 0"
        if channels % group:
            raise ModelError(
                f"{path}: {where} has {channels} input channels, not a multiple of group {group}"
            )
    else:
        expected, kind = w[1] * group, f"weight dimension 1 x group ({w[1]} x {group})"
    if channels != expected:
        raise ModelError(
            f"{path}: {where} has {channels} input channels but {kind} is {expected} "
            f"(input {format_dims(x)}, weight {format_dims(w)})"
        )
    if node.op_type != "ConvTranspose" and w[0] % group:
        raise ModelError(
            f"{path}: {where} has {w[0]} output channels, not a multiple of group {group}"
        )
    kernel = _ints(node, "kernel_shape")
    if kernel is not None and tuple(kernel) != tuple(w[2:]):
        raise ModelError(
            f"{path}: {where} has kernel_shape {kernel} but its weight is {format_dims(w)}"
        )
