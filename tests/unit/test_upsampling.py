"""Upsampling ops as the NPU compiler lowers them per part (lower/upsampling.py): SE-pointer DPU
ops, the materialised zero-inserted input, strided copies, DepthToSpace as a transposed conv."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from tests.onnx_builders import chain_model, save, weight

import nbperf
from nbperf.arch import load_arch
from nbperf.frontend import load_model
from nbperf.lower import Engine, lower
from nbperf.lower.upsampling import LoweringOptions, _interpolate_form, se_geometry, se_size
from nbperf.strategy.candidates import candidates

FSRCNN = Path(__file__).resolve().parents[2] / "examples" / "models" / "fsrcnn_x2_540p.onnx"
NPU4000, NPU3720 = LoweringOptions.of(load_arch("npu4000")), LoweringOptions.of(load_arch("npu3720"))


def _info(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _conv_transpose(c=16, k=16, hw=16, kernel=4, stride=2, pad=1):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[kernel, kernel],
                            strides=[stride, stride], pads=[pad] * 4)
    out = (hw - 1) * stride - 2 * pad + kernel
    return chain_model([node], [_info("x", [1, c, hw, hw])], [_info("y", [1, k, out, out])],
                       [weight("w", (c, k, kernel, kernel))])


def _resize(mode="nearest", coord="asymmetric", c=16, hw=8, scale=2):
    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], dtype=np.float32), "scales")
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize", mode=mode,
                            coordinate_transformation_mode=coord)
    return chain_model([node], [_info("x", [1, c, hw, hw])], [_info("y", [1, c, hw * scale, hw * scale])],
                       [scales])


def _d2s(c=64, hw=8, block=2, mode="CRD"):
    node = helper.make_node("DepthToSpace", ["x"], ["y"], name="d2s", blocksize=block, mode=mode)
    out = [1, c // (block * block), hw * block, hw * block]
    return chain_model([node], [_info("x", [1, c, hw, hw])], [_info("y", out)])


def _lower(tmp_path, model, options, precision=None):
    return lower(load_model(save(model, tmp_path)), precision, options=options)


def _layer(est, name):
    return next(layer for layer in est.to_dict()["layers"] if layer["name"] == name)


# --- ConvTranspose ---------------------------------------------------------------------------

def test_se_conv_transpose_reads_a_virtual_input_through_its_se_table(tmp_path):
    (op,) = _lower(tmp_path, _conv_transpose(), NPU4000).ops
    rows = 16 + 15 + 2 * (4 - 1 - 1)  # the real rows, the inserted ones, the compiler's padding
    assert op.engine is Engine.DPU and op.op_type == "ConvTranspose" and "SE pointers" in op.lowering
    # 16 channels: one storage element per position; a 32-bit pointer and 16 map bits each
    assert op.se_table_bytes == rows * rows * 4 + rows * rows * 16 // 8
    table_words = -(-op.se_table_bytes // 4)  # held as 32-bit words
    assert op.inputs[-1] == "up/se_table" and op.input_bytes == 16 * 16 * 16 * 2 + 4 * table_words
    assert op.dpu.input_sparsity == pytest.approx(1 - 16 * 16 / rows ** 2)  # inserted zeros and padding
    assert op.dpu.inserted_zeros == op.dpu.input_sparsity
    assert (op.dpu.in_h, op.dpu.stride_h, op.dpu.out_h) == (16, 1, 32)
    assert op.macs == 16 * 16 * 16 * 16 * 16  # useful MACs only: every input pixel x kernel x K


def test_macs_of_a_conv_transpose_are_the_useful_ones_in_every_form(tmp_path):
    forms = [_lower(tmp_path, _conv_transpose(), options).ops[-1] for options in (NPU4000, NPU3720)]
    assert {op.macs for op in forms} == {16 * 16 * 16 * 16 * 16}


def _compute_cycles(model, tmp_path, arch, overrides=()):
    est = nbperf.estimate(save(model, tmp_path), arch, arch_overrides=overrides, strategies={"all": "SOH"})
    return _layer(est, "up")["compute_cycles"]


def test_se_lowering_with_zero_skipping_costs_fewer_dpu_cycles_than_the_dense_conv(tmp_path):
    """NPU 3720's DPU gains from sparse inputs: with SE pointers (a what-if there: the compiler
    enables them on 40XX by default) the inserted zeros are skipped."""
    model = _conv_transpose(c=32, k=32)
    dense = _compute_cycles(model, tmp_path, "npu3720")
    skipped = _compute_cycles(model, tmp_path, "npu3720", ("compiler.se_pointer_ops=true",))
    unskipped = _compute_cycles(model, tmp_path, "npu3720",
                                ("compiler.se_pointer_ops=true", "compiler.se_sparse_input=false"))
    assert skipped < dense
    assert unskipped == dense  # the same dense stride-1 conv; only where its input lives differs


def test_without_se_pointers_the_zero_inserted_input_is_a_dma(tmp_path):
    est = nbperf.estimate(save(_conv_transpose(), tmp_path), "npu3720")
    upsampling = _layer(est, "up/upsampling")
    assert upsampling["engine"] == "DMA" and "SE pointer operations are off" in upsampling["lowering"]
    assert "materialised" in _layer(est, "up")["lowering"]


@pytest.mark.parametrize("model,table", [(_conv_transpose(), "up/se_table"), (_resize(), "resize/se_table")])
def test_the_se_table_is_counted_in_cmx(tmp_path, model, table):
    npu = _lower(tmp_path, model, NPU4000)
    (op,) = npu.ops
    assert table in op.inputs and npu.tensor_bytes[table] >= op.se_table_bytes > 0
    arch = load_arch("npu4000")
    with_table = {c.strategy: c.cmx_bytes_per_tile for c in candidates(op, npu.tensor_bytes, arch) if c.legal}
    empty = dict(npu.tensor_bytes, **{table: 0})
    without = {c.strategy: c.cmx_bytes_per_tile for c in candidates(op, empty, arch) if c.legal}
    assert with_table and all(with_table[s] > without[s] for s in with_table)


# --- Resize ----------------------------------------------------------------------------------

def test_nearest_resize_on_npu4000_is_an_se_dpu_op_with_its_table_in_the_estimate(tmp_path):
    (op,) = _lower(tmp_path, _resize(), NPU4000).ops
    assert op.engine is Engine.DPU and "NCE interpolate" in op.lowering
    assert (op.dpu.kernel_h, op.dpu.stride_h, op.dpu.in_k, op.dpu.out_k) == (1, 1, 16, 16)
    assert op.se_table_bytes == 16 * 16 * 4 + 16 * 16 * 16 // 8  # the 16 x 16 replicated input
    assert op.weight_bytes == 16 * 16 * 2 + 16 * 16  # C x C fp16 weights + the weight table
    est = nbperf.estimate(save(_resize(), tmp_path), "npu4000")
    layer = _layer(est, "resize")
    assert layer["engine"] == "DPU" and layer["se_table_bytes"] == op.se_table_bytes


def test_resize_without_se_pointers_follows_the_compiler_rewrites(tmp_path):
    (copies,) = _lower(tmp_path, _resize(coord="asymmetric"), NPU3720).ops
    assert copies.engine is Engine.DMA and "strided-concat" in copies.lowering
    (shave,) = _lower(tmp_path, _resize(coord="half_pixel"), NPU3720).ops
    assert shave.engine is Engine.SHAVE and "SE pointer operations are off" in shave.lowering
    (few,) = _lower(tmp_path, _resize(c=4, coord="half_pixel"), NPU4000).ops  # under 8 channels
    assert few.engine is Engine.SHAVE


def test_bilinear_half_pixel_resize_is_a_4x4_stride_2_conv(tmp_path):
    (op,) = _lower(tmp_path, _resize(mode="linear", coord="half_pixel"), NPU4000).ops
    assert (op.dpu.kernel_h, op.dpu.stride_h, op.dpu.out_h) == (4, 2, 16)


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(["nearest", "linear"]),
       coord=st.sampled_from(["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"]),
       scale=st.integers(1, 5), size=st.integers(2, 40))
def test_the_nce_interpolate_form_produces_the_resized_size(mode, coord, scale, size):
    """Kernel, stride, factor and pads of getNCEInterpolate* give back the output size."""
    if mode == "nearest" and coord == "align_corners":
        return  # not an NCE interpolate
    out = (size - 1) * scale + 1 if coord == "align_corners" else size * scale
    kernel, stride, begin, end, factor = _interpolate_form(mode, coord, (scale, scale))
    virtual = factor[0] * size + begin[0] + end[0]
    assert (virtual - kernel[0]) // stride[0] + 1 == out


def test_se_size_follows_each_parts_sparsity_constraint():
    assert se_size(48, power_of_two=False) == 48 and se_size(48, power_of_two=True) == 16
    assert se_geometry(1, 56, 4, 4, 4, power_of_two=False).channels == 64  # channels expanded first


# --- DepthToSpace ----------------------------------------------------------------------------

def test_depth_first_d2s_is_a_transposed_conv_where_the_part_finds_it_beneficial(tmp_path):
    (op,) = _lower(tmp_path, _d2s(), NPU4000).ops
    assert op.op_type == "ConvTranspose" and op.engine is Engine.DPU and op.macs == 0  # moves data only
    assert (op.dpu.kernel_h, op.dpu.in_k, op.dpu.out_k) == (2, 64, 16)
    assert op.weight_bytes < 64 * 16 * 4 * 2  # one-hot weights: the compiler compresses them
    upsampling, conv = _lower(tmp_path, _d2s(), NPU3720).ops  # no SE on 3720: materialised
    assert upsampling.op_type == "Upsampling" and conv.op_type == "ConvTranspose"


@pytest.mark.parametrize("model,options,why", [
    (_d2s(mode="DCR"), NPU4000, "blocks-first"),
    (_d2s(c=256, block=4), NPU3720, "block 4"),
    (_d2s(c=32), NPU3720, "8 output channels, under the 16"),
    (_d2s(c=16), NPU4000, "4 output channels, under the 8"),
    (_d2s(), LoweringOptions(), "no DepthToSpace-to-transposed-conv rewrite"),
])
def test_other_d2s_stay_dma_copies_and_say_why(tmp_path, model, options, why):
    (op,) = _lower(tmp_path, model, options).ops
    assert op.engine is Engine.DMA and why in op.lowering


def test_int8_d2s_stays_a_dma(tmp_path):
    (op,) = _lower(tmp_path, _d2s(), NPU4000, precision="int8").ops
    assert op.engine is Engine.DMA and "8-bit" in op.lowering


def test_the_one_hot_transposed_conv_is_a_depth_first_depth_to_space():
    """The rewrite's weights (input channel k*b*b + i*b + j feeds output k at (i, j)) reproduce
    DepthToSpace CRD exactly, so its shape and share of zeros are the compiler's."""
    ort = pytest.importorskip("onnxruntime")
    c, block, hw = 8, 2, 3
    weights = np.zeros((c, c // block ** 2, block, block), dtype=np.float32)
    for k in range(c // block ** 2):
        for i in range(block):
            for j in range(block):
                weights[k * block * block + i * block + j, k, i, j] = 1
    x = np.random.default_rng(0).normal(size=(1, c, hw, hw)).astype(np.float32)
    outputs = []
    for node, inits in ((helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=block, mode="CRD"), []),
                        (helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[block, block],
                                          strides=[block, block]), [numpy_helper.from_array(weights, "w")])):
        model = chain_model([node], [_info("x", list(x.shape))], [_info("y", None)], inits)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"x": x})[0])
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-6)
    assert float((weights == 0).mean()) == pytest.approx(1 - 1 / c)


