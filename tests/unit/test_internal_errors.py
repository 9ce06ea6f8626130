"""A bug in nbperf's frontend is reported as an internal error, never as a problem with the model.

Each test makes one piece of nbperf's own code fail (monkeypatched to raise what a bug raises:
KeyError, IndexError, AttributeError, TypeError) and checks that ``load_model`` raises
``InternalError`` naming the stage, not ``ModelError``, and that the CLI exits with code 3 and one
line that says it is a bug in nbperf. The opposite direction is checked too: a model that ONNX
itself rejects is still the user's ``ModelError`` (exit code 2).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper, shape_inference
from tests.onnx_builders import chain_model, conv_model, save

from nbperf.cli import main
from nbperf.errors import InternalError, ModelError, NbperfError
from nbperf.frontend import load_model

F = TensorProto.FLOAT
# The modules themselves: ``nbperf.frontend.propagate`` the attribute is the function of that name.
build, folding, onnx_loader, propagate, qdq, shapes = (
    importlib.import_module(f"nbperf.frontend.{m}")
    for m in ("build", "folding", "onnx_loader", "propagate", "qdq", "shapes")
)


def _qdq_model() -> onnx.ModelProto:
    """x -> QuantizeLinear -> DequantizeLinear -> Relu: a model that reaches the Q/DQ folding stage."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"], name="dq"),
             helper.make_node("Relu", ["d"], ["y"], name="relu")]
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int8), "z")]
    return chain_model(nodes, [helper.make_tensor_value_info("x", F, [1, 4, 8, 8])],
                       [helper.make_tensor_value_info("y", F, None)], inits)


@pytest.fixture
def conv_path(tmp_path: Path) -> Path:
    return save(conv_model(4, 8, 8, 3), tmp_path, "conv.onnx")


@pytest.fixture
def qdq_path(tmp_path: Path) -> Path:
    return save(_qdq_model(), tmp_path, "qdq.onnx")


def _raiser(exc: BaseException):
    def fail(*_args, **_kwargs):
        raise exc
    return fail


# (module, attribute, exception, stage named in the message); each attribute is nbperf's own code.
BUGS = [
    (onnx_loader, "_check_names", KeyError("name"), "reading the file"),
    (propagate, "check_node", KeyError("x"), "shape propagation"),
    (propagate, "_unique_names", IndexError("list index out of range"), "shape propagation"),
    (propagate, "convert_attrs", AttributeError("'NoneType' has no attribute 'i'"),
     "shape propagation"),
    (qdq, "_propagate_int", KeyError("q"), "Q/DQ folding"),
    (build, "_tensor", TypeError("unsupported operand"), "building the graph"),
]

BUG_IDS = [f"{m.__name__.rsplit('.', 1)[1]}.{n}" for m, n, _, _ in BUGS]


@pytest.mark.parametrize("module,name,exc,stage", BUGS, ids=BUG_IDS)
def test_a_bug_in_a_frontend_stage_is_an_internal_error(monkeypatch, qdq_path, module, name, exc, stage):
    monkeypatch.setattr(module, name, _raiser(exc))
    with pytest.raises(InternalError) as info:
        load_model(qdq_path)
    assert not isinstance(info.value, NbperfError)
    message = str(info.value)
    assert message.startswith(f"loading {qdq_path} failed in {stage}: {type(exc).__name__}: ")
    assert "\n" not in message and "not a valid ONNX model" not in message
    assert info.value.__cause__ is exc  # NBPERF_DEBUG=1 shows the original traceback
    assert info.value.exit_code == 3


@pytest.mark.parametrize("module,name,exc,stage", BUGS, ids=BUG_IDS)
def test_the_cli_reports_a_frontend_bug_as_exit_3(monkeypatch, capsys, qdq_path, module, name, exc, stage):
    monkeypatch.delenv("NBPERF_DEBUG", raising=False)
    monkeypatch.setattr(module, name, _raiser(exc))
    assert main(["estimate", str(qdq_path), "-q"]) == 3
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nbperf: internal error: ")
    assert "a bug in nbperf" in lines[0] and f"failed in {stage}" in lines[0]
    assert "nbperf: error:" not in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_the_cli_reports_a_bug_in_propagation_of_resnet50_as_exit_3(monkeypatch, capsys):
    monkeypatch.delenv("NBPERF_DEBUG", raising=False)
    monkeypatch.setattr(propagate, "check_node", _raiser(KeyError("conv1")))
    model = Path(__file__).resolve().parents[2] / "examples" / "models" / "resnet50.onnx"
    assert main(["estimate", str(model)]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "a bug in nbperf" in err and "KeyError: 'conv1'" in err


def test_a_bug_inside_the_evaluators_guard_is_not_swallowed(monkeypatch, tmp_path):
    """The constant folder absorbs what onnx.reference raises, not what nbperf's own code raises."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Neg", ["s"], ["n"]),
             helper.make_node("Abs", ["n"], ["a"]), helper.make_node("Reshape", ["x", "a"], ["y"])]
    model = chain_model(nodes, [helper.make_tensor_value_info("x", F, [2, 3])],
                        [helper.make_tensor_value_info("y", F, None)])
    path = save(model, tmp_path)
    assert load_model(path).tensor("y").shape == (2, 3)  # folded through the evaluator
    monkeypatch.setattr(folding.Evaluator, "_op_class", _raiser(KeyError(("Neg", 17))))
    with pytest.raises(InternalError, match=r"failed in shape propagation: KeyError: \('Neg', 17\)"):
        load_model(path)


def test_a_wrong_call_into_onnx_shape_inference_is_internal(monkeypatch, conv_path):
    """TypeError from ONNX's bindings means nbperf passed the wrong arguments: a bug, not the model."""
    monkeypatch.setattr(shapes.shape_inference, "infer_node_outputs",
                        _raiser(TypeError("_infer_node_outputs(): incompatible function arguments")))
    with pytest.raises(InternalError, match="failed in shape propagation: TypeError: "):
        load_model(conv_path)


def test_onnx_rejecting_a_node_is_still_the_models_fault(monkeypatch, conv_path):
    monkeypatch.setattr(shapes.shape_inference, "infer_node_outputs",
                        _raiser(shape_inference.InferenceError("[ShapeInferenceError] bad input rank")))
    with pytest.raises(ModelError, match=r"node 'conv' \(Conv\): \[ShapeInferenceError\] bad input rank"):
        load_model(conv_path)


def test_a_model_onnx_rejects_is_exit_2_through_the_cli(tmp_path, capsys):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    inits = [numpy_helper.from_array(np.zeros((5, 2), np.float32), "w")]
    model = chain_model(nodes, [helper.make_tensor_value_info("x", F, [1, 4])],
                        [helper.make_tensor_value_info("y", F, None)], inits)
    assert main(["estimate", str(save(model, tmp_path)), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbperf: error: ") and "node 'mm' (MatMul)" in err
    assert "internal error" not in err


def test_a_corrupt_file_is_a_model_error(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(conv_model(4, 8, 8, 3).SerializeToString()[:-7])
    with pytest.raises(ModelError, match="is not a valid ONNX model: cannot parse it"):
        load_model(path)
