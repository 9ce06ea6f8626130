"""What a schedule produces: one timed entry per NPU task, plus totals."""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.cost.base import ComputeCost
from nbperf.lower.npu_ops import NpuOp


@dataclass(frozen=True)
class TimedTask:
    """One NPU op placed in time, with its strategy and the data movement the schedule gave it.

    DDR byte counts are what this task moves between DDR and CMX: weights; activations read
    (graph inputs, reloads of tensors spilled for lack of CMX, streamed sub-tiles) or written
    (graph outputs, spills, streamed sub-tiles); and the transitions its strategy needed (spill +
    reload between incompatible distributions). ``cmx_bytes`` is the aligned footprint per tile.
    The task first waits ``transition_ns`` for its input transitions, then runs
    max(compute, DMA).
    """

    op: NpuOp
    strategy: str
    tiles_used: int
    subtiles: int
    compute: ComputeCost
    weight_ddr_bytes: int
    act_in_ddr_bytes: int
    act_out_ddr_bytes: int
    transition_ddr_bytes: int
    transition_cmx_bytes: int
    cmx_bytes: int
    transition_ns: float
    dma_ns: float
    start_ns: float
    end_ns: float
    bound: str

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def transition_dma_bytes(self) -> int:
        return self.transition_ddr_bytes + self.transition_cmx_bytes

    @property
    def ddr_bytes(self) -> int:
        moved = self.act_in_ddr_bytes + self.act_out_ddr_bytes + self.transition_ddr_bytes
        return self.weight_ddr_bytes + moved


@dataclass(frozen=True)
class Schedule:
    """A timed schedule. ``kind`` says how it was built, so reports can state its assumptions."""

    kind: str
    description: str
    tasks: tuple[TimedTask, ...]
    makespan_ns: float
    spilled_bytes: int
    peak_cmx_bytes: int
