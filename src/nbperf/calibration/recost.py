"""Re-cost a fixed plan under other calibration factors.

Calibration asks how each layer's time moves when a class's compute is scaled, with everything
else as the compiler decided it: the same strategies, tilings and moves. So the plan's picks are
kept and only its steps are priced again, through the one cost path (``TaskCoster``) with the
factors in the arch. The workloads are priced once (the shared memo keys them without the
factors); only the task sums are redone per trial, a few milliseconds for ResNet-50.
"""

from __future__ import annotations

from nbperf.arch.model import CalibrationSpec
from nbperf.cost import TaskCoster, get_backend
from nbperf.errors import InternalError
from nbperf.result import Estimate
from nbperf.strategy.search import Problem
from nbperf.strategy.serial_model import SerialModel


class FixedPlan:
    """``estimate``'s plan, re-priced layer by layer (layer-serial) for any calibration."""

    def __init__(self, estimate: Estimate) -> None:
        self.estimate = estimate
        self.arch = estimate.arch
        self.backend = get_backend(estimate.cost_model)
        forced = dict(estimate.provenance.strategies) if estimate.provenance is not None else {}
        coster = TaskCoster(self.arch, self.backend, shared=True)
        self.problem = Problem(estimate.graph, self.arch, coster, forced, estimate.plan.policy)
        self.picks: list[int] = []
        for choice in self.problem.choices:
            chosen = estimate.plan.placements[choice.op.name].chosen
            if chosen not in choice.allowed:
                raise InternalError(f"re-costing {choice.op.name}: its planned candidate is no longer "
                                    "allowed")
            self.picks.append(choice.allowed.index(chosen))
        self.names = [choice.op.name for choice in self.problem.choices]

    def layer_ns(self, calibration: CalibrationSpec) -> dict[str, float]:
        """Each layer's layer-serial time (ns) under ``calibration``."""
        arch = self.arch.model_copy(update={"calibration": calibration})
        coster = TaskCoster(arch, self.backend, shared=True)
        ops = [choice.op for choice in self.problem.choices]
        model = SerialModel(self.estimate.graph, arch, coster, ops)
        model.set_candidates([choice.allowed for choice in self.problem.choices])
        state = model.initial_state()
        out: dict[str, float] = {}
        for name, choice, pick in zip(self.names, self.problem.choices, self.picks, strict=True):
            step, state = model.step(len(out), choice.allowed[pick], state)
            out[name] = step.time_ns
        return out
