"""Cost models by name: ``--cost math``, ``--cost table:FILE``, ``--cost vpunn[:MODEL]``, and yours.

A cost model is registered under a name with a factory that takes the text after the first colon
(or None). Third-party models register from Python (``register_cost_model``) or from an installed
package's ``nbperf.cost_models`` entry point, whose object is such a factory; see
docs/cost-backends.md for a complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from nbperf.cost.base import CostModel
from nbperf.errors import UsageError

ENTRY_POINT_GROUP = "nbperf.cost_models"


@dataclass(frozen=True)
class Registered:
    name: str
    factory: Callable[[str | None], CostModel]
    summary: str
    argument: str = ""  # what the text after the colon is, "" when it takes none


def _math(arg: str | None) -> CostModel:
    from nbperf.cost.math_model import MathBackend
    if arg:
        raise UsageError(f"the math cost model takes no argument, got math:{arg}")
    return MathBackend()


def _table(arg: str | None) -> CostModel:
    from nbperf.cost.table import TableBackend
    return TableBackend(arg)


def _vpunn(arg: str | None) -> CostModel:
    from nbperf.cost.vpunn_backend import VpunnBackend
    return VpunnBackend(arg)


_REGISTRY: dict[str, Registered] = {}


def register_cost_model(name: str, factory: Callable[[str | None], CostModel], summary: str = "",
                        argument: str = "") -> None:
    """Make ``--cost NAME[:ARG]`` build a cost model with ``factory(ARG)``."""
    if not name.isidentifier():
        raise UsageError(f"a cost model name must be an identifier, got {name!r}")
    _REGISTRY[name] = Registered(name, factory, summary, argument)


register_cost_model("math", _math, "closed-form per-workload cycles (default)")
register_cost_model("table", _table, "cycles per workload key from a CSV/JSONL file; math for the rest",
                    "FILE")
register_cost_model("vpunn", _vpunn, "Intel VPUNN's learned DPU costs, when its Python module imports",
                    "MODEL.vpunn")


def _discover() -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _REGISTRY:
            register_cost_model(point.name, point.load(), f"from {point.value}")


def available() -> list[Registered]:
    """Every registered cost model, built-in ones first."""
    _discover()
    return list(_REGISTRY.values())


def usage() -> str:
    return ", ".join(f"{r.name}:{r.argument}" if r.argument else r.name for r in available())


def get_backend(spec: str) -> CostModel:
    """The cost model ``spec`` names: ``NAME`` or ``NAME:ARGUMENT``."""
    name, _, arg = spec.partition(":")
    name = name.lower()
    if name not in _REGISTRY:
        _discover()
    if name not in _REGISTRY:
        raise UsageError(f"unknown cost model {spec!r}; available: {usage()}")
    return _REGISTRY[name].factory(arg or None)
