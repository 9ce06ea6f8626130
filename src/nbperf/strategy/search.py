"""Choosing a strategy per op over the whole graph.

The objective is the layer-serial time of the whole graph (``serial_model``): per op, the DMA
that moves its inputs into the layouts its strategy needs, the spills that make room in CMX, and
max(compute, own DMA). Because a step's cost depends on where every live tensor is (its layout
and whether it was spilled), the search walks the ops in execution order keeping, for every
distinct state of the live tensors (the frontier), the cheapest assignment that reaches it:
dynamic programming over the frontier. That is exact on chains and on graphs with branches and
joins (residual adds, concats, attention), spills included. If a graph keeps very many states
alive, the frontier is pruned to the cheapest ``MAX_FRONTIER`` and the plan says so.
"""

from __future__ import annotations

import difflib
import itertools
from collections import OrderedDict
from dataclasses import dataclass

from nbperf.arch.model import ArchSpec
from nbperf.cost.tasks import TaskCoster
from nbperf.errors import InfeasibleError, UsageError
from nbperf.lower.npu_ops import NpuGraph, NpuOp
from nbperf.strategy.candidates import ALIASES, Candidate, Strategy, candidates
from nbperf.strategy.distribution import Dist, Need
from nbperf.strategy.plan import Placement, StrategyPlan
from nbperf.strategy.repeats import Repeats
from nbperf.strategy.serial_model import SerialModel, State, Step
from nbperf.strategy.swizzling import swizzled_activations

MAX_FRONTIER = 512
TIE_RELATIVE = 1e-12  # costs this close are equal: float sums of the same steps differ by ~1e-15
# At equal cost the compiler prefers SOH; candidates are tried in this order and ties keep the first.
PREFERENCE = (Strategy.SOH, Strategy.SOK, Strategy.HKSWITCH, Strategy.SOW, Strategy.CLUSTERING)
POLICIES = ("optimal", "compiler")


@dataclass(frozen=True)
class OpChoices:
    """One schedulable op and the candidates the search may pick."""

    op: NpuOp
    allowed: tuple[Candidate, ...]
    considered: tuple[Candidate, ...]


class Problem:
    """The strategy search problem of one graph on one arch."""

    def __init__(self, graph: NpuGraph, arch: ArchSpec, coster: TaskCoster,
                 overrides: dict[str, str] | None = None, policy: str = "optimal") -> None:
        self.graph, self.arch, self.coster = graph, arch, coster
        self.notes: list[str] = []
        ops = [op for op in graph.ops if not op.is_free]
        forced = _parse_overrides(overrides or {}, ops)
        self.choices: list[OpChoices] = []
        # The compiler's rule never takes the finer tilings nbperf adds: its ops consider without them.
        arch_key = (arch.model_dump_json(exclude=_NOT_READ_BY_CANDIDATES), policy != "compiler")
        swizzled = swizzled_activations(graph, arch)
        for op in ops:
            considered = _offers(op, graph.tensor_bytes, arch, swizzled, arch_key)
            allowed = [c for c in considered if c.legal]
            want = forced.get(op.name) or forced.get("all")
            if want is not None:
                hit = [c for c in considered if c.strategy is want]
                if any(c.legal for c in hit):
                    allowed = [c for c in hit if c.legal]
                elif op.name in forced:
                    rule = hit[0].reason if hit else f"{op.op_type} on {op.engine.value} has no {want.value}"
                    raise UsageError(f"--strategy {op.name}={want.value} is illegal: {rule}")
                elif op.dpu is not None:
                    self.notes.append(f"{op.name}: {want.value} illegal ({hit[0].reason if hit else 'n/a'}); "
                                      "searched instead")
            if not allowed:
                worst = min(considered, key=lambda c: c.cmx_bytes_per_tile or 1 << 62)
                raise InfeasibleError(f"{op.name} ({op.op_type}) fits no strategy: {worst.reason}")
            self.choices.append(OpChoices(op, tuple(allowed), tuple(considered)))
        self.model = SerialModel(graph, arch, coster, ops)
        self.repeats = Repeats(self.model)
        self._replayed: tuple[tuple[int, ...], list[tuple[Step, State]]] | None = None

    def consider(self, picks: list[int] | None = None) -> None:
        """Tell the serial model which candidates the search may take: every allowed one, or only
        ``picks`` (a plan priced as it is; the states it reaches round the same either way)."""
        per_op = [c.allowed for c in self.choices] if picks is None else \
            [(c.allowed[p],) for c, p in zip(self.choices, picks, strict=True)]
        if self.model.set_candidates(per_op):
            self.repeats.store.clear()  # its steps were rounded for other candidates
            self._replayed = None

    def step(self, index: int, pick: int, state: State) -> tuple[Step, State]:
        """Op ``index`` under its ``pick``-th allowed candidate, from ``state``, and the state after."""
        return self.model.step(index, self.choices[index].allowed[pick], state)

    def replay(self, picks: list[int]) -> list[tuple[Step, State]]:
        """The steps of one full assignment (an index into each op's ``allowed``), each with the
        state after it, in order."""
        taken = self.model.candidates
        if taken is None or any(c.allowed[p] not in among for c, p, among in zip(self.choices, picks, taken,
                                                                                  strict=True)):
            self.consider()
        if self._replayed is not None and self._replayed[0] == tuple(picks):
            return self._replayed[1]  # the plan just priced (its objective, then its steps)
        state = self.model.initial_state()
        steps = []
        for index, pick in enumerate(picks):
            step, state = self.step(index, pick, state)
            steps.append((step, state))
        self._replayed = (tuple(picks), steps)
        return steps

    def evaluate(self, picks: list[int]) -> float:
        """The objective of one full assignment: its layer-serial time in ns."""
        return sum(step.time_ns for step, _ in self.replay(picks))


