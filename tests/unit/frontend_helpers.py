"""Small ONNX graph builders shared by the frontend tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHARED_MODELS = Path(__file__).resolve().parents[2] / ".." / "shared" / "models"

F = TensorProto.FLOAT


def value_info(name: str, shape: Sequence[int | str] | None, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def external_init(
    name: str, shape: Sequence[int], elem: int = F, location: str = "weights.bin"
) -> onnx.TensorProto:
    """An initializer whose data lives in a (missing) external file, like the shared models' weights."""
    t = TensorProto()
    t.name = name
    t.data_type = elem
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    value_infos: Sequence[onnx.ValueInfoProto] = (),
    opset: int = 17,
    extra_opsets: Sequence[tuple[str, int]] = (),
) -> onnx.ModelProto:
    graph = helper.make_graph(
        list(nodes),
        "test_graph",
        list(inputs),
        list(outputs),
        list(initializers),
        value_info=list(value_infos),
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path