# --- the shared FSRCNN -----------------------------------------------------------------------

def test_fsrcnn_names_why_its_last_layer_costs_what_it_does():
    model = nbperf.load(FSRCNN)  # the shipped copy of ../shared/models/fsrcnn_x2_540p.onnx
    on_4000 = _layer(nbperf.estimate(model, "npu4000"), "/up/ConvTranspose")
    assert "56->1 channels padded to 64->16" in on_4000["why"] and "SE pointers" in on_4000["why"]
    assert on_4000["channel_padding_share"] == pytest.approx(1 - 56 / (64 * 16), abs=1e-4)
    assert on_4000["se_table_bytes"] > 0
    on_3720 = _layer(nbperf.estimate(model, "npu3720"), "/up/ConvTranspose")
    assert "materialised 1088x1928 zero-inserted input" in on_3720["why"]


# --- what-if: the sub-pixel form -------------------------------------------------------------

SUBPIXEL = LoweringOptions(subpixel=True)


def test_subpixel_form_is_a_conv_a_depth_to_space_and_a_crop(tmp_path):
    model = _conv_transpose(c=16, k=4, hw=8, kernel=5, stride=2, pad=2)  # output 15 x 15
    conv, d2s, crop = _lower(tmp_path, model, SUBPIXEL).ops
    assert (conv.op_type, conv.name, conv.engine) == ("Conv", "up", Engine.DPU)
    assert (conv.dpu.kernel_h, conv.dpu.out_k, conv.dpu.out_h, conv.dpu.stride_h) == (3, 16, 10, 1)
    assert conv.macs == 16 * 8 * 8 * 4 * 25  # the transposed conv's useful MACs
    assert d2s.op_type == "DepthToSpace" and crop.op_type == "Slice" and crop.outputs == ("y",)


