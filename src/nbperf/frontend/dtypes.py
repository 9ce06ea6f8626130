"""ONNX element types: their nbperf names and their numpy counterparts."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

_P = TensorProto

_NAMES: dict[int, str] = {
    _P.FLOAT: "float32",
    _P.UINT8: "uint8",
    _P.INT8: "int8",
    _P.UINT16: "uint16",
    _P.INT16: "int16",
    _P.INT32: "int32",
    _P.INT64: "int64",
    _P.STRING: "string",
    _P.BOOL: "bool",
    _P.FLOAT16: "float16",
    _P.DOUBLE: "float64",
    _P.UINT32: "uint32",
    _P.UINT64: "uint64",
    _P.COMPLEX64: "complex64",
    _P.COMPLEX128: "complex128",
    _P.BFLOAT16: "bfloat16",
    _P.UINT4: "uint4",
    _P.INT4: "int4",
}

FLOAT_TYPES = frozenset({_P.FLOAT, _P.FLOAT16, _P.DOUBLE, _P.BFLOAT16})
# Integer element types that carry quantised activations / weights.
QUANT_ACTIVATION_TYPES = frozenset({_P.INT8, _P.UINT8, _P.INT16, _P.UINT16, _P.INT4, _P.UINT4})
QUANT_CONSTANT_TYPES = QUANT_ACTIVATION_TYPES | {_P.INT32}  # int32 is the quantised bias type


def elem_name(elem_type: int) -> str:
    """The nbperf dtype name of an ONNX element type (e.g. ``1`` -> ``"float32"``)."""
    name = _NAMES.get(elem_type)
    if name is not None:
        return name
    try:
        return _P.DataType.Name(elem_type).lower()
    except ValueError:
        return "undefined"


def elem_of_array(array: np.ndarray) -> int:
    """The ONNX element type of a numpy array's dtype."""
    if array.dtype.kind in "OUS":
        return _P.STRING
    try:
        return int(helper.np_dtype_to_tensor_dtype(array.dtype))
    except ValueError:  # a numpy dtype ONNX has no element type for
        return _P.UNDEFINED
