"""A cost model of your own in a few lines: an ideal DPU that wastes nothing on padding.

Any object with a ``name``, ``dpu_workload(workload, arch)`` and ``shave_workload(workload, arch)``
is a cost model (``nbperf.cost.CostModel``). Register it and every nbperf command and API call can
use it; both schedules and the strategy search take their task durations from it.

    python examples/custom_cost_model.py [efficiency]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import nbperf
from nbperf.cost import MathBackend, WorkloadCost
from nbperf.lower.npu_ops import DpuKind


class IdealDpu:
    """Useful MACs at ``efficiency`` of the DPU's peak; element-wise and SHAVE work as the math model."""

    name = "ideal"

    def __init__(self, efficiency: float) -> None:
        self.efficiency = efficiency
        self.math = MathBackend()

    def dpu_workload(self, workload, arch) -> WorkloadCost:
        w = workload.work
        if w.kind is DpuKind.ELTWISE:
            return self.math.dpu_workload(workload, arch)
        macs = w.out_elements * max(1, w.in_k) * w.kernel_h * w.kernel_w
        per_cycle = arch.macs_per_cycle(workload.precision) / arch.dpu.dpus_per_tile * self.efficiency
        return WorkloadCost(cycles=math.ceil(macs / per_cycle), mpe_mode=None, limit="mac")

    def shave_workload(self, workload, arch) -> int:
        return self.math.shave_workload(workload, arch)


nbperf.register_cost_model("ideal", lambda arg: IdealDpu(float(arg or 1.0)),
                           "useful MACs at a given efficiency (examples/custom_cost_model.py)", "EFFICIENCY")

if __name__ == "__main__":
    model = Path(__file__).parent / "models" / "resnet50.onnx"
    efficiency = sys.argv[1] if len(sys.argv) > 1 else "0.8"
    for cost in ("math", f"ideal:{efficiency}"):
        result = nbperf.estimate(model, "npu4000", cost_model=cost)
        print(f"{cost:>10}: {result.latency_ms:.3f} ms")
