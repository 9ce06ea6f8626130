"""The one DMA model: set-up, DDR latency, channel and DDR rates, rounds over the channels, and the
emulator running the same transfers."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbperf.arch import load_arch
from nbperf.cost.dma import (
    Path,
    channel_bytes_per_ns,
    ddr_bytes_per_ns,
    latency_ns,
    permute_tasks,
    setup_ns,
    split_ways,
    transfer_ns,
)
from nbperf.schedule.emulator import emulate
from nbperf.schedule.taskgraph import Task, TaskGraph, TaskKind, TaskRole

NPU3720 = load_arch("npu3720")
NPU4000 = load_arch("npu4000")
FAST_DDR = load_arch("npu4000", ["dma.ddr_bandwidth_gbps=90"])  # DDR faster than two channels
UNSPLIT = load_arch("npu4000", ["dma.split_lone_transfers=false"])  # a lone DMA keeps to its port
ARCHS = [NPU3720, NPU4000, FAST_DDR, UNSPLIT]
MB = 1_000_000


def _with_ddr(arch, gbps: float):
    return arch.model_copy(update={"dma": arch.dma.model_copy(update={"ddr_bandwidth_gbps": gbps})})


def test_preset_rates_by_hand():
    """Channel rate = engine width x DMA clock (1 GB/s == 1 byte/ns); DDR rate and costs from the YAML."""
    assert channel_bytes_per_ns(NPU3720) == pytest.approx(32 * 975 / 1000)  # 31.2 B/ns
    assert channel_bytes_per_ns(NPU4000) == pytest.approx(32 * 975 / 1000)  # 31.2 B/ns
    for arch in ARCHS:
        assert channel_bytes_per_ns(arch) == pytest.approx(
            arch.dma.engine_width_bytes * arch.dma.frequency_mhz / 1000)
        assert ddr_bytes_per_ns(arch) == arch.dma.ddr_bandwidth_gbps
        assert setup_ns(arch) == arch.dma.task_overhead_ns
        assert latency_ns(arch, Path.DDR) == arch.dma.ddr_latency_ns
        assert latency_ns(arch, Path.CMX) == 0.0
    assert (ddr_bytes_per_ns(NPU3720), ddr_bytes_per_ns(NPU4000), ddr_bytes_per_ns(FAST_DDR)) == (27, 45, 90)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: f"{a.name}-{a.dma.ddr_bandwidth_gbps:g}")
@pytest.mark.parametrize("path", list(Path))
def test_nothing_to_move_costs_nothing(arch, path):
    assert transfer_ns(arch, 0, path) == 0.0
    assert transfer_ns(arch, 0, path, transfers=6) == 0.0
    assert transfer_ns(arch, 1024, path, transfers=0) == 0.0
    assert transfer_ns(arch, -5, path) == 0.0


def test_one_ddr_transfer_by_hand():
    """Set-up + DDR latency + bytes at the slower of the DDR and the ports moving them: one port,
    or two where the arch splits a lone DMA over the idle port (npu4000)."""
    assert transfer_ns(NPU3720, MB, Path.DDR) == pytest.approx(100 + 956 + MB / 27)  # DDR 27 < 31.2
    assert transfer_ns(UNSPLIT, MB, Path.DDR) == pytest.approx(100 + 956 + MB / 31.2)  # the channel binds
    assert transfer_ns(NPU4000, MB, Path.DDR) == pytest.approx(100 + 956 + MB / 45)  # 2 x 31.2 > DDR 45
    assert transfer_ns(FAST_DDR, MB, Path.DDR) == pytest.approx(100 + 956 + MB / 62.4)  # two ports bind
    slow_ddr = _with_ddr(NPU4000, 20)
    assert transfer_ns(slow_ddr, MB, Path.DDR) == pytest.approx(100 + 956 + MB / 20)  # DDR 20 < 31.2


def test_cmx_copy_pays_set_up_but_no_ddr_latency():
    assert transfer_ns(NPU3720, MB, Path.CMX) == pytest.approx(100 + MB / 31.2)
    assert transfer_ns(NPU4000, MB, Path.CMX) == pytest.approx(100 + MB / 62.4)  # split over both ports
    slow_ddr = load_arch("npu4000", ["dma.ddr_latency_ns=100000"])
    assert transfer_ns(slow_ddr, MB, Path.CMX) == transfer_ns(NPU4000, MB, Path.CMX)
    extra = transfer_ns(slow_ddr, MB, Path.DDR) - transfer_ns(NPU4000, MB, Path.DDR)
    assert extra == pytest.approx(100_000 - 956)


def test_only_the_npu40xx_presets_split_a_lone_dma():
    """The compiler's port-balancing split (detect_dma_split_candidate, split_dma_to_balance_load)
    runs in the NPU40XX pipeline only."""
    assert {name: load_arch(name).dma.split_lone_transfers
            for name in ("vpu2.0", "npu3720", "npu4000", "npu4000-4k")} == \
        {"vpu2.0": False, "npu3720": False, "npu4000": True, "npu4000-4k": True}


@pytest.mark.parametrize("channels, transfers, ways", [(2, 1, 2), (2, 2, 1), (2, 3, 2), (1, 1, 1), (4, 1, 2),
                                                       (4, 2, 2), (4, 3, 1), (4, 5, 2)])
def test_the_last_rounds_tasks_split_when_the_ports_outnumber_them_twice(channels, transfers, ways):
    """Tasks dealt over the ports; those of the last round split in two halves when there are two
    ports for each of them, so the busiest port moves one share less a half."""
    arch = load_arch("npu4000", [f"dma.channels={channels}"])
    rounds = math.ceil(transfers / channels)
    assert split_ways(arch, transfers - (rounds - 1) * channels) == ways
    busiest = (rounds - 1 + 1 / ways) * MB / channel_bytes_per_ns(arch)
    assert transfer_ns(arch, transfers * MB, Path.CMX, transfers) == pytest.approx(rounds * 100 + busiest)
    unsplit = load_arch("npu4000", [f"dma.channels={channels}", "dma.split_lone_transfers=false"])
    assert transfer_ns(unsplit, transfers * MB, Path.CMX, transfers) == \
        pytest.approx(rounds * (100 + MB / channel_bytes_per_ns(arch)))


@pytest.mark.parametrize("arch", [*ARCHS, load_arch("npu4000", ["dma.channels=3"]), load_arch("vpu2.0")],
                         ids=lambda a: f"{a.name}-{a.dma.channels}ch-{a.dma.ddr_bandwidth_gbps:g}")
@pytest.mark.parametrize("path", list(Path))
def test_more_transfers_than_channels_pay_one_set_up_and_latency_per_round(arch, path):
    per_task = setup_ns(arch) + latency_ns(arch, path)
    for transfers in range(1, 10):
        rounds = math.ceil(transfers / arch.dma.channels)
        # the busiest channel moves `rounds` equal shares (the last round's halves where the ports
        # split them); DDR transfers also share the DDR rate
        last = transfers - (rounds - 1) * arch.dma.channels
        halves = arch.dma.split_lone_transfers and 2 * last <= arch.dma.channels
        bytes_ns = (rounds - (0.5 if halves else 0)) * MB / transfers / channel_bytes_per_ns(arch)
        if path is Path.DDR:
            bytes_ns = max(bytes_ns, MB / arch.dma.ddr_bandwidth_gbps)
        assert transfer_ns(arch, MB, path, transfers) == pytest.approx(rounds * per_task + bytes_ns)


def test_six_segments_on_two_channels_by_hand():
    """A tensor split over six tiles: six tasks, three rounds on npu4000's two 31.2 B/ns channels
    (32 B x 975 MHz), each round paying set-up and the 956 ns DDR latency."""
    assert transfer_ns(NPU4000, 6 * MB, Path.CMX, 6) == pytest.approx(3 * 100 + 6 * MB / (2 * 31.2))
    assert transfer_ns(NPU4000, 6 * MB, Path.DDR, 6) == pytest.approx(3 * (100 + 956) + 6 * MB / 45)
    # at 90 GB/s the two channels (62.4 B/ns together) bind, not DDR
    assert transfer_ns(FAST_DDR, 6 * MB, Path.DDR, 6) == pytest.approx(3 * (100 + 956) + 6 * MB / (2 * 31.2))


@settings(max_examples=300, deadline=None)
@given(arch=st.sampled_from(ARCHS), path=st.sampled_from(list(Path)), transfers=st.integers(1, 12),
       a=st.integers(0, 1 << 28), b=st.integers(0, 1 << 28))
def test_more_bytes_are_never_cheaper(arch, path, transfers, a, b):
    small, big = sorted((a, b))
    assert transfer_ns(arch, small, path, transfers) <= transfer_ns(arch, big, path, transfers)


@settings(max_examples=300, deadline=None)
@given(arch=st.sampled_from([NPU3720, NPU4000]), path=st.sampled_from(list(Path)),
       transfers=st.integers(1, 12), nbytes=st.integers(0, 1 << 28), gbps=st.floats(0.5, 5000))
def test_doubling_ddr_bandwidth_is_never_slower(arch, path, transfers, nbytes, gbps):
    slow, fast = _with_ddr(arch, gbps), _with_ddr(arch, 2 * gbps)
    assert transfer_ns(fast, nbytes, path, transfers) <= transfer_ns(slow, nbytes, path, transfers)
    if path is Path.CMX:  # CMX -> CMX copies never touch DDR
        assert transfer_ns(fast, nbytes, path, transfers) == transfer_ns(slow, nbytes, path, transfers)


@pytest.mark.parametrize("transfers", [1, 2, 6])
def test_ddr_bound_transfers_speed_up_with_ddr_until_the_channels_bind(transfers):
    busy = NPU4000.dma.channels * channel_bytes_per_ns(NPU4000)  # 62.4: a lone one splits over both
    sweep = [10, busy * 0.5, busy * 0.7, busy * 0.9, busy, busy * 1.5, 1000]
    times = [transfer_ns(_with_ddr(NPU4000, g), 10 * MB, Path.DDR, transfers) for g in sweep]
    below, above = times[:5], times[4:]
    assert all(x > y for x, y in itertools.pairwise(below)), "DDR-bound: more DDR, faster"
    assert above == pytest.approx([above[0]] * len(above)), "channel-bound: more DDR changes nothing"
    overhead = math.ceil(transfers / 2) * (100 + 956)
    assert above[0] == pytest.approx(overhead + 10 * MB / busy)


def _emulated_ns(arch, sizes: list[int], path: Path) -> float:
    """Independent DMA tasks alone in a task graph, run by the emulator."""
    tasks = [Task(i, f"dma{i}", "layer", TaskKind.DMA, TaskRole.LOAD, nbytes=n, path=path)
             for i, n in enumerate(sizes)]
    graph = TaskGraph(tasks=tasks, buffers=[], spilled_bytes=0, peak_cmx_bytes=[0] * arch.tiles,
                      fragmentation=[0.0] * arch.tiles, prefetch_depth=0, layer_bytes={})
    return emulate(graph, arch).makespan_ns


@pytest.mark.parametrize("arch", [*ARCHS, load_arch("vpu2.0")],
                         ids=lambda a: f"{a.name}-{a.dma.ddr_bandwidth_gbps:g}")
@pytest.mark.parametrize("path", list(Path))
def test_emulator_runs_one_transfer_like_the_closed_form(arch, path):
    for nbytes in (1, 4096, 3 * MB):
        assert _emulated_ns(arch, [nbytes], path) == pytest.approx(transfer_ns(arch, nbytes, path))


@pytest.mark.parametrize("arch", [NPU3720, _with_ddr(NPU4000, 25)], ids=lambda a: a.name)
def test_emulator_shares_ddr_like_the_closed_form_when_ddr_binds(arch):
    """One task per channel, DDR slower than one channel: the DDR rate alone sets the byte time."""
    n = arch.dma.channels
    assert _emulated_ns(arch, [MB] * n, Path.DDR) == pytest.approx(transfer_ns(arch, n * MB, Path.DDR, n))


@pytest.mark.parametrize("arch", [NPU3720, NPU4000], ids=lambda a: a.name)
@pytest.mark.parametrize("transfers", [2, 4, 6])
def test_emulator_deals_cmx_copies_over_the_channels_like_the_closed_form(arch, transfers):
    assert _emulated_ns(arch, [MB] * transfers, Path.CMX) == \
        pytest.approx(transfer_ns(arch, transfers * MB, Path.CMX, transfers))


@pytest.mark.parametrize("transfers", [3, 5])
def test_equal_copies_not_a_multiple_of_the_channels_wait_for_the_busiest_channel(transfers):
    """Equal tasks dealt over two channels: one channel runs ceil(n/2) of them back to back, each
    paying its set-up and its bytes at one channel's rate; nothing can finish sooner. Where a lone
    DMA splits over the idle port (npu4000), the last one moves at both ports' rate."""
    per_task, rounds = MB, math.ceil(transfers / 2)
    busiest = rounds * (setup_ns(UNSPLIT) + per_task / channel_bytes_per_ns(UNSPLIT))
    assert _emulated_ns(UNSPLIT, [per_task] * transfers, Path.CMX) == pytest.approx(busiest)
    assert transfer_ns(UNSPLIT, transfers * per_task, Path.CMX, transfers) == pytest.approx(busiest)
    split = busiest - per_task / (2 * channel_bytes_per_ns(NPU4000))
    assert _emulated_ns(NPU4000, [per_task] * transfers, Path.CMX) == pytest.approx(split)
    assert transfer_ns(NPU4000, transfers * per_task, Path.CMX, transfers) == pytest.approx(split)


