"""Why a layer takes the time it does: one short sentence per layer, from its timed task.

``bound`` says which resource limits a layer; this says why, in the terms an engineer would check
next: MAC utilisation and what pads it (channels to the 16-channel block, a ConvTranspose's
zero-inserted input), the engine limit inside the DPU (MACs, CMX reads, the PPE), the bytes a DMA
moves and at what bandwidth, or the layout move before the layer.
"""

from __future__ import annotations

from nbperf.lower.npu_ops import DpuKind
from nbperf.schedule.timeline import Bound, TimedTask

CHANNEL_BLOCK = 16  # the DPU computes output and input channels in blocks of 16 (compiler, VPUNN)
_LIMITS = {"mac": "MAC array", "cmx-read": "CMX read bandwidth", "ppe": "output (PPE) rate"}


def _bytes(n: float) -> str:
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


def why(task: TimedTask, ddr_bandwidth_gbps: float) -> str:
    """One line: ``compute: 1% MAC utilisation, 56->1 channels padded to 16``."""
    op, compute, bound = task.op, task.compute, task.bound
    if bound is Bound.COMPUTE:
        parts = []
        if compute.mac_utilisation is not None:
            parts.append(f"{100 * compute.mac_utilisation:.0f}% MAC utilisation")
        work = task.candidate.work or op.dpu
        if work is not None and work.kind is not DpuKind.ELTWISE:
            if work.out_k % CHANNEL_BLOCK or (work.in_k and work.in_k % CHANNEL_BLOCK):
                parts.append(f"{work.in_k}->{work.out_k} channels padded to {CHANNEL_BLOCK}")
            if work.kind is DpuKind.DWCONV:
                parts.append("depthwise (one input channel per output)")
        if op.op_type == "ConvTranspose":
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
        return f"data movement: the op is a copy of {_bytes(op.output_bytes)}"
    if bound is Bound.TRANSITION:
        moved = task.transition_ddr_bytes + task.transition_cmx_bytes
        return f"layout transition: {_bytes(moved)} moved into the layout {task.candidate.label} needs first"
    return bound.value
