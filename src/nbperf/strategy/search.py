"""Choosing a strategy per op over the whole graph.

The objective is a sum over ops of (the op's own time under its strategy) + (the DMA that moves
each of its inputs from the producer's distribution to the one the strategy needs). The search
walks the ops in execution order keeping, for every combination of distributions of the tensors
still live (the frontier), the cheapest assignment that produces it: dynamic programming over the
frontier. That is exact on chains and on graphs with branches and joins (residual adds, concats,
attention): a join pays each input's transition from whatever its producer chose. A tensor read
by several consumers pays a transition per consumer. If a graph keeps very many tensors live at
once, the frontier is pruned to the cheapest ``MAX_FRONTIER`` states and the plan says so.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import CostBackend
from nbperf.errors import UsageError
from nbperf.lower.npu_ops import NpuGraph, NpuOp
from nbperf.strategy.candidates import ALIASES, Candidate, Strategy, candidates, halo_rows
from nbperf.strategy.distribution import Dist, Move, Need, move
from nbperf.strategy.plan import Placement, StrategyPlan

MAX_FRONTIER = 4096
# At equal cost the compiler prefers SOH; candidates are tried in this order and ties keep the first.
PREFERENCE = (Strategy.SOH, Strategy.SOK, Strategy.HKSWITCH, Strategy.SOW, Strategy.CLUSTERING)


@dataclass(frozen=True)
class OpChoices:
    """One schedulable op with resolved tensor names and the candidates the search may pick."""

    op: NpuOp
    ins: tuple[str, ...]
    outs: tuple[str, ...]
    allowed: tuple[Candidate, ...]
    considered: tuple[Candidate, ...]


class Problem:
    """The strategy search problem of one graph on one arch."""

    def __init__(self, graph: NpuGraph, arch: ArchSpec, backend: CostBackend,
                 overrides: dict[str, str] | None = None) -> None:
        self.graph, self.arch = graph, arch
        self.budget = arch.cmx.bytes_per_tile * arch.cmx.tiling_budget
        self.notes: list[str] = []
        ops = [op for op in graph.ops if not op.is_free]
        forced = _parse_overrides(overrides or {}, ops)
        self.choices: list[OpChoices] = []
        for op in ops:
            considered = sorted(candidates(op, graph.tensor_bytes, arch, backend),
                                key=lambda c: PREFERENCE.index(c.strategy))
            allowed = [c for c in considered if c.legal]
            want = forced.get(op.name) or forced.get("all")
            if want is not None:
                hit = [c for c in considered if c.strategy is want]
                if hit and hit[0].legal:
                    allowed = hit
                elif op.name in forced:
                    rule = hit[0].reason if hit else f"{op.op_type} on {op.engine.value} has no {want.value}"
                    raise UsageError(f"--strategy {op.name}={want.value} is illegal: {rule}")
                elif op.dpu is not None:
                    self.notes.append(f"{op.name}: {want.value} illegal ({hit[0].reason if hit else 'n/a'}); "
                                      "searched instead")
            if not allowed:
                worst = min((c for c in considered), key=lambda c: c.cmx_bytes_per_tile or 1 << 62)
                from nbperf.errors import InfeasibleError

                raise InfeasibleError(f"{op.name} ({op.op_type}) fits no strategy: {worst.reason}")
            self.choices.append(OpChoices(op, tuple(graph.resolve(t) for t in op.inputs),
                                          tuple(graph.resolve(t) for t in op.outputs), tuple(allowed),
                                          tuple(considered)))
        self.last_use: dict[str, int] = {}
        for index, choice in enumerate(self.choices):
            for t in choice.ins:
                self.last_use[t] = index
        self._move_cache: dict[tuple[str, Dist, Need, str], tuple[Move, float]] = {}
        self._step_cache: dict[tuple[int, int, tuple[Dist, ...]], float] = {}

    def moves(self, index: int, cand: Candidate, have: list[Dist]) -> list[Move]:
        return [m for m, _ in self._input_moves(index, cand, have)]

    def _input_moves(self, index: int, cand: Candidate, have: list[Dist]) -> list[tuple[Move, float]]:
        """Moves of every input. A whole (duplicated) copy read as a split stays whole in CMX; if
        that overflows the tile, the consumer reloads just its split instead (spill + reload)."""
        choice = self.choices[index]
        triples = list(zip(choice.ins, have, cand.needs, strict=True))
        extra = sum(self.graph.tensor_bytes.get(t, 0) * (1 - 1 / self.arch.tiles)
                    for t, d, n in triples if d is Dist.DUPLICATED and n in (Need.SEG_H, Need.SEG_W))
        tight = extra and cand.fits and cand.cmx_bytes_per_tile + extra > self.budget
        moves = []
        for t, d, n in triples:
            if tight and d is Dist.DUPLICATED and n in (Need.SEG_H, Need.SEG_W):
                m = Move("spill-reload", ddr_bytes=2 * self.graph.tensor_bytes.get(t, 0))
                moves.append((m, m.ns(self.arch)))
            else:
                moves.append(self._move(t, d, n, choice.op))
        return moves

    def move_ns(self, tensor: str, have: Dist, need: Need, consumer: NpuOp) -> float:
        """DMA time to bring ``tensor`` from ``have`` to what ``consumer`` ``need``s."""
        return self._move(tensor, have, need, consumer)[1]

    def _move(self, tensor: str, have: Dist, need: Need, consumer: NpuOp) -> tuple[Move, float]:
        """The move and its time, cached: the search asks for the same ones many times."""
        key = (tensor, have, need, consumer.name)
        hit = self._move_cache.get(key)
        if hit is None:
            work = consumer.dpu
            if work is not None and need is Need.SEG_W:
                halo, rows = halo_rows(work, "W"), work.in_w or work.out_w
            elif work is not None:
                halo, rows = halo_rows(work, "H"), work.in_h or work.out_h
            else:
                halo, rows = 0, 1
            nbytes = self.graph.tensor_bytes.get(tensor, 0)
            found = move(have, need, nbytes, self.arch.tiles, halo, rows, self.arch)
            hit = (found, found.ns(self.arch))
            self._move_cache[key] = hit
        return hit

    def step_cost(self, index: int, cand: Candidate, have: list[Dist]) -> float:
        """The op's own time under ``cand`` plus moving its inputs from ``have``."""
        key = (index, id(cand), tuple(have))
        cost = self._step_cache.get(key)
        if cost is None:
            cost = cand.cost_ns + sum(ns for _, ns in self._input_moves(index, cand, have))
            self._step_cache[key] = cost
        return cost

    def evaluate(self, picks: list[int]) -> float:
        """The objective of one full assignment (index into each op's ``allowed``)."""
        dist: dict[str, Dist] = {}
        total = 0.0
        for index, (choice, pick) in enumerate(zip(self.choices, picks, strict=True)):
            cand = choice.allowed[pick]
            total += self.step_cost(index, cand, [dist.get(t, Dist.DDR) for t in choice.ins])
            for t in choice.outs:
                dist[t] = cand.out_dist
        return total


