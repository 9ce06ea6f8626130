"""Physical sanity of the estimate: precision, MAC count and padding behave as hardware does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import EXAMPLES
from tests.onnx_builders import conv_model, save

import nbperf
from nbperf.cost import get_backend
from nbperf.cost.tasks import TaskCoster
from nbperf.frontend import load_model

RESNET = EXAMPLES / "resnet50.onnx"


def test_int8_is_faster_than_fp16_on_resnet50():
    int8 = nbperf.estimate(RESNET, "npu4000", precision="int8")
    fp16 = nbperf.estimate(RESNET, "npu4000", precision="fp16")
    assert int8.latency_ms < fp16.latency_ms


def test_twice_the_macs_is_never_slower_and_less_than_twice_as_fast_on_resnet50():
    base = nbperf.estimate(RESNET, "npu4000")
    big = nbperf.estimate(RESNET, "npu4000-4k")
    assert big.arch.dpu.macs_per_tile == 2 * base.arch.dpu.macs_per_tile
    assert any(t.bound.startswith("dma") for t in base.schedule.tasks), "ResNet-50 has bandwidth-bound layers"
    assert big.latency_ms <= base.latency_ms
    assert big.latency_ms > base.latency_ms / 2
    # Per layer, the same strategy computes no slower on the bigger array (the search may then pick
    # another strategy for a layer when that makes the whole network faster).
    small_coster = TaskCoster(base.arch, get_backend("math"))
    big_coster = TaskCoster(big.arch, get_backend("math"))
    for task in base.schedule.tasks:
        cand = task.candidate
        if cand.work is None:
            continue
        rows, channels = (cand.tiling.rows, cand.tiling.channels) if cand.tiling else (1, 1)
        args = (cand.work, task.op.precision, cand.useful_macs, rows, channels, cand.write_tiles,
                cand.strategy.value)
        small, large = small_coster.dpu_subtiles(*args), big_coster.dpu_subtiles(*args)
        assert large.ns <= small.ns + 1e-6, task.op.name


@settings(max_examples=40, deadline=None)
@given(in_ch=st.sampled_from([1, 3, 16, 32, 64, 96]), out_ch=st.sampled_from([8, 16, 24, 64, 128]),
       hw=st.integers(4, 40), kernel=st.sampled_from([1, 3, 5]), macs=st.sampled_from([512, 1024, 2048]))
def test_more_macs_per_tile_is_never_slower_per_layer(tmp_path_factory, in_ch, out_ch, hw, kernel, macs):
    path = save(conv_model(in_ch, out_ch, hw, kernel), tmp_path_factory.mktemp("m"))
    graph = load_model(path)
    slow = nbperf.estimate(graph, nbperf.load_arch("npu3720", [f"dpu.macs_per_tile={macs}"]))
    fast = nbperf.estimate(graph, nbperf.load_arch("npu3720", [f"dpu.macs_per_tile={2 * macs}"]))
    assert fast.latency_ns <= slow.latency_ns
    assert fast.latency_ns > slow.latency_ns / 2


def _utilisation(tmp_path, in_ch, out_ch, hw, kernel, stride=1):
    result = nbperf.estimate(save(conv_model(in_ch, out_ch, hw, kernel, stride=stride), tmp_path), "npu4000")
    (task,) = result.schedule.tasks
    return task.compute.mac_utilisation


def test_three_channel_stem_conv_uses_the_mac_array_worse_than_a_256_channel_conv(tmp_path):
    stem = _utilisation(tmp_path, 3, 64, 224, 7, stride=2)
    body = _utilisation(tmp_path, 256, 256, 14, 3)
    assert stem < body
    assert stem < 0.25, "3 of 16 input channels: at most 3/16 of the MAC array is busy"
    assert body > 0.5


@pytest.mark.parametrize("arch", nbperf.preset_names())
def test_every_preset_estimates_resnet50(arch):
    result = nbperf.estimate(RESNET, arch)
    assert result.latency_ms > 0
    peak_ms = 2 * result.macs / (result.arch.peak_tops("fp16") * 1e12) * 1e3
    assert result.latency_ms > peak_ms, "no faster than the whole device at peak"
