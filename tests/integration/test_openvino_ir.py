"""OpenVINO IR input: the same network from IR and from ONNX gives the same estimate.

Models are built here with weights, converted to IR by the openvino package itself
(``convert_model`` + ``save_model``), and estimated in both forms; the weightless path (the
``.xml`` alone) must agree too. Skipped, with the reason, where the ``openvino`` extra is absent.
"""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from benchmarks.model_builders import decoder_lm
from onnx import TensorProto, helper, numpy_helper

import nbperf
from nbperf.cli import main
from nbperf.frontend import load_model

ov = pytest.importorskip("openvino", reason="the openvino extra is absent (pip install 'nbperf[openvino]')")


def _weights(name: str, shape: list[int], rng: np.random.Generator) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def _cnn(rng: np.random.Generator) -> onnx.ModelProto:
    """Strided conv + ReLU, max pool, conv + swish, depthwise conv, residual Add, global pool, FC, softmax."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4,
                         strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Sigmoid", ["c2"], ["s2"]),
        helper.make_node("Mul", ["c2", "s2"], ["sw"]),
        helper.make_node("Conv", ["sw", "w3"], ["c3"], kernel_shape=[3, 3], pads=[1] * 4, group=32),
        helper.make_node("Add", ["c3", "p1"], ["a"]),
        helper.make_node("GlobalAveragePool", ["a"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
        helper.make_node("Softmax", ["y"], ["z"], axis=1),
    ]
    shapes = {"w1": [32, 3, 3, 3], "b1": [32], "w2": [32, 32, 3, 3], "b2": [32], "w3": [32, 1, 3, 3],
              "wf": [10, 32], "bf": [10]}
    inits = [_weights(name, shape, rng) for name, shape in shapes.items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 96, 96])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 10])
    graph = helper.make_graph(nodes, "cnn", [x], [z], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _quantized(rng: np.random.Generator) -> onnx.ModelProto:
    """Two int8 convolutions in Q/DQ form; OpenVINO turns each pair into a FakeQuantize."""
    def const(name: str, value: object) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(value), name)

    inits = [const("s", np.float32(0.05)), const("z", np.int8(0)), const("ws", np.float32(0.01)),
             const("w1q", rng.integers(-100, 100, (32, 16, 3, 3)).astype(np.int8)),
             const("w2q", rng.integers(-100, 100, (32, 32, 3, 3)).astype(np.int8))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["w1q", "ws", "z"], ["w1"]),
             helper.make_node("Conv", ["xd", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("QuantizeLinear", ["r1", "s", "z"], ["rq"]),
             helper.make_node("DequantizeLinear", ["rq", "s", "z"], ["rd"]),
             helper.make_node("DequantizeLinear", ["w2q", "ws", "z"], ["w2"]),
             helper.make_node("Conv", ["rd", "w2"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "int8", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _transformer(rng: np.random.Generator) -> onnx.ModelProto:
    """One decoder layer (attention OpenVINO fuses into ScaledDotProductAttention, layer norms it
    writes as MVN * gamma + beta, GELU), with weights."""
    model = decoder_lm(layers=1, d_model=128, heads=4, ffn=512, vocab=500, seq=64)
    for i, t in enumerate(model.graph.initializer):
        if t.data_location == TensorProto.EXTERNAL:
            model.graph.initializer[i].CopyFrom(_weights(t.name, list(t.dims), rng))
    return model


def _save_forms(kind: str, folder):
    """(ONNX path, IR .xml with its .bin, weightless copy of the .xml alone) of model ``kind``."""
    model = {"cnn": _cnn, "int8": _quantized, "transformer": _transformer}[kind](np.random.default_rng(0))
    onnx_path, xml = folder / "model.onnx", folder / "model.xml"
    onnx.save(model, onnx_path)
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml))
    weightless = folder / "weightless" / "model.xml"
    weightless.parent.mkdir()
    shutil.copy(xml, weightless)
    return onnx_path, xml, weightless


@pytest.fixture(scope="module", params=["cnn", "int8", "transformer"])
def forms(request, tmp_path_factory):
    return _save_forms(request.param, tmp_path_factory.mktemp(request.param))


@pytest.mark.parametrize("arch", ["npu4000", "npu3720"])
@pytest.mark.parametrize("schedule", ["serial", "emulator"])
def test_ir_and_onnx_of_one_network_estimate_the_same(forms, arch, schedule):
    onnx_path, xml, weightless = forms
    from_onnx = nbperf.estimate(onnx_path, arch, schedule=schedule)
    for path in (xml, weightless):
        from_ir = nbperf.estimate(path, arch, schedule=schedule)
        assert from_ir.unknown_ops == ()
        assert from_ir.macs == from_onnx.macs
        assert from_ir.latency_ns == pytest.approx(from_onnx.latency_ns, rel=0.01), path


def test_an_int8_ir_runs_int8(tmp_path):
    """NNCF's FakeQuantize ops mark int8 data, as Q/DQ pairs do in ONNX."""
    _, xml, _ = _save_forms("int8", tmp_path)
    precisions = {t.op.op_type: t.op.precision for t in nbperf.estimate(xml, "npu4000").schedule.tasks}
    assert precisions["Conv"] == "int8"


def test_the_cli_reads_ir_and_refuses_a_broken_one_in_one_line(forms, tmp_path, capsys):
    _, xml, _ = forms
    assert main(["estimate", str(xml), "--arch", "npu4000", "-q"]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken.xml"
    broken.write_text(xml.read_text().replace('to-port="0"', 'to-port="9"', 1))
    assert main(["estimate", str(broken), "--arch", "npu4000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a valid OpenVINO IR" in err[0]


def test_a_weightless_ir_refuses_a_new_input_shape_in_one_line(forms, capsys):
    """Without the .bin openvino cannot re-infer shapes: the saved ones stand, and asking for others
    is a clear error rather than a graph with mismatched shapes."""
    _, _, weightless = forms
    graph = load_model(weightless)
    name = graph.inputs[0]
    *lead, last = graph.tensors[name].shape
    other = "x".join(str(d) for d in (*lead, 2 * last))
    assert main(["estimate", str(weightless), "--arch", "npu4000", "--input-shape", f"{name}={other}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keeps the shapes it was saved with" in err[0]
