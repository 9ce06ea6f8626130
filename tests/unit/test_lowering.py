"""Lowering maps every ONNX op to exactly one place: a DPU/SHAVE/DMA task, a fused op, or a view."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tests.onnx_builders import chain_model, conv_model, save, weight

from nbperf.frontend import load_model
from nbperf.lower import DpuKind, Engine, lower
from nbperf.lower.rules import permute_planes


def _info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _lower(tmp_path, model, precision=None):
    return lower(load_model(save(model, tmp_path)), precision)


def _by_type(npu):
    return {op.op_type: op for op in npu.ops}


def test_conv_relu_fuses_into_one_dpu_task(tmp_path):
    npu = _lower(tmp_path, conv_model(16, 32, 8, 3))
    (op,) = npu.ops
    assert op.engine is Engine.DPU and op.dpu.kind is DpuKind.CONV
    assert op.fused == ("relu",)
    assert op.macs == 32 * 8 * 8 * 16 * 9
    assert op.weight_bytes == 32 * 16 * 9 * 2 + 32 * 2 + 16 * 32  # fp16 weights, bias, weight table


def test_depthwise_and_grouped_conv(tmp_path):
    dw = _lower(tmp_path, conv_model(32, 32, 8, 3, group=32)).ops[0]
    assert dw.dpu.kind is DpuKind.DWCONV and dw.macs == 32 * 64 * 9
    grouped = _lower(tmp_path, conv_model(32, 64, 8, 3, group=4)).ops[0]
    assert grouped.dpu.kind is DpuKind.CONV and grouped.dpu.batch == 4 and grouped.dpu.in_k == 8
    assert grouped.macs == 64 * 64 * 8 * 9


def test_dilated_conv_pays_for_the_dilated_window(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="dil", kernel_shape=[3, 3], dilations=[2, 2],
                            pads=[2, 2, 2, 2])
    model = chain_model([node], [_info("x", [1, 16, 16, 16])], [_info("y", [1, 16, 16, 16])],
                        [weight("w", (16, 16, 3, 3))])
    (op,) = _lower(tmp_path, model).ops
    assert op.macs == 16 * 256 * 16 * 9
    assert (op.dpu.kernel_h, op.dpu.kernel_w) == (5, 5)


def test_conv_transpose_counts_useful_macs_but_computes_dense(tmp_path):
    """Without SE pointers the compiler materialises the zero-inserted, padded input (an
    Upsampling DMA) and runs a dense stride-1 conv over it; MACs stay the useful ones."""
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[4, 4],
                            strides=[2, 2], pads=[1, 1, 1, 1])
    model = chain_model([node], [_info("x", [1, 8, 16, 16])], [_info("y", [1, 4, 32, 32])],
                        [weight("w", (8, 4, 4, 4))])
    upsampling, op = _lower(tmp_path, model).ops
    assert upsampling.op_type == "Upsampling" and upsampling.engine is Engine.DMA
    assert upsampling.elements == 8 * 35 * 35  # 16 + 15 inserted + 2 x (4 - 1 - 1) padding
    assert op.macs == 8 * 16 * 16 * 4 * 16
    assert (op.dpu.out_h, op.dpu.out_w, op.dpu.out_k, op.dpu.in_k) == (32, 32, 4, 8)
    assert (op.dpu.in_h, op.dpu.stride_h, op.dpu.input_sparsity) == (35, 1, 0.0)


def test_attention_matmuls_are_batched_dpu_tasks(tmp_path):
    q = helper.make_node("MatMul", ["q", "k"], ["s"], name="qk")
    sm = helper.make_node("Softmax", ["s"], ["p"], name="sm", axis=-1)
    pv = helper.make_node("MatMul", ["p", "v"], ["o"], name="pv")
    model = chain_model([q, sm, pv], [_info("q", [1, 12, 128, 64]), _info("k", [1, 12, 64, 128]),
                                      _info("v", [1, 12, 128, 64])], [_info("o", [1, 12, 128, 64])])
    npu = _lower(tmp_path, model)
    ops = _by_type(npu)
    qk = next(op for op in npu.ops if op.name == "qk")
    assert qk.dpu.batch == 12 and qk.macs == 12 * 128 * 128 * 64
    # Neither B comes transposed: the compiler transposes each to its transpose_b form (a permute).
    inserted = [op for op in npu.ops if op.op_type == "Transpose"]
    assert [op.name for op in inserted] == ["qk/transpose_b", "pv/transpose_b"]
    assert all(op.engine is Engine.DMA and op.permuted == 12 * 128 * 64 for op in inserted)
    assert ops["Softmax"].engine is Engine.SHAVE and ops["Softmax"].shave_class == "softmax"


def test_a_shared_weight_matrix_makes_one_matmul_of_all_rows(tmp_path):
    """[197, 1, 768] x [768, 2304] (a sequence-first export) is one 197 x 768 x 2304 matmul, as the
    compiler reshapes it, not 197 one-row matmuls that each re-read the weights."""
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    model = chain_model([node], [_info("x", [197, 1, 768])], [_info("y", [197, 1, 2304])],
                        [weight("w", (768, 2304))])
    (op,) = _lower(tmp_path, model).ops
    assert (op.dpu.out_w, op.dpu.batch, op.dpu.in_k, op.dpu.out_k) == (197, 1, 768, 2304)
    assert op.macs == 197 * 768 * 2304


def test_one_d_pooling_spans_columns_only(tmp_path):
    """A k=200 MaxPool1d reads 200 columns per output, not a 200 x 200 window."""
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[200], strides=[1])
    model = chain_model([node], [_info("x", [1, 64, 1720])], [_info("y", [1, 64, 1521])])
    (op,) = _lower(tmp_path, model).ops
    assert (op.dpu.kernel_h, op.dpu.kernel_w, op.dpu.stride_h) == (1, 200, 1)
    import nbperf

    assert nbperf.estimate(load_model(save(model, tmp_path)), "npu4000").latency_ms < 1.0


def test_one_d_conv_strides_columns_only(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1d", kernel_shape=[5], strides=[2])
    model = chain_model([node], [_info("x", [1, 16, 101])], [_info("y", [1, 32, 49])],
                        [weight("w", (32, 16, 5))])
    (op,) = _lower(tmp_path, model).ops
    assert (op.dpu.kernel_h, op.dpu.kernel_w, op.dpu.stride_h, op.dpu.stride_w) == (1, 5, 1, 2)


def test_erf_gelu_pattern_becomes_one_shave_op(tmp_path):
    c = numpy_helper.from_array
    inits = [c(np.array(1.4142135, np.float32), "sqrt2"), c(np.array(1.0, np.float32), "one"),
             c(np.array(0.5, np.float32), "half")]
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"], name="div"),
             helper.make_node("Erf", ["d"], ["e"], name="erf"),
             helper.make_node("Add", ["e", "one"], ["a"], name="add"),
             helper.make_node("Mul", ["x", "a"], ["m"], name="mul"),
             helper.make_node("Mul", ["m", "half"], ["y"], name="half_mul")]
    model = chain_model(nodes, [_info("x", [1, 128, 768])], [_info("y", [1, 128, 768])], inits)
    (op,) = _lower(tmp_path, model).ops
    assert op.op_type == "Gelu" and op.engine is Engine.SHAVE and op.shave_class == "transcendental"
    assert set(op.fused) == {"div", "erf", "add", "mul", "half_mul"}
    assert op.outputs == ("y",)


@pytest.mark.parametrize("order", [("x", "s"), ("s", "x")])
def test_sigmoid_times_its_input_becomes_one_swish(tmp_path, order):
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="sig"),
             helper.make_node("Mul", list(order), ["y"], name="mul")]
    model = chain_model(nodes, [_info("x", [1, 32, 16, 16])], [_info("y", [1, 32, 16, 16])], [])
    (op,) = _lower(tmp_path, model).ops
    assert op.op_type == "Swish" and op.engine is Engine.SHAVE
    assert set(op.fused) == {"sig", "mul"} and op.inputs == ("x",) and op.outputs == ("y",)


def test_quantized_swish_fuses_once_its_qdq_pairs_fold(tmp_path):
    c = numpy_helper.from_array
    scale, zero = c(np.array(0.05, np.float32), "scale"), c(np.array(0, np.int8), "zero")

    def qdq(src, dst):
        return [helper.make_node("QuantizeLinear", [src, "scale", "zero"], [f"{dst}_q"], name=f"{dst}_q"),
                helper.make_node("DequantizeLinear", [f"{dst}_q", "scale", "zero"], [dst], name=f"{dst}_dq")]

    nodes = [*qdq("x", "xf"), helper.make_node("Sigmoid", ["xf"], ["s"], name="sig"), *qdq("s", "sf"),
             helper.make_node("Mul", ["xf", "sf"], ["y"], name="mul")]
    model = chain_model(nodes, [_info("x", [1, 32, 16, 16])], [_info("y", [1, 32, 16, 16])], [scale, zero])
    convert, swish = [op for op in _lower(tmp_path, model).ops if not op.is_free]
    assert swish.op_type == "Swish" and swish.engine is Engine.SHAVE and swish.precision == "fp16"
    assert convert.op_type == "Dequantize" and swish.inputs == convert.outputs  # SHAVE reads fp16


def test_a_sigmoid_read_elsewhere_stays_beside_the_swish(tmp_path):
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="sig"),
             helper.make_node("Mul", ["x", "s"], ["y"], name="mul"),
             helper.make_node("Add", ["y", "s"], ["z"], name="add")]
    model = chain_model(nodes, [_info("x", [1, 32, 16, 16])], [_info("z", [1, 32, 16, 16])], [])
    assert [op.op_type for op in _lower(tmp_path, model).ops] == ["Sigmoid", "Swish", "Add"]


def test_shave_ops_name_the_profiled_kernel_they_run(tmp_path):
    nodes = [helper.make_node("Tanh", ["x"], ["t"], name="tanh"),
             helper.make_node("Softmax", ["t"], ["y"], name="softmax")]
    model = chain_model(nodes, [_info("x", [1, 32, 16, 16])], [_info("y", [1, 32, 16, 16])], [])
    tanh, softmax = _lower(tmp_path, model).ops
    assert (tanh.shave_kernel, tanh.shave_class, tanh.row_elements) == ("tanh", "transcendental", 0)
    # Softmax is priced per row of its axis (VPUNN's softmax model): 16 elements, 32 x 16 rows.
    assert (softmax.shave_kernel, softmax.row_elements) == ("softmax", 16)


@pytest.mark.parametrize("opset,axis,row", [(13, None, 8), (13, 1, 4), (11, None, 32), (11, 2, 8)])
def test_softmax_rows_follow_the_opset_axis_rule(tmp_path, opset, axis, row):
    """From opset 13 a softmax spans one axis (default the last); before, every axis from ``axis``
    on (default 1), so its row is their product."""
    attrs = {} if axis is None else {"axis": axis}
    node = helper.make_node("Softmax", ["x"], ["y"], name="softmax", **attrs)
    model = chain_model([node], [_info("x", [1, 4, 8])], [_info("y", [1, 4, 8])], [], opset=opset)
    (op,) = _lower(tmp_path, model).ops
    assert (op.shave_kernel, op.row_elements) == ("softmax", row)


@pytest.mark.parametrize("op_type,attrs,kernel,row", [
    ("LayerNormalization", {"axis": -1}, "mvn", 64),
    ("LayerNormalization", {"axis": 1}, "mvn", 16 * 64),
    ("InstanceNormalization", {}, "mvn", 64),
    ("MeanVarianceNormalization", {"axes": [0, 2]}, "mvn", 64),
    ("MeanVarianceNormalization", {"axes": [1, 2]}, "mvn_across_channels", 16 * 64),
])
def test_normalizations_run_mvn_per_row(tmp_path, op_type, attrs, kernel, row):
    c = numpy_helper.from_array
    extra = {"LayerNormalization": [c(np.ones([64], np.float32), "g")],
             "InstanceNormalization": [c(np.ones([16], np.float32), "g"), c(np.zeros([16], np.float32), "b")]}
    inits = extra.get(op_type, [])
    if op_type == "LayerNormalization" and attrs["axis"] == 1:
        inits = [c(np.ones([16, 64], np.float32), "g")]
    node = helper.make_node(op_type, ["x", *[i.name for i in inits]], ["y"], name="norm", **attrs)
    model = chain_model([node], [_info("x", [1, 16, 64])], [_info("y", [1, 16, 64])], inits, opset=18)
    (op,) = _lower(tmp_path, model).ops
    assert (op.shave_kernel, op.row_elements) == (kernel, row)


def test_decomposed_layernorm_becomes_one_shave_op(tmp_path):
    c = numpy_helper.from_array
    inits = [c(np.array(2.0, np.float32), "two"), c(np.array(1e-5, np.float32), "eps"),
             c(np.ones(64, np.float32), "gamma"), c(np.zeros(64, np.float32), "beta"),
             c(np.array([-1], np.int64), "axes")]
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["mu"], name="mean", keepdims=1),
             helper.make_node("Sub", ["x", "mu"], ["d"], name="sub"),
             helper.make_node("Pow", ["d", "two"], ["sq"], name="pow"),
             helper.make_node("ReduceMean", ["sq", "axes"], ["var"], name="var", keepdims=1),
             helper.make_node("Add", ["var", "eps"], ["ve"], name="add_eps"),
             helper.make_node("Sqrt", ["ve"], ["std"], name="sqrt"),
             helper.make_node("Div", ["d", "std"], ["n"], name="div"),
             helper.make_node("Mul", ["n", "gamma"], ["g"], name="gamma_mul"),
             helper.make_node("Add", ["g", "beta"], ["y"], name="beta_add")]
    model = chain_model(nodes, [_info("x", [1, 16, 64])], [_info("y", [1, 16, 64])], inits, opset=18)
    (op,) = _lower(tmp_path, model).ops
    assert op.op_type == "LayerNormalization" and op.shave_class == "normalization"
    assert len(op.fused) == 9
    assert (op.shave_kernel, op.row_elements) == ("mvn", 64)  # one row per mean: the last axis


@pytest.mark.parametrize("op_type,engine", [
    ("Concat", Engine.DMA), ("Transpose", Engine.DMA), ("Sigmoid", Engine.SHAVE), ("Tanh", Engine.SHAVE),
    ("HardSwish", Engine.SHAVE), ("Reshape", Engine.NONE), ("Flatten", Engine.NONE),
])
def test_op_families_map_to_their_engine(tmp_path, op_type, engine):
    inits = []
    if op_type == "Concat":
        node = helper.make_node("Concat", ["x", "x"], ["y"], name="n", axis=1)
        out = [1, 16, 8, 8]
    elif op_type == "Transpose":
        node = helper.make_node("Transpose", ["x"], ["y"], name="n", perm=[0, 2, 3, 1])
        out = [1, 8, 8, 8]
    elif op_type == "Reshape":
        inits = [numpy_helper.from_array(np.array([1, 512], np.int64), "shape")]
        node = helper.make_node("Reshape", ["x", "shape"], ["y"], name="n")
        out = [1, 512]
    elif op_type == "Flatten":
        node = helper.make_node("Flatten", ["x"], ["y"], name="n")
        out = [1, 512]
    else:
        node = helper.make_node(op_type, ["x"], ["y"], name="n")
        out = [1, 8, 8, 8]
    model = chain_model([node], [_info("x", [1, 8, 8, 8])], [_info("y", out)], inits)
    (op,) = _lower(tmp_path, model).ops
    assert op.engine is engine


def test_same_shape_add_runs_on_dpu_broadcast_add_on_shave(tmp_path):
    same = chain_model([helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                       [_info("a", [1, 8, 4, 4]), _info("b", [1, 8, 4, 4])], [_info("y", [1, 8, 4, 4])])
    bcast = chain_model([helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                        [_info("a", [1, 8, 4, 4]), _info("b", [1, 8, 1, 1])], [_info("y", [1, 8, 4, 4])])
    assert _lower(tmp_path, same).ops[0].engine is Engine.DPU
    assert _lower(tmp_path, bcast).ops[0].engine is Engine.SHAVE


def test_unknown_op_gets_generic_shave_cost_and_is_listed(tmp_path):
    node = helper.make_node("Celu", ["x"], ["h"], name="known")
    odd = helper.make_node("Det", ["h"], ["y"], name="odd")  # a determinant: no NPU lowering
    model = chain_model([node, odd], [_info("x", [4, 8, 8])], [_info("y", [4])], opset=17)
    npu = _lower(tmp_path, model)
    assert npu.unknown_ops == ("odd (Det)",)
    odd_op = next(op for op in npu.ops if op.name == "odd")
    assert odd_op.engine is Engine.SHAVE and odd_op.shave_class == "generic" and odd_op.unknown


def test_precision_override_and_byte_sizes(tmp_path):
    model = conv_model(16, 16, 8, 1, relu=False)
    (fp16,) = _lower(tmp_path, model).ops
    quantize, int8 = _lower(tmp_path, model, "int8").ops  # the host feeds float: quantized on the DPU
    assert fp16.precision == "fp16" and int8.precision == "int8" and "NNCF" in int8.precision_reason
    assert fp16.input_bytes == 2 * int8.input_bytes == 2 * 16 * 64
    assert quantize.op_type == "Quantize" and quantize.engine is Engine.DPU
    assert int8.inputs == quantize.outputs
    assert (quantize.input_bytes, quantize.output_bytes) == (2 * 16 * 64, 16 * 64)


def test_int8_runs_what_nncf_quantizes_and_shave_in_fp16_with_conversions_between(tmp_path):
    """A BERT-like block under --precision int8: matmuls int8, softmax / GELU / layer norm fp16 on
    SHAVE, a Dequantize into each SHAVE op and a Quantize back into each int8 DPU op."""
    from benchmarks.model_builders import decoder_lm

    path = save(decoder_lm(layers=1, d_model=64, heads=2, ffn=128, vocab=100, seq=16), tmp_path)
    npu = lower(load_model(path), "int8")
    producer = {t: op for op in npu.ops for t in op.outputs}

    def source(t):  # the op that made t, through views
        while t in npu.aliases:
            t = npu.aliases[t]
        return producer.get(t)

    shave = [op for op in npu.ops if op.engine is Engine.SHAVE]
    assert {"Softmax", "Gelu", "LayerNormalization"} <= {op.op_type for op in shave}
    assert all(op.precision == "fp16" and "SHAVE" in op.precision_reason for op in shave)
    matmuls = [op for op in npu.ops if op.op_type == "MatMul"]
    assert matmuls and all(op.precision == "int8" for op in matmuls)
    for op in npu.ops:
        if op.is_free or op.op_type in ("Quantize", "Dequantize"):
            continue
        for t in op.inputs:
            src = source(t)
            converts = src is not None and src.op_type in ("Quantize", "Dequantize")
            if src is not None and src.engine is not Engine.DMA and not converts:
                assert src.precision == op.precision, f"{op.name} reads {t} in {src.precision}"
    conversions = [op for op in npu.ops if op.op_type in ("Quantize", "Dequantize")]
    assert {op.op_type for op in conversions} == {"Quantize", "Dequantize"}
    assert all(op.engine is Engine.DPU for op in conversions)


def test_residual_add_overwrites_its_dying_input(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1])
    add = helper.make_node("Add", ["c", "x"], ["y"], name="add")
    keep = helper.make_node("Relu", ["x"], ["z"], name="keep")
    model = chain_model([conv, add, keep], [_info("x", [1, 16, 8, 8])],
                        [_info("y", [1, 16, 8, 8]), _info("z", [1, 16, 8, 8])], [weight("w", (16, 16, 1, 1))])
    ops = _by_type(_lower(tmp_path, model))
    assert ops["Add"].inplace_input == "c", "x is read again later, c dies at the add"


@pytest.mark.parametrize(("shape", "perm", "kind"), [
    ((1, 128, 12, 64), [0, 2, 1, 3], "copy"),  # heads out of the sequence: 64-element rows move whole
    ((1, 128, 12, 64), [0, 2, 3, 1], "permute"),  # the innermost axis changes: element by element
    ((1, 1, 12, 64), [0, 2, 1, 3], "view"),  # only a size-1 axis moves (the compiler's trivial permute)
    ((4, 8), None, "permute"),  # no perm: all axes reversed
])
def test_a_transpose_is_a_view_a_strided_copy_or_a_permute(shape, perm, kind):
    from nbperf.lower.rules import permute_kind

    assert permute_kind(shape, perm) == kind


def _attention_b(tmp_path, perm, scale=False):
    """Q [1,12,128,64] x B, B = Transpose(x, perm) (optionally times a constant): the K^T shape."""
    c = numpy_helper.from_array
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="transpose", perm=perm)]
    b = "t"
    inits = []
    if scale:
        nodes.append(helper.make_node("Mul", ["t", "s"], ["ts"], name="scale"))
        inits.append(c(np.array(0.125, np.float32), "s"))
        b = "ts"
    nodes.append(helper.make_node("MatMul", ["q", b], ["y"], name="scores"))
    model = chain_model(nodes, [_info("q", [1, 12, 128, 64]), _info("x", [1, 128, 12, 64] if perm[1] == 2
                                                                        else [1, 12, 128, 64])],
                        [_info("y", [1, 12, 128, 128])], inits)
    return _by_type(_lower(tmp_path, model))["Transpose"]


def test_a_last_two_axes_transpose_into_matmul_b_moves_nothing(tmp_path):
    """The compiler transposes B's last two axes itself (transpose_b form): the two cancel."""
    assert _attention_b(tmp_path, [0, 1, 3, 2]).engine is Engine.NONE