# The arch sections candidates never read (strategy.candidates, .swizzling, .distribution read the
# tile count, CMX and compiler sections): arch points that differ only here share candidates. Any
# section not named here keys the cache, so a new section is safe by default.
_NOT_READ_BY_CANDIDATES = {"description", "dpu", "shave", "dma", "barriers", "inference_overhead_us",
                           "runtime", "calibration"}
_OFFERS_KEPT = 4096  # candidate lists kept per process (assumed: a NAS loop's distinct layer shapes)
_offered: OrderedDict[tuple[object, ...], list[Candidate]] = OrderedDict()


def _offers(op: NpuOp, tensor_bytes: dict[str, int], arch: ArchSpec, swizzled: frozenset[str],
            arch_key: tuple[str, bool]) -> list[Candidate]:
    """``op``'s candidates in ``PREFERENCE`` order, shared by every op alike but for names (the
    repeated blocks of a graph, the same layer in the networks of a NAS loop) on arch points alike in
    what candidates read (a sweep over MACs or DDR bandwidth): the same objects, priced once each."""
    key = (_shape_signature(op, tensor_bytes), tuple(t in swizzled for t in (*op.inputs, *op.outputs)),
           arch_key)
    found = _offered.get(key)
    if found is None:
        found = sorted(candidates(op, tensor_bytes, arch, swizzled, finer=arch_key[1]),
                       key=lambda c: PREFERENCE.index(c.strategy))
        _offered[key] = found
        if len(_offered) > _OFFERS_KEPT:
            _offered.popitem(last=False)
    else:
        _offered.move_to_end(key)
    return found


