"""What a schedule produces: one timed entry per NPU task, plus totals."""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.cost.base import ComputeCost
from nbperf.lower.npu_ops import NpuOp


@dataclass(frozen=True)
class TimedTask:
    """One NPU op placed in time, with the data movement the schedule gave it.

    DDR byte counts are what this task moves between DDR and CMX: weights, and activations read
    (graph inputs, reloads of spilled tensors, streamed sub-tiles) or written (graph outputs,
    spills, streamed sub-tiles). ``cmx_bytes`` is the task's aligned CMX footprint on one tile.
    """

    op: NpuOp
    strategy: str
    tiles_used: int
    compute: ComputeCost
    weight_ddr_bytes: int
    act_in_ddr_bytes: int
    act_out_ddr_bytes: int
    cmx_copy_bytes: int
    cmx_bytes: int
    subtiles: int
    dma_ns: float
    start_ns: float
    end_ns: float
    bound: str

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def ddr_bytes(self) -> int:
        return self.weight_ddr_bytes + self.act_in_ddr_bytes + self.act_out_ddr_bytes


@dataclass(frozen=True)
class Schedule:
    """A timed schedule. ``kind`` says how it was built, so reports can state its assumptions."""

    kind: str
    description: str
    tasks: tuple[TimedTask, ...]
    makespan_ns: float
    spilled_bytes: int
    peak_cmx_bytes: int
