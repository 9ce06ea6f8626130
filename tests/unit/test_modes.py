"""Latency and throughput modes: what benchmark_app's two hints measure, both in every estimate."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper
from tests.onnx_builders import conv_model, save

import nbperf
from nbperf.errors import UsageError


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    return save(conv_model(32, 64, 56, 3), tmp_path_factory.mktemp("modes"))


def test_throughput_mode_runs_the_plugins_requests_on_the_compilers_tile_count(conv):
    """NPU 4000 under the THROUGHPUT hint: 8 requests in flight (intel_npu options.cpp), each
    compiled for 2 tiles (npu_compiler options_mapper.cpp): three run at once on 6 tiles."""
    result = nbperf.estimate(conv, "npu4000", mode="throughput")
    th = result.throughput
    assert (th.requests, th.tiles_per_request, th.concurrent) == (8, 2, 3)
    arch = nbperf.load_arch("npu4000")
    shared = arch.model_copy(update={"tiles": 2, "dma": arch.dma.model_copy(
        update={"channels": 1, "ddr_bandwidth_gbps": arch.dma.ddr_bandwidth_gbps / 3})})
    one = nbperf.estimate(conv, shared)  # one of the three, with its share of DDR and DMA ports
    assert th.request_device_ns == pytest.approx(one.schedule.makespan_ns)
    assert result.throughput_fps == pytest.approx(min(3e9 / one.schedule.makespan_ns, 1e9 / result.host_ns))
    assert result.mode == "throughput" and result.latency_ms == nbperf.estimate(conv, "npu4000").latency_ms


def test_npu3720_throughput_runs_one_two_tile_request_at_a_time(conv):
    result = nbperf.estimate(conv, "npu3720")
    th = result.throughput
    assert (th.requests, th.tiles_per_request, th.concurrent) == (4, 2, 1)
    assert th.request_device_ns == result.schedule.makespan_ns  # the latency-mode compile itself
    assert th.fps >= result.fps  # the host's work overlaps the device's with requests queued


def test_the_latency_hint_compiles_for_four_of_six_tiles_on_npu4000(conv):
    """benchmark_app -hint latency on NPU 4000 gets the compiler's default performance-hint-override,
    "efficiency": 4 tiles (options_mapper.cpp). nbperf's latency mode is the all-tiles compile
    (performance-hint-override=latency); the hint's default is reported beside it."""
    result = nbperf.estimate(conv, "npu4000")
    four = nbperf.estimate(conv, "npu4000", arch_overrides=["tiles=4"])
    assert result.latency_hint.tiles == 4 and not result.latency_hint.note
    assert result.latency_hint.latency_ns == pytest.approx(four.latency_ns)
    assert result.latency_hint.latency_ns != pytest.approx(result.latency_ns)
    on_3720 = nbperf.estimate(conv, "npu3720")  # every tile under any hint on NPU 3720
    assert (on_3720.latency_hint.tiles, on_3720.latency_hint.latency_ns) == (2, on_3720.latency_ns)


def test_latency_mode_host_time_grows_with_input_and_output_bytes(tmp_path):
    def host_us(side: int) -> float:
        node = helper.make_node("Relu", ["x"], ["y"], name="relu")
        info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16, side, side]) for n in ("x", "y")]
        model = helper.make_model(helper.make_graph([node], "io", [info[0]], [info[1]]),
                                  opset_imports=[helper.make_opsetid("", 17)])
        result = nbperf.estimate(save(model, tmp_path, f"io{side}.onnx"), "npu4000")
        assert result.latency_ns == pytest.approx(result.schedule.makespan_ns + result.host_ns)
        return result.host_ns / 1e3

    arch = nbperf.load_arch("npu4000")
    small, big = host_us(32), host_us(64)
    extra_bytes = 2 * 16 * (64 * 64 - 32 * 32) * 4  # fp32 input and output at the host
    assert big - small == pytest.approx(extra_bytes / arch.runtime.host_copy_gbps / 1e3)
    assert small > arch.inference_overhead_us


def test_an_unknown_mode_is_a_usage_error(conv):
    with pytest.raises(UsageError, match="unknown mode 'fast'"):
        nbperf.estimate(conv, "npu4000", mode="fast")


def test_a_network_too_big_for_the_throughput_compile_runs_one_request_at_a_time(conv, monkeypatch):
    """If the network fits no strategy on the throughput compile's tiles (their CMX is too small
    for it), requests run one at a time on the latency compile, and the report says why."""
    import nbperf.api
    from nbperf.errors import InfeasibleError

    real = nbperf.api.estimate

    def small_compiles_fail(model, arch, **options):
        if getattr(arch, "tiles", 6) == 2:
            raise InfeasibleError("softmax (Softmax) fits no strategy")
        return real(model, arch, **options)

    monkeypatch.setattr(nbperf.api, "estimate", small_compiles_fail)
    result = real(conv, "npu4000")
    th = result.throughput
    assert (th.tiles_per_request, th.concurrent) == (6, 1) and "one request at a time" in th.note
    assert th.request_device_ns == result.schedule.makespan_ns
