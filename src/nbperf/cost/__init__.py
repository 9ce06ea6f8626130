"""Cost: per-workload backends behind one ``CostBackend`` protocol, and the one task cost path."""

from nbperf.cost.base import ZERO_COST, ComputeCost, CostBackend
from nbperf.cost.math_model import MathBackend
from nbperf.cost.tasks import TaskCoster
from nbperf.cost.workload import DpuWorkload, ShaveWorkload, WorkloadCost
from nbperf.errors import UsageError

BACKENDS: dict[str, type] = {"math": MathBackend}


def get_backend(name: str) -> CostBackend:
    """The per-workload cost backend registered as ``name``."""
    if name not in BACKENDS:
        raise UsageError(f"unknown cost model {name!r}; available: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name]()


__all__ = ["BACKENDS", "ZERO_COST", "ComputeCost", "CostBackend", "DpuWorkload", "MathBackend",
           "ShaveWorkload", "TaskCoster", "WorkloadCost", "get_backend"]
