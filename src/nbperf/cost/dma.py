"""DMA transfer time: latency + bytes / bandwidth, shared by every cost backend."""

from __future__ import annotations

from enum import StrEnum

from nbperf.arch.model import ArchSpec


class Path(StrEnum):
    DDR = "ddr"  # DDR <-> CMX: the shared DDR bandwidth, DDR latency
    CMX = "cmx"  # CMX <-> CMX: the DMA engines' own width x clock


def bandwidth_bytes_per_ns(arch: ArchSpec, path: Path) -> float:
    """Bytes per ns all DMA channels together reach on ``path`` (1 GB/s == 1 byte/ns)."""
    engines = arch.dma.channels * arch.dma.cmx_bandwidth_gbps
    return min(arch.dma.ddr_bandwidth_gbps, engines) if path is Path.DDR else engines


def transfer_ns(arch: ArchSpec, nbytes: int, path: Path, transfers: int = 1) -> float:
    """Time of ``transfers`` DMA tasks moving ``nbytes`` in total, pipelined over the channels."""
    if nbytes <= 0 or transfers <= 0:
        return 0.0
    latency = arch.dma.ddr_latency_ns if path is Path.DDR else 0.0
    setup = arch.dma.task_overhead_ns * transfers / arch.dma.channels
    return latency + setup + nbytes / bandwidth_bytes_per_ns(arch, path)


def ns_to_dma_cycles(arch: ArchSpec, ns: float) -> int:
    return round(ns * arch.dma.frequency_mhz / 1e3)
