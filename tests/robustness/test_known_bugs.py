"""Known bugs the fuzzers found outside the files this suite's author may edit (reported, not fixed).

Strict xfail: when a bug is fixed the test passes, pytest reports XPASS as a failure, and the
marker (and the matching KNOWN BUG guard in onnx_strategies.py) should be removed.
"""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper
from robustness_helpers import check_outcome

import nbperf

F = TensorProto.FLOAT


@pytest.mark.xfail(strict=True, raises=IndexError,
                   reason="lower/rules.py lower_node dispatches on op_type alone: a custom-domain op named "
                          "'Conv' or 'MatMul' gets the standard rule, which reads a weight input it lacks")
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
