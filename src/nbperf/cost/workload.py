"""What a cost backend is asked to price: one DPU workload or one SHAVE kernel, with its context.

A DPU task on one tile is split into workloads (``cost.tasks``), like the compiler's
SplitNCEOpsOntoWorkloads pass; each workload is the unit Intel's VPUNN cost model prices
(its ``DPUWorkload``): an output cube, the reduction behind it, the kernel, the precision, and
how many tiles the PPE/ODU writes each output element to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nbperf.arch.model import Precision
from nbperf.lower.npu_ops import DpuWork


@dataclass(frozen=True, slots=True)
class DpuWorkload:
    """One workload on one DPU.

    ``work`` is the workload's own output cube (``batch`` instances back to back), not the op's.
    ``output_write_tiles`` > 1 marks a broadcast output: the ODU writes every element to that many
    tiles (VPUNN's field of the same name). ``strategy`` is the multi-tile strategy of the task it
    belongs to (VPUNN's ``isi_strategy``), context a learned backend may use.
    """

    work: DpuWork
    precision: Precision
    output_write_tiles: int = 1
    strategy: str = "Clustering"


@dataclass(frozen=True, slots=True)
class ShaveWorkload:
    """One SHAVE kernel on one tile: ``elements`` of an op class at ``precision``; ``kernel`` names
    the profiled kernel it runs (see ``ShaveSpec.kernels``), if any; ``row_elements`` the elements
    of one row of a kernel priced per row (softmax, MVN: see ``cost/shave_rows.py``), else 0."""

    op_class: str
    elements: int
    precision: Precision
    kernel: str | None = None
    row_elements: int = 0

    @property
    def rows(self) -> int:
        return math.ceil(self.elements / self.row_elements) if self.row_elements else 0


@dataclass(frozen=True, slots=True)
class WorkloadCost:
    """DPU cycles of one workload (per-workload overhead excluded), the MPE mode they assume and
    what bounds them: "mac" (the MAC array), "cmx-read" (CMX read bandwidth) or "ppe" (the
    post-processing / output write path)."""

    cycles: int
    mpe_mode: str | None
    limit: str
