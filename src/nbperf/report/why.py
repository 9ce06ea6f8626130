"""Why a layer takes the time it does: one short sentence per layer, from its timed task.

``bound`` says which resource limits a layer; this says why, in the terms an engineer would check
next: MAC utilisation and what pads it (channels to the 16-channel block, a ConvTranspose's
zero-inserted input), the engine limit inside the DPU (MACs, CMX reads, the PPE), the bytes a DMA
moves and at what bandwidth, or the layout move before the layer.
"""

from __future__ import annotations

from nbperf.arch.model import ArchSpec
from nbperf.lower.npu_ops import DpuKind, DpuWork
from nbperf.schedule.timeline import Bound, TimedTask

CHANNEL_BLOCK = 16  # the DPU computes output and input channels in blocks of 16 (compiler, VPUNN)
_LIMITS = {"mac": "MAC array", "cmx-read": "CMX read bandwidth", "ppe": "output (PPE) rate"}


def _bytes(n: float) -> str:
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


def _pad(channels: int) -> int:
    return -(-channels // CHANNEL_BLOCK) * CHANNEL_BLOCK


def channel_padding_share(work: DpuWork | None) -> float:
    """Share of the DPU's MAC slots spent on channel padding: input and output channels of a conv
    or matmul each padded to the 16-channel block (a 56->1 conv computes 64->16), the channels
    of a depthwise conv or pooling; 0 for element-wise ops and non-DPU ops."""
    if work is None or work.kind is DpuKind.ELTWISE or not work.out_k:
        return 0.0
    if work.kind in (DpuKind.CONV, DpuKind.MATMUL):
        return 1 - work.in_k * work.out_k / (_pad(work.in_k) * _pad(work.out_k))
    return 1 - work.out_k / _pad(work.out_k)


def why(task: TimedTask, arch: ArchSpec) -> str:
    """One line: ``compute: 1% MAC utilisation, 56->1 channels padded to 64->16 (95% of MAC
    slots), ...``."""
    ddr_bandwidth_gbps = arch.dma.ddr_bandwidth_gbps
    op, compute, bound = task.op, task.compute, task.bound
    if bound is Bound.COMPUTE:
        parts = []
        if compute.mac_utilisation is not None:
            parts.append(f"{100 * compute.mac_utilisation:.0f}% MAC utilisation")
        work = task.candidate.work or op.dpu
        if work is not None and work.kind is not DpuKind.ELTWISE:
            padding = channel_padding_share(work)
            if padding:
                parts.append(f"{work.in_k}->{work.out_k} channels padded to {_pad(work.in_k)}->"
                             f"{_pad(work.out_k)} ({100 * padding:.0f}% of MAC slots)")
            if work.kind is DpuKind.DWCONV:
                parts.append("depthwise (one input channel per output)")
        if op.lowering and op.engine.value == "DPU":
            parts.append(op.lowering)
            if work is not None and work.input_sparsity:
                ratio = arch.dpu.input_sparsity_ratio(work.input_sparsity, op.precision)
                parts.append(f"the DPU skips them, {ratio:.2f}x the dense MAC cycles" if ratio < 1 else
                             "this part's DPU gains nothing from sparse inputs (dpu.input_sparsity_cycles)")
        elif op.op_type == "ConvTranspose":
            parts.append("computed densely over the zero-inserted input")
        if compute.limit in _LIMITS and compute.limit != "mac":
            parts.append(f"bound by the DPU's {_LIMITS[compute.limit]}")
        if op.engine.value == "SHAVE":
            parts.append(f"SHAVE kernel {op.shave_kernel or op.shave_class or 'generic'}")
        return "compute: " + (", ".join(parts) or op.engine.value)
    if bound is Bound.OVERHEAD:
        return (f"overhead: task and workload set-up is {compute.overhead_cycles:,} of {compute.cycles:,} "
                "cycles")
    if bound is Bound.DMA_WEIGHTS:
        return (f"DMA: {_bytes(task.weight_ddr_bytes)} of weights from DDR at {ddr_bandwidth_gbps:g} GB/s "
                f"take longer than the {compute.ns / 1e3:,.2f} us of compute")
    if bound is Bound.DMA_ACTIVATIONS:
        moved = task.act_in_ddr_bytes + task.act_out_ddr_bytes
        return f"DMA: {_bytes(moved)} of activations streamed or spilled through DDR"
    if bound is Bound.DMA_COPY:
        copy = f"data movement: the op is a copy of {_bytes(op.output_bytes)}"
        return f"{copy} ({op.lowering})" if op.lowering else copy
    if bound is Bound.TRANSITION:
        moved = task.transition_ddr_bytes + task.transition_cmx_bytes
        return f"layout transition: {_bytes(moved)} moved into the layout {task.candidate.label} needs first"
    return bound.value
