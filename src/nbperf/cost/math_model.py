"""The ``math`` cost backend: closed-form compute cycles per task.

DPU: the output cube is padded to the MPE mode's block (W, H, K) and input channels to the
input-channel block; the best available mode wins; cycles = padded MACs / MACs per cycle, plus
task and workload overhead. Depthwise and pooling use one input channel of each block, so they
pay the whole block. Element-wise runs on the PPE. SHAVE: elements x cycles-per-element of the
op class / (lanes x cores) plus launch overhead.
"""

from __future__ import annotations

import math

from nbperf.arch.model import ArchSpec, MpeMode, Precision
from nbperf.cost.base import ZERO_COST, ComputeCost
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuOp


def _pad(value: int, block: int) -> int:
    return -(-value // block) * block


def padded_outputs(work: DpuWork, mode: MpeMode) -> int:
    """Output elements the MPE grid computes for ``work`` in ``mode``, padding included."""
    if work.flat_spatial:
        spatial = _pad(work.out_w * work.out_h, mode.block_w * mode.block_h)
    else:
        spatial = _pad(work.out_w, mode.block_w) * _pad(work.out_h, mode.block_h)
    return work.batch * spatial * _pad(work.out_k, mode.block_k)


def dpu_mac_cycles(work: DpuWork, mode: MpeMode, arch: ArchSpec, precision: Precision) -> int:
    """MAC-array cycles of ``work`` in ``mode`` without overheads."""
    if work.kind is DpuKind.ELTWISE:
        return math.ceil(work.out_elements / arch.dpu.ppe_elements_per_cycle)
    block = arch.dpu.input_channel_block
    depth = _pad(work.in_k, block) if work.kind in {DpuKind.CONV, DpuKind.MATMUL} else block
    macs = padded_outputs(work, mode) * work.kernel_h * work.kernel_w * depth
    return math.ceil(macs / arch.macs_per_cycle(precision))


def best_mode(work: DpuWork, arch: ArchSpec, precision: Precision) -> tuple[MpeMode, int]:
    """The MPE mode with the fewest cycles (ties: the first listed), and those cycles."""
    modes = [m for m in arch.dpu.mpe_modes if precision in m.precisions] or list(arch.dpu.mpe_modes)
    scored = [(dpu_mac_cycles(work, m, arch, precision), i, m) for i, m in enumerate(modes)]
    cycles, _, mode = min(scored, key=lambda s: (s[0], s[1]))
    return mode, cycles


class MathBackend:
    """Closed-form per-task costs; deterministic and fast (the default backend)."""

    name = "math"

    def compute(self, op: NpuOp, arch: ArchSpec) -> ComputeCost:
        if op.engine is Engine.DPU and op.dpu is not None:
            return self._dpu(op, op.dpu, arch)
        if op.engine is Engine.SHAVE:
            return self._shave(op, arch)
        return ZERO_COST

    def _dpu(self, op: NpuOp, work: DpuWork, arch: ArchSpec) -> ComputeCost:
        mode, mac_cycles = best_mode(work, arch, op.precision)
        dpu = arch.dpu
        overhead = dpu.task_overhead_cycles + dpu.workloads_per_task * dpu.workload_overhead_cycles
        cycles = mac_cycles + overhead
        utilisation = None
        if op.macs:
            utilisation = op.macs / (cycles * arch.macs_per_cycle(op.precision))
        return ComputeCost(cycles=cycles, clock_mhz=arch.dpu.frequency_mhz, overhead_cycles=overhead,
                           mpe_mode=mode.name, mac_utilisation=utilisation)

    def _shave(self, op: NpuOp, arch: ArchSpec) -> ComputeCost:
        spec = arch.shave
        lanes = spec.vector_lanes_fp16 * (2 if op.precision == "int8" else 1) * spec.cores_per_tile
        per_element = spec.cycles_per_element[op.shave_class or "generic"]
        cycles = spec.launch_overhead_cycles + math.ceil(op.elements * per_element / lanes)
        return ComputeCost(cycles=cycles, clock_mhz=spec.frequency_mhz,
                           overhead_cycles=spec.launch_overhead_cycles)
