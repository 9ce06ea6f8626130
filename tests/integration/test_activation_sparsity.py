"""Activation sparsity (issue 15): statistics measured with onnxruntime, assumed at ReLU outputs or
given per tensor; a conv or matmul input the compiler would feed sparse saves MAC cycles and CMX
reads only where the part's DPU gains from it (``dpu.input_sparsity_cycles``)."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from tests.integration.test_cli import one_error_line, run
from tests.integration.test_weight_sparsity import weightless

import nbperf
from nbperf.cost.inventory import dpu_rows
from nbperf.errors import UsageError


def two_convs(channels: int = 64, hw: int = 28, seed: int = 1) -> onnx.ModelProto:
    """conv1 -> ReLU -> conv2 -> ReLU with normal random weights: half of relu1's output is zero."""
    rng = np.random.default_rng(seed)
    weights = [numpy_helper.from_array((rng.standard_normal((channels, channels, 3, 3)) * 0.05)
                                       .astype(np.float32), f"w{i}") for i in (1, 2)]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["c2"], ["y"], name="relu2")]
    shape = [1, channels, hw, hw]
    graph = helper.make_graph(nodes, "two_convs",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def op(result: nbperf.Estimate, name: str):
    return next(task for task in result.schedule.tasks if task.op.name == name)


def test_measured_statistics_make_the_second_conv_input_sparse():
    pytest.importorskip("onnxruntime", reason="measuring needs the [runtime] extra")
    result = nbperf.estimate(two_convs(), "npu3720", activation_sparsity="measure")
    assert op(result, "conv1").op.dpu.input_sparsity == 0  # the graph input is dense noise
    assert 0.4 < op(result, "conv2").op.dpu.input_sparsity < 0.6  # ReLU of a zero-mean conv
    assert result.provenance.activation_sparsity.startswith("measured (onnxruntime")
    record = result.to_dict()
    assert record["provenance"]["activation_sparsity"] == result.provenance.activation_sparsity
    assert record["layers"][0]["name"] == "conv1" and record["layers"][0]["input_sparsity"] == 0


def test_sparse_inputs_save_cycles_where_the_part_gains_and_nothing_elsewhere():
    model = nbperf.load(two_convs())
    for arch, gains in (("npu3720", True), ("npu4000", False), ("vpu2.0", False)):
        dense = nbperf.estimate(model, arch)
        sparse = nbperf.estimate(model, arch, activation_sparsity=0.75)
        assert op(sparse, "conv2").op.dpu.input_sparsity == 0.75
        if gains:  # VPUNN VPU_2_7 fp16: 0.80 of the MAC cycles at 75%
            assert op(sparse, "conv2").compute.cycles < op(dense, "conv2").compute.cycles
            assert sparse.latency_ns < dense.latency_ns
        else:  # VPUNN prices sparse inputs slower on VPU 4.0: nbperf keeps them dense
            assert sparse.latency_ns == dense.latency_ns


def test_int8_gains_only_at_high_sparsity_on_npu3720():
    model = nbperf.load(two_convs())
    dense = nbperf.estimate(model, "npu3720", precision="int8")
    half = nbperf.estimate(model, "npu3720", precision="int8", activation_sparsity=0.5)
    most = nbperf.estimate(model, "npu3720", precision="int8", activation_sparsity=0.9)
    assert half.latency_ns == dense.latency_ns  # VPUNN: 1.06 of dense at 50%, kept dense
    assert most.latency_ns < dense.latency_ns  # 0.94 at 90%


def test_below_the_compilers_threshold_or_16_channels_inputs_stay_dense():
    faint = nbperf.estimate(two_convs(), "npu3720", activation_sparsity=0.19)
    assert op(faint, "conv2").op.dpu.input_sparsity == 0
    narrow = nbperf.estimate(two_convs(channels=8), "npu3720", activation_sparsity=0.9)
    assert op(narrow, "conv2").op.dpu.input_sparsity == 0


def _fed_by(producer: str, channels: int = 32, hw: int = 14) -> onnx.ModelProto:
    """conv1 -> ReLU -> r1 -> {producer} -> s -> conv2, with ``producer``: "skip" (r1 read by conv2
    and by an Add after it), "sigmoid" (a SHAVE kernel writes s) or "conv" (a conv writes s)."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array((rng.standard_normal((channels, channels, 3, 3)) * 0.05)
                                       .astype(np.float32), f"w{i}") for i in (1, 2, 3)]
    def conv(x: str, w: str, y: str, name: str) -> onnx.NodeProto:
        return helper.make_node("Conv", [x, w], [y], name=name, kernel_shape=[3, 3], pads=[1] * 4)

    nodes = [conv("x", "w1", "c1", "conv1"), helper.make_node("Relu", ["c1"], ["r1"], name="relu1")]
    if producer == "skip":
        nodes += [conv("r1", "w2", "c2", "conv2"), helper.make_node("Add", ["c2", "r1"], ["y"], name="add")]
    else:
        middle = (helper.make_node("Sigmoid", ["r1"], ["s"], name="mid") if producer == "sigmoid"
                  else conv("r1", "w3", "s", "mid"))
        nodes += [middle, conv("s", "w2", "y", "conv2")]
    shape = [1, channels, hw, hw]
    graph = helper.make_graph(nodes, producer, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("producer", "tensor", "sparse"), [("conv", "s", True), ("sigmoid", "s", False),
                                                            ("skip", "r1", False)])
def test_an_input_arrives_sparse_only_from_a_dpu_op_written_for_it_alone(producer, tensor, sparse):
    """The compiler's Sparsify fuses into a producing NCE op whose output has no other reader;
    under the default profile S0 an unfused one is removed and the input stays dense."""
    result = nbperf.estimate(_fed_by(producer), "npu3720", activation_sparsity={tensor: 0.6})
    assert op(result, "conv2").op.dpu.input_sparsity == (0.6 if sparse else 0.0)


def test_given_shares_by_tensor_or_node_name():
    by_tensor = nbperf.estimate(two_convs(), "npu3720", activation_sparsity={"r1": 0.6})
    by_node = nbperf.estimate(two_convs(), "npu3720", activation_sparsity={"relu1": 0.6})
    assert op(by_tensor, "conv2").op.dpu.input_sparsity == op(by_node, "conv2").op.dpu.input_sparsity == 0.6
    assert by_node.provenance.activation_sparsity == "given (1 tensors)"
    with pytest.raises(UsageError, match="no tensor or node named 'nope'"):
        nbperf.estimate(two_convs(), "npu3720", activation_sparsity={"nope": 0.5})
    with pytest.raises(UsageError, match="must be a share in"):
        nbperf.estimate(two_convs(), "npu3720", activation_sparsity={"r1": 1.5})


def test_vpunn_descriptor_says_sparse_only_where_the_part_gains():
    for arch, sparse in (("npu3720", True), ("npu4000", False)):
        result = nbperf.estimate(two_convs(), arch, activation_sparsity=0.75)
        row = next(r for r in dpu_rows(result.graph, result.arch, result.plan) if r.layer == "conv2")
        assert row.descriptor.inputs[0].sparsity is sparse
        assert row.descriptor.act_sparsity == (0.75 if sparse else 0.0)


def test_measuring_a_weightless_model_is_a_usage_error():
    pytest.importorskip("onnxruntime", reason="measuring needs the [runtime] extra")
    with pytest.raises(UsageError, match="the model file holds no weights"):
        nbperf.estimate(weightless(two_convs()), "npu4000", activation_sparsity="measure")


def test_measuring_without_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(UsageError, match=r"nbperf\[runtime\]"):
        nbperf.estimate(two_convs(), "npu4000", activation_sparsity="measure")


@settings(max_examples=12, deadline=None)
@given(low=st.floats(0, 0.95), high=st.floats(0, 0.95), arch=st.sampled_from(["npu3720", "npu4000"]),
       precision=st.sampled_from(["fp16", "int8"]))
def test_activation_sparsity_never_adds_bytes_or_time(low, high, arch, precision):
    low, high = sorted((low, high))
    model = _loaded()
    dense = nbperf.estimate(model, arch, precision=precision)
    less = nbperf.estimate(model, arch, precision=precision, activation_sparsity=low)
    more = nbperf.estimate(model, arch, precision=precision, activation_sparsity=high)
    for result in (less, more):
        assert result.ddr_bytes <= dense.ddr_bytes
        assert result.latency_ns <= dense.latency_ns
    assert more.latency_ns <= less.latency_ns


_LOADED: list[nbperf.LoadedModel] = []


def _loaded() -> nbperf.LoadedModel:
    if not _LOADED:
        _LOADED.append(nbperf.load(two_convs(channels=128, hw=28)))
    return _LOADED[0]


def test_cli_options_and_sparsity_file(capsys, tmp_path):
    path = tmp_path / "two.onnx"
    onnx.save(weightless(two_convs()), path)
    spec = tmp_path / "sparsity.yaml"
    spec.write_text("weights:\n  conv2: 0.5\nactivations:\n  relu1: 0.7\n")
    json_path = tmp_path / "out.json"
    code, _, err = run(capsys, "estimate", str(path), "--arch", "npu3720", "--sparsity", str(spec),
                       "--json", str(json_path), "--quiet")
    assert code == 0, err
    import json

    record = json.loads(json_path.read_text())
    layers = {layer["name"]: layer for layer in record["layers"]}
    assert layers["conv2"]["weight_sparsity"] == 0.5 and layers["conv1"]["weight_sparsity"] == 0
    assert layers["conv2"]["input_sparsity"] == 0.7
    assert record["provenance"]["weight_sparsity_assumed"] == {"conv2": 0.5}
    bad = [("--activation-sparsity", "lots"), ("--sparsity", str(tmp_path / "absent.yaml"))]
    for option, value in bad:
        code, _, err = run(capsys, "estimate", str(path), option, value)
        assert code == 2
        one_error_line(err)
    for text, message in (("colours: {a: 1}\n", "unknown section 'colours'"),
                          ("weights: {conv2: 2}\n", "weights.conv2 must be a share"),
                          ("weights: {nope: 0.5}\n", "no layer named 'nope'")):
        spec.write_text(text)
        code, _, err = run(capsys, "estimate", str(path), "--sparsity", str(spec))
        assert code == 2 and message in one_error_line(err)
    spec.write_text("activations: {relu1: 0.5}\n")
    code, _, err = run(capsys, "estimate", str(path), "--sparsity", str(spec), "--activation-sparsity", "0.5")
    assert code == 2 and "not both" in one_error_line(err)
