"""Cost: per-workload backends behind one ``CostModel`` protocol, and the one task cost path."""

from nbperf.cost.base import ZERO_COST, ComputeCost, CostBackend, CostModel
from nbperf.cost.math_model import MathBackend
from nbperf.cost.registry import available, get_backend, register_cost_model
from nbperf.cost.tasks import TaskCoster
from nbperf.cost.workload import DpuWorkload, ShaveWorkload, WorkloadCost

__all__ = ["ZERO_COST", "ComputeCost", "CostBackend", "CostModel", "DpuWorkload", "MathBackend",
           "ShaveWorkload", "TaskCoster", "WorkloadCost", "available", "get_backend", "register_cost_model"]
