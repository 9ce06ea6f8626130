"""Serial single-tile schedule: every task runs on one tile, one after another.

Each task costs max(compute, its DMA), i.e. weight and activation transfers are double-buffered
against compute. Activations stay in CMX while they fit the tiling budget; when they do not,
the live tensor used furthest in the future is spilled to DDR and reloaded by its next reader.
A task whose own footprint exceeds the budget is tiled: it streams its inputs and outputs
through DDR in sub-tiles. Multi-tile strategies and overlap across tasks build on this later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import CostBackend
from nbperf.cost.dma import Path, transfer_ns
from nbperf.lower.npu_ops import Engine, NpuGraph, NpuOp
from nbperf.schedule.timeline import Schedule, TimedTask

# While a sub-tile computes, the next one's DMA fills a second buffer: the compiler's tiling
# budget drops from 0.9 to 0.85 of CMX when it pipelines.
PIPELINED_BUDGET = 0.85


def align(nbytes: int, alignment: int) -> int:
    return -(-nbytes // alignment) * alignment


@dataclass
class _Cmx:
    """Live activation tensors in one tile's CMX, with their aligned sizes."""

    budget: int
    live: dict[str, int] = field(default_factory=dict)
    in_ddr: set[str] = field(default_factory=set)
    peak: int = 0

    @property
    def used(self) -> int:
        return sum(self.live.values())

    def note_peak(self, extra: int = 0) -> None:
        self.peak = max(self.peak, self.used + extra)


def _uses(graph: NpuGraph) -> dict[str, list[int]]:
    uses: dict[str, list[int]] = {}
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            uses.setdefault(graph.resolve(t), []).append(i)
    return uses


def _next_use(uses: dict[str, list[int]], tensor: str, after: int) -> int | None:
    return next((u for u in uses.get(tensor, ()) if u > after), None)


def schedule_serial(graph: NpuGraph, arch: ArchSpec, backend: CostBackend) -> Schedule:
    align_to = arch.cmx.alignment_bytes
    cmx = _Cmx(budget=int(arch.cmx.bytes_per_tile * arch.cmx.tiling_budget))
    cmx.in_ddr.update(graph.resolve(t) for t in graph.inputs)
    outputs = {graph.resolve(t) for t in graph.outputs}
    uses = _uses(graph)
    tasks: list[TimedTask] = []
    now = 0.0
    spilled = 0
    for index, op in enumerate(graph.ops):
        if op.is_free:
            continue
        # Tensors nobody reads any more leave CMX.
        for t in [t for t in cmx.live if _next_use(uses, t, index - 1) is None and t not in outputs]:
            del cmx.live[t]
        ins = list(dict.fromkeys(graph.resolve(t) for t in op.inputs))
        outs = list(dict.fromkeys(graph.resolve(t) for t in op.outputs))
        size = {t: align(graph.tensor_bytes.get(t, 0), align_to) for t in (*ins, *outs)}
        weights = align(op.weight_bytes, align_to) if op.weight_bytes else 0
        footprint = sum(size[t] for t in ins) + sum(size[t] for t in outs) + weights
        act_in = act_out = 0
        subtiles = 1
        if footprint > cmx.budget:
            # Tiled: stream every input from DDR and every output back, in pipelined sub-tiles.
            subtiles = math.ceil(footprint / (arch.cmx.bytes_per_tile * PIPELINED_BUDGET))
            for t in ins:
                if t in cmx.live:
                    act_out += size[t]  # spill it first: it cannot stay beside the streamed task
                    spilled += size[t]
                    del cmx.live[t]
                    cmx.in_ddr.add(t)
                act_in += size[t]
            act_out += sum(size[t] for t in outs)
            cmx.in_ddr.update(outs)
            cmx.note_peak(min(footprint, cmx.budget))
        else:
            pinned = set(ins)
            need = sum(size[t] for t in ins if t not in cmx.live) + sum(size[t] for t in outs) + weights
            while cmx.used + need > cmx.budget:
                victims = [t for t in cmx.live if t not in pinned]
                victim = max(victims, key=lambda t: (_next_use(uses, t, index) or math.inf, t))
                freed = cmx.live.pop(victim)
                act_out += freed
                spilled += freed
                cmx.in_ddr.add(victim)
            for t in ins:
                if t not in cmx.live:
                    act_in += size[t]
                    cmx.live[t] = size[t]
            cmx.note_peak(sum(size[t] for t in outs) + weights)
            for t in outs:
                cmx.live[t] = size[t]
                if t in outputs:
                    act_out += size[t]  # results go back to DDR for the host
        compute = backend.compute(op, arch)
        ddr_bytes = op.weight_bytes + act_in + act_out
        transfers = sum(1 for moved in (op.weight_bytes, act_in, act_out) if moved)
        dma_ns = transfer_ns(arch, ddr_bytes, Path.DDR, transfers * subtiles)
        copy_bytes = op.output_bytes if op.engine is Engine.DMA else 0
        dma_ns += transfer_ns(arch, copy_bytes, Path.CMX)
        duration = max(compute.ns, dma_ns)
        tasks.append(TimedTask(
            op=op, strategy="Clustering", tiles_used=1, compute=compute, weight_ddr_bytes=op.weight_bytes,
            act_in_ddr_bytes=act_in, act_out_ddr_bytes=act_out, cmx_copy_bytes=copy_bytes,
            cmx_bytes=footprint, subtiles=subtiles, dma_ns=dma_ns, start_ns=now, end_ns=now + duration,
            bound=_bound(op, compute.ns, compute.overhead_cycles, compute.cycles, dma_ns, act_in + act_out),
        ))
        now += duration
    return Schedule(
        kind="serial-single-tile",
        description="serial single-tile schedule: tasks run one after another on one tile, each "
                    "costing max(compute, its DMA); multi-tile strategies are not modelled yet",
        tasks=tuple(tasks), makespan_ns=now, spilled_bytes=spilled, peak_cmx_bytes=cmx.peak,
    )


def _bound(op: NpuOp, compute_ns: float, overhead_cycles: int, cycles: int, dma_ns: float,
           act_bytes: int) -> str:
    """What limits the task: the larger of compute and DMA, and which part of it."""
    if dma_ns > compute_ns:
        if op.engine is Engine.DMA:
            return "dma-copy"
        return "dma-weights" if op.weight_bytes >= act_bytes else "dma-activations"
    if cycles and overhead_cycles * 2 >= cycles:
        return "overhead"
    return "compute"
