"""Read an ONNX file into a ModelProto, refusing anything that is not a usable model.

External data is never loaded, and an external-data reference that points outside the model's
folder is refused even though nbperf would not read it (a model must not make a tool look at
arbitrary paths).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx
import onnx.checker
import onnx.parser
from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, TensorProto, inliner

from nbperf.errors import ModelError
from nbperf.frontend.scope import check_inference_graph

_MAX_REASON = 200
_INT32 = range(-(1 << 31), 1 << 31)  # ONNX's C++ code takes opset and IR versions as 32-bit ints

# What ``onnx.load`` raises for bytes that are not a model in the format the file's extension
# names: protobuf (DecodeError), textproto / JSON / ONNX text (ParseError), text that is not
# UTF-8 (UnicodeDecodeError, a ValueError; protobuf also raises ValueError for some bad input).
_PARSE_ERRORS = (DecodeError, text_format.ParseError, json_format.ParseError, onnx.parser.ParseError,
                 ValueError)
# What ONNX's inliner raises for a malformed model-local function: its C++ assertions surface as
# RuntimeError, its checks (e.g. recursive functions) as ValidationError.
_INLINE_ERRORS = (onnx.checker.ValidationError, RuntimeError, ValueError)


def read_model(path: str | Path) -> ModelProto:
    """Load ``path`` without external data; raise ModelError when it is not a usable ONNX model."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path}") from None
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror or e}") from None
    if p.is_dir():
        raise ModelError(f"{path} is not a valid ONNX model: it is a directory")
    if st.st_size == 0:
        raise ModelError(f"{path} is not a valid ONNX model: the file is empty")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror or e}") from None
    except _PARSE_ERRORS as e:
        raise invalid(path, f"cannot parse it ({short_reason(e)})") from None
    checked = checked_model(model, path)
    check_external_locations(checked, path)
    return checked


def checked_model(model: ModelProto, path: str | Path) -> ModelProto:
    """The same checks as for a file, on a model already in memory (``path`` names it in errors)."""
    if not isinstance(model, ModelProto) or not model.HasField("graph"):
        raise invalid(path, "it has no graph")
    if len(model.graph.node) == 0:
        raise invalid(path, "its graph has no nodes")
    _check_opsets(model, path)
    _check_names(model.graph, path)
    check_inference_graph(model, path)
    if len(model.functions) > 0:
        model = _inline_functions(model, path)
        _check_opsets(model, path)  # inlining merges the functions' opset imports into the model's
    return model


def invalid(path: str | Path, reason: str) -> ModelError:
    """The standard error for a file that is not a usable ONNX model."""
    return ModelError(f"{path} is not a valid ONNX model: {reason}")


def short_reason(e: BaseException) -> str:
    """First line of an exception message, trimmed, for one-line error messages."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


def _check_opsets(model: ModelProto, path: str | Path) -> None:
    """Opset domains and versions, and an IR version, that ONNX's shape inference can take (it reads
    domains as UTF-8 text and versions as 32-bit ints)."""
    if model.ir_version not in _INT32:
        raise invalid(path, f"its ir_version {model.ir_version} is not an ONNX IR version")
    for o in model.opset_import:
        if not isinstance(o.domain, str):  # protobuf hands back invalid UTF-8 as bytes
            raise invalid(path, f"opset domain {o.domain!r} is not valid UTF-8")
        if o.version not in _INT32:
            domain = f"domain '{o.domain}'" if o.domain else "the default domain"
            raise invalid(path, f"its opset version {o.version} for {domain} is not an ONNX opset version")


def _check_names(graph: GraphProto, path: str | Path) -> None:
    """Protobuf hands back invalid UTF-8 in string fields as bytes: refuse such names up front."""
    for node in graph.node:
        for s in (node.name, node.op_type, node.domain, *node.input, *node.output):
            if not isinstance(s, str):
                raise invalid(path, f"a name in node {s!r} is not valid UTF-8")
    for group in (graph.initializer, graph.input, graph.output, graph.value_info):
        for item in group:
            if not isinstance(item.name, str):
                raise invalid(path, f"tensor name {item.name!r} is not valid UTF-8")


def _inline_functions(model: ModelProto, path: str | Path) -> ModelProto:
    try:
        return inliner.inline_local_functions(model)
    except _INLINE_ERRORS as e:
        raise invalid(path, f"cannot inline its local functions ({short_reason(e)})") from None


# ---------------------------------------------------------------------------------------------
# External data references


def check_external_locations(model: ModelProto, path: str | Path) -> None:
    """Refuse external-data locations that are absolute or climb out of the model's folder."""
    for what, tensor in _all_tensors(model):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if not location:
            raise invalid(path, f"{what} '{tensor.name}' has external data without a location")
        if not isinstance(location, str):
            raise invalid(path, f"{what} '{tensor.name}' has an external-data location that is not UTF-8")
        if not _is_safe_location(location):
            raise ModelError(
                f"{path}: {what} '{tensor.name}' points its external data at '{location}', "
                "outside the model's folder; refusing it"
            )


def _is_safe_location(location: str) -> bool:
    if "\x00" in location:
        return False
    for pure in (PurePosixPath(location), PureWindowsPath(location)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            return False
    return not os.path.isabs(location)


def _all_tensors(model: ModelProto) -> Iterator[tuple[str, TensorProto]]:
    yield from _graph_tensors(model.graph)
    for f in model.functions:
        for node in f.node:
            yield from _node_tensors(node)


def _graph_tensors(graph: GraphProto) -> Iterator[tuple[str, TensorProto]]:
    for t in graph.initializer:
        yield "initializer", t
    for s in graph.sparse_initializer:
        yield "initializer", s.values
        yield "initializer", s.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[tuple[str, TensorProto]]:
    for a in node.attribute:
        if a.type == AttributeProto.TENSOR:
            yield f"tensor attribute of node '{node.name}'", a.t
        elif a.type == AttributeProto.TENSORS:
            for t in a.tensors:
                yield f"tensor attribute of node '{node.name}'", t
        elif a.type == AttributeProto.SPARSE_TENSOR:
            yield f"tensor attribute of node '{node.name}'", a.sparse_tensor.values
        elif a.type == AttributeProto.GRAPH:
            yield from _graph_tensors(a.g)
        elif a.type == AttributeProto.GRAPHS:
            for g in a.graphs:
                yield from _graph_tensors(g)
