"""The workloads a plan runs, as VPUNN descriptors: what ``nbperf workloads`` exports, and who
priced each layer's workloads in an estimate.

DPU workloads come from the one cost path (``TaskCoster.priced_workloads``): for each DPU op, the
busiest tile's workloads under its chosen strategy and tiling, each with how many times it runs
there, so the rows are exactly what a backend is asked (a multi-tile layer is timed by its
busiest tile, the first: the compiler's splits put any remainder last). DMA transfers come from
the task graph the emulator runs: every load, weight fetch, spill, store, halo or broadcast copy
and streamed sub-tile, one row per task.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import CostModel
from nbperf.cost.descriptors import DMAWorkload, DPUWorkload, describe_dma, describe_dpu
from nbperf.cost.dma import Direction, ns_to_dpu_cycles, transfer_ns
from nbperf.cost.external import LOCATIONS
from nbperf.cost.math_model import MathBackend
from nbperf.cost.tasks import TaskCoster
from nbperf.cost.workload import DpuWorkload
from nbperf.lower.npu_ops import Engine, NpuGraph, NpuOp


@dataclass(frozen=True)
class WorkloadRow:
    """One exported workload: ``count`` runs of it on the busiest tile of ``layer`` (DPU), or one
    DMA task; ``math_cycles`` is the math model's figure for one run (DPU: the workload's whole DPU
    time, its set-up ``dpu.workload_overhead_cycles`` included, as VPUNN prices a workload and a
    table gives it; DMA: the transfer alone with its set-up and latency, in DPU-clock cycles as
    VPUNN counts DMA time)."""

    kind: str  # "DPU" or "DMA"
    layer: str
    index: int  # its position among its layer's rows of the same kind
    op_type: str
    strategy: str
    tiles: int
    count: int
    math_cycles: int
    descriptor: DPUWorkload | DMAWorkload
    role: str = ""  # DMA: what the transfer is for (load, weights, spill, ...)
    permuted: int = 0  # DMA: elements it reorders one by one (priced by the DMA model only)

    @property
    def row_id(self) -> str:
        return f"{self.layer}/{self.kind.lower()}{self.index}"


def op_workloads(coster: TaskCoster, op: NpuOp, cand) -> list[tuple[DpuWorkload, int]]:
    """The workloads the one cost path prices for ``op`` under candidate ``cand``."""
    rows, channels, inner = cand.split
    return coster.priced_workloads(cand.work, op.precision, cand.useful_macs, rows, channels,
                                   cand.write_tiles, cand.strategy.value, inner, op.dpu)


def dpu_rows(graph: NpuGraph, arch: ArchSpec, plan) -> list[WorkloadRow]:
    coster = TaskCoster(arch, MathBackend(), placed=True)
    out: list[WorkloadRow] = []
    for op in plan.ops:
        cand = plan.placements[op.name].chosen
        if op.engine is not Engine.DPU or cand.work is None:
            continue
        for i, (workload, count) in enumerate(op_workloads(coster, op, cand)):
            cost = coster.workload(workload)
            out.append(WorkloadRow("DPU", op.name, i, op.op_type, cand.label, cand.tiles_used, count,
                                   cost.cycles + arch.dpu.workload_overhead_cycles,
                                   describe_dpu(workload, arch, cost.mpe_mode, op.name)))
    return out


SEARCHED = "(searched)"  # the layer of a workload the search priced but the plan does not run


class RecordingMath(MathBackend):
    """The math model, asked for every single DMA transfer too (and pricing none of them), so a
    coster using it remembers every transfer the strategy search priced."""

    def dma_transfer_cycles(self, nbytes: int, direction: Direction, arch: ArchSpec) -> None:
        return None


def searched_rows(coster: TaskCoster, known: set[str]) -> list[WorkloadRow]:
    """Every workload ``coster`` priced whose key is not in ``known``, once per key (count 0: the
    plan does not run it), in the order they were first priced; then, if it recorded DMA
    transfers (``RecordingMath``), every such transfer the same way."""
    out: list[WorkloadRow] = []
    seen = set(known)
    arch = coster.arch
    for (nbytes, path, direction) in coster.dma_queries:
        source, destination = LOCATIONS[direction]
        descriptor = describe_dma(arch, nbytes, source, destination)
        if descriptor.key in seen:
            continue
        seen.add(descriptor.key)
        ns = transfer_ns(arch, nbytes, path)
        cycles = ns_to_dpu_cycles(arch, ns)
        out.append(WorkloadRow("DMA", SEARCHED, len(out), "", "", 0, 0, cycles, descriptor, "searched"))
    for workload, cost in coster.priced.items():
        descriptor = describe_dpu(workload, coster.arch, cost.mpe_mode, SEARCHED)
        if descriptor.key in seen:
            continue
        seen.add(descriptor.key)
        out.append(WorkloadRow("DPU", SEARCHED, len(out), "", workload.strategy, 0, 0,
                               cost.cycles + coster.arch.dpu.workload_overhead_cycles, descriptor))
    return out


def dma_rows(graph: NpuGraph, arch: ArchSpec, plan, prefetch_depth: int | None = None) -> list[WorkloadRow]:
    from nbperf.schedule.taskgraph import DEFAULT_PREFETCH_DEPTH, TaskKind, build_task_graph, direction_of
    coster = TaskCoster(arch, MathBackend())
    depth = DEFAULT_PREFETCH_DEPTH if prefetch_depth is None else prefetch_depth
    tasks = build_task_graph(graph, arch, plan, coster, depth).tasks
    ops = {op.name: op for op in plan.ops}
    seen: Counter[str] = Counter()
    out: list[WorkloadRow] = []
    for task in tasks:
        if task.kind is not TaskKind.DMA or task.nbytes <= 0:
            continue
        source, dest = LOCATIONS[direction_of(task.role, task.path)]
        op = ops.get(task.layer)
        cand = plan.placements[task.layer].chosen if task.layer in plan.placements else None
        ns = transfer_ns(arch, task.nbytes, task.path, 1, task.permuted)
        descriptor = describe_dma(arch, task.nbytes, source, dest)
        out.append(WorkloadRow("DMA", task.layer, seen[task.layer], op.op_type if op else "",
                               cand.label if cand else "", cand.tiles_used if cand else 1, 1,
                               ns_to_dpu_cycles(arch, ns), descriptor, task.role.value,
                               task.permuted))
        seen[task.layer] += 1
    return out


@dataclass(frozen=True)
class LayerSources:
    """Who priced one layer's workloads: runs per source ("table", "vpunn", "math"), and why any
    fell back to the math model (distinct reasons, in order)."""

    runs: dict[str, int]
    reasons: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        total = sum(self.runs.values())
        if len(self.runs) == 1:
            return next(iter(self.runs))
        own = {k: v for k, v in self.runs.items() if k != "math"}
        name, n = max(own.items(), key=lambda kv: kv[1]) if own else ("math", total)
        return f"{name} {n}/{total}"


def layer_sources(graph: NpuGraph, plan, coster: TaskCoster, backend: CostModel) -> dict[str, LayerSources]:
    """Per DPU layer of ``plan``, who priced its workloads (a backend without ``priced``: itself)."""
    priced = getattr(backend, "priced", None)
    out: dict[str, LayerSources] = {}
    for op in plan.ops:
        cand = plan.placements[op.name].chosen
        if op.engine is not Engine.DPU or cand.work is None:
            continue
        runs: Counter[str] = Counter()
        reasons: list[str] = []
        for workload, count in op_workloads(coster, op, cand):
            if priced is None:
                runs[backend.name] += count
                continue
            who = priced(workload, coster.arch)
            runs[who.source] += count
            if who.reason and who.reason not in reasons:
                reasons.append(who.reason)
        out[op.name] = LayerSources(dict(runs), tuple(reasons))
    return out


PERMUTE_REASON = "a permute DMA reorders element by element: the DMA model's"


def dma_sources(graph: NpuGraph, arch: ArchSpec, plan, backend: CostModel,
                prefetch_depth: int | None = None) -> LayerSources | None:
    """Who priced the DMA transfers of ``plan``'s task graph: the cost model, or the DMA model it
    fell back to (None for a cost model that prices no DMA)."""
    price = getattr(backend, "dma_transfer_cycles", None)
    if price is None:
        return None
    runs: Counter[str] = Counter()
    reasons: list[str] = []
    direction_of = {locations: direction for direction, locations in LOCATIONS.items()}
    for row in dma_rows(graph, arch, plan, prefetch_depth):
        if row.permuted:
            runs["math"] += 1
            reason = PERMUTE_REASON
        else:
            d = row.descriptor
            price(d.input.shape[0], direction_of[(d.input_location, d.output_location)], arch)
            who = backend.dma_priced[d.key]
            runs[who.source] += 1
            reason = who.reason
        if reason and reason not in reasons:
            reasons.append(reason)
    return LayerSources(dict(runs), tuple(reasons))
