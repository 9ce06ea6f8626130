"""Multi-tile split strategies: candidates per op, transitions, and the whole-graph choice."""

from nbperf.strategy.candidates import Candidate, Strategy
from nbperf.strategy.distribution import Dist, Move, Need
from nbperf.strategy.plan import Placement, StrategyPlan
from nbperf.strategy.search import choose_strategies

__all__ = ["Candidate", "Dist", "Move", "Need", "Placement", "Strategy", "StrategyPlan", "choose_strategies"]