@pytest.mark.parametrize("scale", [False, True])
def test_k_transposed_for_matmul_b_moves_rows_not_elements(tmp_path, scale):
    """K^T = [0,2,3,1] of [1,S,H,D] composes with the compiler's own B transpose into [0,2,1,3]:
    the head dim stays innermost, a strided copy (also through a scale by a constant)."""
    op = _attention_b(tmp_path, [0, 2, 3, 1], scale)
    assert op.engine is Engine.DMA and op.permuted == 0


def test_a_transpose_changing_the_innermost_axis_is_a_permute_dma(tmp_path):
    node = helper.make_node("Transpose", ["x"], ["y"], name="permute", perm=[0, 2, 3, 1])
    model = chain_model([node], [_info("x", [1, 128, 12, 64])], [_info("y", [1, 12, 64, 128])], [])
    (op,) = _lower(tmp_path, model).ops
    assert op.engine is Engine.DMA and op.permuted == 128 * 12 * 64


def _conv_then(tmp_path, *activations):
    """Conv -> the given activation nodes in a chain; the lowered op types."""
    c = numpy_helper.from_array
    nodes = [helper.make_node("Conv", ["x", "w"], ["a0"], name="conv", kernel_shape=[1, 1])]
    inits = [weight("w", (16, 16, 1, 1))]
    for k, (op, extra) in enumerate(activations):
        inputs = [f"a{k}"]
        for j, value in enumerate(extra):
            inits.append(c(np.array(value, np.float32), f"c{k}_{j}"))
            inputs.append(f"c{k}_{j}")
        nodes.append(helper.make_node(op, inputs, [f"a{k + 1}"], name=f"act{k}"))
    out = f"a{len(activations)}"
    model = chain_model(nodes, [_info("x", [1, 16, 8, 8])], [_info(out, [1, 16, 8, 8])], inits)
    return [op.op_type for op in _lower(tmp_path, model).ops]