def _parse_overrides(overrides: dict[str, str], ops: list[NpuOp]) -> dict[str, Strategy]:
    names = [op.name for op in ops]
    parsed: dict[str, Strategy] = {}
    for layer, value in overrides.items():
        strategy = ALIASES.get(value.strip().lower())
        if strategy is None:
            raise UsageError(f"--strategy {layer}={value}: unknown strategy; use one of "
                             "SOH, SOW, SOK, HKSwitch, Clustering")
        if layer != "all" and layer not in names:
            close = difflib.get_close_matches(layer, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"--strategy {layer}={value}: no layer named {layer!r}{hint}")
        parsed[layer] = strategy
    return parsed


def search_optimal(problem: Problem, force: dict[int, int] | None = None) -> tuple[list[int], float, bool]:
    """Frontier dynamic programming; returns picks, objective, and whether it stayed exact.

    ``force`` pins op index -> pick (used to price alternatives when explaining a choice).
    """
    force = force or {}
    frontier: dict[tuple[tuple[str, Dist], ...], float] = {(): 0.0}
    backs: list[dict[tuple[tuple[str, Dist], ...], tuple[tuple[tuple[str, Dist], ...], int]]] = []
    exact = True
    for index, choice in enumerate(problem.choices):
        new: dict[tuple[tuple[str, Dist], ...], float] = {}
        back: dict[tuple[tuple[str, Dist], ...], tuple[tuple[tuple[str, Dist], ...], int]] = {}
        for key, cost in frontier.items():
            dist = dict(key)
            have = [dist.get(t, Dist.DDR) for t in choice.ins]
            keep = {t: d for t, d in key if problem.last_use.get(t, -1) > index}
            for pick, cand in enumerate(choice.allowed):
                if index in force and force[index] != pick:
                    continue
                total = cost + problem.step_cost(index, cand, have)
                state = dict(keep)
                for t in choice.outs:
                    if problem.last_use.get(t, -1) > index:
                        state[t] = cand.out_dist
                new_key = tuple(sorted(state.items()))
                if new_key not in new or total < new[new_key]:
                    new[new_key] = total
                    back[new_key] = (key, pick)
        if len(new) > MAX_FRONTIER:
            exact = False
            new = dict(sorted(new.items(), key=lambda kv: kv[1])[:MAX_FRONTIER])
        frontier = new
        backs.append(back)
    key, best = min(frontier.items(), key=lambda kv: kv[1])
    picks: list[int] = []
    for back in reversed(backs):
        key, pick = back[key]
        picks.append(pick)
    return picks[::-1], best, exact


