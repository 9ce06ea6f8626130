"""Why a layer got its strategy: every candidate with footprint, fit, cost and transitions.

Each alternative is priced for the whole graph: the plan is re-made with the layer pinned to that
candidate (re-searched under the optimal policy, the other layers kept under the compiler's), and
the difference shown is what choosing it would cost end to end, under the layer-serial model or,
when ``price`` is given, under the caller's schedule (the emulator).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import ComputeCost
from nbperf.cost.shave_rows import shave_pricing
from nbperf.cost.tasks import TaskCoster
from nbperf.errors import UsageError
from nbperf.lower.npu_ops import Engine, NpuGraph, NpuOp
from nbperf.strategy.candidates import Candidate
from nbperf.strategy.search import Problem, solve

# Prices a full assignment (one pick per op) under some schedule, in ns.
Pricer = Callable[[Problem, list[int]], float]


@dataclass(frozen=True)
class CandidateRow:
    candidate: Candidate
    chosen: bool
    compute: ComputeCost | None  # the slowest tile's compute, sub-tiles included
    own_dma_ns: float | None  # weights, streamed sub-tiles, copies
    transition_in_ns: float | None  # moving inputs from the producers' layouts in the chosen plan
    transition_out_ns: float | None  # moving the output into the consumers' needs in the chosen plan
    graph_delta_ns: float | None  # whole-graph time with this candidate pinned, minus the chosen plan's
    reason: str


@dataclass(frozen=True)
class LayerExplanation:
    op: NpuOp
    arch: ArchSpec
    policy: str
    priced_by: str  # "layer-serial" or the schedule ``price`` stands for
    budget_bytes: int
    total_ns: float  # the chosen plan's whole-graph time under ``priced_by``
    rows: tuple[CandidateRow, ...]
    pricing: str = ""  # which model prices the op's compute (SHAVE ops), for the reader


def explain_layer(graph: NpuGraph, arch: ArchSpec, coster: TaskCoster, layer: str, policy: str = "optimal",
                  overrides: dict[str, str] | None = None, price: Pricer | None = None,
                  priced_by: str = "layer-serial") -> LayerExplanation:
    problem = Problem(graph, arch, coster, overrides, policy)
    names = [c.op.name for c in problem.choices]
    if layer not in names:
        close = difflib.get_close_matches(layer, names, n=1, cutoff=0.3)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"no layer named {layer!r}{hint}; `nbperf explain MODEL` lists the layers")
    index = names.index(layer)
    picks, objective, _ = solve(problem, policy)
    total = price(problem, picks) if price else objective
    steps = problem.replay(picks)
    before = steps[index - 1][1] if index else problem.model.initial_state()
    choice = problem.choices[index]
    chosen = choice.allowed[picks[index]]
    rows = []
    for cand in choice.considered:
        if not cand.legal:
            rows.append(CandidateRow(cand, False, None, None, None, None, None, cand.reason))
            continue
        is_chosen = cand is chosen
        pick = choice.allowed.index(cand) if cand in choice.allowed else None
        cost = problem.model.op_cost(index, cand)
        step, _ = problem.model.step(index, cand, before)
        trial = picks if pick is None else solve(problem, policy, {index: pick})[0]
        delta = None
        if pick is not None:
            whole = price(problem, trial) if price else problem.evaluate(trial)
            delta = 0.0 if is_chosen else whole - total
        rows.append(CandidateRow(cand, is_chosen, cost.compute, cost.weights_ns + cost.stream_ns,
                                 step.transition_ns, _transition_out(problem, trial, index),
                                 delta, _reason(cand, is_chosen, delta, pick, policy)))
    op = choice.op
    pricing = shave_pricing(arch.shave, op.shave_class, op.shave_kernel, op.row_elements) \
        if op.engine is Engine.SHAVE else ""
    return LayerExplanation(op, arch, policy, priced_by, arch.isolated_budget_bytes, total,
                            tuple(rows), pricing)


def _transition_out(problem: Problem, picks: list[int], index: int) -> float:
    """DMA time later ops spend moving this op's outputs into the layouts they need."""
    outs = set(problem.model.outs[index])
    steps = problem.replay(picks)
    return sum(m.ns for later in range(index + 1, len(steps))
               for t, m in zip(problem.model.ins[later], steps[later][0].moves, strict=True) if t in outs)


def _reason(cand: Candidate, chosen: bool, delta: float | None, pick: int | None, policy: str) -> str:
    if cand.fits:
        fit = "fits CMX"
    else:
        fit = f"does not fit CMX: {cand.subtiles} sub-tiles over {cand.tiled_over.value}"
        if cand.tiling is not None and cand.tiling.extra:
            fit += f" ({cand.tiling.extra})"
        if cand.tiling is not None and cand.tiling.count > 1:
            fit += ", pipelined" if cand.tiling.pipelined else ", not pipelined"
    if pick is None:
        return f"{fit}; excluded by a --strategy override"
    if chosen:
        why = "the compiler's greedy pick" if policy == "compiler" else "lowest whole-graph cost"
        return f"{fit}; {why}"
    change = (delta or 0.0) / 1e3
    if change < 0:
        return f"{fit}; whole graph {change:,.2f} us if chosen (better than the {policy} policy's pick)"
    return f"{fit}; whole graph +{change:,.2f} us if chosen"