@pytest.mark.parametrize("path", list(Path))
def test_a_transfer_spreads_over_a_port_while_it_idles_and_gives_it_back(path):
    """A long DMA alone moves at both ports' rate (DDR-bound at 45 GB/s on npu4000's DDR path);
    a short one started beside it takes one port back, then the long one spreads again. The
    emulator charges exactly that sequence; with the split turned off both keep to one port."""
    long, short = 4 * MB, MB // 4
    for arch in (NPU4000, UNSPLIT):
        one, ddr = channel_bytes_per_ns(arch), ddr_bytes_per_ns(arch)
        if path is Path.DDR:  # program order: the long one first, the short one on what is left
            alone, long_rate = min(one * split_ways(arch, 1), ddr), min(one, ddr)
            short_rate = min(one, ddr - long_rate)
        else:
            alone, long_rate, short_rate = one * split_ways(arch, 1), one, one
        lead = setup_ns(arch) + latency_ns(arch, path)
        # both start at 0 and pay their lead side by side; then the long one has the ports alone
        together = short / short_rate
        expected = lead + together + (long - together * long_rate) / alone
        assert _emulated_ns(arch, [long, short], path) == pytest.approx(expected)


def test_a_permute_dma_reorders_one_element_per_cmx_clock():
    """VPUNN: a permute's CMX side moves one element per CMX cycle, whatever the element width."""
    elements = 98_304
    plain = transfer_ns(NPU4000, 2 * elements, Path.CMX)
    permute = transfer_ns(NPU4000, 2 * elements, Path.CMX, permuted=elements)
    assert permute == pytest.approx(100 + elements / (NPU4000.dma.frequency_mhz / 1e3))
    assert permute > 2 * plain  # 1 element (2 B) per clock against 32 B per clock
    assert transfer_ns(NPU4000, 2 * elements, Path.DDR, permuted=elements) >= permute


