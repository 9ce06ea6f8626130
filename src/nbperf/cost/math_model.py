"""The ``math`` cost backend: closed-form cycles of one workload on one DPU.

A workload's cycles are the largest of three bounds, as in VPUNN's theoretical DPU cost
(``dpu_theoretical_cost_provider.h`` in intel/npu-nn-cost-model):

- MAC array: the output cube is padded to the MPE mode's block (W, H, K) and input channels to
  the input-channel block; cycles = padded MACs / MACs per cycle of one DPU (fp16 at the arch's
  fp16 rate). Depthwise and pooling use one input channel of each block, so they pay the whole
  block. Element-wise ops have no MAC term: they run on the PPE.
- CMX reads: the DPU re-reads the activations once per block of output channels and the weights
  once per spatial block of the mode's read grid (the outputs its accumulator contexts hold),
  ``read_ports`` CMX words per CMX clock (VPUNN ``cmx_reads``; converted from CMX to DPU clock cycles).
- PPE / ODU: every output element passes the PPE, ``ppe_elements_per_cycle`` per DPU cycle; an
  element-wise op writes ``eltwise_bytes_per_cmx_cycle`` output bytes per CMX clock; a broadcast
  output (written to several tiles) halves either rate (VPUNN: ELTWISE_MT = CHW / (64/2)).

The best MPE mode is the one with the fewest cycles (ties: the first listed). SHAVE: elements x
cycles per element of the op class / (lanes x cores).
"""

from __future__ import annotations

import math

from nbperf.arch.model import PRECISION_BYTES, ArchSpec, MpeMode, Precision
from nbperf.cost.shave_rows import has_row_model, row_kernel_cycles
from nbperf.cost.workload import DpuWorkload, ShaveWorkload, WorkloadCost
from nbperf.lower.npu_ops import DpuKind, DpuWork


