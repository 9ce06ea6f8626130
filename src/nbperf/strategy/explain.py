"""Why a layer got its strategy: every candidate with footprint, fit, cost and transitions.

Each alternative is priced for the whole graph: the search is re-run with the layer pinned to
that candidate, so the difference shown is what choosing it would cost end to end, not a local
guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import CostBackend
from nbperf.errors import UsageError
from nbperf.lower.npu_ops import NpuGraph, NpuOp
from nbperf.strategy.candidates import Candidate
from nbperf.strategy.distribution import Dist
from nbperf.strategy.search import Problem, search_optimal, solve


@dataclass(frozen=True)
class CandidateRow:
    candidate: Candidate
    chosen: bool
    transition_in_ns: float | None  # moving inputs from the producers' chosen distributions
    transition_out_ns: float | None  # moving the output into the consumers' chosen needs
    graph_delta_ns: float | None  # whole-graph objective if this candidate were pinned, minus the best
    reason: str


@dataclass(frozen=True)
class LayerExplanation:
    op: NpuOp
    arch: ArchSpec
    policy: str
    budget_bytes: int
    objective_ns: float
    rows: tuple[CandidateRow, ...]


def explain_layer(graph: NpuGraph, arch: ArchSpec, backend: CostBackend, layer: str, policy: str = "optimal",
                  overrides: dict[str, str] | None = None) -> LayerExplanation:
    problem = Problem(graph, arch, backend, overrides)
    names = [c.op.name for c in problem.choices]
    if layer not in names:
        import difflib

        close = difflib.get_close_matches(layer, names, n=1, cutoff=0.3)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"no layer named {layer!r}{hint}; `nbperf explain MODEL` lists the layers")
    index = names.index(layer)
    picks, objective, _ = solve(problem, policy)
    dist = _dists(problem, picks)
    choice = problem.choices[index]
    chosen = choice.allowed[picks[index]]
    rows = []
    for cand in choice.considered:
        is_chosen = cand is chosen
        if not cand.legal:
            rows.append(CandidateRow(cand, False, None, None, None, cand.reason))
            continue
        pick = choice.allowed.index(cand) if cand in choice.allowed else None
        t_in = sum(problem.move_ns(t, dist.get(t, Dist.DDR), n, choice.op)
                   for t, n in zip(choice.ins, cand.needs, strict=True))
        t_out = _transition_out(problem, picks, index, cand)
        delta = None
        if pick is not None:
            delta = 0.0 if is_chosen else search_optimal(problem, {index: pick})[1] - objective
        rows.append(CandidateRow(cand, is_chosen, t_in, t_out, delta, _reason(cand, is_chosen, delta, pick)))
    budget = int(arch.cmx.bytes_per_tile * arch.cmx.tiling_budget)
    return LayerExplanation(choice.op, arch, policy, budget, objective, tuple(rows))


def _dists(problem: Problem, picks: list[int]) -> dict[str, Dist]:
    dist: dict[str, Dist] = {}
    for choice, pick in zip(problem.choices, picks, strict=True):
        for t in choice.outs:
            dist[t] = choice.allowed[pick].out_dist
    return dist


def _transition_out(problem: Problem, picks: list[int], index: int, cand: Candidate) -> float:
    outs = set(problem.choices[index].outs)
    total = 0.0
    for later_index in range(index + 1, len(problem.choices)):
        later = problem.choices[later_index]
        needs = later.allowed[picks[later_index]].needs
        for t, need in zip(later.ins, needs, strict=True):
            if t in outs:
                total += problem.move_ns(t, cand.out_dist, need, later.op)
    return total


def _reason(cand: Candidate, chosen: bool, delta: float | None, pick: int | None) -> str:
    fit = "fits CMX" if cand.fits else \
        f"does not fit CMX: tiled into {cand.subtiles} sub-tiles over {cand.tiled_over}"
    if pick is None:
        return f"{fit}; excluded by a --strategy override"
    if chosen:
        return f"{fit}; lowest whole-graph cost"
    return f"{fit}; whole graph +{(delta or 0.0) / 1e3:,.2f} us if chosen"
