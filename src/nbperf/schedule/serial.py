"""Layer-serial schedule (the ``math`` timing): the plan's steps, one after another.

Each op first pays the DMA that moves its inputs into the layouts its strategy needs and the
spills that make room in CMX, then max(compute of its slowest tile, its own DMA). The steps are
the ones the strategy search minimised (``strategy.serial_model``), so this schedule is exactly
the objective the plan is optimal for.
"""

from __future__ import annotations

from nbperf.arch.model import ArchSpec
from nbperf.schedule.timeline import Schedule, ScheduleKind, TimedTask, classify
from nbperf.strategy import StrategyPlan


def schedule_serial(arch: ArchSpec, plan: StrategyPlan) -> Schedule:
    tasks: list[TimedTask] = []
    now = 0.0
    for op, step in zip(plan.ops, plan.steps, strict=True):
        chosen = plan.placements[op.name].chosen
        act = step.act_in_ddr_bytes + step.act_out_ddr_bytes
        compute = step.compute
        tasks.append(TimedTask(
            op=op, candidate=chosen, compute=compute, weight_ddr_bytes=step.weight_ddr_bytes,
            act_in_ddr_bytes=step.act_in_ddr_bytes, act_out_ddr_bytes=step.act_out_ddr_bytes,
            transition_ddr_bytes=step.transition_ddr_bytes, transition_cmx_bytes=step.transition_cmx_bytes,
            cmx_bytes=chosen.cmx_bytes_per_tile, transition_ns=step.transition_ns - step.early_ns,
            spill_ns=step.spill_ns,
            dma_ns=step.own_dma_ns, start_ns=now, end_ns=now + step.time_ns,
            bound=classify(op.engine, compute.ns, compute.overhead_cycles, compute.cycles, step.own_dma_ns,
                           step.pre_ns, step.weight_ddr_bytes, act),
        ))
        now += step.time_ns
    tiles = "one tile" if arch.tiles == 1 else f"up to {arch.tiles} tiles"
    return Schedule(
        kind=ScheduleKind.SERIAL,
        description=f"layer-serial schedule on {tiles}: each op waits for its input transitions and spills, "
                    f"then costs max(compute, its DMA); strategies chosen by the {plan.policy} policy",
        tasks=tuple(tasks), makespan_ns=now, spilled_bytes=sum(s.spilled_bytes for s in plan.steps),
        peak_cmx_bytes=max((s.peak_cmx_bytes for s in plan.steps), default=0),
    )
