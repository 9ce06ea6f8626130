"""Backends that take cycles from outside nbperf (a table, VPUNN) and fall back to the math model.

An external source prices a workload by its VPUNN descriptor (``cost.descriptors``): it either
returns cycles or says why it cannot (no row for the key; VPUNN's error for that workload). A
workload it cannot price is priced by the math model instead, and the backend remembers why, so
a report can say per layer which backend priced each workload and how many fell back.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.descriptors import DMAWorkload, DPUWorkload, MemoryLocation, describe_dma, describe_dpu
from nbperf.cost.dma import Direction
from nbperf.cost.math_model import MathBackend
from nbperf.cost.workload import DpuWorkload, ShaveWorkload, WorkloadCost

MATH = "math"
EXTERNAL_LIMIT = "external"  # a workload's "limit" when an external source priced it
LOCATIONS = {Direction.IN: (MemoryLocation.DRAM, MemoryLocation.CMX),
             Direction.OUT: (MemoryLocation.CMX, MemoryLocation.DRAM),
             Direction.CMX: (MemoryLocation.CMX, MemoryLocation.CMX)}


@dataclass(frozen=True)
class Priced:
    """Who priced one workload: ``source`` is the backend's name or "math"; ``reason`` why the
    backend's own figure was not used ("" when it was)."""

    source: str
    reason: str = ""


class ExternalBackend:
    """Base of backends priced per VPUNN descriptor, with the math model behind them."""

    name = "external"
    uses_placement = True  # its figures depend on padding and halo, so it gets placements

    def __init__(self) -> None:
        self._math = MathBackend()
        self._priced: dict[DpuWorkload, Priced] = {}
        self.dma_priced: dict[str, Priced] = {}  # by DMA key: every distinct transfer it was asked

    @property
    def cache_key(self) -> str:
        """What its figures depend on besides the arch (a file's identity, a model's path)."""
        return self.name

    def lookup(self, descriptor: DPUWorkload, workload: DpuWorkload, arch: ArchSpec) -> int | str:
        """Cycles of the workload ``descriptor`` describes, or why there are none."""
        raise NotImplementedError

    def dpu_workload(self, workload: DpuWorkload, arch: ArchSpec) -> WorkloadCost:
        math_cost = self._math.dpu_workload(workload, arch)
        found = self.lookup(describe_dpu(workload, arch, math_cost.mpe_mode), workload, arch)
        if isinstance(found, str):
            self._priced[workload] = Priced(MATH, found)
            return math_cost
        self._priced[workload] = Priced(self.name)
        # An external figure is the workload's whole DPU time, as VPUNN prices it and a profiler
        # measures it, its set-up included; the cost path adds the arch's per-workload set-up to
        # what a backend returns, so that part is taken out here (never below zero).
        cycles = max(0, found - arch.dpu.workload_overhead_cycles)
        # Its figure says nothing of what bounds the workload: the limit says where it came from.
        return WorkloadCost(cycles=cycles, mpe_mode=math_cost.mpe_mode, limit=EXTERNAL_LIMIT)

    def shave_workload(self, workload: ShaveWorkload, arch: ArchSpec) -> int:
        return self._math.shave_workload(workload, arch)  # SHAVE kernels: the math model's

    def lookup_dma(self, descriptor: DMAWorkload, arch: ArchSpec) -> int | str:
        """DPU-clock cycles of the transfer ``descriptor`` describes, or why there are none."""
        return "prices no DMA"

    def dma_transfer_cycles(self, nbytes: int, direction: Direction, arch: ArchSpec) -> int | None:
        """One transfer's whole time (set-up and latency included) in DPU cycles, or None: the
        DMA model prices it, and the backend remembers why."""
        source, destination = LOCATIONS[direction]
        descriptor = describe_dma(arch, nbytes, source, destination)
        found = self.lookup_dma(descriptor, arch)
        self.dma_priced[descriptor.key] = Priced(MATH if isinstance(found, str) else self.name,
                                                 found if isinstance(found, str) else "")
        return None if isinstance(found, str) else found

    def priced(self, workload: DpuWorkload, arch: ArchSpec) -> Priced:
        """Who priced ``workload`` (pricing it now if nobody asked before)."""
        if workload not in self._priced:
            self.dpu_workload(workload, arch)
        return self._priced[workload]
