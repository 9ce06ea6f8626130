"""ONNX frontend: read a model file into the statically shaped nbperf IR.

``load_model`` is the only entry point: read the file (``onnx_loader``), order its nodes
(``toposort``), resolve input shapes (``input_shapes``), propagate shapes and fold constants
(``propagate`` with ``shapes`` and ``folding``), fold Q/DQ pairs (``qdq``) and build the frozen
``ir.Graph`` (``build``).
"""

from __future__ import annotations

from pathlib import Path

from nbperf.errors import ModelError
from nbperf.frontend.build import finish
from nbperf.frontend.ir import Graph, Node, Tensor, dtype_bytes
from nbperf.frontend.onnx_loader import read_model, short_reason
from nbperf.frontend.propagate import propagate
from nbperf.frontend.qdq import fold_qdq

__all__ = ["Graph", "Node", "Tensor", "dtype_bytes", "load_model"]


def load_model(path: str | Path, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """Load an ONNX model as a statically shaped, constant-folded, QDQ-folded ``Graph``.

    ``input_shapes`` gives full shapes (by input name) for inputs with dynamic dimensions.
    Every problem with the file or the shapes raises ``nbperf.errors.ModelError``.
    """
    model = read_model(path)
    try:
        return finish(fold_qdq(propagate(model, input_shapes, str(path))))
    except ModelError:
        raise
    except Exception as e:  # a malformed model that slipped past the checks: still one line
        raise ModelError(
            f"{path} is not a valid ONNX model: processing it failed ({type(e).__name__}: {short_reason(e)})"
        ) from e