@pytest.mark.parametrize(("activations", "lowered"), [
    ([("Relu", [])], ["Conv"]),
    ([("Clip", [0.0, 6.0])], ["Conv"]),  # ReLU6: a zero minimum fuses
    ([("Clip", [-1.0, 1.0])], ["Conv", "Clip"]),  # a float Clamp with another minimum does not
    ([("PRelu", [[0.25]])], ["Conv"]),  # one slope: a LeakyReLU
    ([("PRelu", [[[[0.25]]] * 16])], ["Conv", "PRelu"]),  # per-channel slopes stay a SHAVE kernel
    ([("Relu", []), ("Clip", [0.0, 6.0])], ["Conv", "Clip"]),  # one post-op per producer
])
def test_the_ppe_takes_what_the_compiler_fuses(tmp_path, activations, lowered):
    assert _conv_then(tmp_path, *activations) == lowered


def test_no_activation_fuses_into_a_maxpool(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Relu", ["p"], ["y"], name="relu")]
    model = chain_model(nodes, [_info("x", [1, 16, 8, 8])], [_info("y", [1, 16, 4, 4])], [])
    assert [op.op_type for op in _lower(tmp_path, model).ops] == ["MaxPool", "Relu"]


def test_a_b_behind_a_reshape_of_a_transpose_composes_with_the_compilers_transpose(tmp_path):
    """ViT's V: Transpose [1, 0, 2] of (197, 12, 64), then a Reshape adding a leading 1, read as
    MatMul B. The compiler's own last-two-axes transpose composes with it (the reshape keeps the
    last two axes): one permute DMA moves it, and no second transpose is inserted."""
    c = numpy_helper.from_array
    nodes = [helper.make_node("Transpose", ["v"], ["vt"], name="vt", perm=[1, 0, 2]),
             helper.make_node("Reshape", ["vt", "shape"], ["v4"], name="v4"),
             helper.make_node("MatMul", ["p", "v4"], ["o"], name="pv")]
    model = chain_model(nodes, [_info("p", [1, 12, 197, 197]), _info("v", [197, 12, 64])],
                        [_info("o", [1, 12, 197, 64])], [c(np.array([1, 12, 197, 64], np.int64), "shape")])
    npu = _lower(tmp_path, model)
    (transpose,) = [op for op in npu.ops if op.op_type == "Transpose"]
    assert transpose.name == "vt" and transpose.permuted == 197 * 12 * 64


@pytest.mark.parametrize("shape,perm,planes", [
    ((1, 12, 197, 64), [0, 1, 3, 2], 197),  # inner two swap (CWH): cut along the middle axis
    ((197, 12, 64), [1, 2, 0], 197),  # (197, 768) -> (768, 197) once 12 x 64 merge
    ((1, 64, 56, 56), [0, 2, 3, 1], 64),  # NCHW -> NHWC: (64, 3136) -> (3136, 64)
])
def test_permute_planes_follow_the_compilers_merged_shape(shape, perm, planes):
    assert permute_planes(shape, perm) == planes



@pytest.mark.parametrize("producer,second_reader,folds", [
    ("Conv", False, True),  # its ODU writes NHWC: the transpose is free
    ("Conv", True, False),  # the conv's output is read as it is too: a real permute
    ("MatMul", False, False),  # not an op the ODU permutes for (layer_permute_ie.cpp)
])
def test_a_transpose_right_after_a_conv_is_written_by_its_odu(tmp_path, producer, second_reader, folds):
    if producer == "Conv":
        first = helper.make_node("Conv", ["x", "w"], ["c"], name="prod", kernel_shape=[1, 1])
        inits = [weight("w", (16, 16, 1, 1))]
    else:
        first = helper.make_node("MatMul", ["x", "w"], ["c"], name="prod")
        inits = [weight("w", (8, 8))]
    nodes = [first, helper.make_node("Transpose", ["c"], ["y"], name="t", perm=[0, 2, 3, 1])]
    outputs = [_info("y", [1, 8, 8, 16])]
    if second_reader:
        nodes.append(helper.make_node("Relu", ["c"], ["r"], name="other"))
        outputs.append(_info("r", [1, 16, 8, 8]))
    model = chain_model(nodes, [_info("x", [1, 16, 8, 8])], outputs, inits)
    ops = {op.name: op for op in _lower(tmp_path, model).ops}
    assert (ops["t"].engine is Engine.NONE) is folds
    assert ("t" in ops["prod"].fused) is folds


def _conv3d_model(x, w, strides, pads, dilations=(1, 1, 1), group=1):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv3d", kernel_shape=list(w[2:]),
                            strides=list(strides), pads=list(pads), dilations=list(dilations), group=group)
    return chain_model([node], [_info("x", list(x))], [_info("y", None)], [weight("w", tuple(w))])


