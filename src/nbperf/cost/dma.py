"""The one DMA model: every schedule and the strategy search time data movement with it.

A DMA task costs its set-up (descriptor fetch, barrier update), the DDR latency when it touches
DDR, then bytes at its channel's rate (two ports' when the arch splits a DMA over an idle port).
A channel moves ``engine_width_bytes`` per DMA clock; on the DDR path all active channels share
the DDR bandwidth. Data bound for several tiles' segments moves as one task per segment, dealt
over the channels; a broadcast is one multicast task. ``transfer_ns`` is the closed form the
layer-serial schedule and the search use; the emulator runs the same tasks one by one with the
same set-up, latency and rates.
"""

from __future__ import annotations

import math
from enum import StrEnum

from nbperf.arch.model import ArchSpec


class Path(StrEnum):
    DDR = "ddr"  # DDR <-> CMX: the shared DDR bandwidth, DDR latency
    CMX = "cmx"  # CMX <-> CMX: the DMA engines' own width x clock


class Direction(StrEnum):
    """Which way a transfer goes: what a cost model that prices single DMAs (a table, VPUNN's
    DDR2CMX / CMX2DDR / CMX2CMX models) needs beyond the path."""

    IN = "ddr-to-cmx"
    OUT = "cmx-to-ddr"
    CMX = "cmx-to-cmx"


def default_direction(path: Path) -> Direction:
    return Direction.IN if path is Path.DDR else Direction.CMX


def setup_ns(arch: ArchSpec) -> float:
    """Per-task set-up of one DMA."""
    return arch.dma.task_overhead_ns


def latency_ns(arch: ArchSpec, path: Path) -> float:
    """Time before the first byte arrives: the DDR latency on the DDR path."""
    return arch.dma.ddr_latency_ns if path is Path.DDR else 0.0


def channel_bytes_per_ns(arch: ArchSpec) -> float:
    """One channel's own rate (1 GB/s == 1 byte/ns)."""
    return arch.dma.cmx_bandwidth_gbps


def ddr_bytes_per_ns(arch: ArchSpec) -> float:
    """DDR bandwidth shared by every channel on the DDR path."""
    return arch.dma.ddr_bandwidth_gbps


def permute_elements_per_ns(arch: ArchSpec) -> float:
    """A permuting DMA reorders one element per CMX clock on its CMX side, whatever their width
    (VPUNN dma_theoretical_cost_provider.h get_sram_word_sizeLegacy: a permute's word is one
    element; intel/npu-nn-cost-model@8a2ae92). The DMA runs on the CMX clock."""
    return arch.dma.frequency_mhz / 1e3


# A permute DMA descriptor moves at most this many planes (npu_compiler VPUIP/utils/
# convert_to_dma_utils.hpp DMA_MAX_NUMBER_PLANES, @150e202).
PERMUTE_MAX_PLANES = 256


def permute_tasks(arch: ArchSpec, planes: int) -> int:
    """DMA tasks a permute of ``planes`` planes becomes: the compiler cuts it into the fewest
    pieces of at most 256 planes, rounded up to a multiple of the DMA ports, and deals them
    round robin over the ports (computeDMASubShape in convert_to_dma_utils.cpp,
    unroll_permute_to_nndma.cpp), so every port reorders its share at once."""
    ports = arch.dma.channels
    needed = max(1, math.ceil(planes / PERMUTE_MAX_PLANES))
    return min(max(1, planes), math.ceil(needed / ports) * ports)


def split_ways(arch: ArchSpec, running: int) -> int:
    """How many ports each of ``running`` concurrent DMA tasks moves over: two when the arch splits
    a DMA while another port idles and there are ports enough for both halves of each, else one.
    On NPU40XX the compiler's inference simulator marks a DMA as a split candidate when a port idles
    while it runs, and splits it in two halves on two ports (detect_dma_split_candidate.cpp,
    split_dma_to_balance_load.cpp, run by NPU40XX/.../pipelines.cpp; openvinotoolkit/npu_compiler
    @150e202). Both halves pay their own set-up and latency, side by side."""
    return 2 if arch.dma.split_lone_transfers and 2 * running <= arch.dma.channels else 1


def transfer_ns(arch: ArchSpec, nbytes: int, path: Path, transfers: int = 1, permuted: int = 0) -> float:
    """Time of ``transfers`` DMA tasks moving ``nbytes`` in total, dealt over the channels;
    ``permuted`` of their elements are reordered one by one (a permute DMA), shared alike."""
    if nbytes <= 0 or transfers <= 0:
        return 0.0
    # A channel runs its tasks one after another, each paying its set-up and latency (VPUNN prices
    # every DMA task with its own latency: dma_theoretical_cost_provider.h in intel/npu-nn-cost-model).
    # The busiest channel moves ``rounds`` equal shares at its own rate (the last round's tasks split
    # over idle ports where the arch does that); on the DDR path all of the bytes also pass the
    # shared DDR bandwidth.
    rounds = math.ceil(transfers / arch.dma.channels)
    # A permute DMA is not a plain copy: the port-balancing split leaves it whole.
    ways = 1 if permuted else split_ways(arch, transfers - (rounds - 1) * arch.dma.channels)
    shares = rounds - 1 + 1 / ways
    data_ns = shares * nbytes / transfers / channel_bytes_per_ns(arch)
    if permuted:
        data_ns = max(data_ns, shares * permuted / transfers / permute_elements_per_ns(arch))
    if path is Path.DDR:
        data_ns = max(data_ns, nbytes / ddr_bytes_per_ns(arch))
    return (setup_ns(arch) + latency_ns(arch, path)) * rounds + data_ns


def external_transfer_ns(arch: ArchSpec, nbytes: int, path: Path, transfers: int, one_ns: float) -> float:
    """Time of ``transfers`` equal DMA tasks moving ``nbytes`` when a cost model priced one of them
    at ``one_ns`` (its set-up and latency included): dealt over the channels like the closed form;
    on the DDR path all of the bytes still pass the shared DDR bandwidth."""
    rounds = math.ceil(transfers / arch.dma.channels)
    data_ns = rounds * one_ns
    return max(data_ns, nbytes / ddr_bytes_per_ns(arch)) if path is Path.DDR else data_ns


def ns_to_dpu_cycles(arch: ArchSpec, ns: float) -> int:
    """A transfer's time in DPU clock cycles, as VPUNN counts DMA time (and a cost table gives it)."""
    return round(ns * arch.dpu.frequency_mhz / 1e3)


def ns_to_dma_cycles(arch: ArchSpec, ns: float) -> int:
    return round(ns * arch.dma.frequency_mhz / 1e3)
