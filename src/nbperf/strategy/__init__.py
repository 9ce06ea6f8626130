"""Multi-tile split strategies: candidates, transitions, the layer-serial model, the whole-graph choice."""

from nbperf.strategy.candidates import Candidate, Strategy, TiledOver, Tiling
from nbperf.strategy.distribution import Dist, Move, MoveKind, Need
from nbperf.strategy.plan import Placement, StrategyPlan
from nbperf.strategy.search import POLICIES, choose_strategies
from nbperf.strategy.serial_model import Held, Step

__all__ = ["POLICIES", "Candidate", "Dist", "Held", "Move", "MoveKind", "Need", "Placement", "Step",
           "Strategy", "StrategyPlan", "TiledOver", "Tiling", "choose_strategies"]