@pytest.mark.parametrize("x,w,strides,pads,planes,adds", [
    # 2 x 3 frames of 4 x 5, a 2 x 3 x 4 kernel: 2 output planes per batch item, 2 taps each
    ((2, 3, 3, 4, 5), (4, 3, 2, 3, 4), (1, 1, 1), (0,) * 6, 2 * 2 * 2, 2 * 2 * 1),
    # depth padding 1, stride 2, 5 frames: the first plane has 1 real tap, the other two 2
    ((1, 3, 5, 5, 5), (4, 3, 2, 2, 2), (2, 2, 2), (1,) * 6, 1 + 2 + 2, 0 + 1 + 1),
    # a kernel of depth 1: no Adds, one 2-D conv per frame
    ((1, 8, 4, 6, 6), (8, 8, 1, 3, 3), (1, 1, 1), (0, 1, 1, 0, 1, 1), 4, 0),
])
def test_a_3d_conv_unrolls_into_2d_convs_and_adds_as_the_compiler_does(tmp_path, x, w, strides, pads,
                                                                       planes, adds):
    """unroll_conv3d_to_conv2d.cpp: one 2-D conv per output depth plane and real kernel depth tap,
    the taps of a plane summed by element-wise Adds. MACs are the published count: every output
    voxel times C x kd x kh x kw."""
    npu = _lower(tmp_path, _conv3d_model(x, w, strides, pads))
    conv = next(op for op in npu.ops if op.op_type == "Conv")
    assert conv.dpu.batch == planes and (conv.dpu.kernel_h, conv.dpu.kernel_w) == w[3:]
    sums = [op for op in npu.ops if op.op_type == "Add"]
    assert [op.dpu.batch for op in sums] == ([adds] if adds else [])
    graph = load_model(save(_conv3d_model(x, w, strides, pads), tmp_path, "again.onnx"))
    out_shape = graph.tensors["y"].shape
    assert conv.macs == math.prod(out_shape) * w[1] * math.prod(w[2:])


