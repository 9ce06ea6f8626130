"""Operators real models carry that the NPU runs decomposed: each estimates with no unknown op and
the MACs its ONNX (or ONNX Runtime contrib) definition implies, counted here by hand."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import nbperf

F = T.FLOAT
U8 = T.UINT8
M = "com.microsoft"
CASES: dict[str, tuple[onnx.ModelProto, int | None]] = {}


def vi(name, shape, elem=F):
    return h.make_tensor_value_info(name, elem, shape)


def init(name, shape, dtype=np.float32):
    return nh.from_array(np.ones(shape, dtype), name)


def case(name, nodes, inputs, outputs, inits=(), opset=28, ms=False, macs=None):
    opsets = [h.make_opsetid("", opset)] + ([h.make_opsetid(M, 1)] if ms else [])
    graph = h.make_graph(nodes, name, inputs, outputs, list(inits))
    CASES[name] = (h.make_model(graph, opset_imports=opsets), macs)


B, S, D, H = 1, 32, 64, 4
case(
    "attention4d",
    [h.make_node("Attention", ["q", "k", "v"], ["y"])],
    [vi("q", [B, H, S, 16]), vi("k", [B, H, S, 16]), vi("v", [B, H, S, 16])],
    [vi("y", None)],
    macs=2 * B * H * S * S * 16,
)
case(
    "attention3d",
    [h.make_node("Attention", ["q", "k", "v"], ["y"], q_num_heads=H, kv_num_heads=H, is_causal=1)],
    [vi("q", [B, S, D]), vi("k", [B, S, D]), vi("v", [B, S, D])],
    [vi("y", None)],
    macs=2 * B * S * S * D,
)
case(
    "rotary",
    [h.make_node("RotaryEmbedding", ["x", "cos", "sin"], ["y"])],
    [vi("x", [B, H, S, 16]), vi("cos", [B, S, 8]), vi("sin", [B, S, 8])],
    [vi("y", None)],
    opset=23,
)
IN, Hh, Sq = 32, 48, 10
for op, g in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
    case(
        op.lower(),
        [h.make_node(op, ["x", "w", "r"], ["y", "yh"], hidden_size=Hh)],
        [vi("x", [Sq, 2, IN])],
        [vi("y", None), vi("yh", None)],
        [init("w", [1, g * Hh, IN]), init("r", [1, g * Hh, Hh])],
        opset=22,
        macs=Sq * 2 * g * Hh * (IN + Hh),
    )
case(
    "einsum",
    [h.make_node("Einsum", ["a", "b"], ["y"], equation="bij,bjk->bik")],
    [vi("a", [4, 16, 32]), vi("b", [4, 32, 8])],
    [vi("y", None)],
    macs=4 * 16 * 32 * 8,
)
case(
    "einsum1",
    [h.make_node("Einsum", ["a"], ["y"], equation="ij->ji")],
    [vi("a", [16, 32])],
    [vi("y", None)],
    macs=0,
)
case("castlike", [h.make_node("CastLike", ["a", "a"], ["y"])], [vi("a", [16, 32])], [vi("y", None)])
U8 = T.UINT8
case(
    "qlinearconv",
    [
        h.make_node(
            "QLinearConv",
            ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
            ["y"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
        )
    ],
    [vi("x", [1, 16, 16, 16], U8)],
    [vi("y", None, U8)],
    [
        init("xs", []),
        init("xz", [], np.uint8),
        init("w", [16, 16, 3, 3], np.uint8),
        init("ws", []),
        init("wz", [], np.uint8),
        init("ys", []),
        init("yz", [], np.uint8),
    ],
    opset=21,
    macs=16 * 16 * 16 * 16 * 9,
)
case(
    "qlinearmatmul",
    [h.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])],
    [vi("a", [1, 16, 32], U8)],
    [vi("y", None, U8)],
    [
        init("as", []),
        init("az", [], np.uint8),
        init("b", [32, 64], np.uint8),
        init("bs", []),
        init("bz", [], np.uint8),
        init("ys", []),
        init("yz", [], np.uint8),
    ],
    opset=21,
    macs=16 * 32 * 64,
)
case(
    "convinteger",
    [h.make_node("ConvInteger", ["x", "w"], ["y"], kernel_shape=[3, 3])],
    [vi("x", [1, 16, 16, 16], U8)],
    [vi("y", None, T.INT32)],
    [init("w", [16, 16, 3, 3], np.uint8)],
    opset=21,
    macs=16 * 14 * 14 * 16 * 9,
)
case(
    "matmulinteger",
    [h.make_node("MatMulInteger", ["a", "b"], ["y"])],
    [vi("a", [16, 32], U8)],
    [vi("y", None, T.INT32)],
    [init("b", [32, 64], np.uint8)],
    opset=21,
    macs=16 * 32 * 64,
)
case(
    "deformconv",
    [h.make_node("DeformConv", ["x", "w", "off"], ["y"], kernel_shape=[3, 3])],
    [vi("x", [1, 8, 16, 16]), vi("off", [1, 18, 14, 14])],
    [vi("y", None)],
    [init("w", [8, 8, 3, 3])],
    opset=22,
    macs=8 * 14 * 14 * 8 * 9,
)
case(
    "roialign",
    [h.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], output_height=7, output_width=7)],
    [vi("x", [1, 8, 32, 32]), vi("rois", [4, 4]), vi("idx", [4], T.INT64)],
    [vi("y", None)],
    opset=22,
)
case(
    "maxunpool",
    [h.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
    [vi("x", [1, 8, 8, 8]), vi("i", [1, 8, 8, 8], T.INT64)],
    [vi("y", None)],
    opset=22,
)
case("dft", [h.make_node("DFT", ["x"], ["y"])], [vi("x", [1, 64, 1])], [vi("y", None)], opset=20)
case(
    "col2im",
    [h.make_node("Col2Im", ["x", "is", "bs"], ["y"])],
    [vi("x", [1, 8 * 4, 9])],
    [vi("y", None)],
    [nh.from_array(np.array([4, 4], np.int64), "is"), nh.from_array(np.array([2, 2], np.int64), "bs")],
    opset=18,
)
case(
    "cumprod",
    [h.make_node("CumProd", ["x", "ax"], ["y"])],
    [vi("x", [4, 16])],
    [vi("y", None)],
    [nh.from_array(np.array(1, np.int64), "ax")],
    opset=26,
)
case(
    "swiglu",
    [h.make_node("SwiGLU", ["a", "b"], ["y"])],
    [vi("a", [4, 16]), vi("b", [4, 16])],
    [vi("y", None)],
    opset=28,
)
M = "com.microsoft"
for gelu in ("FastGelu", "BiasGelu"):  # x + bias, then GELU
    case(f"ms_{gelu.lower()}", [h.make_node(gelu, ["x", "bias"], ["y"], domain=M)], [vi("x", [B, S, D])],
         [vi("y", None)], [init("bias", [D])], opset=17, ms=True)
case(
    "ms_quickgelu",
    [h.make_node("QuickGelu", ["x"], ["y"], domain=M)],
    [vi("x", [B, S, D])],
    [vi("y", None)],
    opset=17,
    ms=True,
)
case(
    "ms_skipln",
    [h.make_node("SkipLayerNormalization", ["x", "s", "g", "b"], ["y"], domain=M)],
    [vi("x", [B, S, D]), vi("s", [B, S, D])],
    [vi("y", None)],
    [init("g", [D]), init("b", [D])],
    opset=17,
    ms=True,
)
case(
    "ms_attention",
    [h.make_node("Attention", ["x", "w", "bias"], ["y"], num_heads=H, domain=M)],
    [vi("x", [B, S, D])],
    [vi("y", None)],
    [init("w", [D, 3 * D]), init("bias", [3 * D])],
    opset=17,
    ms=True,
    macs=B * S * D * 3 * D + 2 * B * S * S * D,
)
case(
    "ms_mha",
    [h.make_node("MultiHeadAttention", ["q", "k", "v"], ["y"], num_heads=H, domain=M)],
    [vi("q", [B, S, D]), vi("k", [B, S, D]), vi("v", [B, S, D])],
    [vi("y", None)],
    opset=17,
    ms=True,
    macs=2 * B * S * S * D,
)
case(
    "ms_embedln",
    [
        h.make_node(
            "EmbedLayerNormalization", ["ids", "seg", "we", "pe", "se", "g", "b"], ["y", "mi"], domain=M
        )
    ],
    [vi("ids", [B, S], T.INT32), vi("seg", [B, S], T.INT32)],
    [vi("y", None)],
    [init("we", [100, D]), init("pe", [S, D]), init("se", [2, D]), init("g", [D]), init("b", [D])],
    opset=17,
    ms=True,
)
case(
    "ms_fusedconv",
    [
        h.make_node(
            "FusedConv",
            ["x", "w", "b"],
            ["y"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            activation="Relu",
            domain=M,
        )
    ],
    [vi("x", [1, 16, 16, 16])],
    [vi("y", None)],
    [init("w", [16, 16, 3, 3]), init("b", [16])],
    opset=17,
    ms=True,
    macs=16 * 16 * 16 * 16 * 9,
)
case(
    "ms_fusedmatmul",
    [h.make_node("FusedMatMul", ["a", "b"], ["y"], transB=1, alpha=0.5, domain=M)],
    [vi("a", [B, S, D])],
    [vi("y", None)],
    [init("b", [32, D])],
    opset=17,
    ms=True,
    macs=B * S * D * 32,
)
case(
    "ms_rotary",
    [h.make_node("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], domain=M)],
    [vi("x", [B, S, D]), vi("pos", [B, S], T.INT64)],
    [vi("y", None)],
    [init("cos", [S, 8]), init("sin", [S, 8])],
    opset=17,
    ms=True,
)

I8 = T.INT8
case(
    "ms_qorderedmatmul",
    [h.make_node("QOrderedMatMul", ["a", "sa", "b", "sb", "sy"], ["y"], domain=M)],
    [vi("a", [B, S, D], I8)],
    [vi("y", None, I8)],
    [init("sa", []), init("b", [D, 32], np.int8), init("sb", []), init("sy", [])],
    opset=17,
    ms=True,
    macs=B * S * D * 32,
)
case(
    "ms_dynamicquantizematmul",
    [h.make_node("DynamicQuantizeMatMul", ["a", "b", "bs"], ["y"], domain=M)],
    [vi("a", [B, S, D])],
    [vi("y", None)],
    [init("b", [D, 32], np.int8), init("bs", [])],
    opset=17,
    ms=True,
    macs=B * S * D * 32,
)
case(
    "ms_qgemm",
    [h.make_node("QGemm", ["a", "as", "az", "b", "bs", "bz"], ["y"], transB=1, domain=M)],
    [vi("a", [S, D], U8)],
    [vi("y", None)],
    [
        init("as", []),
        init("az", [], np.uint8),
        init("b", [32, D], np.uint8),
        init("bs", []),
        init("bz", [], np.uint8),
    ],
    opset=17,
    ms=True,
    macs=S * D * 32,
)
case(
    "ms_matmulnbits",
    [h.make_node("MatMulNBits", ["a", "b", "scales"], ["y"], K=D, N=128, bits=4, block_size=32, domain=M)],
    [vi("a", [B, S, D])],
    [vi("y", None)],
    [init("b", [128, D // 32, 16], np.uint8), init("scales", [128 * D // 32])],
    opset=17,
    ms=True,
    macs=B * S * D * 128,
)
case(
    "ms_qlinearadd",
    [h.make_node("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"], domain=M)],
    [vi("a", [B, S, D], U8), vi("b", [B, S, D], U8)],
    [vi("y", None, U8)],
    [
        init("as", []),
        init("az", [], np.uint8),
        init("bs", []),
        init("bz", [], np.uint8),
        init("cs", []),
        init("cz", [], np.uint8),
    ],
    opset=17,
    ms=True,
)
case(
    "ms_dynamicquantizelstm",
    [h.make_node("DynamicQuantizeLSTM", ["x", "w", "r"], ["y"], hidden_size=Hh, domain=M)],
    [vi("x", [Sq, 2, IN])],
    [vi("y", None)],
    [init("w", [1, IN, 4 * Hh], np.int8), init("r", [1, Hh, 4 * Hh], np.int8)],
    opset=17,
    ms=True,
    macs=Sq * 2 * 4 * Hh * (IN + Hh),
)
case(
    "ms_groupqueryattention",
    [
        h.make_node(
            "GroupQueryAttention",
            ["q", "k", "v", "pk", "pv"],
            ["y", "ok", "ov"],
            num_heads=8,
            kv_num_heads=2,
            domain=M,
        )
    ],
    [
        vi("q", [B, S, 8 * 16]),
        vi("k", [B, S, 2 * 16]),
        vi("v", [B, S, 2 * 16]),
        vi("pk", [B, 2, 64, 16]),
        vi("pv", [B, 2, 64, 16]),
    ],
    [vi("y", None), vi("ok", None), vi("ov", None)],
    opset=17,
    ms=True,
    macs=2 * B * 8 * S * (64 + S) * 16,
)


def test_4_bit_weights_move_packed(tmp_path):
    """MatMulNBits keeps its 4-bit weights packed: half a byte each, in DDR traffic and in CMX."""
    path = tmp_path / "nbits.onnx"
    onnx.save(CASES["ms_matmulnbits"][0], path)
    (matmul,) = [t.op for t in nbperf.estimate(path, "npu4000").schedule.tasks if t.op.op_type == "MatMul"]
    assert (
        matmul.weight_bytes - 128 * 16 == D * 128 // 2
    )  # weights + one 16-byte weight-table row per channel


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_op_is_lowered_with_its_macs(tmp_path, name):
    model, macs = CASES[name]
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    result = nbperf.estimate(path, "npu4000")
    assert result.unknown_ops == () and result.latency_ns > 0
    if macs is not None:
        assert result.macs == macs


@pytest.mark.parametrize("name", ["qlinearconv", "qlinearmatmul", "convinteger", "matmulinteger"])
def test_quantized_operator_forms_run_int8(tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    onnx.save(CASES[name][0], path)
    ops = [
        t.op for t in nbperf.estimate(path, "npu4000").schedule.tasks if t.op.op_type in ("Conv", "MatMul")
    ]
    assert ops and all(op.precision == "int8" for op in ops)


def test_an_lstm_projects_its_inputs_on_the_dpu_and_recurs_on_shave(tmp_path):
    """decompose_lstm_sequence.cpp: the input projection for the whole sequence is one DPU MatMul."""
    path = tmp_path / "lstm.onnx"
    onnx.save(CASES["lstm"][0], path)
    engines = {t.op.op_type: t.op.engine.value for t in nbperf.estimate(path, "npu4000").schedule.tasks}
    assert engines == {"MatMul": "DPU", "LSTMSequence": "SHAVE"}


def test_non_max_suppression_is_sized_at_its_bound(tmp_path):
    """Selected boxes are data-dependent; the NPU runs NMS with the static bound batch x classes x
    max_output_boxes_per_class."""
    node = h.make_node("NonMaxSuppression", ["boxes", "scores", "limit"], ["selected"])
    graph = h.make_graph(
        [node],
        "nms",
        [vi("boxes", [1, 100, 4]), vi("scores", [1, 3, 100])],
        [vi("selected", None, T.INT64)],
        [nh.from_array(np.array([10], np.int64), "limit")],
    )
    path = tmp_path / "nms.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 13)]), path)
    result = nbperf.estimate(path, "npu4000")
    assert result.unknown_ops == ()
    assert result.graph.tensor_bytes["selected"] > 0
