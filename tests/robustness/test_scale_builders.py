"""The scale benchmark's model builders (benchmarks/model_builders.py), in small versions.

The full-size models are only built and loaded through the frontend here (fast: they are
weightless); estimating them is the benchmark's job (benchmarks/bench_scale.py).
"""

from __future__ import annotations

import sys

import pytest
from robustness_helpers import REPO_ROOT, check_outcome

import nbperf
from nbperf.frontend import load_model

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from model_builders import decoder_lm, parameter_count, save, super_resolution

SMALL_DECODER = {"layers": 2, "d_model": 64, "heads": 4, "ffn": 256, "vocab": 100, "seq": 16}


def test_small_decoder_estimates_with_fused_gelu_and_the_expected_macs(tmp_path):
    path = save(decoder_lm(**SMALL_DECODER), tmp_path)
    assert check_outcome(lambda: nbperf.estimate(path, "npu4000")) == "ok"
    result = nbperf.estimate(path, "npu4000")
    assert result.unknown_ops == ()
    ops = [t.op.op_type for t in result.schedule.tasks]
    assert ops.count("Gelu") == 2 and ops.count("LayerNormalization") == 5 and ops.count("Softmax") == 2
    assert "Erf" not in ops, "the erf GELU pattern was not fused"
    L, d, f, v, s, h = (SMALL_DECODER[k] for k in ("layers", "d_model", "ffn", "vocab", "seq", "heads"))
    per_layer = s * d * 3 * d + 2 * h * s * s * (d // h) + s * d * d + 2 * s * d * f
    matmul_macs = sum(t.op.macs for t in result.schedule.tasks if t.op.op_type == "MatMul")
    assert matmul_macs == L * per_layer + s * d * v


def test_small_super_resolution_estimates_to_twice_the_input(tmp_path):
    model = super_resolution(out_width=128, out_height=72, scale=2)
    path = save(model, tmp_path)
    assert check_outcome(lambda: nbperf.estimate(path, "npu4000")) == "ok"
    graph = load_model(path)
    assert graph.tensor("image").shape == (1, 3, 36, 64)
    assert graph.tensor("upscaled").shape == (1, 3, 72, 128)
    ops = [t.op.op_type for t in nbperf.estimate(path).schedule.tasks]
    # a per-channel PReLU is no DPU post-op (the compiler fuses one-slope PReLUs only): SHAVE runs it
    assert ops.count("Conv") == 8 and ops.count("PRelu") == 7


@pytest.mark.parametrize("build,params,output", [
    (decoder_lm, 1_340_723_200, (1, 512, 32000)),
    (super_resolution, 17_132, (1, 3, 2160, 3840)),
])
def test_full_size_models_are_weightless_and_load(tmp_path, build, params, output):
    model = build()
    assert parameter_count(model) == params
    path = save(model, tmp_path)
    assert path.stat().st_size < 200_000, "weights must be declared, not stored"
    graph = load_model(path)
    assert graph.tensor(graph.outputs[0]).shape == output


def test_builders_refuse_inconsistent_sizes():
    with pytest.raises(ValueError, match="not a multiple of heads"):
        decoder_lm(d_model=100, heads=16)
    with pytest.raises(ValueError, match="not a multiple of the scale"):
        super_resolution(out_width=101, out_height=100, scale=2)
