"""Graphs that are not NPU inference graphs are refused in one line that says why."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

import nbperf
from nbperf.errors import ModelError
from nbperf.frontend.scope import CATEGORIES

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])


def _model(tmp_path, nodes, inputs=(X,), outputs=None, opsets=(("", 18),)):
    outputs = outputs or [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", list(inputs), list(outputs))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("nodes,opsets,category", [
    ([helper.make_node("SplitToSequence", ["x"], ["s"], name="split"),
      helper.make_node("SequenceAt", ["s", "i"], ["y"])], (("", 18),), "sequence"),
    ([helper.make_node("StringNormalizer", ["x"], ["y"], name="norm")], (("", 18),), "string"),
    ([helper.make_node("Gradient", ["x"], ["y"], name="grad", domain="ai.onnx.preview.training",
                       xs=["x"], y="x")], (("", 18), ("ai.onnx.preview.training", 1)), "training"),
    ([helper.make_node("Bernoulli", ["x"], ["y"], name="coin")], (("", 18),), "random"),
    ([helper.make_node("LabelEncoder", ["x"], ["y"], name="enc", domain="ai.onnx.ml")],
     (("", 18), ("ai.onnx.ml", 3)), "classical ML"),
])
def test_out_of_scope_ops_are_refused_naming_the_node_and_the_reason(tmp_path, nodes, opsets, category):
    path = _model(tmp_path, nodes, opsets=opsets)
    with pytest.raises(ModelError) as err:
        nbperf.estimate(path, "npu4000")
    message = str(err.value)
    assert "is not an inference graph an NPU runs" in message
    assert CATEGORIES[category] in message and f"'{nodes[0].name}'" in message
    assert "\n" not in message


@pytest.mark.parametrize("value,what", [
    (helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [4]), "a sequence"),
    (helper.make_tensor_value_info("x", TensorProto.STRING, [4]), "a string tensor"),
])
def test_non_tensor_graph_inputs_are_refused(tmp_path, value, what):
    path = _model(tmp_path, [helper.make_node("Identity", ["x"], ["y"])], inputs=[value])
    with pytest.raises(ModelError, match=f"graph value 'x' is {what}, {CATEGORIES['non-tensor']}"):
        nbperf.estimate(path, "npu4000")


@pytest.mark.parametrize("op,inputs,attrs", [
    ("RandomUniformLike", ["x"], {}),  # a SHAVE kernel in the NPU compiler
    ("RandomNormalLike", ["x"], {}),  # OpenVINO builds it from RandomUniform
    ("CastLike", ["x", "x"], {}),
])
def test_random_draws_and_castlike_are_in_scope_and_costed(tmp_path, op, inputs, attrs):
    nodes = [helper.make_node(op, inputs, ["r"], **attrs), helper.make_node("Add", ["x", "r"], ["y"])]
    result = nbperf.estimate(_model(tmp_path, nodes), "npu4000")
    assert result.unknown_ops == () and result.latency_ns > 0
