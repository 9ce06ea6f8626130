"""What a cost backend is asked to price: one DPU workload or one SHAVE kernel, with its context.

A DPU task on one tile is split into workloads (``cost.tasks``), like the compiler's
SplitNCEOpsOntoWorkloads pass; each workload is the unit Intel's VPUNN cost model prices
(its ``DPUWorkload``): an output cube, the reduction behind it, the kernel, the precision, and
how many tiles the PPE/ODU writes each output element to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nbperf.arch.model import Precision
from nbperf.lower.npu_ops import DpuWork

ROW_SPLITS = {"SplitOverHeight", "HKSwitch"}  # strategies whose tiles own a share of the output rows


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a workload sits in its layer, for backends that price a workload as the hardware sees
    it (its input window, padding and halo: ``cost.descriptors``). ``layer`` is the op's whole DPU
    work; ``tile_rows`` the output rows [first, end) the tile owns (under a split over height, the
    rows the tile computes; else every row); ``offset`` the workload's output origin in the layer
    as (W, H, K)."""

    layer: DpuWork
    tile_rows: tuple[int, int]
    offset: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class DpuWorkload:
    """One workload on one DPU.

    ``work`` is the workload's own output cube (``batch`` instances back to back), not the op's.
    ``output_write_tiles`` > 1 marks a broadcast output: the ODU writes every element to that many
    tiles (VPUNN's field of the same name). ``strategy`` is the multi-tile strategy of the task it
    belongs to (VPUNN's ``isi_strategy``), context a learned backend may use; ``placement`` where
    it sits in its layer (None: the workload is a whole layer of its own). ``swizzled``: its
    activations are swizzled in CMX (the part's ``compiler.activation_swizzling``).
    """

    work: DpuWork
    precision: Precision
    output_write_tiles: int = 1
    strategy: str = "Clustering"
    placement: Placement | None = None
    swizzled: bool = True


@dataclass(frozen=True, slots=True)
class ShaveWorkload:
    """One SHAVE kernel on one tile: ``elements`` of an op class at ``precision``; ``kernel`` names
    the profiled kernel it runs (see ``ShaveSpec.kernels``), if any; ``row_elements`` the elements
    of one row of a kernel priced per row (softmax, MVN: see ``cost/shave_rows.py``), else 0."""

    op_class: str
    elements: int
    precision: Precision
    kernel: str | None = None
    row_elements: int = 0

    @property
    def rows(self) -> int:
        return math.ceil(self.elements / self.row_elements) if self.row_elements else 0


@dataclass(frozen=True, slots=True)
class WorkloadCost:
    """DPU cycles of one workload (per-workload overhead excluded), the MPE mode they assume and
    what bounds them: "mac" (the MAC array), "cmx-read" (CMX read bandwidth) or "ppe" (the
    post-processing / output write path)."""

    cycles: int
    mpe_mode: str | None
    limit: str


def placement_for(layer: DpuWork, strategy: str, tile_work: DpuWork) -> Placement:
    """The placement of a tile's task in its layer: the first tile's (the busiest: the compiler's
    splits put any remainder last), its rows owned when the strategy splits rows."""
    rows = layer.out_w if layer.flat_spatial else layer.out_h
    if strategy in ROW_SPLITS:
        own = tile_work.out_w if tile_work.flat_spatial else tile_work.out_h
        return Placement(layer, (0, own))
    return Placement(layer, (0, rows))


_RESHAPE_MIN_ELEMENTS = 2048  # adjust_convolution_input_shape.cpp THRESHOLD_FOR_BENEFICIAL_CONVERSION
_SPATIAL_ALIGNMENT = 4  # VPU::NCEInvariant::VPU_SPATIAL_ALIGNMENT


def matmul_plane(rows: int, in_channels: int) -> tuple[int, int]:
    """(W, H) a matmul's rows run as. The compiler turns a matmul into a 1x1 convolution over
    W = rows, H = 1 (ConvertMatMulToConv), then folds W into H so the 4x4 MPE grid is filled
    (adjust_convolution_input_shape.cpp ReshapeConvInput: H = 4 when 4 divides W, else the largest
    factor of W up to its square root; only for inputs over 2048 elements and W of at least 8)."""
    if rows // _SPATIAL_ALIGNMENT < 2 or rows * in_channels <= _RESHAPE_MIN_ELEMENTS:
        return rows, 1
    if rows % _SPATIAL_ALIGNMENT == 0:
        return rows // _SPATIAL_ALIGNMENT, _SPATIAL_ALIGNMENT
    factor = next((f for f in range(math.isqrt(rows), 1, -1) if rows % f == 0), 1)
    return rows // factor, factor
