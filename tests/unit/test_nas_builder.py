"""nbperf.nas: the onnx.helper network builder, the MiDaS-like family, and the NAS example."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest

import nbperf
from nbperf.nas import OPSET, NetBuilder, midas_like, parameter_count, resnet_like

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"width": 16, "depth": 1, "decoder_features": 16, "resolution": 64}


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    return {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
            for v in (*inferred.graph.value_info, *inferred.graph.output)}


def _every_layer() -> tuple[NetBuilder, onnx.ModelProto]:
    """One network with every layer the builder offers."""
    b = NetBuilder("every_layer", (1, 3, 36, 44))
    x = b.conv(b.input, 16, 3, stride=2, bn=True, act="relu")
    x = b.conv(x, 16, 3, depthwise=True, dilation=2, act="relu6")
    y = b.conv(x, 32, 5, groups=4, act="hardswish")
    z = b.conv(x, 32, (1, 3), padding=0, act="silu", name="asym")  # explicit pads: 18x20
    z = b.conv(z, 32, (1, 3), padding="valid", act="sigmoid")  # 18x18
    z = b.upsample(b.max_pool(z, 3, 2), 2, "nearest")  # 9x9 -> 18x18
    x = b.concat([b.conv(y, 8, (1, 5), padding="valid"), z], name="cat")  # 8 + 32 channels, 18x18
    x = b.add(b.avg_pool(x, 3, 2), b.max_pool(x, 2, 2, name="pool2"))
    x = b.conv(b.upsample(x, 2, "bilinear", align_corners=True), 64, 3, bias=False)
    x = b.depth_to_space(x, 2)
    gate = b.sigmoid(b.global_avg_pool(x))
    x = b.mul(x, gate)
    x = b.relu(b.batchnorm(x))
    t = b.matmul(x, 8, bias=True)
    logits = b.gemm(b.flatten(b.global_avg_pool(x)), 10, name="logits")
    return b, b.build([logits, t])


def test_every_layer_passes_the_checker_and_onnx_agrees_with_the_tracked_shapes():
    b, model = _every_layer()
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET == 17
    inferred = _inferred_shapes(model)
    assert len(inferred) == len(model.graph.node)
    for name, shape in inferred.items():
        assert shape == b.shape(name), name
    assert b.shape("logits") == (1, 10)
    ops = {n.op_type for n in model.graph.node}
    assert ops >= {"Conv", "BatchNormalization", "Relu", "Clip", "HardSwish", "Sigmoid", "Mul", "Concat",
                   "MaxPool", "AveragePool", "Add", "Resize", "DepthToSpace", "GlobalAveragePool", "MatMul",
                   "Flatten", "Gemm"}


def test_same_padding_gives_ceil_of_size_over_stride():
    b = NetBuilder("pad", (1, 4, 37, 45))  # odd sizes: the extra padding goes at the end
    outputs = []
    for stride in (1, 2, 3):
        for k, d in ((1, 1), (3, 1), (3, 2), (5, 1), (4, 1)):
            outputs.append(b.conv(b.input, 4, k, stride, dilation=d))
            expected = (math.ceil(37 / stride), math.ceil(45 / stride))
            assert b.shape(outputs[-1])[2:] == expected, (stride, k, d)
        outputs.append(b.max_pool(b.input, 3, stride))
        outputs.append(b.avg_pool(b.input, 2, stride))
        assert b.shape(outputs[-1]) == b.shape(outputs[-2]) == b.shape(outputs[-3])
    assert _inferred_shapes(b.build(outputs)) == {o: b.shape(o) for o in outputs}


def test_weights_are_zeros_or_weightless_and_small_constants_keep_their_values():
    zeros = midas_like(**SMALL)
    external = midas_like(**SMALL, weights="external")
    assert parameter_count(zeros) == parameter_count(external) > 0
    assert len(external.SerializeToString()) < 100_000, "weightless weights must hold no bytes"
    assert len(zeros.SerializeToString()) > 4 * parameter_count(zeros)
    ext = {t.name: t for t in external.graph.initializer}
    assert ext["stem/conv.w"].data_location == onnx.TensorProto.EXTERNAL
    head_up = next(n for n in external.graph.node if n.name == "head/up")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(ext[head_up.input[2]]), [1, 1, 2, 2])
    assert not onnx.numpy_helper.to_array({t.name: t for t in zeros.graph.initializer}["stem/conv.w"]).any()


def test_float16_builds_a_float16_model():
    model = midas_like(**SMALL, dtype=np.float16)
    onnx.checker.check_model(model)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert {t.data_type for t in model.graph.initializer if len(t.dims) == 4} == {onnx.TensorProto.FLOAT16}


@pytest.mark.parametrize("resolution,block", [(64, "basic"), ((64, 96), "basic"), (96, "mbconv")])
def test_midas_like_outputs_a_one_channel_map_at_input_resolution(resolution, block):
    model = midas_like(width=16, depth=(1, 2, 1, 1), decoder_features=24, resolution=resolution, block=block)
    onnx.checker.check_model(model)
    h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, h, w]
    assert [o.name for o in model.graph.output] == ["depth"]
    assert _inferred_shapes(model)["depth"] == (1, 1, h, w)
    names = [n.name for n in model.graph.node]
    assert sum(n.startswith("reassemble") for n in names) == 4
    assert sum(n.endswith("/up") and n.startswith("fusion") for n in names) == 4


def test_resnet_like_classifies():
    model = resnet_like(width=16, depth=1, resolution=64, classes=10, block="mbconv", act="hardswish")
    onnx.checker.check_model(model)
    assert _inferred_shapes(model)["logits"] == (1, 10)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="multiple of 32"):
        midas_like(resolution=100)
    with pytest.raises(ValueError, match="depth"):
        midas_like(depth=(1, 2))
    b = NetBuilder("bad", (1, 6, 8, 8))
    with pytest.raises(ValueError, match="groups"):
        b.conv(b.input, 8, 3, groups=4)
    b.conv(b.input, 8, 3, name="c")
    with pytest.raises(ValueError, match="already used"):
        b.conv(b.input, 8, 3, name="c")
    with pytest.raises(ValueError, match="shapes differ"):
        b.add(b.input, "c")
    with pytest.raises(ValueError, match="outside axis 1"):
        b.concat([b.input, b.max_pool(b.input)])
    with pytest.raises(ValueError, match="weights"):
        NetBuilder("w", weights="random")  # type: ignore[arg-type]


@pytest.mark.parametrize("hw,kernel,stride,padding,output_padding", [
    ((36, 44), 9, 2, 4, 1),  # FSRCNN's x2 deconvolution: exactly twice the input
    ((36, 44), 4, 2, 1, 0),  # the usual learned x2 upsampler
    ((7, 9), 3, 3, 0, 2),
    ((8, 8), (3, 5), 1, 1, 0),
    ((5, 6), 2, 2, 0, 0),  # a DepthToSpace-like kernel = stride
])
def test_conv_transpose_shapes_follow_onnx(hw, kernel, stride, padding, output_padding):
    b = NetBuilder("deconv", (1, 8, *hw))
    y = b.conv_transpose(b.input, 3, kernel, stride, padding=padding, output_padding=output_padding,
                         name="up")
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    expected = tuple((size - 1) * stride - 2 * padding + k + output_padding
                     for size, k in zip(hw, (kh, kw), strict=True))
    assert b.shape(y) == (1, 3, *expected)
    model = b.build()
    onnx.checker.check_model(model, full_check=True)
    assert _inferred_shapes(model)["up"] == b.shape(y)
    node = model.graph.node[0]
    assert node.op_type == "ConvTranspose" and list(node.input) == ["input", "up.w", "up.b"]
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    assert weights == {"up.w": [8, 3, kh, kw], "up.b": [3]}  # ONNX's [C_in, C_out / group, kh, kw]


def test_conv_transpose_runs_in_onnxruntime_and_nbperf():
    ort = pytest.importorskip("onnxruntime")
    b = NetBuilder("fsrcnn_tail", (1, 16, 12, 20))
    b.conv_transpose(b.prelu(b.input), 1, 9, 2, padding=4, output_padding=1, bias=False)
    model = b.build()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": np.ones((1, 16, 12, 20), np.float32)})
    assert out.shape == (1, 1, 24, 40)
    est = nbperf.estimate(nbperf.load(b.build()), "npu4000")
    assert est.unknown_ops == ()
    assert est.macs == 16 * 12 * 20 * 1 * 9 * 9  # every input pixel through the whole kernel
    assert "ConvTranspose" in {t.op.op_type for t in est.schedule.tasks}


def test_conv_transpose_rejects_what_onnx_forbids():
    b = NetBuilder("bad_deconv", (1, 4, 8, 8))
    with pytest.raises(ValueError, match="output_padding"):
        b.conv_transpose(b.input, 4, 3, 2, output_padding=2)
    with pytest.raises(ValueError, match="no output"):
        b.conv_transpose(b.input, 4, 1, 1, padding=4)


def test_prelu_slopes_per_channel_or_one_and_nbperf_fuses_only_one():
    b = NetBuilder("prelu", (1, 16, 8, 8))
    per_channel = b.prelu(b.conv(b.input, 16, 3, name="a"), name="a/prelu")
    shared = b.prelu(b.conv(per_channel, 16, 3, name="b"), 0.1, per_channel=False, name="b/prelu")
    model = b.build([shared])
    onnx.checker.check_model(model, full_check=True)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    slopes = {n.name: inits[n.input[1]] for n in model.graph.node if n.op_type == "PRelu"}
    assert slopes["a/prelu"].shape == (16, 1, 1) and np.all(slopes["a/prelu"] == 0.25)
    assert slopes["b/prelu"].shape == (1,) and np.allclose(slopes["b/prelu"], 0.1)
    assert _inferred_shapes(model)["b/prelu"] == b.shape(shared) == (1, 16, 8, 8)
    # the slopes are real values even in a weightless model
    external = NetBuilder("prelu_ext", (1, 16, 8, 8), weights="external")
    external.prelu(external.input)
    (slope,) = external.build().graph.initializer
    assert slope.data_location == onnx.TensorProto.DEFAULT and len(slope.raw_data) == 16 * 4
    est = nbperf.estimate(nbperf.load(model), "npu4000")
    engines = {t.op.name: t.op.engine.value for t in est.schedule.tasks}
    assert engines["a/prelu"] == "SHAVE"  # a per-channel PReLU stays a SHAVE kernel
    assert "b/prelu" not in engines  # a one-slope PReLU is fused into the conv (a LeakyReLU)


def test_conv_macs_reported_by_nbperf_match_the_builder_shapes():
    b = NetBuilder("convs", (1, 8, 32, 32))
    x = b.conv(b.input, 16, 3, stride=2)
    x = b.conv(x, 16, 3, depthwise=True, dilation=2, act="relu")
    b.conv(x, 32, 1)
    est = nbperf.estimate(nbperf.load(b.build()), "npu4000")
    assert est.macs == 16 * 16 * 16 * 8 * 9 + 16 * 16 * 16 * 9 + 32 * 16 * 16 * 16
    assert est.latency_ms > 0


def _estimate(weights: str = "external", precision: str | None = None, **changes: object) -> nbperf.Estimate:
    model = midas_like(**{**SMALL, **changes}, weights=weights)  # type: ignore[arg-type]
    return nbperf.estimate(nbperf.load(model), "npu4000", precision=precision)


def test_macs_grow_with_width_depth_decoder_features_and_resolution():
    base = _estimate().macs
    assert base < _estimate(width=24).macs < _estimate(width=32).macs
    assert base < _estimate(depth=2).macs < _estimate(depth=3).macs
    assert base < _estimate(decoder_features=32).macs
    assert base < _estimate(resolution=128).macs


def test_weight_values_do_not_change_the_estimate():
    zeros, external = _estimate("zeros"), _estimate("external")
    assert zeros.latency_ms == external.latency_ms > 0
    assert zeros.macs == external.macs > 0


@pytest.mark.parametrize("config,precision", [
    ({"block": "mbconv", "act": "relu6"}, None),
    ({"act": "hardswish", "depth": (1, 1, 2, 1)}, "int8"),
    ({"resolution": (64, 128), "weights": "zeros"}, "fp16"),
])
def test_estimates_run_for_several_configs(config, precision):
    est = _estimate(precision=precision, **config)
    assert est.latency_ms > 0 and est.macs > 0
    assert est.unknown_ops == ()
    assert est.precision == (precision or "fp16")  # (summary() would add a throughput estimate)


# ---------------------------------------------------------------------------------------------
# examples/nas_midas.py


def _example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    path = REPO_ROOT / "examples" / "nas_midas.py"
    spec = importlib.util.spec_from_file_location("nas_midas_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_example_without_optuna_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    assert _example(monkeypatch).main(["--trials", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'nbperf[nas]'" in err


def test_example_rejects_an_unknown_arch(monkeypatch, capsys):
    pytest.importorskip("optuna", reason="the NAS example needs optuna (pip install 'nbperf[nas]')")
    assert _example(monkeypatch).main(["--arch", "npu9999", "--trials", "1"]) == 2
    assert "npu9999" in capsys.readouterr().err


def test_example_prints_a_pareto_table(monkeypatch, capsys):
    pytest.importorskip("optuna", reason="the NAS example needs optuna (pip install 'nbperf[nas]')")
    example = _example(monkeypatch)
    # a small search space keeps the three estimates fast; the search itself is unchanged
    monkeypatch.setattr(example, "WIDTHS", (16, 24))
    monkeypatch.setattr(example, "DEPTHS", (1,))
    monkeypatch.setattr(example, "DECODER_FEATURES", (16, 32))
    monkeypatch.setattr(example, "RESOLUTIONS", (64,))
    assert example.main(["--trials", "3", "--min-gmacs", "0", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("latency ms"))
    columns = ["latency", "ms", "GMACs", "params", "M", "width", "depth", "decoder", "resolution"]
    assert header.split() == columns
    rows = out.split(header)[1].splitlines()[2:]
    rows = rows[:next(i for i, r in enumerate(rows) if not r.strip())]
    assert rows and all(r.split()[-1] == "64x64" for r in rows)
    latencies = [float(r.split()[0]) for r in rows]
    assert latencies == sorted(latencies)
    assert "3 trials" in out and "trials/s" in out and "estimates/s" in out
    # the same seed gives the same front
    assert example.main(["--trials", "3", "--min-gmacs", "0", "--seed", "1"]) == 0
    again = capsys.readouterr().out
    assert again.split(header)[1].split("\n\n")[0] == out.split(header)[1].split("\n\n")[0]