def _shape_signature(op: NpuOp, tensor_bytes: dict[str, int]) -> tuple[object, ...]:
    """Everything ``candidates`` reads of an op, with tensor names replaced by input positions: ops
    with equal signatures (the blocks of a transformer) have equal candidates."""
    first = {t: i for i, t in reversed(list(enumerate(op.inputs)))}
    return (op.op_type, op.engine, op.precision, op.input_bytes, op.output_bytes, op.weight_bytes, op.macs,
            op.dpu, op.shave_class, op.shave_kernel, op.row_elements, op.cube, op.elements, op.unknown,
            tuple(first[t] for t in op.inputs), tuple(tensor_bytes.get(t, 0) for t in op.inputs),
            tuple(tensor_bytes.get(t, 0) for t in op.outputs),
            tuple(first.get(t, -1) for t in op.weight_inputs),
            None if op.inplace_input is None else first.get(op.inplace_input, -1))


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
    problem.consider()
    frontier: dict[State, float] = {problem.model.initial_state(): 0.0}
    backs: list[dict[State, tuple[State, int]]] = []
    exact = True
    repeats = problem.repeats
    for index, choice in enumerate(problem.choices):
        states = list(frontier)
        key, base = repeats.key(index, frontier, choice.allowed, force.get(index))
        outcome = repeats.store.get(key)
        if outcome is None:
            new, back, pruned = _step_frontier(problem, index, frontier, force)
            outcome = repeats.store[key] = repeats.record(index, states, base, new, back, pruned)
        else:
            new, back = repeats.replay(index, outcome, states, base)
        exact = exact and not outcome.pruned
        frontier = new
        backs.append(back)
    cheapest = min(frontier.values())
    state, best = next((s, c) for s, c in frontier.items() if not _cheaper(cheapest, c))
    picks_out: list[int] = []
    for back in reversed(backs):
        state, pick = back[state]
        picks_out.append(pick)
    return picks_out[::-1], best, exact


def _step_frontier(problem: Problem, index: int, frontier: dict[State, float],
                   force: dict[int, int]) -> tuple[dict[State, float], dict[State, tuple[State, int]], bool]:
    """Every state of ``frontier`` through op ``index`` under each allowed pick: the cheapest way to
    each state after, the undominated ones kept (the cheapest ``MAX_FRONTIER`` if more)."""
    new: dict[State, float] = {}
    back: dict[State, tuple[State, int]] = {}
    allowed = problem.choices[index].allowed
    picks = [force[index]] if index in force else range(len(allowed))
    for state, cost in frontier.items():
        for pick in picks:
            time_ns, after = problem.model.advance(index, allowed[pick], state)
            total = cost + time_ns
            if after not in new or _cheaper(total, new[after]):
                new[after] = total
                back[after] = (state, pick)
    new = _undominated(new)
    pruned = len(new) > MAX_FRONTIER
    if pruned:
        new = dict(sorted(new.items(), key=lambda kv: kv[1])[:MAX_FRONTIER])
    return new, back, pruned


def _cheaper(a: float, b: float) -> bool:
    """``a`` beats ``b`` by more than the rounding of summing costs in another order: equal paths
    (a tie) keep the one found first, whose picks come first in ``PREFERENCE``, however their
    sums rounded."""
    return a < b - TIE_RELATIVE * abs(b)


def _undominated(states: dict[State, float]) -> dict[State, float]:
    """Drop every state another one beats whatever comes next. States with the same tensors in the
    same places differ only in free CMX and DMA idle time, and those matter to the next op alone:
    whether its first loads prefetch (they fit the free CMX) and how much of them hides (at most the
    idle time); its time differs by that hidden share and everything after it is the same (how long
    the DMA idles during an op, and the CMX it leaves free, do not depend on what hid). So ``s`` can
    gain on ``b`` at most its extra idle time where ``b`` has as much free CMX (``b`` prefetches
    whenever ``s`` does), and at most its whole idle time otherwise; ``b`` beats ``s`` when it is
    cheaper by that much. Exact."""
    groups: dict[tuple[object, int], list[tuple[float, State]]] = {}
    for state, cost in states.items():
        groups.setdefault((state.live, state.resident_bytes), []).append((cost, state))
    if len(groups) == len(states):
        return states
    kept: dict[State, float] = {}
    for members in groups.values():
        members.sort(key=lambda cs: cs[0])
        best: list[tuple[float, State]] = []
        for cost, state in members:
            if not any(not _cheaper(cost, b_cost + _gain(state, b)) for b_cost, b in best):
                best.append((cost, state))
                kept[state] = cost
    return kept


