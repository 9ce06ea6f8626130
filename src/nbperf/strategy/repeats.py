"""Repeated blocks: one op's search step, done once for every block that repeats it.

The 64 blocks of a decoder are the same ops on tensors with other names, and after the first
blocks the search meets the same frontier at the same op of every block. What the step over op
``i`` computes depends on the op, its candidates, and, for each tensor it sees, its size, place
and next use: never on its name. Naming a tensor relative to op ``i`` ("output k of the op d ops
back", or for a tensor no op makes, "input k of the op d ops back that first read it") turns the
steps of equal blocks into equal keys. A hit replays the stored step with the names put back.

The key holds everything ``SerialModel`` reads at op ``i`` (see ``context``); frontier costs are
taken relative to the cheapest state and compared to 0.001 ns, so a hit reproduces the step up to
that rounding.
"""

from __future__ import annotations

from typing import NamedTuple

from nbperf.strategy.serial_model import Held, SerialModel, State

Ref = tuple[int, int, int]  # (0: made by an op / 1: read first by an op, ops back, position)
COST_DIGITS = 3  # frontier costs (ns) compare equal to this many decimals


class Entry(NamedTuple):
    """One state of the frontier after a step, in relative names."""

    live: tuple[tuple[Ref, Held], ...]
    free_bytes: int
    resident_bytes: int
    idle_dma_ns: int
    cost_ns: float  # above the cheapest state before the step
    source: int  # which state of the frontier before the step it came from
    pick: int


class Outcome(NamedTuple):
    entries: tuple[Entry, ...]
    pruned: bool


class Repeats:
    """Relative names and the store of steps for one ``SerialModel``."""

    def __init__(self, model: SerialModel) -> None:
        self.model = model
        self.origin: dict[str, tuple[int, int, int]] = {}
        for i, outs in enumerate(model.outs):
            for k, t in enumerate(outs):
                self.origin.setdefault(t, (0, i, k))
        for i, ins in enumerate(model.ins):
            for k, t in enumerate(ins):
                self.origin.setdefault(t, (1, i, k))
        self.store: dict[tuple[object, ...], Outcome] = {}

    def ref(self, index: int, tensor: str) -> Ref:
        kind, op, k = self.origin[tensor]
        return kind, index - op, k

    def name(self, index: int, ref: Ref) -> str:
        kind, back, k = ref
        return (self.model.ins if kind else self.model.outs)[index - back][k]

    def context(self, index: int, names: set[str], allowed: tuple[object, ...],
                forced: int | None) -> tuple[object, ...]:
        """Everything the step over op ``index`` reads besides the frontier, names made relative:
        its candidates (ops share candidate objects only when alike in all the candidates read, so
        these stand for the op); each tensor's size, next use and whether this op reads it last,
        in the order spilling picks victims (furthest next use first, ties by name); which inputs
        may move early; each output's size, whether it lives on and whether the host wants it; and
        the next op's prefetch thresholds and idle-time cap, which the state after is rounded to."""
        model = self.model
        seen = sorted(names.union(model.ins[index]), key=lambda t: (-model.next_use(t, index), t))
        tensors = tuple((self.ref(index, t), model.nbytes(t), model.next_use(t, index) - index,
                         model.last_use.get(t, -1) <= index) for t in seen)
        outputs = tuple((model.nbytes(t), model.last_use.get(t, -1) > index, t in model.graph_outputs)
                        for t in model.outs[index])
        return (tuple(id(c) for c in allowed), forced, tensors,
                tuple(self.ref(index, t) for t in model.ins[index]),
                frozenset(self.ref(index, t) for t in model.early_inputs[index]), outputs,
                model.next_op_rounding(index))

    def key(self, index: int, frontier: dict[State, float], allowed: tuple[object, ...],
            forced: int | None) -> tuple[tuple[object, ...], float]:
        """The store's key for the step over op ``index`` from ``frontier``, and the cost the
        frontier's costs are taken relative to (its cheapest)."""
        base = min(frontier.values())
        names = {t for s in frontier for t, _ in s.live}
        ref = self.ref
        states = tuple((frozenset((ref(index, t), h) for t, h in s.live), s.free_bytes, s.resident_bytes,
                        s.idle_dma_ns, round(cost - base, COST_DIGITS)) for s, cost in frontier.items())
        return (self.context(index, names, allowed, forced), states), base

    def record(self, index: int, frontier: list[State], base: float, new: dict[State, float],
               back: dict[State, tuple[State, int]], pruned: bool) -> Outcome:
        """The step just computed, in relative names."""
        position = {s: k for k, s in enumerate(frontier)}
        entries = []
        for after, cost in new.items():
            source, pick = back[after]
            live = tuple((self.ref(index, t), h) for t, h in after.live)
            entries.append(Entry(live, after.free_bytes, after.resident_bytes, after.idle_dma_ns, cost - base,
                                 position[source], pick))
        return Outcome(tuple(entries), pruned)

    def replay(self, index: int, outcome: Outcome, frontier: list[State],
               base: float) -> tuple[dict[State, float], dict[State, tuple[State, int]]]:
        """A stored step applied to this op's frontier: the new frontier and its back pointers."""
        new: dict[State, float] = {}
        back: dict[State, tuple[State, int]] = {}
        name = self.name
        for e in outcome.entries:
            after = State(frozenset((name(index, r), h) for r, h in e.live), e.free_bytes, e.resident_bytes,
                          e.idle_dma_ns)
            new[after] = base + e.cost_ns
            back[after] = (frontier[e.source], e.pick)
        return new, back
