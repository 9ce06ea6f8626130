"""The cost-backend contract: how long one NPU task computes on one tile.

Backends (``math`` now; ``emulator`` and ``vpunn`` later) implement ``CostBackend``. Data movement
is costed by ``nbperf.cost.dma`` for every backend, so backends differ only in compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nbperf.arch.model import ArchSpec
from nbperf.lower.npu_ops import NpuOp


@dataclass(frozen=True)
class ComputeCost:
    """Compute time of one task on one tile, in the cycles of the engine that runs it.

    ``overhead_cycles`` is the part of ``cycles`` spent on task and workload set-up.
    ``mac_utilisation`` is useful MACs over peak MACs in ``cycles`` (DPU MAC ops only).
    """

    cycles: int
    clock_mhz: float
    overhead_cycles: int = 0
    mpe_mode: str | None = None
    mac_utilisation: float | None = None

    @property
    def ns(self) -> float:
        return self.cycles * 1e3 / self.clock_mhz if self.clock_mhz else 0.0


ZERO_COST = ComputeCost(cycles=0, clock_mhz=0.0)


class CostBackend(Protocol):
    """A per-task compute cost model."""

    name: str

    def compute(self, op: NpuOp, arch: ArchSpec) -> ComputeCost:
        """Cost of ``op`` (its DpuWork is already the per-tile share) on one tile of ``arch``."""
        ...
