"""Constant folding: evaluate a node whose inputs are all known, with ONNX's reference operators.

Only deterministic standard-domain operators without subgraphs are evaluated, and only when
their inputs (and, where it can grow, their output) are small. Nothing is ever evaluated from a
tensor stored as external data: its value is simply unknown.

Folding is best effort: a value ONNX cannot decode, an operator ``onnx.reference`` does not
implement, or a reference implementation that fails on the model's constants leaves the value
unknown (shape inference still sizes the tensor). Only exceptions raised inside those onnx calls
are absorbed; a failure of nbperf's own code here is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import AttributeProto, NodeProto, TensorProto, helper, numpy_helper

MAX_FOLD_ELEMENTS = 1 << 20  # inputs (and outputs) larger than this stay unevaluated constants

_KNOWN_ELEM_TYPES = frozenset(t for t in helper.get_all_tensor_dtypes() if t != TensorProto.UNDEFINED)

NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)
# Heavy compute ops whose reference implementations are slow Python loops: never evaluated.
NEVER_EVALUATED = frozenset(
    {
        "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv", "MaxPool", "AveragePool",
        "LpPool", "MaxRoiPool", "RoiAlign", "MaxUnpool", "LSTM", "GRU", "RNN", "NonMaxSuppression",
        "STFT", "DFT", "Col2Im", "Im2Col", "If", "Loop", "Scan", "SequenceMap",
    }
)
# Ops whose outputs hold at most as many elements as their inputs (times a small factor), so they
# can be evaluated even when shape inference cannot size their output beforehand.
BOUNDED_OUTPUT = frozenset(
    {
        "Identity", "Cast", "CastLike", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat",
        "Slice", "Split", "GatherElements", "NonZero", "Unique", "TopK",
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ArgMax", "ArgMin",
        "Neg", "Abs", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round", "Not", "Sign", "Reciprocal",
        "Shape", "Size", "Compress",
    }
)


def is_foldable_op(node: NodeProto, domain: str, inputs: Sequence[Any]) -> bool:
    """Whether constant inputs make this node's outputs constants (a pure function of them)."""
    if domain != "" or node.op_type in NONDETERMINISTIC:
        return False
    if node.op_type == "Dropout" and len(node.input) >= 3 and node.input[2]:
        training = inputs[2] if len(inputs) > 2 else None
        if training is None or bool(np.asarray(training).any()):
            return False
    return not any(
        a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute
    )


def has_external_attr(node: NodeProto) -> bool:
    for a in node.attribute:
        if a.type == AttributeProto.TENSOR and a.t.data_location == TensorProto.EXTERNAL:
            return True
        if a.type == AttributeProto.TENSORS and any(
            t.data_location == TensorProto.EXTERNAL for t in a.tensors
        ):
            return True
        if a.type == AttributeProto.SPARSE_TENSOR:
            return True
    return False


def tensor_value(t: TensorProto) -> np.ndarray | None:
    """The value of an inline TensorProto; None for external data (never read) or a bad tensor."""
    if t.data_location == TensorProto.EXTERNAL or t.data_type not in _KNOWN_ELEM_TYPES:
        return None
    try:
        return numpy_helper.to_array(t)
    except ValueError:  # data that does not fill its dims, segments, strings that are not UTF-8
        return None


def constant_node_value(node: NodeProto) -> tuple[np.ndarray | None, TensorProto | None]:
    """A Constant node's value; or (None, its TensorProto) when that tensor is external or large
    (its value is then converted only if needed). Raises ``BadSparseTensor`` for a sparse value
    whose indices do not fit its dims."""
    for a in node.attribute:
        name = a.name
        if name == "value":
            if a.t.data_location == TensorProto.EXTERNAL or int(np.prod(a.t.dims)) > 4096:
                return None, a.t
            return tensor_value(a.t), a.t
        if name == "value_float":
            return np.array(a.f, dtype=np.float32), None
        if name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32), None
        if name == "value_int":
            return np.array(a.i, dtype=np.int64), None
        if name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64), None
        if name == "value_string":
            return np.array(a.s.decode("utf-8", errors="replace"), dtype=object), None
        if name == "value_strings":
            return np.array([s.decode("utf-8", errors="replace") for s in a.strings], dtype=object), None
        if name == "sparse_value":
            return _sparse_to_dense(a.sparse_tensor), None
    return None, None


class BadSparseTensor(Exception):
    """A sparse tensor's indices or values do not fit its dims (the message says how)."""


def _sparse_to_dense(sp: Any) -> np.ndarray | None:
    """The dense value; None when its data is external or unreadable, or it is too large to expand."""
    values = tensor_value(sp.values)
    indices = tensor_value(sp.indices)
    if values is None or indices is None:
        return None
    dims = tuple(int(d) for d in sp.dims)
    if int(np.prod(dims, dtype=np.int64)) > MAX_FOLD_ELEMENTS:
        return None
    dense = np.zeros(int(np.prod(dims, dtype=np.int64)), dtype=values.dtype)
    try:  # numpy checks the file's indices and values against its dims
        flat = indices if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), dims)
        dense[flat] = values
    except (IndexError, ValueError, TypeError) as e:
        raise BadSparseTensor(
            f"indices {list(indices.shape)} and values {list(values.shape)} for dims {list(dims)}: {e}"
        ) from None
    return dense.reshape(dims)


class Evaluator:
    """Evaluates nodes with ``onnx.reference`` operator classes (cached per op and opset).

    Measured on the shared ViT-B/16 (about 600 folded nodes), numpy fast paths for the hot shape
    ops saved about 1 ms of 40 ms, so every op goes through the reference implementation.
    """

    def __init__(self, opsets: dict[str, int]) -> None:
        self._run_params = {"opsets": dict(opsets), "new_ops": None, "log": _no_log, "verbose": 0}
        self._classes: dict[tuple[str, int], Any] = {}

    def _op_class(self, op_type: str, version: int) -> Any:
        key = (op_type, version)
        if key not in self._classes:
            from onnx.reference.ops import load_op  # imported on first use: it is slow to import

            try:
                self._classes[key] = load_op("", op_type, version)
            except (RuntimeError, ValueError, AssertionError):
                # No reference implementation for this op at this opset (RuntimeError and its
                # NotImplementedError subclasses), or an op onnx defines only as a function, which
                # load_op refuses with an assert when not given an evaluator: not evaluated.
                self._classes[key] = None
        return self._classes[key]

    def evaluate(
        self, node: NodeProto, version: int, inputs: Sequence[np.ndarray | None]
    ) -> list[np.ndarray] | None:
        """Output arrays of ``node``, or None when it cannot be evaluated."""
        if node.op_type in NEVER_EVALUATED or has_external_attr(node):
            return None
        cls = self._op_class(node.op_type, version)
        if cls is None:
            return None
        try:
            op = cls(node, self._run_params)
            outputs = op.run(*inputs)
        except Exception:
            # Only onnx.reference code runs here, on the model's own constants: an attribute the
            # reference op refuses, an axis out of range, an unsupported dtype... The value stays
            # unknown and shape inference, which saw the same node, decides whether it is valid.
            return None
        if not isinstance(outputs, tuple | list):
            outputs = (outputs,)
        arrays = []
        for o in outputs:
            if o is None or isinstance(o, list | dict):  # sequences / optionals are not tensors
                return None
            arrays.append(np.asarray(o))
        return arrays


def _no_log(*_args: Any) -> None:
    return None
