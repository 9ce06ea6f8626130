"""Lowering: ONNX-level IR -> NPU operations (DPU, SHAVE, DMA, free views)."""

from nbperf.lower.lowering import lower
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuGraph, NpuOp

__all__ = ["DpuKind", "DpuWork", "Engine", "NpuGraph", "NpuOp", "lower"]