def _pad(value: int, block: int) -> int:
    return -(-value // block) * block


def padded_outputs(work: DpuWork, mode: MpeMode) -> int:
    """Output elements the MPE grid computes for ``work`` in ``mode``, padding included."""
    if work.flat_spatial:
        spatial = _pad(work.out_w * work.out_h, mode.block_w * mode.block_h)
    else:
        spatial = _pad(work.out_w, mode.block_w) * _pad(work.out_h, mode.block_h)
    return work.batch * spatial * _pad(work.out_k, mode.block_k)


def macs_per_dpu_cycle(arch: ArchSpec, precision: Precision) -> float:
    """Peak MACs per cycle of one DPU of a tile."""
    return arch.macs_per_cycle(precision) / arch.dpu.dpus_per_tile


def dpu_mac_cycles(work: DpuWork, mode: MpeMode, arch: ArchSpec, precision: Precision) -> int:
    """MAC-array cycles of ``work`` on one DPU in ``mode`` (0 for element-wise: no MACs)."""
    if work.kind is DpuKind.ELTWISE:
        return 0
    block = arch.dpu.input_channel_block
    depth = _pad(work.in_k, block) if work.kind in {DpuKind.CONV, DpuKind.MATMUL} else block
    macs = padded_outputs(work, mode) * work.kernel_h * work.kernel_w * depth
    cycles = macs / macs_per_dpu_cycle(arch, precision)
    if work.weight_sparsity:  # compressed weights: the MAC array skips zero weights, with a ceiling
        cycles *= arch.dpu.weight_sparsity_ratio(work.weight_sparsity)
    if work.input_sparsity:  # sparse input activations: skipped where the arch's DPU gains from them
        cycles *= arch.dpu.input_sparsity_ratio(work.input_sparsity, precision)
    return math.ceil(cycles)


def cmx_read_cycles(work: DpuWork, mode: MpeMode, arch: ArchSpec, precision: Precision) -> int:
    """DPU cycles to read the workload's activations and weights from CMX (0 without a read grid).

    Activations are read once per block of ``grid_k`` output channels; weights once per
    ``grid_w`` x ``grid_h`` spatial block. Depthwise and pooling read only their own channel.
    """
    grid = arch.dpu.read_grid(mode)
    if grid is None or work.kind is DpuKind.ELTWISE:
        return 0
    grid_w, grid_h, grid_k = grid
    window = work.kernel_h * work.kernel_w
    per_channel = work.kind in {DpuKind.DWCONV, DpuKind.POOL}
    if work.flat_spatial:
        spatial_blocks = math.ceil(work.out_w * work.out_h / (grid_w * grid_h))
    else:
        spatial_blocks = math.ceil(work.out_w / grid_w) * math.ceil(work.out_h / grid_h)
    spatial = work.out_w * work.out_h
    if per_channel:
        act = spatial * work.out_k * window
        weights = 0 if work.kind is DpuKind.POOL else spatial_blocks * work.out_k * window
    else:
        act = math.ceil(work.out_k / grid_k) * spatial * work.in_k * window
        weights = spatial_blocks * work.out_k * work.in_k * window
    weight_bytes = _stored(weights, PRECISION_BYTES[precision], work.weight_sparsity)
    act_bytes = act * PRECISION_BYTES[precision]
    if work.input_sparsity and arch.dpu.input_sparsity_ratio(work.input_sparsity, precision) < 1:
        act_bytes = _stored(act, PRECISION_BYTES[precision], work.input_sparsity)
    nbytes = work.batch * (act_bytes + weight_bytes)
    cmx_cycles = math.ceil(nbytes / (arch.cmx.word_bytes * arch.cmx.dpu_read_ports))
    return math.ceil(cmx_cycles * arch.dpu.frequency_mhz / arch.cmx.frequency_mhz)


def _stored(values: int, value_bytes: int, sparsity: float) -> float:
    """Bytes of ``values`` as read: dense, or with ``sparsity`` the non-zero values and a
    one-bit-per-value sparsity map."""
    if not sparsity:
        return values * value_bytes
    return values * value_bytes * (1 - sparsity) + values / 8


def ppe_cycles(work: DpuWork, arch: ArchSpec, output_write_tiles: int, precision: Precision) -> int:
    """DPU cycles for the PPE/ODU to write the outputs; a multi-tile (broadcast) write has half the
    rate. An element-wise op is bound by its output bytes at ``eltwise_bytes_per_cmx_cycle`` per
    CMX clock (VPUNN: "ELTWISE_ST = (C*H*W)/64 ... The 64 is 64 Bytes per clock at the slow CMX
    frequency", dpu_theoretical_cost_provider.h), so fp16 takes twice int8's time; other ops by
    their output elements at ``ppe_elements_per_cycle`` per DPU clock."""
    multi = 2 if output_write_tiles > 1 else 1
    if work.kind is DpuKind.ELTWISE:
        per_dpu = arch.dpu.eltwise_bytes_per_cmx_cycle / arch.dpu.dpus_per_tile / multi
        cmx_cycles = math.ceil(work.out_elements * PRECISION_BYTES[precision] / per_dpu)
        return math.ceil(cmx_cycles * arch.dpu.frequency_mhz / arch.cmx.frequency_mhz)
    rate = arch.dpu.ppe_elements_per_cycle / arch.dpu.dpus_per_tile / multi
    return math.ceil(work.out_elements / rate)


def best_mode(work: DpuWork, arch: ArchSpec, precision: Precision) -> tuple[MpeMode, int, str]:
    """The MPE mode with the fewest cycles (ties: the first listed), its cycles and their bound."""
    modes = [m for m in arch.dpu.mpe_modes if precision in m.precisions] or list(arch.dpu.mpe_modes)
    best: tuple[int, int, MpeMode, str] | None = None
    for i, mode in enumerate(modes):
        mac = dpu_mac_cycles(work, mode, arch, precision)
        read = cmx_read_cycles(work, mode, arch, precision)
        cycles, limit = (read, "cmx-read") if read > mac else (mac, "mac")
        if best is None or (cycles, i) < best[:2]:
            best = (cycles, i, mode, limit)
    assert best is not None  # an arch has at least one mode (validated)
    return best[2], best[0], best[3]


class MathBackend:
    """Closed-form per-workload costs; deterministic and fast (the default backend)."""

    name = "math"
    cache_key = "math"  # no configuration: every instance prices alike

    def dpu_workload(self, workload: DpuWorkload, arch: ArchSpec) -> WorkloadCost:
        work = workload.work
        mode, cycles, limit = best_mode(work, arch, workload.precision)
        ppe = ppe_cycles(work, arch, workload.output_write_tiles, workload.precision)
        if ppe > cycles:
            cycles, limit = ppe, "ppe"
        if not workload.swizzled:  # the bounds above are VPUNN's swizzled figures
            cycles = math.ceil(cycles * arch.dpu.unswizzled_cycles.get(work.kind.value, 1.0))
        return WorkloadCost(cycles=cycles, mpe_mode=None if work.kind is DpuKind.ELTWISE else mode.name,
                            limit=limit)

    def shave_workload(self, workload: ShaveWorkload, arch: ArchSpec) -> int:
        """SHAVE cycles of one launch's work, its cores sharing the elements. Precision does not
        change it: VPUNN profiles every VPU 2.7 / 4.0 kernel in fp16 only and no source says a
        SHAVE runs int8 faster (src/shave/CMakeLists.txt:99,117 in intel/npu-nn-cost-model)."""
        spec = arch.shave
        if workload.row_elements and has_row_model(spec, workload.kernel):
            # Rows are dealt to the cores; each core's launch covers its share.
            rows = math.ceil(workload.rows / spec.cores_per_tile)
            return row_kernel_cycles(spec, workload.kernel, workload.row_elements, rows)[1]
        profiled = spec.kernels.get(workload.kernel) if workload.kernel else None
        if profiled is not None:
            return math.ceil(workload.elements * profiled.cycles_per_element / spec.cores_per_tile)
        lanes = spec.vector_lanes_fp16 * spec.cores_per_tile
        return math.ceil(workload.elements * spec.cycles_per_element[workload.op_class] / lanes)
