"""The cost-backend contract: how many cycles one workload takes.

Backends (``math``, ``table``, ``vpunn``, or a user's, registered in ``cost.registry``) implement
``CostModel`` and price single workloads. Everything above a workload (splitting a tile's task
into workloads, spreading them over a tile's DPUs, task overheads, sub-tiles) is done once, in
``nbperf.cost.tasks``, for every backend; data movement is priced by ``nbperf.cost.dma``. So the
strategy search and both schedules get every number from the same path, whatever the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nbperf.arch.model import ArchSpec
from nbperf.cost.workload import DpuWorkload, ShaveWorkload, WorkloadCost


@dataclass(frozen=True)
class ComputeCost:
    """Compute time of one task on its slowest tile, in cycles of the engine that runs it.

    ``overhead_cycles`` is the part of ``cycles`` spent on task and workload set-up.
    ``mac_utilisation`` is the useful MACs performed (not the zeros of compressed weights or of a
    sparse input the part skips) over peak MACs in ``cycles`` (DPU MAC ops only).
    ``limit`` says what bounds the DPU work ("mac", "cmx-read", "ppe"), ``workloads`` how many
    workloads the busiest DPU ran.
    """

    cycles: int
    clock_mhz: float
    overhead_cycles: int = 0
    mpe_mode: str | None = None
    mac_utilisation: float | None = None
    limit: str | None = None
    workloads: int = 0

    @property
    def ns(self) -> float:
        return self.cycles * 1e3 / self.clock_mhz if self.clock_mhz else 0.0


ZERO_COST = ComputeCost(cycles=0, clock_mhz=0.0)


class CostModel(Protocol):
    """A per-workload compute cost model: every backend (math, table, vpunn, yours) implements it,
    and both schedules and the strategy search take their task durations from it through
    ``cost.tasks.TaskCoster``. Optional attributes: ``uses_placement`` (True: give me workloads
    with their padding and halo context), ``cache_key`` (what your figures depend on besides the
    arch, for the shared memo) and ``priced(workload, arch)`` (who priced it, for reports)."""

    name: str

    def dpu_workload(self, workload: DpuWorkload, arch: ArchSpec) -> WorkloadCost:
        """Cycles of one workload on one DPU of ``arch``, without the per-workload overhead."""
        ...

    def shave_workload(self, workload: ShaveWorkload, arch: ArchSpec) -> int:
        """SHAVE cycles of one kernel on one tile's SHAVE cores, without the launch overhead."""
        ...


CostBackend = CostModel  # the name it had before backends were pluggable
