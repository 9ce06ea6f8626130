"""Cost backends: per-task compute cost models behind one ``CostBackend`` protocol."""

from nbperf.cost.base import ComputeCost, CostBackend
from nbperf.cost.math_model import MathBackend
from nbperf.errors import UsageError

BACKENDS: dict[str, type] = {"math": MathBackend}


# Cost models that time a whole task graph, each with the per-task backend it uses for durations.
GRAPH_MODELS = {"emulator": "math"}


def get_backend(name: str) -> CostBackend:
    """The per-task cost backend registered as ``name``."""
    if name not in BACKENDS:
        known = ", ".join(sorted({*BACKENDS, *GRAPH_MODELS}))
        raise UsageError(f"unknown cost model {name!r}; available: {known}")
    return BACKENDS[name]()


__all__ = ["BACKENDS", "GRAPH_MODELS", "ComputeCost", "CostBackend", "MathBackend", "get_backend"]
