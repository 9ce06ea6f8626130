"""Tests of the ONNX frontend: loading, validation, shapes, constant folding."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from frontend_helpers import SHARED_MODELS, external_init, init, make_model, save, value_info
from onnx import TensorProto, helper

from nbperf.errors import ModelError
from nbperf.frontend import Graph, load_model

I64 = TensorProto.INT64


def _load(tmp_path: Path, model, input_shapes=None, name: str = "m.onnx") -> Graph:
    return load_model(save(model, tmp_path / name), input_shapes)


def _conv_model(batch: int | str = 1) -> object:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    inits = [
        external_init("w1", [8, 3, 3, 3]),
        init("b1", np.zeros(8, np.float32)),
        external_init("w2", [16, 8, 1, 1]),
        external_init("fc_w", [10, 16]),
        init("fc_b", np.zeros(10, np.float32)),
    ]
    return make_model(nodes, [value_info("x", [batch, 3, 32, 32])], [value_info("y", None)], inits)


# ---------------------------------------------------------------------------------------------
# shapes


def test_conv_chain_shapes(tmp_path: Path) -> None:
    g = _load(tmp_path, _conv_model())
    assert [n.op_type for n in g.nodes] == ["Conv", "Relu", "Conv", "GlobalAveragePool", "Flatten", "Gemm"]
    shapes = {name: t.shape for name, t in g.tensors.items()}
    assert shapes["x"] == (1, 3, 32, 32)
    assert shapes["c1"] == (1, 8, 16, 16)
    assert shapes["r1"] == (1, 8, 16, 16)
    assert shapes["c2"] == (1, 16, 16, 16)
    assert shapes["p"] == (1, 16, 1, 1)
    assert shapes["f"] == (1, 16)
    assert shapes["y"] == (1, 10)
    assert g.inputs == ("x",) and g.outputs == ("y",)
    w1 = g.tensor("w1")
    assert w1.is_constant and w1.value is None and w1.shape == (8, 3, 3, 3) and w1.dtype == "float32"
    assert g.tensor("b1").is_constant and g.tensor("b1").value is not None
    assert not g.tensor("c1").is_constant
    assert g.nodes[0].attrs == {"pads": [1, 1, 1, 1], "strides": [2, 2]}


def test_matmul_chain_shapes(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Transpose", ["w2"], ["w2t"], perm=[1, 0]),
        helper.make_node("MatMul", ["a1", "w2t"], ["y"]),
    ]
    inits = [
        external_init("w1", [64, 32]),
        init("b1", np.ones(32, np.float32)),
        external_init("w2", [10, 32]),
    ]
    model = make_model(nodes, [value_info("x", [1, 16, 64])], [value_info("y", None)], inits)
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["MatMul", "Add", "MatMul"]
    assert g.tensor("m1").shape == (1, 16, 32)
    assert g.tensor("y").shape == (1, 16, 10)
    # The transposed weight is a weight: a constant without a value, shaped by the Transpose.
    w2t = g.tensor("w2t")
    assert w2t.is_constant and w2t.value is None and w2t.shape == (32, 10)
    assert g.folded_nodes == 1


def test_identity_on_weight_forwards_constant(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Identity", ["w"], ["w_id"]),
        helper.make_node("MatMul", ["x", "w_id"], ["y"]),
    ]
    model = make_model(
        nodes, [value_info("x", [2, 8])], [value_info("y", None)], [external_init("w", [8, 4])]
    )
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["MatMul"]
    t = g.tensor("w_id")
    assert t.is_constant and t.value is None and t.shape == (8, 4)
    assert g.tensor("y").shape == (2, 4)


def test_shape_gather_unsqueeze_concat_reshape_folds(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("v", I64, [], [0])),
        helper.make_node("Gather", ["s", "zero"], ["batch"], axis=0),
        helper.make_node("Constant", [], ["axes"], value_ints=[0]),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
        helper.make_node("Relu", ["y"], ["z"]),
    ]
    model = make_model(nodes, [value_info("x", ["n", 3, 4])], [value_info("z", None)])
    g = _load(tmp_path, model, {"x": (2, 3, 4)})
    assert [n.op_type for n in g.nodes] == ["Reshape", "Relu"]
    assert g.folded_nodes == 7
    target = g.tensor("target")
    assert target.is_constant and target.value.tolist() == [2, -1] and target.dtype == "int64"
    assert g.tensor("y").shape == (2, 12)
    assert g.tensor("z").shape == (2, 12)
    assert "s" not in g.tensors  # only tensors the remaining nodes use are kept


def test_constant_of_shape_expand_and_range_get_static_shapes(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node(
            "ConstantOfShape", ["s"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1])
        ),
        helper.make_node("Add", ["x", "ones"], ["a"]),
        helper.make_node("Constant", [], ["limit"], value=helper.make_tensor("l", I64, [], [5])),
        helper.make_node("Constant", [], ["start"], value=helper.make_tensor("s0", I64, [], [0])),
        helper.make_node("Constant", [], ["step"], value=helper.make_tensor("d", I64, [], [1])),
        helper.make_node("Range", ["start", "limit", "step"], ["r"]),
        helper.make_node("Gather", ["a", "r"], ["y"], axis=1),
    ]
    model = make_model(nodes, [value_info("x", [2, 8])], [value_info("y", None)])
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["Add", "Gather"]
    assert g.tensor("ones").value.shape == (2, 8)
    assert g.tensor("r").value.tolist() == [0, 1, 2, 3, 4]
    assert g.tensor("y").shape == (2, 5)


def test_large_constant_is_not_evaluated(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Constant", [], ["shape"], value_ints=[1, 2048, 2048]),
        helper.make_node("ConstantOfShape", ["shape"], ["big"]),
        helper.make_node("Add", ["x", "big"], ["y"]),
    ]
    model = make_model(nodes, [value_info("x", [1, 2048, 2048])], [value_info("y", None)])
    g = _load(tmp_path, model)
    big = g.tensor("big")
    assert big.is_constant and big.value is None and big.shape == (1, 2048, 2048)
    assert [n.op_type for n in g.nodes] == ["Add"]


def test_random_ops_are_not_folded(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("RandomNormal", [], ["noise"], shape=[2, 4]),
        helper.make_node("Add", ["x", "noise"], ["y"]),
    ]
    model = make_model(nodes, [value_info("x", [2, 4])], [value_info("y", None)])
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["RandomNormal", "Add"]
    assert not g.tensor("noise").is_constant


def test_unsorted_nodes_are_ordered(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["b"], ["y"], name="last"),
        helper.make_node("Sigmoid", ["a"], ["b"], name="middle"),
        helper.make_node("Abs", ["x"], ["a"], name="first"),
        helper.make_node("Neg", ["x"], ["unused"], name="side"),
    ]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)])
    g = _load(tmp_path, model)
    assert [n.name for n in g.nodes] == ["first", "middle", "last", "side"]


def test_empty_names_are_synthesised_and_attrs_are_plain(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Resize", ["a", "", "scales"], ["b"], mode="nearest"),
        helper.make_node("Relu", ["b"], ["y"]),
    ]
    inits = [init("scales", np.array([1, 1, 2, 2], np.float32))]
    model = make_model(nodes, [value_info("x", [1, 2, 4, 4])], [value_info("y", None)], inits)
    g = _load(tmp_path, model)
    assert [n.name for n in g.nodes] == ["Relu_0", "Resize_1", "Relu_2"]
    assert g.nodes[1].attrs["mode"] == "nearest"
    assert g.nodes[1].inputs == ("a", "", "scales")
    assert g.tensor("y").shape == (1, 2, 8, 8)


def test_graph_input_that_is_an_initializer_is_a_constant(tmp_path: Path) -> None:
    nodes = [helper.make_node("Add", ["x", "bias"], ["y"])]
    model = make_model(
        nodes,
        [value_info("x", [3]), value_info("bias", [3])],
        [value_info("y", None)],
        [init("bias", np.ones(3, np.float32))],
    )
    g = _load(tmp_path, model)
    assert g.inputs == ("x",)
    assert g.tensor("bias").is_constant


# ---------------------------------------------------------------------------------------------
# input shapes


def test_dynamic_input_without_shape_is_refused(tmp_path: Path) -> None:
    model = _conv_model(batch="batch")
    with pytest.raises(ModelError) as e:
        _load(tmp_path, model)
    assert e.value.message == (
        "input 'x' has a dynamic dimension 'batch' (shape [batch,3,32,32]); "
        "give it with --input-shape x=1x3x32x32"
    )


def test_dynamic_input_with_shape(tmp_path: Path) -> None:
    g = _load(tmp_path, _conv_model(batch="batch"), {"x": (4, 3, 32, 32)})
    assert g.tensor("x").shape == (4, 3, 32, 32)
    assert g.tensor("y").shape == (4, 10)


def test_unnamed_dynamic_dim(tmp_path: Path) -> None:
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"])], [value_info("x", [None, 8])], [value_info("y", None)]
    )
    with pytest.raises(
        ModelError, match=re.escape("dynamic dimension '?' (shape [?,8]); give it with --input-shape x=1x8")
    ):
        _load(tmp_path, model)


def test_shared_dim_param_binds_other_inputs(tmp_path: Path) -> None:
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    model = make_model(nodes, [value_info("a", ["n", 4]), value_info("b", ["n", 4])], [value_info("y", None)])
    g = _load(tmp_path, model, {"a": (3, 4)})
    assert g.tensor("b").shape == (3, 4) and g.tensor("y").shape == (3, 4)


def test_input_shape_for_unknown_input(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"--input-shape names 'img', .* its inputs are: 'x'$"):
        _load(tmp_path, _conv_model(), {"img": (1, 3, 32, 32)})


def test_input_shape_rank_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"has rank 3 but input 'x' has rank 4"):
        _load(tmp_path, _conv_model("batch"), {"x": (1, 3, 32)})


@pytest.mark.parametrize("shape", [(0, 3, 32, 32), (1, -3, 32, 32)])
def test_input_shape_non_positive(tmp_path: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ModelError, match="every dimension must be a positive integer"):
        _load(tmp_path, _conv_model("batch"), {"x": shape})


def test_input_shape_not_integers(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="must be a sequence of integers"):
        _load(tmp_path, _conv_model("batch"), {"x": (1, 3, 32.5, 32)})


def test_unresolvable_shape_names_node_and_output(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("NonZero", ["x"], ["nz"], name="nonzero"),
        helper.make_node("Relu", ["nz"], ["y"]),
    ]
    model = make_model(nodes, [value_info("x", [4, 4])], [value_info("y", None)])
    with pytest.raises(ModelError, match=r"output 'nz' of node 'nonzero' \(NonZero\) has no static shape"):
        _load(tmp_path, model)


def test_unknown_custom_op(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Magic", ["x"], ["m"], name="magic", domain="my.ops"),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)], extra_opsets=[("my.ops", 1)])
    with pytest.raises(ModelError, match=r"node 'magic' uses operator 'Magic' \('my.ops' domain\)"):
        _load(tmp_path, model)
    # With its output shape declared in value_info, the custom op is kept as an opaque node.
    model = make_model(
        nodes,
        [value_info("x", [4])],
        [value_info("y", None)],
        value_infos=[value_info("m", [4, 2])],
        extra_opsets=[("my.ops", 1)],
    )
    g = _load(tmp_path, model)
    assert [n.op_type for n in g.nodes] == ["Magic", "Relu"]
    assert g.tensor("y").shape == (4, 2)


def test_shape_mismatch_is_a_model_error(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    model = make_model(
        nodes, [value_info("x", [2, 8])], [value_info("y", None)], [external_init("w", [7, 4])]
    )
    with pytest.raises(ModelError, match=r"cannot infer the shape of output 'y' of node 'mm' \(MatMul\)"):
        _load(tmp_path, model)


# ---------------------------------------------------------------------------------------------
# bad files


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.onnx"
    with pytest.raises(ModelError) as e:
        load_model(path)
    assert e.value.message == f"model file not found: {path}"
    assert e.value.exit_code == 2


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as e:
        load_model(tmp_path)
    assert e.value.message == f"{tmp_path} is not a valid ONNX model: it is a directory"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelError) as e:
        load_model(path)
    assert e.value.message == f"{path} is not a valid ONNX model: the file is empty"


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\nreally not\n")
    with pytest.raises(
        ModelError, match=rf"^{re.escape(str(path))} is not a valid ONNX model: cannot parse it \("
    ):
        load_model(path)


def test_truncated_protobuf(tmp_path: Path) -> None:
    data = _conv_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as e:
        load_model(path)
    assert e.value.message.startswith(f"{path} is not a valid ONNX model: ")
    assert "\n" not in e.value.message


def test_model_without_graph_or_nodes(tmp_path: Path) -> None:
    path = tmp_path / "nograph.onnx"
    path.write_bytes(helper.make_operatorsetid("", 17).SerializeToString())  # parses as a ModelProto
    with pytest.raises(ModelError, match="is not a valid ONNX model: it has no graph"):
        load_model(path)
    model = make_model([], [value_info("x", [1])], [value_info("x", [1])])
    with pytest.raises(ModelError, match="is not a valid ONNX model: its graph has no nodes"):
        _load(tmp_path, model)


def test_cycle_names_a_node_on_it(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="entry"),
        helper.make_node("Add", ["a", "c"], ["b"], name="add"),
        helper.make_node("Sigmoid", ["b"], ["c"], name="loop_back"),
        helper.make_node("Relu", ["c"], ["y"], name="after"),
    ]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)])
    with pytest.raises(
        ModelError, match=r"is not a valid ONNX model: its graph has a cycle through node '(add|loop_back)'"
    ):
        _load(tmp_path, model)


def test_undefined_input(tmp_path: Path) -> None:
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)])
    with pytest.raises(
        ModelError, match=r"node 'add' reads 'ghost', which no node, initializer or graph input"
    ):
        _load(tmp_path, model)


def test_tensor_produced_twice(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Abs", ["x"], ["y"], name="dup")]
    model = make_model(nodes, [value_info("x", [4])], [value_info("y", None)])
    with pytest.raises(ModelError, match=r"tensor 'y' is produced more than once \(again by node 'dup'\)"):
        _load(tmp_path, model)


@pytest.mark.parametrize("location", ["/etc/passwd", "../secret.bin", "sub/../../x.bin", "C:\\weights.bin"])
def test_external_data_outside_model_folder_is_refused(tmp_path: Path, location: str) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    inits = [external_init("w", [8, 4], location=location)]
    model = make_model(nodes, [value_info("x", [2, 8])], [value_info("y", None)], inits)
    with pytest.raises(ModelError, match="outside the model's folder"):
        _load(tmp_path, model)


def test_external_data_inside_model_folder_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.bin").write_bytes(b"\x00" * 128)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    inits = [external_init("w", [8, 4], location="data/w.bin")]
    model = make_model(nodes, [value_info("x", [2, 8])], [value_info("y", None)], inits)
    g = _load(tmp_path, model)
    assert g.tensor("w").value is None and g.tensor("w").shape == (8, 4)


# ---------------------------------------------------------------------------------------------
# the shared models


def _shared_models() -> list[Path]:
    return sorted(SHARED_MODELS.glob("*.onnx")) if SHARED_MODELS.is_dir() else []


@pytest.fixture
def shared_models() -> Path:
    if not _shared_models():
        pytest.skip(f"shared models not found at {SHARED_MODELS.resolve()}")
    return SHARED_MODELS


def test_all_shared_models_load_static(shared_models: Path) -> None:
    for path in _shared_models():
        g = load_model(path)
        assert g.nodes, path.name
        for n in g.nodes:
            for o in n.outputs:
                if o:
                    shape = g.tensor(o).shape
                    assert all(isinstance(d, int) and d > 0 for d in shape), (path.name, n.name, o, shape)
            for i in n.inputs:
                assert not i or i in g.tensors, (path.name, n.name, i)
        for name in (*g.inputs, *g.outputs):
            assert name in g.tensors


def test_shared_qdq_model_has_no_qdq_nodes(shared_models: Path) -> None:
    g = load_model(shared_models / "mobilenet_v2_int8_qdq.onnx")
    assert not [n for n in g.nodes if n.op_type in ("QuantizeLinear", "DequantizeLinear")]


@pytest.mark.parametrize("model", ["vit_b_16.onnx", "bert_base_s128.onnx"])
def test_shared_transformers_fold_shape_computations(shared_models: Path, model: str) -> None:
    g = load_model(shared_models / model)
    ops = {n.op_type for n in g.nodes}
    assert not ops & {"Shape", "ConstantOfShape", "Constant", "Size"}, model
    for n in g.nodes:
        if n.op_type == "Gather":
            data = g.tensor(n.inputs[0])
            # a Gather left must read activations or a weight, never a shape vector
            assert not (data.value is not None and data.dtype == "int64" and len(data.shape) == 1), n.name
    assert g.folded_nodes > 100


def test_shared_resnet50_shapes(shared_models: Path) -> None:
    g = load_model(shared_models / "resnet50.onnx")
    assert g.tensor(g.outputs[0]).shape == (1, 1000)
    assert sum(n.op_type == "Conv" for n in g.nodes) == 53
    assert not any(n.op_type == "Identity" for n in g.nodes)


def test_input_shapes_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="input shapes must map input names to shapes, got list"):
        _load(tmp_path, _conv_model("batch"), [(1, 3, 32, 32)])
