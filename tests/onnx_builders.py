"""Small ONNX graphs built with onnx.helper for tests (weights are zero-filled or omitted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weight(name: str, shape: tuple[int, ...], value: float = 0.01) -> onnx.TensorProto:
    return numpy_helper.from_array(np.full(shape, value, dtype=np.float32), name)


def conv_model(in_ch: int, out_ch: int, hw: int, kernel: int, *, stride: int = 1, group: int = 1,
               relu: bool = True, batch: int = 1) -> onnx.ModelProto:
    """One Conv (+Relu) layer on a [batch, in_ch, hw, hw] input, 'same' padding."""
    pad = kernel // 2
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y" if not relu else "c"], name="conv",
                              kernel_shape=[kernel, kernel], pads=[pad] * 4, strides=[stride, stride],
                              group=group)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"], name="relu"))
    out_hw = (hw + 2 * pad - kernel) // stride + 1
    graph = helper.make_graph(
        nodes, "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, in_ch, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, out_ch, out_hw, out_hw])],
        [weight("w", (out_ch, in_ch // group, kernel, kernel)), weight("b", (out_ch,))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def chain_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
                outputs: list[onnx.ValueInfoProto], initializers: list[onnx.TensorProto] | None = None,
                opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def save(model: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> Path:
    path = folder / name
    onnx.save(model, path)
    return path
