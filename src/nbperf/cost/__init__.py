"""Cost backends: per-task compute cost models behind one ``CostBackend`` protocol."""

from nbperf.cost.base import ComputeCost, CostBackend
from nbperf.cost.math_model import MathBackend
from nbperf.errors import UsageError

BACKENDS: dict[str, type] = {"math": MathBackend}


def get_backend(name: str) -> CostBackend:
    """The cost backend registered as ``name``."""
    if name not in BACKENDS:
        raise UsageError(f"unknown cost model {name!r}; available: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name]()


__all__ = ["BACKENDS", "ComputeCost", "CostBackend", "MathBackend", "get_backend"]
