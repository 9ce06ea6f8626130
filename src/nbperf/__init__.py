"""nbperf: fast latency estimation of neural networks on tiled NPUs (Intel VPU / NPU family).

Public API::

    import nbperf
    result = nbperf.estimate("resnet50.onnx", arch="npu4000")
    print(result.latency_ms, result.fps)
    arch = nbperf.load_arch("npu3720", ["dpu.macs_per_tile=4096"])
"""

from nbperf.api import estimate, explain
from nbperf.arch import ArchSpec, load_arch, preset_names
from nbperf.errors import InternalError, NbperfError
from nbperf.result import Estimate

__version__ = "0.1.0"

__all__ = ["ArchSpec", "Estimate", "InternalError", "NbperfError", "__version__", "estimate", "explain",
           "load_arch", "preset_names"]