def test_subpixel_form_computes_the_transposed_conv():
    """The rewrite's geometry (kernel ceil(k/s), padding kernel-1, s^2 x K channels in depth-first
    order, a crop from the transposed conv's top/left padding) gives the transposed conv's output
    exactly, with its kernel taps rearranged per output phase."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    c, k, hw, kernel, s, pad = 3, 2, 5, 5, 2, 2
    w = rng.normal(size=(c, k, kernel, kernel)).astype(np.float32)
    x = rng.normal(size=(1, c, hw, hw)).astype(np.float32)
    ck = -(-kernel // s)
    phases = np.zeros((k * s * s, c, ck, ck), dtype=np.float32)
    for o in range(k):
        for i in range(s):
            for j in range(s):
                for t in range(ck):
                    for u in range(ck):
                        a, b = s * (ck - 1 - t) + i, s * (ck - 1 - u) + j
                        if a < kernel and b < kernel:
                            phases[o * s * s + i * s + j, :, t, u] = w[:, o, a, b]
    out = (hw - 1) * s - 2 * pad + kernel
    rows = s * (hw + ck - 1)

    def run(nodes, inits):
        model = chain_model(nodes, [_info("x", list(x.shape))], [_info("y", None)], inits)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": x})[0]

    expected = run([helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[kernel, kernel],
                                     strides=[s, s], pads=[pad] * 4)], [numpy_helper.from_array(w, "w")])
    crop = [numpy_helper.from_array(np.array(v, dtype=np.int64), n)
            for v, n in (([pad, pad], "starts"), ([pad + out, pad + out], "ends"), ([2, 3], "axes"))]
    got = run([helper.make_node("Conv", ["x", "wp"], ["p"], kernel_shape=[ck, ck], pads=[ck - 1] * 4),
               helper.make_node("DepthToSpace", ["p"], ["q"], blocksize=s, mode="CRD"),
               helper.make_node("Slice", ["q", "starts", "ends", "axes"], ["y"])],
              [numpy_helper.from_array(phases, "wp"), *crop])
    assert rows >= pad + out and got.shape == expected.shape == (1, k, out, out)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_subpixel_what_if_saves_the_inserted_zeros_mac_cycles(tmp_path):
    model = save(_conv_transpose(c=32, k=32, kernel=4, stride=2, pad=1), tmp_path)
    se = nbperf.estimate(model, "npu4000", strategies={"all": "SOH"})
    subpixel = nbperf.estimate(model, "npu4000", strategies={"all": "SOH"},
                               arch_overrides=["compiler.deconv_as_subpixel_conv=true"])
    assert _layer(subpixel, "up")["compute_cycles"] < _layer(se, "up")["compute_cycles"]
    assert subpixel.macs == se.macs


def test_the_materialised_input_is_copied_in_the_precision_of_the_conv_it_feeds(tmp_path):
    """NNCF quantizes the transposed conv's input, and the compiler's Upsampling copies that
    quantized input: in int8 the copy moves int8, with no conversion of the big upsampled tensor."""
    ops = _lower(tmp_path, _conv_transpose(), NPU3720, precision="int8").ops
    upsampling, conv = (op for op in ops if op.op_type in ("Upsampling", "ConvTranspose"))
    assert upsampling.precision == conv.precision == "int8"
    assert not any(op.op_type == "Quantize" and "upsampled" in op.name for op in ops)


def test_the_subpixel_what_if_leaves_the_compilers_own_d2s_transposed_conv_alone(tmp_path):
    (op,) = _lower(tmp_path, _d2s(), replace(NPU4000, subpixel=True)).ops
    assert op.op_type == "ConvTranspose" and "SE pointers" in op.lowering


def test_a_depth_first_d2s_dma_gathers_runs_of_block_elements(tmp_path):
    """DepthToSpaceDMA moves depth-first data in runs of ``block`` elements (priced like a permute,
    one run per CMX clock); blocks-first runs are whole channel groups, a strided copy."""
    (crd,) = _lower(tmp_path, _d2s(c=64, block=2), LoweringOptions()).ops
    assert crd.engine is Engine.DMA and crd.permuted == crd.elements // 2 and crd.permute_planes == 32
    (dcr,) = _lower(tmp_path, _d2s(c=64, block=2, mode="DCR"), LoweringOptions()).ops
    assert dcr.permuted == 0


# --- every form, any geometry: an estimate, the useful MACs, no internal error -----------------

PARTS = [("npu4000", ()), ("npu3720", ()), ("npu3720", ("compiler.se_pointer_ops=true",)),
         ("npu4000", ("compiler.deconv_as_subpixel_conv=true",))]


@settings(max_examples=40, deadline=None)
@given(c=st.sampled_from([1, 3, 8, 16, 24]), k=st.sampled_from([1, 2, 16]), hw=st.integers(2, 12),
       kernel=st.integers(1, 5), stride=st.integers(1, 3), pad=st.integers(0, 3), out_pad=st.integers(0, 2),
       part=st.sampled_from(PARTS), precision=st.sampled_from([None, "int8"]))
def test_any_conv_transpose_estimates_with_its_useful_macs(c, k, hw, kernel, stride, pad, out_pad, part,
                                                         precision):
    out_pad = min(out_pad, stride - 1)
    out = (hw - 1) * stride - 2 * pad + kernel + out_pad
    if out < 1:
        return
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[kernel, kernel],
                            strides=[stride, stride], pads=[pad] * 4, output_padding=[out_pad, out_pad])
    model = chain_model([node], [_info("x", [1, c, hw, hw])], [_info("y", [1, k, out, out])],
                        [weight("w", (c, k, kernel, kernel))])
    arch, overrides = part
    est = nbperf.estimate(model, arch, arch_overrides=overrides, precision=precision)
    assert est.latency_ms > 0 and est.unknown_ops == ()
    assert est.macs == c * hw * hw * k * kernel * kernel  # every input pixel x kernel x K


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(["nearest", "linear", "cubic"]),
       coord=st.sampled_from(["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners",
                              "tf_half_pixel_for_nn"]),
       c=st.sampled_from([1, 8, 16, 24]), hw=st.integers(2, 10), scale=st.integers(1, 4),
       part=st.sampled_from(PARTS), precision=st.sampled_from([None, "int8"]))
def test_any_resize_estimates(mode, coord, c, hw, scale, part, precision):
    arch, overrides = part
    est = nbperf.estimate(_resize(mode, coord, c, hw, scale), arch, arch_overrides=overrides,
                          precision=precision)
    assert est.latency_ms > 0 and est.unknown_ops == ()


@settings(max_examples=30, deadline=None)
@given(out_c=st.sampled_from([1, 3, 8, 16]), block=st.integers(1, 4), hw=st.integers(1, 8),
       mode=st.sampled_from(["DCR", "CRD"]), part=st.sampled_from(PARTS),
       precision=st.sampled_from([None, "int8"]))
def test_any_depth_to_space_estimates_moving_data_only(out_c, block, hw, mode, part, precision):
    arch, overrides = part
    est = nbperf.estimate(_d2s(out_c * block * block, hw, block, mode), arch, arch_overrides=overrides,
                          precision=precision)
    assert est.latency_ms > 0 and est.unknown_ops == () and est.macs == 0
