"""Tests of QuantizeLinear/DequantizeLinear folding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frontend_helpers import SHARED_MODELS, external_init, init, make_model, save, value_info
from onnx import TensorProto, helper

from nbperf.frontend import Graph, load_model

I8, U8, I32 = TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32
QDQ = ("QuantizeLinear", "DequantizeLinear")


def _load(tmp_path: Path, model) -> Graph:
    return load_model(save(model, tmp_path / "q.onnx"))


def _qparams(prefix: str, zp_type=np.uint8) -> list:
    return [init(f"{prefix}_s", np.array(0.02, np.float32)), init(f"{prefix}_z", np.array(0, zp_type))]


def _q(x: str, out: str, p: str) -> object:
    return helper.make_node("QuantizeLinear", [x, f"{p}_s", f"{p}_z"], [out], name=f"Q_{out}")


def _dq(x: str, out: str, p: str) -> object:
    return helper.make_node("DequantizeLinear", [x, f"{p}_s", f"{p}_z"], [out], name=f"DQ_{out}")


def _qdq_conv_model() -> object:
    """x -> Q -> DQ -> Conv(DQ(w int8), DQ(b int32)) -> Q -> DQ -> Relu -> Q -> DQ -> y."""
    nodes = [
        _q("x", "x_q", "in"),
        _dq("x_q", "x_dq", "in"),
        _dq("w_q", "w_dq", "w"),
        _dq("b_q", "b_dq", "b"),
        helper.make_node("Conv", ["x_dq", "w_dq", "b_dq"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        _q("c", "c_q", "c"),
        _dq("c_q", "c_dq", "c"),
        helper.make_node("Relu", ["c_dq"], ["r"], name="relu"),
        _q("r", "r_q", "r"),
        _dq("r_q", "y", "r"),
    ]
    inits = [
        external_init("w_q", [8, 3, 3, 3], elem=I8),
        init("b_q", np.zeros(8, np.int32)),
        init("w_s", np.full(8, 0.01, np.float32)),
        init("w_z", np.zeros(8, np.int8)),
        init("b_s", np.full(8, 0.0002, np.float32)),
        init("b_z", np.zeros(8, np.int32)),
        *_qparams("in"),
        *_qparams("c"),
        *_qparams("r"),
    ]
    return make_model(nodes, [value_info("x", [1, 3, 16, 16])], [value_info("y", None)], inits)


def test_qdq_conv_is_folded_to_int8(tmp_path: Path) -> None:
    g = _load(tmp_path, _qdq_conv_model())
    assert [n.op_type for n in g.nodes] == ["Conv", "Relu"]
    conv, relu = g.nodes
    assert conv.inputs == ("x", "w_q", "b_q")
    x, w, b = (g.tensor(i) for i in conv.inputs)
    assert x.dtype == "uint8" and not x.is_constant
    assert w.dtype == "int8" and w.is_constant and w.shape == (8, 3, 3, 3)
    assert b.dtype == "int32" and b.is_constant
    assert g.tensor("c").dtype == "uint8" and g.tensor("c").shape == (1, 8, 16, 16)
    assert relu.inputs == ("c",)
    # The graph output was produced by the last DQ: it is remapped onto the Relu output.
    assert g.outputs == ("r",)
    assert g.tensor("r").dtype == "uint8"
    assert {"x", "w_q", "b_q", "c", "r"} <= g.quantized
    assert "x_q" not in g.tensors and "x_dq" not in g.tensors


def test_float_weight_quantised_in_graph_becomes_int8_constant(tmp_path: Path) -> None:
    nodes = [
        _q("x", "x_q", "in"),
        _dq("x_q", "x_dq", "in"),
        helper.make_node("QuantizeLinear", ["w", "w_s", "w_z"], ["w_q"], name="Qw"),
        _dq("w_q", "w_dq", "w"),
        helper.make_node("MatMul", ["x_dq", "w_dq"], ["y"], name="mm"),
    ]
    inits = [
        external_init("w", [8, 4]),
        init("w_s", np.array(0.01, np.float32)),
        init("w_z", np.array(0, np.int8)),
        *_qparams("in"),
    ]
    g = _load(tmp_path, make_model(nodes, [value_info("x", [2, 8])], [value_info("y", None)], inits))
    assert [n.op_type for n in g.nodes] == ["MatMul"]
    w = g.tensor(g.nodes[0].inputs[1])
    assert w.dtype == "int8" and w.is_constant and w.shape == (8, 4)
    assert g.tensor(g.nodes[0].inputs[0]).dtype == "uint8"


def test_int8_flows_through_data_movement_ops(tmp_path: Path) -> None:
    nodes = [
        _q("x", "x_q", "in"),
        _dq("x_q", "x_dq", "in"),
        helper.make_node("Reshape", ["x_dq", "shape"], ["x_r"], name="reshape"),
        _dq("w_q", "w_dq", "w"),
        helper.make_node("Transpose", ["w_dq"], ["w_t"], name="transpose_w", perm=[1, 0]),
        helper.make_node("MatMul", ["x_r", "w_t"], ["y"], name="mm"),
    ]
    inits = [
        init("shape", np.array([4, 8], np.int64)),
        init("w_q", np.ones((4, 8), np.int8)),  # small: inline data, evaluated by folding
        init("w_s", np.array(0.01, np.float32)),
        init("w_z", np.array(0, np.int8)),
        *_qparams("in"),
    ]
    g = _load(tmp_path, make_model(nodes, [value_info("x", [2, 2, 8])], [value_info("y", None)], inits))
    assert [n.op_type for n in g.nodes] == ["Reshape", "MatMul"]
    assert g.tensor("x_r").dtype == "uint8"
    w_t = g.tensor("w_t")
    assert w_t.dtype == "int8" and w_t.is_constant and w_t.shape == (8, 4)
    assert {"x_r", "w_t"} <= g.quantized


def test_lone_quantize_stays(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), _q("r", "y", "out")]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)], _qparams("out"))
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["Relu", "QuantizeLinear"]
    assert g.tensor("r").dtype == "float32" and g.tensor("y").dtype == "uint8"
    assert g.outputs == ("y",)


def test_quantize_with_float_consumer_stays_and_dq_goes(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        _q("r", "r_q", "r"),
        _dq("r_q", "r_dq", "r"),
        helper.make_node("Sigmoid", ["r"], ["s"], name="float_consumer"),
        helper.make_node("Add", ["r_dq", "s"], ["y"], name="add"),
    ]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)], _qparams("r"))
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["Relu", "QuantizeLinear", "Sigmoid", "Add"]
    assert g.tensor("r").dtype == "float32"
    assert g.nodes[-1].inputs == ("r_q", "s")


def test_dequantize_of_float_stays(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("DequantizeLinear", ["r", "s"], ["y"], name="dq"),
    ]
    model = make_model(
        nodes,
        [value_info("x", [4], elem=I32)],
        [value_info("y", None)],
        [init("s", np.array(0.5, np.float32))],
    )
    g = _load(tmp_path, model)
    # int32 activations are not an int8 path: the DQ stays and lowering runs it on SHAVE.
    assert [n.op_type for n in g.nodes] == ["Relu", "DequantizeLinear"]


def test_model_without_qdq_is_untouched(tmp_path: Path) -> None:
    nodes = [helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])]
    g = _load(tmp_path, make_model(nodes, [value_info("x", [4, 2], elem=U8)], [value_info("y", None)]))
    assert g.quantized == frozenset()
    assert g.tensor("y").dtype == "uint8" and g.tensor("y").shape == (2, 4)


def test_shared_mobilenet_qdq(tmp_path: Path) -> None:
    path = SHARED_MODELS / "mobilenet_v2_int8_qdq.onnx"
    if not path.is_file():
        pytest.skip(f"shared model not found: {path.resolve()}")
    g = load_model(path)
    assert not [n for n in g.nodes if n.op_type in QDQ]
    int8 = {"int8", "uint8"}
    checked = 0
    for n in g.nodes:
        if n.op_type not in ("Conv", "Gemm", "Add"):
            continue
        checked += 1
        acts = [g.tensor(i) for i in n.inputs if i and not g.tensor(i).is_constant]
        assert acts and all(t.dtype in int8 for t in acts), n.name
        if n.op_type in ("Conv", "Gemm"):
            weight = g.tensor(n.inputs[1])
            assert weight.is_constant and weight.dtype == "int8", n.name
        assert g.tensor(n.outputs[0]).dtype in int8, n.name
    assert checked == 52 + 1 + 10
    assert sum(n.op_type == "Conv" for n in g.nodes) == 52