def _gain(state: State, other: State) -> int:
    """The most ``state`` can save on the next op over ``other`` (the same live tensors): the extra
    part of its first loads that hides."""
    if other.free_bytes >= state.free_bytes:
        return max(0, state.idle_dma_ns - other.idle_dma_ns)
    return state.idle_dma_ns


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
    the lowest cost of the layer alone (ties: SOH; an SOK output kept segmented); then flip an SOK
    producer to a broadcast output when a consumer needs the whole tensor on every tile, and an SOH
    producer to HKSwitch when its SOK consumer would otherwise need a spill and HKSwitch fits."""
    basic = {Strategy.SOH, Strategy.SOK, Strategy.CLUSTERING}
    model = problem.model
    picks: list[int] = []
    for index, choice in enumerate(problem.choices):
        own = [i for i, c in enumerate(choice.allowed) if not c.finer]  # the compiler's own tilings
        pool = [i for i in own if choice.allowed[i].strategy in basic] or own

        def alone(i: int, index: int = index, choice: OpChoices = choice) -> tuple[bool, float, bool]:
            cand = choice.allowed[i]
            cost = model.op_cost(index, cand)
            own = max(cost.compute.ns, cost.weights_ns + cost.stream_ns)
            return not cand.fits, own, cand.out_dist is Dist.DUPLICATED

        picks.append(min(pool, key=alone))
    producer = {t: i for i, outs in enumerate(model.outs) for t in outs}
    for index, choice in enumerate(problem.choices):
        needs = choice.allowed[picks[index]].needs
        for t, need in zip(model.ins[index], needs, strict=True):
            p = producer.get(t)
            if p is None:
                continue
            chosen = problem.choices[p].allowed[picks[p]]
            if need is Need.DUPLICATED and chosen.strategy is Strategy.SOK and chosen.out_dist is Dist.SEG_K:
                dup = [i for i, c in enumerate(problem.choices[p].allowed)
                       if c.strategy is Strategy.SOK and c.out_dist is Dist.DUPLICATED]
                picks[p] = dup[0] if dup else picks[p]
            elif choice.allowed[picks[index]].strategy is Strategy.SOK and chosen.strategy is Strategy.SOH:
                hk = [i for i, c in enumerate(problem.choices[p].allowed) if c.strategy is Strategy.HKSWITCH
                      and c.fits]
                picks[p] = hk[0] if hk else picks[p]
    return picks


def choose_strategies(graph: NpuGraph, arch: ArchSpec, coster: TaskCoster, policy: str = "optimal",
                      overrides: dict[str, str] | None = None) -> StrategyPlan:
    """Pick a strategy for every op of ``graph`` (``policy``: "optimal" or "compiler")."""
    problem = Problem(graph, arch, coster, overrides, policy)
    picks, objective, exact = solve(problem, policy)
    return build_plan(problem, picks, policy, objective, exact)


def solve(problem: Problem, policy: str,
          force: dict[int, int] | None = None) -> tuple[list[int], float, bool]:
    """Picks per op, the objective, and whether the search was exact, under ``policy``."""
    if policy not in POLICIES:
        raise UsageError(f"unknown strategy policy {policy!r}; use optimal or compiler")
    if policy == "optimal":
        return search_optimal(problem, force)
    picks = search_compiler(problem)
    for index, pick in (force or {}).items():
        picks[index] = pick
    problem.consider(picks)  # the states of this one plan: no other candidate needs pricing
    return picks, problem.evaluate(picks), True


def build_plan(problem: Problem, picks: list[int], policy: str, objective: float,
               exact: bool) -> StrategyPlan:
    steps = [step for step, _ in problem.replay(picks)]
    placements: dict[str, Placement] = {}
    for choice, pick, step in zip(problem.choices, picks, steps, strict=True):
        placements[choice.op.name] = Placement(choice.allowed[pick], choice.considered, step.moves,
                                               step.transition_ns)
    notes = tuple(problem.notes) + (() if exact else (f"strategy search pruned to {MAX_FRONTIER} states",))
    return StrategyPlan(placements, tuple(steps), tuple(c.op for c in problem.choices), policy, objective,
                        exact, notes)