@pytest.mark.parametrize("x,attrs,window", [
    ((1, 8, 4, 8, 8), dict(kernel_shape=[2, 2, 2], strides=[2, 2, 2]), 8),  # a 3-D window: 5-D tensor
    ((1, 8, 16, 16), dict(kernel_shape=[3, 3], dilations=[2, 2]), 9),  # dilated: OpenVINO's MaxPool-8
])
def test_pools_the_dpu_cannot_run_go_to_the_shave_pool_kernel(tmp_path, x, attrs, window):
    """NCEMaxPoolOp::isSupported takes 4-D tensors only and IE.MaxPool has no dilation: these run
    the SHAVE max_pool kernel, which reduces each output's whole window."""
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)
    npu = _lower(tmp_path, chain_model([node], [_info("x", list(x))], [_info("y", None)], []))
    pool = next(op for op in npu.ops if op.name == "pool")
    out = load_model(save(chain_model([node], [_info("x", list(x))], [_info("y", None)], []), tmp_path,
                          "again.onnx")).tensors["y"]
    assert pool.engine is Engine.SHAVE and pool.elements == out.elements * window


def test_a_plain_2d_pool_stays_on_the_dpu(tmp_path):
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[3, 3], strides=[2, 2])
    npu = _lower(tmp_path, chain_model([node], [_info("x", [1, 16, 16, 16])], [_info("y", None)], []))
    assert next(op for op in npu.ops if op.name == "pool").engine is Engine.DPU


