"""Op classes: what a calibration factor applies to and how correlation groups layers.

A DPU layer's class is its DPU task kind (``dpu.conv``, ``dpu.dwconv``, ``dpu.matmul``,
``dpu.eltwise``, ``dpu.pool``), a SHAVE layer's its SHAVE op class (``shave.softmax``...), a pure
data-movement layer's ``dma``, and a layer nbperf prices at zero (a view, a folded Q/DQ) ``free``.
The names are the calibration overlay's own paths (``calibration.dpu.conv``), so a factor in the
YAML and a row of the correlation table say the same thing.
"""

from __future__ import annotations

from nbperf.lower.npu_ops import Engine, NpuOp

FITTABLE_PREFIXES = ("dpu.", "shave.")  # DMA and free layers have no compute to scale


def op_class(op: NpuOp) -> str:
    if op.engine is Engine.DPU and op.dpu is not None:
        return f"dpu.{op.dpu.kind.value}"
    if op.engine is Engine.SHAVE:
        return f"shave.{op.shave_class or 'generic'}"
    if op.engine is Engine.DMA:
        return "dma"
    return "free"


def fittable(op_class_name: str) -> bool:
    return op_class_name.startswith(FITTABLE_PREFIXES)
