"""The architecture description: a validated pydantic model of one NPU part.

Units are in the field names. Every preset under ``presets/`` fills every field, each with a
comment naming its public source or saying ``assumed``. Unknown keys are rejected, so a typo
in a user's YAML is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Precision = Literal["int8", "fp16"]
PRECISION_BYTES: dict[str, int] = {"int8": 1, "fp16": 2}  # bytes of one element in CMX

# SHAVE op classes: each costs a different number of cycles per element (see ShaveSpec).
SHAVE_OP_CLASSES = ("elementwise", "activation", "transcendental", "softmax", "normalization",
                    "reduction", "resize", "gather", "generic")
# DPU op classes: the kinds of DPU task the lowering makes (``nbperf.lower.npu_ops.DpuKind``).
DPU_OP_CLASSES = ("conv", "dwconv", "matmul", "eltwise", "pool")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_GridSide = Annotated[int, Field(ge=1, le=4096)]  # one side of an MPE read grid


class MpeMode(_Strict):
    """One DPU execution mode: the output block the MPE grid processes at once.

    Output width, height and channels of a workload are padded up to multiples of the block,
    and that padding is lost MAC utilisation.
    """

    name: str
    block_w: int = Field(ge=1, le=64)
    block_h: int = Field(ge=1, le=64)
    block_k: int = Field(ge=1, le=256)
    precisions: tuple[Precision, ...] = ("int8", "fp16")
    read_grid: tuple[_GridSide, _GridSide, _GridSide] | None = Field(
        default=None, description="(W, H, K) grid in which the DPU re-reads activations (per K block) and "
                                  "weights (per W x H block) from CMX; None: no CMX-read bound")


class DpuSpec(_Strict):
    dpus_per_tile: int = Field(ge=1, le=64)
    macs_per_tile: int = Field(ge=16, le=1_048_576, description="int8 MACs per cycle, all DPUs of a tile")
    fp16_rate: float = Field(ge=1 / 1024, le=1, description="fp16 MAC rate relative to int8")
    frequency_mhz: float = Field(ge=1, le=10_000)
    input_channel_block: int = Field(ge=1, le=256, description="input channels are padded to this")
    ppe_elements_per_cycle: int = Field(ge=1, le=4096, description="element-wise throughput of the PPE")
    eltwise_bytes_per_cmx_cycle: int = Field(default=64, ge=1, le=65_536, description=(
        "output bytes an element-wise DPU op writes per CMX clock on one tile (half when written to "
        "several tiles)"))
    mpe_modes: tuple[MpeMode, ...] = Field(min_length=1)
    max_workloads_per_task: int = Field(
        ge=1, le=1024, description="most workloads the compiler splits one tile's DPU task into (it picks "
                                   "the cheapest split up to this many; 1: one workload per tile)")
    workload_overhead_cycles: int = Field(ge=0, le=1_000_000)
    depthwise_channels: tuple[int, ...] = Field(default=(), description=(
        "output channels a depthwise or pooling workload may have, largest first; wider ones are "
        "split into these (empty: any multiple of 16)"))
    task_overhead_cycles: int = Field(ge=0, le=10_000_000)
    accumulator_contexts: int | None = Field(default=None, ge=1, le=4096, description=(
        "partial-sum contexts the MPE holds, each one output block (block_w x block_h x block_k) of "
        "its mode; every mode's read grid holds this many (none: as each read_grid says). Fewer "
        "contexts shrink the grid, first in output channels, so activations are re-read more often"))
    unswizzled_cycles: dict[Literal["conv", "dwconv", "matmul", "eltwise", "pool"],
                            Annotated[float, Field(ge=1, le=10)]] = Field(
        default_factory=dict, description=(
            "DPU cycles of each task kind when activation swizzling is off, relative to swizzled (the "
            "cost model prices swizzled operands; no entry: 1)"))
    weight_sparsity_cycles: tuple[tuple[float, float], ...] = Field(default=(), description=(
        "MAC cycles of a conv or matmul with compressed weights relative to dense, at weight "
        "sparsities (sparsity, ratio), ascending; linear between, flat past the last (empty: no gain)"))
    input_sparsity_cycles: dict[Precision, tuple[tuple[float, float], ...]] = Field(
        default_factory=dict, description=(
            "MAC cycles of a conv or matmul whose input activations arrive sparse (with a sparsity map), "
            "relative to dense, per precision, as (sparsity, ratio) points like weight_sparsity_cycles "
            "(no entry: the DPU gains nothing from sparse inputs, and nbperf keeps them dense)"))

    def read_grid(self, mode: MpeMode) -> tuple[int, int, int] | None:
        """``mode``'s CMX read grid (W, H, K) with ``accumulator_contexts`` partial-sum contexts.

        The grid is the output the accumulators hold while the DPU streams one pass of inputs and
        weights, so it holds as many output blocks as there are contexts. A change of contexts
        scales the grid's channels first (the compiler's and VPUNN's modes differ only in that
        split, dpu_types_info.h mpe_mode_to_nthw_ntk_grid), never below one block, then its rows
        and columns.
        """
        grid = mode.read_grid
        if grid is None or self.accumulator_contexts is None:
            return grid
        grid_w, grid_h, grid_k = grid
        block = mode.block_w * mode.block_h * mode.block_k
        held = max(1, grid_w * grid_h * grid_k // block)
        if self.accumulator_contexts == held:
            return grid
        outputs = self.accumulator_contexts * block
        scaled_k = grid_k * self.accumulator_contexts // held
        channels = max(mode.block_k, scaled_k // mode.block_k * mode.block_k)
        spatial = max(1, outputs // channels)
        rows = max(mode.block_h, min(grid_h, spatial // grid_w))
        columns = max(mode.block_w, min(grid_w, spatial // rows))
        return columns, rows, channels

    def weight_sparsity_ratio(self, sparsity: float) -> float:
        """MAC cycles relative to dense at weight ``sparsity`` (the curve from (0, 1) through the points)."""
        return _curve_ratio(self.weight_sparsity_cycles, sparsity)

    def input_sparsity_ratio(self, sparsity: float, precision: Precision) -> float:
        """MAC cycles relative to dense when the input activations are ``sparsity`` zeros."""
        return _curve_ratio(self.input_sparsity_cycles.get(precision, ()), sparsity)

    @model_validator(mode="after")
    def _sparsity_curves(self) -> DpuSpec:
        curves = {"weight_sparsity_cycles": self.weight_sparsity_cycles,
                  **{f"input_sparsity_cycles.{p}": c for p, c in self.input_sparsity_cycles.items()}}
        for name, points in curves.items():
            if any(not (0 < s < 1 and 0 < r <= 1) for s, r in points):
                raise ValueError(f"{name} points must be (sparsity in (0, 1), ratio in (0, 1])")
            if any(b[0] <= a[0] or b[1] > a[1] for a, b in itertools.pairwise(points)):
                raise ValueError(f"{name} must ascend in sparsity and never rise in ratio")
        return self

    @model_validator(mode="after")
    def _contexts_need_a_read_grid(self) -> DpuSpec:
        if self.accumulator_contexts is not None and all(m.read_grid is None for m in self.mpe_modes):
            raise ValueError("accumulator_contexts needs an MPE mode with a read_grid "
                             "(the outputs they hold)")
        return self

    @model_validator(mode="after")
    def _depthwise_channels_descend(self) -> DpuSpec:
        counts = self.depthwise_channels
        if any(not 1 <= c <= 4096 for c in counts):
            raise ValueError("depthwise_channels must each be between 1 and 4096")
        if list(counts) != sorted(set(counts), reverse=True):
            raise ValueError("depthwise_channels must be listed largest first, each once")
        return self


def _curve_ratio(points: tuple[tuple[float, float], ...], sparsity: float) -> float:
    """A cycle ratio at ``sparsity`` on a curve from (0, 1) through ``points``, flat past the last."""
    if sparsity <= 0 or not points:
        return 1.0
    previous = (0.0, 1.0)
    for point in points:
        if sparsity <= point[0]:
            span = point[0] - previous[0]
            return previous[1] + (point[1] - previous[1]) * (sparsity - previous[0]) / span
        previous = point
    return previous[1]


class ShaveKernel(_Strict):
    """A profiled SHAVE kernel on one SHAVE core (VPUNN's per-device tables): a fixed cost per
    launch plus a cost per fp16 output element, both in SHAVE cycles."""

    intercept_cycles: float = Field(ge=0, le=10_000_000)
    cycles_per_element: float = Field(gt=0, le=100_000)


_Line = tuple[float, float]  # (slope, intercept) of a first-degree equation


class SoftmaxRows(_Strict):
    """VPUNN's softmax model for one SHAVE kernel over U rows of S elements (the softmax axis),
    in microseconds at the profiling SHAVE clock (intel/npu-nn-cost-model SoftmaxModel.h):
    U = 1 costs ``single_row``; otherwise, for the largest key k of ``rows_multiple_of`` dividing U,
    (a S + b) x U' + (c S + d) with U' = U rounded down to a multiple of 32, plus k (U when k is
    32), from the key's [a, b, c, d]."""

    single_row: _Line
    rows_multiple_of: dict[int, tuple[float, float, float, float]]

    @model_validator(mode="after")
    def _has_one(self) -> SoftmaxRows:
        if 1 not in self.rows_multiple_of:
            raise ValueError("rows_multiple_of needs an entry for 1 (any row count)")
        if any(k < 1 for k in self.rows_multiple_of):
            raise ValueError("rows_multiple_of keys must be >= 1")
        return self


class MvnShape(_Strict):
    """One of VPUNN's MVN models for normalized rows innermost (MVNModel.h
    MVNSimple2and3AxisModel), microseconds: base_slope x outermost + base_intercept +
    (thirdmost - 1) x thirdmost_slope x outermost + U x (support_slope x SV // (unroll x vector)
    + mod_slope x (SV % (unroll x vector)) // vector + vector_slope x (SV % vector)), SV the
    elements of one row, U the rows."""

    base_slope: float = Field(ge=0)
    base_intercept: float = Field(ge=0)
    thirdmost_slope: float = Field(ge=0)
    support_slope: float = Field(ge=0)
    mod_slope: float = Field(ge=0)
    vector_slope: float = Field(ge=0)


class MvnRows(_Strict):
    """VPUNN's MVN models for one SHAVE kernel: ``per_channel`` normalizes each channel over
    its spatial axes (2 axes, a layer norm after the compiler's MVN6 -> MVN1 rewrite),
    ``across_channels`` over channels and spatial axes together (3 axes)."""

    vector: int = Field(ge=1, le=1024, description="fp16 elements per SHAVE vector")
    unroll: int = Field(ge=1, le=1024, description="vectors per unrolled block")
    per_channel: MvnShape
    across_channels: MvnShape


class ShaveSpec(_Strict):
    cores_per_tile: int = Field(ge=1, le=64)
    vector_lanes_fp16: int = Field(ge=1, le=1024, description="fp16 elements per cycle per core")
    frequency_mhz: float = Field(ge=1, le=10_000)
    launch_overhead_cycles: int = Field(ge=0, le=10_000_000)
    cycles_per_element: dict[str, float] = Field(description="per op class, per vector lane")
    kernels: dict[str, ShaveKernel] = Field(default_factory=dict,
                                            description="profiled kernels by name; they replace the op class")
    softmax: SoftmaxRows | None = Field(default=None, description="softmax priced per row (not its class)")
    mvn: MvnRows | None = Field(default=None, description="mean-variance normalization priced per row")

    @model_validator(mode="after")
    def _all_classes_known(self) -> ShaveSpec:
        unknown = sorted(set(self.cycles_per_element) - set(SHAVE_OP_CLASSES))
        missing = sorted(set(SHAVE_OP_CLASSES) - set(self.cycles_per_element))
        if unknown:
            raise ValueError(f"unknown op class {unknown[0]!r}; allowed: {', '.join(SHAVE_OP_CLASSES)}")
        if missing:
            raise ValueError(f"missing op class {missing[0]!r}; required: {', '.join(SHAVE_OP_CLASSES)}")
        bad = [k for k, v in self.cycles_per_element.items() if not v > 0]
        if bad:
            raise ValueError(f"cycles_per_element.{bad[0]} must be > 0")
        return self


class CmxSpec(_Strict):
    bytes_per_tile: int = Field(ge=1024, le=1 << 34, description="CMX usable by the compiler, per tile")
    tiling_budget: float = Field(ge=0.01, le=1, description="fraction of CMX a tiling decision may fill")
    alignment_bytes: int = Field(ge=1, le=1 << 20)
    frequency_mhz: float = Field(ge=1, le=10_000)
    word_bytes: int = Field(ge=1, le=1024)
    dpu_read_ports: int = Field(ge=1, le=256, description="CMX words the DPU reads per CMX clock")
    swizzling_size_alignment_bytes: int | None = Field(default=None, ge=1, le=1 << 20, description=(
        "a swizzled buffer's size is rounded up to this (none: the part has no swizzling)"))
    swizzling_address_alignment_bytes: int | None = Field(default=None, ge=1, le=1 << 24, description=(
        "a swizzled buffer starts at a multiple of this (swizzling key 5); the compiler's CMX fit check "
        "of a DPU op places every buffer so"))

    @model_validator(mode="after")
    def _swizzling_alignments_together(self) -> CmxSpec:
        if (self.swizzling_size_alignment_bytes is None) != (self.swizzling_address_alignment_bytes is None):
            raise ValueError("swizzling_size_alignment_bytes and swizzling_address_alignment_bytes "
                             "go together")
        return self


class DmaSpec(_Strict):
    channels: int = Field(ge=1, le=64, description="DMA ports that run concurrently")
    engine_width_bytes: int = Field(ge=1, le=4096, description="bytes per DMA clock per channel")
    frequency_mhz: float = Field(ge=1, le=10_000)
    ddr_bandwidth_gbps: float = Field(ge=0.001, le=100_000, description="GB/s shared by all channels")
    ddr_latency_ns: float = Field(ge=0, le=1_000_000)
    task_overhead_ns: float = Field(ge=0, le=1_000_000)
    split_lone_transfers: bool = Field(default=False, description=(
        "a DMA that runs while another port idles is split in two halves, one per port (the NPU40XX "
        "compiler's detect-dma-split-candidate and split-dma-to-balance-load passes)"))

    @property
    def cmx_bandwidth_gbps(self) -> float:
        """CMX-to-CMX copy bandwidth of one channel (engine width x DMA clock)."""
        return self.engine_width_bytes * self.frequency_mhz / 1000.0


class CompilerSpec(_Strict):
    """Rules of the NPU compiler that nbperf emulates (multi-tile splits and tiling)."""

    soh_rows_width_multiple: int = Field(
        ge=1, le=1024, description="SOH: rows per tile are aligned up so width x rows is a multiple of this")
    sok_channel_block: int = Field(ge=1, le=1024, description="SOK splits output channels in these blocks")
    halo_mode: Literal["neighbour_read", "overlapped"] = Field(
        description="SOH halo rows: read from the neighbour tile's CMX, or written into each tile by DMA")
    pipelined_tiling_budget: float = Field(ge=0.01, le=1,
                                           description="CMX fraction per sub-tile when pipelining")
    activation_swizzling: bool = Field(default=False, description=(
        "activations written by a DPU op and read only by DPU ops are swizzled (padded in CMX, and the "
        "DPU priced as VPUNN prices swizzled operands)"))
    weights_swizzling: bool = Field(default=False, description=(
        "the weights of DPU ops other than element-wise are swizzled (padded in CMX)"))
    se_pointer_ops: bool = Field(default=False, description=(
        "storage-element pointer lowering: a ConvTranspose, and a nearest or bilinear Resize, run "
        "on the DPU reading a virtual upsampled input through an SE table and a sparsity map "
        "instead of a materialised one (the compiler's enable-se-ptrs-operations)"))
    se_size_power_of_two: bool = Field(default=False, description=(
        "a storage element spans a power-of-two number of channels (NPU 37XX's sparsity "
        "constraint); else any multiple of 16"))
    se_sparse_input: bool = Field(default=True, description=(
        "an SE ConvTranspose's inserted zeros reach the DPU marked in its sparsity map, so the "
        "input-sparsity path (dpu.input_sparsity_cycles) may skip them; false: price them as "
        "dense data (what-if)"))
    deconv_as_subpixel_conv: bool = Field(default=False, description=(
        "what-if: a strided ConvTranspose runs as a stride-1 conv with stride^2 times the output "
        "channels and kernel ceil(kernel / stride), then DepthToSpace and a crop (the sub-pixel "
        "form, no inserted zeros); npu_compiler@150e202 has no such rewrite"))
    d2s_as_transposed_conv_min_channels: int = Field(default=0, ge=0, le=8192, description=(
        "a depth-first (CRD) float DepthToSpace with at least this many output channels runs as "
        "a transposed convolution on the DPU (the compiler's D2SToTransposedConvVerifier); "
        "0: always a DMA"))
    d2s_as_transposed_conv_max_block: int = Field(default=0, ge=0, le=64, description=(
        "largest DepthToSpace block size that conversion takes (0: no limit)"))


class RuntimeSpec(_Strict):
    """How OpenVINO runs a compiled network on the part: the host's share of a synchronous
    request, and the requests in flight and tiles per request in throughput mode."""

    host_copy_gbps: float = Field(ge=0.001, le=10_000, description=(
        "host memcpy bandwidth for the network's fp32 inputs and outputs of one synchronous request"))
    throughput_requests: int = Field(ge=1, le=1024, description="requests in flight in throughput mode")
    throughput_tiles: int = Field(ge=1, le=256,
                                  description="tiles each request is compiled for in throughput mode")
    latency_hint_tiles: int | None = Field(default=None, ge=1, le=256, description=(
        "tiles the LATENCY hint compiles for by default (the compiler's performance-hint-override "
        "'efficiency'); none: every tile, as with performance-hint-override=latency"))


_TimeFactor = Annotated[float, Field(ge=0.05, le=20)]  # calibration bounds, assumed: 20x either way


class CalibrationSpec(_Strict):
    """Per-op-class compute time factors: silicon's time over the model's, fitted by ``nbperf
    calibrate`` against measured layers (1.0, or no entry: the model as it is). A factor scales the
    compute cycles of every DPU task of that kind, or SHAVE kernel of that class, overheads
    included; DMA is never scaled (its time follows the DMA fields)."""

    dpu: dict[Literal["conv", "dwconv", "matmul", "eltwise", "pool"], _TimeFactor] = Field(
        default_factory=dict, description="per DPU task kind: conv, dwconv, matmul, eltwise, pool")
    shave: dict[str, _TimeFactor] = Field(default_factory=dict, description="per SHAVE op class")
    fitted_from: str = Field(default="", description="what the factors were fitted on (nbperf calibrate)")

    @model_validator(mode="after")
    def _known_shave_classes(self) -> CalibrationSpec:
        unknown = sorted(set(self.shave) - set(SHAVE_OP_CLASSES))
        if unknown:
            raise ValueError(f"unknown SHAVE op class {unknown[0]!r}; allowed: {', '.join(SHAVE_OP_CLASSES)}")
        return self

    def dpu_factor(self, kind: str) -> float:
        return self.dpu.get(kind, 1.0)  # type: ignore[call-overload]

    def shave_factor(self, op_class: str) -> float:
        return self.shave.get(op_class, 1.0)

    @property
    def empty(self) -> bool:
        return not any(f != 1.0 for f in (*self.dpu.values(), *self.shave.values()))


class ArchSpec(_Strict):
    """One NPU part. ``name`` identifies it in reports and sweeps."""

    @model_validator(mode="after")
    def _swizzling_needs_alignments(self) -> ArchSpec:
        on = self.compiler.activation_swizzling or self.compiler.weights_swizzling
        if on and self.cmx.swizzling_size_alignment_bytes is None:
            raise ValueError("compiler swizzling needs cmx.swizzling_size_alignment_bytes and "
                             "cmx.swizzling_address_alignment_bytes (the part's swizzling alignments)")
        return self

    name: str = Field(min_length=1)
    description: str = ""
    device: Literal["VPU_2_0", "VPU_2_7", "VPU_4_0", "NPU_5_0"] | None = Field(
        default=None, description="the VPUNN device (VPUDevice) this part is, or is derived from: what "
                                  "exported workloads name and the vpunn backend prices")
    tiles: int = Field(ge=1, le=256)
    dpu: DpuSpec
    shave: ShaveSpec
    cmx: CmxSpec
    dma: DmaSpec
    compiler: CompilerSpec
    barriers: int = Field(ge=1, le=65_536, description="hardware barriers")
    inference_overhead_us: float = Field(ge=0, le=1_000_000, description="fixed cost per inference")
    runtime: RuntimeSpec
    calibration: CalibrationSpec = Field(default_factory=CalibrationSpec, description=(
        "per-op-class compute time factors fitted against measured layers (nbperf calibrate)"))

    def macs_per_cycle(self, precision: Precision) -> float:
        """Peak MACs per DPU cycle of one tile at ``precision``."""
        rate = 1.0 if precision == "int8" else self.dpu.fp16_rate
        return self.dpu.macs_per_tile * rate

    @property
    def isolated_budget_bytes(self) -> int:
        """CMX one op's buffers may fill per tile (the compiler's tiling check)."""
        return int(self.cmx.bytes_per_tile * self.cmx.tiling_budget)

    @property
    def pipelined_budget_bytes(self) -> int:
        """CMX a sub-tile plus the next sub-tile's streamed operand may fill (pipelined tiling check)."""
        return int(self.cmx.bytes_per_tile * self.compiler.pipelined_tiling_budget)

    def peak_tops(self, precision: Precision) -> float:
        """Peak tera-ops (2 ops per MAC) of the whole device at ``precision``."""
        return 2 * self.macs_per_cycle(precision) * self.tiles * self.dpu.frequency_mhz * 1e6 / 1e12
