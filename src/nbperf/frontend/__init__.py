"""ONNX frontend: read a model file into the statically shaped nbperf IR.

``load_model`` is the only entry point: read the file (``onnx_loader``; an OpenVINO IR ``.xml``
goes to ``openvino_ir`` instead, which builds the graph from openvino's own shapes), order its nodes
(``toposort``), resolve input shapes (``input_shapes``), propagate shapes and fold constants
(``propagate`` with ``shapes`` and ``folding``), fold Q/DQ pairs (``qdq``) and build the frozen
``ir.Graph`` (``build``).

Failures are classified where they happen: a problem with the file (it does not parse, ONNX's
checker or shape inference rejects a node, an explicit check finds it meaningless) is a
``ModelError`` raised at that spot, with the node or tensor it concerns. Anything else that
escapes a stage is a bug in nbperf, never the user's fault: ``load_model`` reports it as an
``InternalError`` naming the stage (the CLI exits with code 3 and asks for a report).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nbperf.errors import InternalError, NbperfError
from nbperf.frontend.build import finish
from nbperf.frontend.ir import Graph, Node, Tensor, dtype_bytes
from nbperf.frontend.onnx_loader import checked_model, read_model, short_reason
from nbperf.frontend.openvino_ir import load_ir
from nbperf.frontend.propagate import propagate
from nbperf.frontend.qdq import fold_qdq

if TYPE_CHECKING:
    import onnx

__all__ = ["Graph", "Node", "Tensor", "dtype_bytes", "load_model", "load_proto"]

_T = TypeVar("_T")


def load_model(path: str | Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """Load an ONNX model as a statically shaped, constant-folded, QDQ-folded ``Graph``.

    ``input_shapes`` gives full shapes (by input name) for inputs with dynamic dimensions.
    Every problem with the file or the shapes raises ``nbperf.errors.ModelError``; a failure of
    nbperf's own code raises ``nbperf.errors.InternalError``.
    """
    if str(path).lower().endswith(".xml"):  # OpenVINO IR: openvino's shape inference has done the work
        return _stage(path, "reading the OpenVINO IR", lambda: load_ir(path, input_shapes))
    model = _stage(path, "reading the file", lambda: read_model(path))
    propagated = _stage(path, "shape propagation", lambda: propagate(model, input_shapes, str(path)))
    folded = _stage(path, "Q/DQ folding", lambda: fold_qdq(propagated))
    return _stage(path, "building the graph", lambda: finish(folded))


def load_proto(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """``load_model`` for a model already in memory (built with ``onnx.helper``, or by a NAS loop).

    The proto is copied before any change, so the caller's model is left as it was."""
    import onnx

    origin = f"in-memory model {model.graph.name or '(unnamed)'}"
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    checked = _stage(origin, "checking the model", lambda: checked_model(copy, origin))
    propagated = _stage(origin, "shape propagation", lambda: propagate(checked, input_shapes, origin))
    folded = _stage(origin, "Q/DQ folding", lambda: fold_qdq(propagated))
    return _stage(origin, "building the graph", lambda: finish(folded))


def _stage(path: str | Path, stage: str, run: Callable[[], _T]) -> _T:
    """Run one stage; an exception that is neither a user error nor already internal is our bug."""
    try:
        return run()
    except (NbperfError, InternalError):
        raise
    except Exception as e:  # not the input's fault: every input problem is a ModelError by now
        where = " ".join(str(path).split())
        raise InternalError(
            f"loading {where} failed in {stage}: {type(e).__name__}: {short_reason(e)}"
        ) from e
