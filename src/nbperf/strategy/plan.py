"""The strategy stage's output: one chosen candidate per op, and the layer-serial replay of the plan."""

from __future__ import annotations

from dataclasses import dataclass

from nbperf.lower.npu_ops import NpuOp
from nbperf.strategy.candidates import Candidate
from nbperf.strategy.distribution import Move
from nbperf.strategy.serial_model import Step


@dataclass(frozen=True)
class Placement:
    """How one op runs: the chosen candidate, every candidate considered, and the move each
    input needed to reach the chosen strategy in the layer-serial replay (``op.inputs`` order)."""

    chosen: Candidate
    considered: tuple[Candidate, ...]
    moves_in: tuple[Move, ...]
    transition_ns_in: float


@dataclass(frozen=True)
class StrategyPlan:
    """Placements by op name, and the plan's layer-serial steps (one per op of ``ops``)."""

    placements: dict[str, Placement]
    steps: tuple[Step, ...]
    ops: tuple[NpuOp, ...]  # the non-free ops, in execution order
    policy: str  # "optimal" (whole-graph search) or "compiler" (greedy per layer + neighbour flips)
    objective_ns: float  # the layer-serial time the search minimised
    exact: bool  # False when the search pruned its frontier (very wide graphs)
    notes: tuple[str, ...] = ()
