"""SHAVE kernels whose cost depends on the shape of their rows, not only on their element count:
softmax and mean-variance normalization, as VPUNN models them (intel/npu-nn-cost-model@8a2ae92,
``include/vpu/shave/SoftmaxModel.h`` and ``MVNModel.h``, coefficients in
``src/shave/shave_collection.cpp``). A row is the run of elements one softmax or one
normalization spans (S, or SV in VPUNN's terms); the kernel handles ``rows`` of them.

Each function returns (launch, work) in microseconds at the profiling SHAVE clock: the launch is
what the kernel costs with no rows to do beyond the first, the work the rest.
"""

from __future__ import annotations

import math

from nbperf.arch.model import MvnShape, ShaveSpec, SoftmaxRows

# Kernel names the lowering gives row kernels (VPUNN's names: "softmax", and the composite "MVN"
# that picks its 2-axis model for per-channel and its 3-axis model for across-channel MVN).
SOFTMAX = "softmax"
MVN_PER_CHANNEL = "mvn"
MVN_ACROSS_CHANNELS = "mvn_across_channels"


def has_row_model(spec: ShaveSpec, kernel: str | None) -> bool:
    if kernel == SOFTMAX:
        return spec.softmax is not None
    return kernel in (MVN_PER_CHANNEL, MVN_ACROSS_CHANNELS) and spec.mvn is not None


def row_kernel_us(spec: ShaveSpec, kernel: str | None, row_elements: int, rows: int) -> tuple[float, float]:
    """(launch, work) microseconds of one launch over ``rows`` rows of ``row_elements``."""
    rows, row_elements = max(1, rows), max(1, row_elements)
    if kernel == SOFTMAX and spec.softmax is not None:
        return softmax_us(spec.softmax, row_elements, rows)
    if spec.mvn is not None and kernel == MVN_PER_CHANNEL:
        # MVN1 of a layer norm / instance norm: the rows are channels (VPUNN's thirdmost axis,
        # unselected), the batch (outermost) is one.
        return mvn_us(spec.mvn.per_channel, spec.mvn.vector, spec.mvn.unroll, row_elements, rows,
                      outermost=1, thirdmost=rows)
    if spec.mvn is not None and kernel == MVN_ACROSS_CHANNELS:
        # Across channels the rows are the outermost axis; the thirdmost (channels) is selected.
        return mvn_us(spec.mvn.across_channels, spec.mvn.vector, spec.mvn.unroll, row_elements, rows,
                      outermost=rows, thirdmost=1)
    raise ValueError(f"no row model for SHAVE kernel {kernel!r}")


def softmax_us(model: SoftmaxRows, row_elements: int, rows: int) -> tuple[float, float]:
    """VPUNN SoftmaxModel::getMicroSeconds: one row costs the single-row line; more rows use the
    line pair of the largest listed power of two dividing the row count."""
    if rows == 1:
        slope, intercept = model.single_row
        return intercept, slope * row_elements
    k = max(m for m in model.rows_multiple_of if rows % m == 0)
    a, b, c, d = model.rows_multiple_of[k]
    top = max(model.rows_multiple_of)
    normalized_rows = rows if k == top else rows // top * top + k
    return c * row_elements + d, (a * row_elements + b) * normalized_rows


def mvn_us(shape: MvnShape, vector: int, unroll: int, row_elements: int, rows: int,
           outermost: int, thirdmost: int) -> tuple[float, float]:
    """VPUNN MVNSimple2and3AxisModel::getMicroSeconds, split into its fixed and per-row parts."""
    block = vector * unroll
    tail = row_elements % vector if row_elements >= vector else row_elements % vector - 1
    per_row = (shape.support_slope * (row_elements // block)
               + shape.mod_slope * ((row_elements % block) // vector)
               + shape.vector_slope * tail)
    launch = shape.base_slope * outermost + shape.base_intercept
    work = (thirdmost - 1) * shape.thirdmost_slope * outermost + per_row * rows
    return launch, max(0.0, work)


def row_kernel_cycles(spec: ShaveSpec, kernel: str | None, row_elements: int,
                      rows: int) -> tuple[int, int]:
    """(launch, work) SHAVE cycles of one launch on one SHAVE core."""
    launch_us, work_us = row_kernel_us(spec, kernel, row_elements, rows)
    return round(launch_us * spec.frequency_mhz), math.ceil(work_us * spec.frequency_mhz)


def shave_pricing(spec: ShaveSpec, op_class: str | None, kernel: str | None, row_elements: int) -> str:
    """One line saying which SHAVE model prices an op on this part (for ``explain``)."""
    if row_elements and has_row_model(spec, kernel):
        name = "softmax" if kernel == SOFTMAX else "MVN " + (
            "across channels (3 axes)" if kernel == MVN_ACROSS_CHANNELS else "per channel (2 axes)")
        return (f"SHAVE: VPUNN's {name} model over rows of {row_elements:,} elements, each tile's rows "
                f"shared by its {spec.cores_per_tile} SHAVE cores")
    if kernel and kernel in spec.kernels:
        k = spec.kernels[kernel]
        return (f"SHAVE: profiled kernel {kernel!r}, {k.intercept_cycles:,.0f} cycles per launch + "
                f"{k.cycles_per_element:g} cycles per fp16 element on one SHAVE core")
    per = spec.cycles_per_element.get(op_class or "generic", 0.0)
    return (f"SHAVE: op class {op_class or 'generic'!r}, {per:g} cycles per element per vector lane "
            f"({spec.vector_lanes_fp16} lanes) + {spec.launch_overhead_cycles:,} per launch (assumed)")

