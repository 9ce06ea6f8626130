"""Per-layer view of an emulation, so the emulator feeds the same reports as the math schedule."""

from __future__ import annotations

from nbperf.arch.model import ArchSpec
from nbperf.lower.npu_ops import NpuGraph
from nbperf.schedule.emulator import Emulation
from nbperf.schedule.taskgraph import TaskKind
from nbperf.schedule.timeline import Schedule, TimedTask
from nbperf.strategy import StrategyPlan


def schedule_from_emulation(graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan, em: Emulation) -> Schedule:
    """One TimedTask per layer: from its first task's start to its last task's end."""
    by_layer: dict[str, list[int]] = {}
    for task in em.graph.tasks:
        by_layer.setdefault(task.layer, []).append(task.id)
    timed: list[TimedTask] = []
    for op in graph.ops:
        if op.is_free or op.name not in by_layer:
            continue
        ids = by_layer[op.name]
        tasks = [em.graph.tasks[i] for i in ids]
        times = [em.times[i] for i in ids]
        placement = plan.placements[op.name]
        chosen = placement.chosen
        dma = [(t, tm) for t, tm in zip(tasks, times, strict=True) if t.kind is TaskKind.DMA]

        def ddr(roles: set[str], dma=dma) -> int:
            return sum(t.nbytes for t, _ in dma if t.role in roles and t.path.value == "ddr")
        compute_ns = max((tm.end_ns - tm.start_ns for t, tm in zip(tasks, times, strict=True)
                          if t.kind is not TaskKind.DMA), default=0.0)
        dma_ns = sum(tm.end_ns - tm.start_ns for _, tm in dma)
        start = min(tm.start_ns for tm in times)
        end = max(tm.end_ns for tm in times)
        wait = sum(tm.barrier_wait_ns for tm in times)
        timed.append(TimedTask(
            op=op, strategy=chosen.strategy.value, tiles_used=chosen.tiles_used, subtiles=chosen.subtiles,
            compute=chosen.compute, weight_ddr_bytes=ddr({"weights"}),
            act_in_ddr_bytes=ddr({"load", "reload", "stream-in"}),
            act_out_ddr_bytes=ddr({"spill", "store", "stream-out", "copy"}),
            transition_ddr_bytes=ddr({"convert"}),
            transition_cmx_bytes=sum(t.nbytes for t, _ in dma if t.role in ("convert", "compact")
                                     and t.path.value == "cmx"),
            cmx_bytes=chosen.cmx_bytes_per_tile,
            transition_ns=placement.transition_ns_in, dma_ns=dma_ns, start_ns=start, end_ns=end,
            bound=_bound(compute_ns, dma_ns, wait, chosen.compute.overhead_cycles, chosen.compute.cycles),
        ))
    return Schedule(
        kind="emulated",
        description=f"event-driven emulation on {arch.tiles} tiles: DPU and SHAVE per tile, "
                    f"{arch.dma.channels} DMA channels sharing DDR, {arch.barriers} barriers, "
                    f"feasible CMX allocation; strategies by the {plan.policy} policy",
        tasks=tuple(timed), makespan_ns=em.makespan_ns, spilled_bytes=em.graph.spilled_bytes,
        peak_cmx_bytes=max(em.graph.peak_cmx_bytes, default=0),
    )


def _bound(compute_ns: float, dma_ns: float, wait_ns: float, overhead_cycles: int, cycles: int) -> str:
    if wait_ns > max(compute_ns, dma_ns):
        return "barriers"
    if dma_ns > compute_ns:
        return "dma"
    if cycles and overhead_cycles * 2 >= cycles:
        return "overhead"
    return "compute"
