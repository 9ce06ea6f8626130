"""nbperf: fast latency estimation of neural networks on tiled NPUs (Intel VPU / NPU family).

Public API::

    import nbperf
    result = nbperf.estimate("resnet50.onnx", arch="npu4000")
    print(result.latency_ms, result.fps, result.summary())

    model = nbperf.load("resnet50.onnx")          # load and lower once ...
    for macs in (2048, 4096):                      # ... estimate on many arch points
        r = nbperf.estimate(model, "npu4000", arch_overrides=[f"dpu.macs_per_tile={macs}"])

    nbperf.sweep(["resnet50.onnx"], "npu4000", {"tiles": [2, 4, 6]})  # rows of a design-space sweep
    rows = nbperf.workloads(result)               # its DPU workloads and DMAs as VPUNN descriptors
    nbperf.register_cost_model("mine", lambda arg: MyCostModel(arg))  # --cost mine[:ARG]
    arch = nbperf.load_arch("npu3720", ["dpu.macs_per_tile=4096"])
    corr = nbperf.correlate(result, "benchmark_average_counters_report.csv")  # vs measured layers
    fitted = nbperf.calibrate(["resnet50.onnx"], ["measured.csv"], "npu4000")  # per-class factors

The names are imported on first use, so ``import nbperf`` (and the CLI) stays fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from nbperf.version import __version__

if TYPE_CHECKING:
    from nbperf.api import estimate, explain, workloads
    from nbperf.arch import ArchSpec, load_arch, preset_names
    from nbperf.calibration.api import calibrate, correlate
    from nbperf.compare import compare
    from nbperf.cost import register_cost_model
    from nbperf.errors import InternalError, NbperfError
    from nbperf.loaded import LoadedModel, load
    from nbperf.result import Estimate
    from nbperf.sweep import sweep

_WHERE = {
    "estimate": "nbperf.api", "explain": "nbperf.api", "ArchSpec": "nbperf.arch", "load_arch": "nbperf.arch",
    "preset_names": "nbperf.arch", "compare": "nbperf.compare", "InternalError": "nbperf.errors",
    "NbperfError": "nbperf.errors", "LoadedModel": "nbperf.loaded", "load": "nbperf.loaded",
    "Estimate": "nbperf.result", "sweep": "nbperf.sweep", "workloads": "nbperf.api",
    "register_cost_model": "nbperf.cost", "correlate": "nbperf.calibration.api",
    "calibrate": "nbperf.calibration.api",
}

__all__ = ["ArchSpec", "Estimate", "InternalError", "LoadedModel", "NbperfError", "__version__", "calibrate",
           "compare", "correlate", "estimate", "explain", "load", "load_arch", "preset_names",
           "register_cost_model", "sweep", "workloads"]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nbperf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


# ``nbperf.compare`` and ``nbperf.sweep`` are functions named after the modules that hold them.
# Importing such a module (``from nbperf.compare import comparison_record``) makes Python set the
# package attribute to the module; the package keeps the function instead.
_NAMED_AFTER_MODULE = frozenset({"compare", "sweep"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        if name in _NAMED_AFTER_MODULE and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
