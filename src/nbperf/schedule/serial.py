"""Layer-serial schedule: tasks run one after another, each on the tiles its strategy uses.

A task first pays the DMA that moves its inputs into the distribution its strategy needs (the
plan's transitions), then costs max(compute of its slowest tile, its own DMA): weights and
streamed activations are double-buffered against compute. Activations stay in CMX while they fit
the tiling budget of a tile; when they do not, the live tensor used furthest in the future is
spilled to DDR and reloaded by its next reader. Overlap across tasks comes with the emulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import Path, transfer_ns
from nbperf.lower.npu_ops import Engine, NpuGraph
from nbperf.schedule.timeline import Schedule, TimedTask
from nbperf.strategy import Dist, Placement, StrategyPlan
from nbperf.strategy.candidates import align
from nbperf.strategy.distribution import per_tile_bytes


@dataclass
class _Cmx:
    """Live activation tensors in CMX with their per-tile aligned sizes (the fullest tile)."""

    budget: int
    live: dict[str, int] = field(default_factory=dict)
    evicted: set[str] = field(default_factory=set)
    peak: int = 0

    @property
    def used(self) -> int:
        return sum(self.live.values())


def _uses(graph: NpuGraph) -> dict[str, list[int]]:
    uses: dict[str, list[int]] = {}
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            uses.setdefault(graph.resolve(t), []).append(i)
    return uses


def _next_use(uses: dict[str, list[int]], tensor: str, after: int) -> int | None:
    return next((u for u in uses.get(tensor, ()) if u > after), None)


def schedule_serial(graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan) -> Schedule:
    align_to = arch.cmx.alignment_bytes
    cmx = _Cmx(budget=int(arch.cmx.bytes_per_tile * arch.cmx.tiling_budget))
    outputs = {graph.resolve(t) for t in graph.outputs}
    uses = _uses(graph)

    def tile_size(tensor: str) -> int:
        dist = plan.tensor_dist.get(tensor, Dist.DDR)
        return align(per_tile_bytes(graph.tensor_bytes.get(tensor, 0), dist, arch.tiles), align_to)

    tasks: list[TimedTask] = []
    now = 0.0
    spilled = 0
    for index, op in enumerate(graph.ops):
        if op.is_free:
            continue
        placement: Placement = plan.placements[op.name]
        chosen = placement.chosen
        for t in [t for t in cmx.live if _next_use(uses, t, index - 1) is None and t not in outputs]:
            del cmx.live[t]
        ins = list(dict.fromkeys(graph.resolve(t) for t in op.inputs))
        outs = list(dict.fromkeys(graph.resolve(t) for t in op.outputs))
        act_in = act_out = 0
        if chosen.out_dist is Dist.DDR:  # tiled through DDR: inputs leave CMX, outputs stream out
            for t in ins:
                cmx.live.pop(t, None)
            act_in, act_out = chosen.stream_ddr_bytes, 0
            cmx.peak = max(cmx.peak, cmx.used + chosen.cmx_bytes_per_tile)
        else:
            resident = sum(cmx.live.get(t, 0) for t in ins)
            need = max(0, chosen.cmx_bytes_per_tile - resident)
            while cmx.used + need > cmx.budget and any(t not in ins for t in cmx.live):
                victim = max((t for t in cmx.live if t not in ins),
                             key=lambda t: (_next_use(uses, t, index) or math.inf, t))
                cmx.live.pop(victim)
                act_out += graph.tensor_bytes.get(victim, 0)  # every tile writes its share back
                spilled += graph.tensor_bytes.get(victim, 0)
                cmx.evicted.add(victim)
            for t in ins:
                if t in cmx.evicted:  # spilled earlier for lack of space: read it back
                    act_in += graph.tensor_bytes.get(t, 0)
                    cmx.evicted.discard(t)
                    cmx.live[t] = tile_size(t)
                elif t not in cmx.live and plan.tensor_dist.get(t, Dist.DDR) is not Dist.DDR:
                    cmx.live[t] = tile_size(t)
            cmx.peak = max(cmx.peak, cmx.used + need)
            for t in outs:
                cmx.live[t] = tile_size(t)
        for t in outs:
            if t in outputs:
                act_out += graph.tensor_bytes.get(t, 0) if chosen.out_dist is not Dist.DDR else 0
        moves = placement.moves_in
        transition_ddr = sum(m.ddr_bytes for m in moves)
        transition_cmx = sum(m.cmx_bytes for m in moves)
        extra_ns = transfer_ns(arch, act_in + act_out, Path.DDR) if chosen.out_dist is not Dist.DDR else 0.0
        dma_ns = chosen.dma_ns + extra_ns
        compute_ns = chosen.compute.ns
        duration = placement.transition_ns_in + max(compute_ns, dma_ns)
        tasks.append(TimedTask(
            op=op, strategy=chosen.strategy.value, tiles_used=chosen.tiles_used, subtiles=chosen.subtiles,
            compute=chosen.compute, weight_ddr_bytes=chosen.weight_ddr_bytes, act_in_ddr_bytes=act_in,
            act_out_ddr_bytes=act_out, transition_ddr_bytes=transition_ddr,
            transition_cmx_bytes=transition_cmx,
            cmx_bytes=chosen.cmx_bytes_per_tile,
            transition_ns=placement.transition_ns_in, dma_ns=dma_ns, start_ns=now, end_ns=now + duration,
            bound=_bound(op.engine, compute_ns, chosen.compute.overhead_cycles, chosen.compute.cycles, dma_ns,
                         placement.transition_ns_in, chosen.weight_ddr_bytes, act_in + act_out),
        ))
        now += duration
    tiles = "one tile" if arch.tiles == 1 else f"up to {arch.tiles} tiles"
    return Schedule(
        kind="layer-serial",
        description=f"layer-serial schedule on {tiles}: each task waits for its input transitions, then "
                    f"costs max(compute, its DMA); strategies chosen by the {plan.policy} policy",
        tasks=tuple(tasks), makespan_ns=now, spilled_bytes=spilled, peak_cmx_bytes=cmx.peak,
    )


def _bound(engine: Engine, compute_ns: float, overhead_cycles: int, cycles: int, dma_ns: float,
           transition_ns: float, weight_bytes: int, act_bytes: int) -> str:
    """What limits the task: transitions, DMA (and which part), overhead or compute."""
    if transition_ns > max(compute_ns, dma_ns):
        return "transition"
    if dma_ns > compute_ns:
        if engine is Engine.DMA:
            return "dma-copy"
        return "dma-weights" if weight_bytes >= act_bytes else "dma-activations"
    if cycles and overhead_cycles * 2 >= cycles:
        return "overhead"
    return "compute"
