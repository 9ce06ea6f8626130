"""Regression tests for bugs the fuzzers found in lowering (fixed: a custom-domain op named like a
standard op is costed as an unknown op, not with the standard rule)."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper
from robustness_helpers import check_outcome

import nbperf

F = TensorProto.FLOAT


@pytest.mark.parametrize("op", ["Conv", "MatMul"])
def test_custom_domain_op_named_like_a_standard_op(tmp_path, op):
    nodes = [helper.make_node(op, ["x"], ["m"], name="custom", domain="com.example"),
             helper.make_node("Relu", ["m"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", F, None)],
                              value_info=[helper.make_tensor_value_info("m", F, [1, 4, 6, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    assert check_outcome(lambda: nbperf.estimate(path)) == "ok"
    assert nbperf.estimate(path).unknown_ops == (f"custom ({op})",)