def test_a_permute_dma_is_cut_along_its_planes_over_every_port():
    """The compiler cuts a permute DMA into pieces of at most 256 planes, a multiple of the ports,
    dealt round robin (convert_to_dma_utils.cpp computeDMASubShape): both ports reorder at once."""
    assert [permute_tasks(NPU4000, p) for p in (1, 128, 256, 257, 600, 1100)] == [1, 2, 2, 2, 4, 6]
    elements = 98_304
    permute = transfer_ns(NPU4000, 2 * elements, Path.CMX, permute_tasks(NPU4000, 128), elements)
    assert permute == pytest.approx(100 + elements / NPU4000.dma.channels / (NPU4000.dma.frequency_mhz / 1e3))


@pytest.mark.parametrize("schedule", ["serial", "emulator"])
def test_a_98304_element_transpose_costs_at_least_one_element_per_cmx_clock_per_port(tmp_path, schedule):
    from onnx import TensorProto, helper
    from tests.onnx_builders import chain_model, save

    import nbperf

    def estimate(perm, out_shape):
        node = helper.make_node("Transpose", ["x"], ["y"], name="t", perm=perm)
        model = chain_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12, 128, 64])],
                            [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], [])
        path = save(model, tmp_path, f"t{''.join(map(str, perm))}.onnx")
        return nbperf.estimate(path, "npu4000", schedule=schedule).schedule.makespan_ns

    bound = 98_304 / (NPU4000.dma.frequency_mhz / 1e3 * NPU4000.dma.channels)
    permute = estimate([0, 1, 3, 2], [1, 12, 64, 128])
    rows = estimate([0, 2, 1, 3], [1, 128, 12, 64])  # 64-element rows move whole: a strided copy
    assert permute >= bound and permute > rows
