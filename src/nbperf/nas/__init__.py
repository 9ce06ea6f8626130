"""Parameterised networks built with onnx.helper, for neural-architecture search with nbperf.

    import nbperf
    from nbperf.nas import midas_like
    est = nbperf.estimate(nbperf.load(midas_like(width=48, depth=2, resolution=256)), "npu4000")

``NetBuilder`` builds any CNN layer by layer; ``midas_like`` and ``resnet_like`` are ready-made
families. ``examples/nas_midas.py`` runs an optuna search over ``midas_like``.
"""

from nbperf.nas.builder import OPSET, NetBuilder, midas_like, parameter_count, resnet_like

__all__ = ["OPSET", "NetBuilder", "midas_like", "parameter_count", "resnet_like"]
