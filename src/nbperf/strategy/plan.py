"""The strategy stage's output: one chosen candidate per op, with its input transitions."""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.strategy.candidates import Candidate
from nbperf.strategy.distribution import Dist, Move


@dataclass(frozen=True)
class Placement:
    """How one op runs: the chosen candidate, every candidate considered, and the move each
    input needed to reach the chosen strategy (in ``op.inputs`` order)."""

    chosen: Candidate
    considered: tuple[Candidate, ...]
    moves_in: tuple[Move, ...]
    transition_ns_in: float


@dataclass(frozen=True)
class StrategyPlan:
    """Placements by op name, the distribution of every produced tensor, and how it was found."""

    placements: dict[str, Placement]
    tensor_dist: dict[str, Dist]
    policy: str  # "optimal" (whole-graph search) or "compiler" (greedy per layer + neighbour flips)
    objective_ns: float  # sum over ops of max(compute, own DMA) + input transitions
    exact: bool  # False when the search pruned its frontier (very wide graphs)
    notes: tuple[str, ...] = ()
