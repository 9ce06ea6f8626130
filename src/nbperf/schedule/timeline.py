"""What a schedule produces: one timed entry per NPU op, plus totals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nbperf.cost.base import ComputeCost
from nbperf.lower.npu_ops import Engine, NpuOp
from nbperf.strategy.candidates import Candidate, Strategy


class ScheduleKind(StrEnum):
    SERIAL = "layer-serial"  # ops one after another (the math timing)
    EMULATED = "emulated"  # the task graph run event by event on the engines


class Bound(StrEnum):
    """What limits an op's time."""

    COMPUTE = "compute"  # the DPU or SHAVE work itself
    OVERHEAD = "overhead"  # task and workload set-up dominates the compute
    DMA_WEIGHTS = "dma-weights"  # its own DMA, mostly weights
    DMA_ACTIVATIONS = "dma-activations"  # its own DMA, mostly activations (streams, spills, stores)
    DMA_COPY = "dma-copy"  # a data-movement op's copy
    TRANSITION = "transition"  # moving inputs between layouts, and spills, before it can run
    BARRIERS = "barriers"  # waiting for a free hardware barrier (emulator)


def classify(engine: Engine, compute_ns: float, overhead_cycles: int, cycles: int, dma_ns: float,
             pre_ns: float, weight_bytes: int, act_bytes: int, barrier_wait_ns: float = 0.0) -> Bound:
    """The bound of one op from its parts (both schedules use this rule)."""
    if barrier_wait_ns > max(compute_ns, dma_ns, pre_ns):
        return Bound.BARRIERS
    if pre_ns > max(compute_ns, dma_ns):
        return Bound.TRANSITION
    if dma_ns > compute_ns:
        if engine is Engine.DMA:
            return Bound.DMA_COPY
        return Bound.DMA_WEIGHTS if weight_bytes >= act_bytes else Bound.DMA_ACTIVATIONS
    if cycles and overhead_cycles * 2 >= cycles:
        return Bound.OVERHEAD
    return Bound.COMPUTE


@dataclass(frozen=True)
class TimedTask:
    """One NPU op placed in time, with its strategy and the data movement the schedule gave it.

    DDR byte counts are what this op moves between DDR and CMX: weights; activations read
    (streamed sub-tiles, DDR reads of a copy) or written (spills for lack of CMX, streamed
    sub-tiles, graph outputs); and the transitions its strategy needed (loads, spill + reload
    between incompatible layouts). ``cmx_bytes`` is its own footprint per tile. Layer-serial: it
    first waits ``transition_ns`` + ``spill_ns``, then runs max(compute, DMA).
    """

    op: NpuOp
    candidate: Candidate
    compute: ComputeCost
    weight_ddr_bytes: int
    act_in_ddr_bytes: int
    act_out_ddr_bytes: int
    transition_ddr_bytes: int
    transition_cmx_bytes: int
    cmx_bytes: int
    transition_ns: float
    spill_ns: float
    dma_ns: float
    start_ns: float
    end_ns: float
    bound: Bound

    @property
    def strategy(self) -> Strategy:
        return self.candidate.strategy

    @property
    def tiles_used(self) -> int:
        return self.candidate.tiles_used

    @property
    def subtiles(self) -> int:
        return self.candidate.subtiles

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def transition_dma_bytes(self) -> int:
        return self.transition_ddr_bytes + self.transition_cmx_bytes

    @property
    def activation_ddr_bytes(self) -> int:
        return self.act_in_ddr_bytes + self.act_out_ddr_bytes + self.transition_ddr_bytes

    @property
    def ddr_bytes(self) -> int:
        return self.weight_ddr_bytes + self.activation_ddr_bytes


@dataclass(frozen=True)
class Schedule:
    """A timed schedule. ``kind`` says how it was built, so reports can state its assumptions."""

    kind: ScheduleKind
    description: str
    tasks: tuple[TimedTask, ...]
    makespan_ns: float
    spilled_bytes: int
    peak_cmx_bytes: int