def search_exhaustive(problem: Problem) -> tuple[list[int], float]:
    """Every assignment (for tests on small graphs): the true minimum of the objective."""
    best: tuple[float, list[int]] | None = None
    for picks in itertools.product(*(range(len(c.allowed)) for c in problem.choices)):
        cost = problem.evaluate(list(picks))
        if best is None or cost < best[0]:
            best = (cost, list(picks))
    assert best is not None
    return best[1], best[0]


def search_compiler(problem: Problem) -> list[int]:
    """The NPU compiler's rule: per layer, among SOH / SOK / Clustering prefer what fits CMX, then
    the lowest cost (ties: SOH); then flip an SOH producer to HKSwitch when its SOK consumer would
    otherwise need a spill and HKSwitch fits."""
    basic = {Strategy.SOH, Strategy.SOK, Strategy.CLUSTERING}
    picks: list[int] = []
    for choice in problem.choices:
        pool = [i for i, c in enumerate(choice.allowed) if c.strategy in basic]
        pool = pool or list(range(len(choice.allowed)))
        picks.append(min(pool, key=lambda i: (not choice.allowed[i].fits, choice.allowed[i].cost_ns)))
    producer = {t: i for i, c in enumerate(problem.choices) for t in c.outs}
    for index, choice in enumerate(problem.choices):
        if choice.allowed[picks[index]].strategy is not Strategy.SOK:
            continue
        for t in choice.ins:
            p = producer.get(t)
            if p is None or problem.choices[p].allowed[picks[p]].strategy is not Strategy.SOH:
                continue
            hk = [i for i, c in enumerate(problem.choices[p].allowed)
                  if c.strategy is Strategy.HKSWITCH and c.fits]
            if hk:
                picks[p] = hk[0]
    return picks


def choose_strategies(graph: NpuGraph, arch: ArchSpec, backend: CostBackend, policy: str = "optimal",
                      overrides: dict[str, str] | None = None) -> StrategyPlan:
    """Pick a strategy for every op of ``graph`` (``policy``: "optimal" or "compiler")."""
    if policy not in ("optimal", "compiler"):
        raise UsageError(f"unknown strategy policy {policy!r}; use optimal or compiler")
    problem = Problem(graph, arch, backend, overrides)
    picks, objective, exact = solve(problem, policy)
    return build_plan(problem, picks, policy, objective, exact)


def solve(problem: Problem, policy: str) -> tuple[list[int], float, bool]:
    """Picks per op, the objective, and whether the search was exact, under ``policy``."""
    if policy == "optimal":
        return search_optimal(problem)
    picks = search_compiler(problem)
    return picks, problem.evaluate(picks), True


def build_plan(problem: Problem, picks: list[int], policy: str, objective: float,
               exact: bool) -> StrategyPlan:
    dist: dict[str, Dist] = {}
    placements: dict[str, Placement] = {}
    for index, (choice, pick) in enumerate(zip(problem.choices, picks, strict=True)):
        cand = choice.allowed[pick]
        moves = problem.moves(index, cand, [dist.get(t, Dist.DDR) for t in choice.ins])
        placements[choice.op.name] = Placement(cand, choice.considered, tuple(moves),
                                               sum(m.ns(problem.arch) for m in moves))
        for t in choice.outs:
            dist[t] = cand.out_dist
    notes = tuple(problem.notes) + (() if exact else (f"strategy search pruned to {MAX_FRONTIER} states",))
    return StrategyPlan(placements, dist, policy, objective, exact, notes)