@pytest.mark.parametrize("strides,pads,planes,adds", [
    ((1, 1, 1), (0,) * 6, 3 * 3, 0 + 1 + 2 + 1 + 0),  # 3 input planes x 3 taps land on 5 planes 1,2,3,2,1
    ((2, 2, 2), (1,) * 6, 3 * 3, 0 + 1 + 0 + 1 + 0),  # planes 2a+t-1 over 0..4: 1,2,1,2,1 taps
])
def test_a_3d_transposed_conv_unrolls_per_input_plane_and_tap(tmp_path, strides, pads, planes, adds):
    """TransposedConvGeneralRewriter (unroll_conv3d_to_conv2d.cpp): one 2-D transposed conv per input
    depth plane and kernel depth tap; each output plane's taps summed by Adds."""
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="tconv", kernel_shape=[3, 3, 3],
                            strides=list(strides), pads=list(pads))
    model = chain_model([node], [_info("x", [1, 4, 3, 6, 6])], [_info("y", None)],
                        [weight("w", (4, 8, 3, 3, 3))])
    npu = _lower(tmp_path, model)
    tconv = next(op for op in npu.ops if op.op_type == "ConvTranspose")
    assert tconv.dpu.batch == planes and (tconv.dpu.kernel_h, tconv.dpu.kernel_w) == (3, 3)
    assert [op.dpu.batch for op in npu.ops if op.op_type == "Add"] == ([adds] if adds else [])
    assert tconv.macs == 1 * 4 * 3 * 6 * 6 * 8 * 27


@pytest.mark.parametrize("extent,chain", [(240, [10, 8, 3]), (13, [11, 2]), (12, [6, 2]),
                                          (1000, [10, 10, 10])])
def test_large_pool_windows_split_into_kernels_of_at_most_11(extent, chain):
    """The NCE pools windows up to 11 (max_kernel_size_constant.hpp); larger ones chain pools of
    the largest divisor at most 11, or 11 with padding where the extent is a prime over 11."""
    from nbperf.lower.patterns import _factors

    assert _factors(extent) == chain
    assert math.prod(chain) >= extent and all(f <= 11 for f in chain)
