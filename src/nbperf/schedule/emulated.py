"""Per-layer view of an emulation, so the emulator feeds the same reports as the layer-serial schedule.

A layer spans from its first task that is not a weight load (weights may be prefetched during
earlier layers) to its last task. Its bytes are the task graph's per-layer accounts, in the same
classes as the layer-serial model's; its compute is the one cost path's (the tasks' durations).
"""

from __future__ import annotations

from nbperf.arch.model import ArchSpec
from nbperf.schedule.emulator import Emulation
from nbperf.schedule.taskgraph import TaskKind, TaskRole
from nbperf.schedule.timeline import Schedule, ScheduleKind, TimedTask, classify
from nbperf.strategy import StrategyPlan

_OWN = {TaskRole.WEIGHTS, TaskRole.STREAM_IN, TaskRole.STREAM_WEIGHTS, TaskRole.STREAM_OUT, TaskRole.COPY,
        TaskRole.STORE}
_TRANSITION = {TaskRole.LOAD, TaskRole.CONVERT, TaskRole.STAGE}


def schedule_from_emulation(arch: ArchSpec, plan: StrategyPlan, em: Emulation) -> Schedule:
    by_layer: dict[str, list[int]] = {}
    for task in em.graph.tasks:
        by_layer.setdefault(task.layer, []).append(task.id)
    timed: list[TimedTask] = []
    for op, step in zip(plan.ops, plan.steps, strict=True):
        ids = by_layer.get(op.name, [])
        if not ids:
            continue
        tasks = [em.graph.tasks[i] for i in ids]
        times = [em.times[i] for i in ids]
        spans = list(zip(tasks, times, strict=True))

        def busy(roles: set[TaskRole], spans=spans) -> float:
            return sum(tm.end_ns - tm.start_ns for t, tm in spans
                       if t.kind is TaskKind.DMA and t.role in roles)

        compute_ns = max((tm.end_ns - tm.start_ns for t, tm in spans if t.kind is not TaskKind.DMA),
                         default=0.0)
        started = [tm.start_ns for t, tm in spans if t.role is not TaskRole.WEIGHTS] \
            or [tm.start_ns for tm in times]
        account = em.graph.layer_bytes[op.name]
        chosen = plan.placements[op.name].chosen
        dma_ns, transition_ns, spill_ns = busy(_OWN), busy(_TRANSITION), busy({TaskRole.SPILL})
        compute = step.compute
        act = account.act_in_ddr + account.act_out_ddr
        timed.append(TimedTask(
            op=op, candidate=chosen, compute=compute, weight_ddr_bytes=account.weight_ddr,
            act_in_ddr_bytes=account.act_in_ddr, act_out_ddr_bytes=account.act_out_ddr,
            transition_ddr_bytes=account.transition_ddr, transition_cmx_bytes=account.transition_cmx,
            cmx_bytes=chosen.cmx_bytes_per_tile, transition_ns=transition_ns, spill_ns=spill_ns,
            dma_ns=dma_ns,
            start_ns=min(started), end_ns=max(tm.end_ns for tm in times),
            bound=classify(op.engine, compute_ns, compute.overhead_cycles, compute.cycles, dma_ns,
                           transition_ns + spill_ns, account.weight_ddr, act,
                           sum(tm.barrier_wait_ns for tm in times)),
        ))
    return Schedule(
        kind=ScheduleKind.EMULATED,
        description=f"event-driven emulation on {arch.tiles} tiles: DPU and SHAVE per tile, "
                    f"{arch.dma.channels} DMA channels sharing DDR, {em.barriers_available} barriers, "
                    f"feasible CMX allocation; strategies by the {plan.policy} policy",
        tasks=tuple(timed), makespan_ns=em.makespan_ns, spilled_bytes=em.graph.spilled_bytes,
        peak_cmx_bytes=max(em.graph.peak_cmx_bytes, default=0),
    )
