"""Plain records of an estimate: the one place report formats get their numbers from.

JSON, CSV and the terminal table all read these, so they always agree. Floats are rounded
to fixed digits so the same inputs give byte-identical files.
"""

from __future__ import annotations

from typing import Any

from nbperf import __version__
from nbperf.api import Estimate
from nbperf.cost.dma import ns_to_dma_cycles
from nbperf.schedule.timeline import TimedTask

SCHEMA_VERSION = 1


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def layer_record(task: TimedTask, estimate: Estimate) -> dict[str, Any]:
    op, compute = task.op, task.compute
    return {
        "name": op.name,
        "op_type": op.op_type,
        "engine": op.engine.value,
        "precision": op.precision,
        "strategy": task.strategy,
        "tiles_used": task.tiles_used,
        "macs": op.macs,
        "weight_bytes": op.weight_bytes,
        "input_bytes": op.input_bytes,
        "output_bytes": op.output_bytes,
        "weight_ddr_bytes": task.weight_ddr_bytes,
        "activation_ddr_bytes": task.ddr_bytes - task.weight_ddr_bytes,
        "transition_dma_bytes": task.transition_dma_bytes,
        "transition_ddr_bytes": task.transition_ddr_bytes,
        "cmx_bytes_per_tile": task.cmx_bytes,
        "subtiles": task.subtiles,
        "compute_cycles": compute.cycles,
        "compute_clock_mhz": _r(compute.clock_mhz, 3),
        "overhead_cycles": compute.overhead_cycles,
        "dma_cycles": ns_to_dma_cycles(estimate.arch, task.dma_ns),
        "transition_us": _r(task.transition_ns / 1e3),
        "compute_us": _r(compute.ns / 1e3),
        "dma_us": _r(task.dma_ns / 1e3),
        "start_us": _r(task.start_ns / 1e3),
        "end_us": _r(task.end_ns / 1e3),
        "bound": task.bound,
        "mpe_mode": compute.mpe_mode,
        "mac_utilisation": None if compute.mac_utilisation is None else _r(compute.mac_utilisation),
        "fused": list(op.fused),
        "unknown": op.unknown,
    }


def estimate_record(estimate: Estimate) -> dict[str, Any]:
    """The whole estimate as the documented JSON object (docs/json-schema.md)."""
    arch = estimate.arch
    return {
        "schema_version": SCHEMA_VERSION,
        "nbperf_version": __version__,
        "model": estimate.model,
        "arch": arch.name,
        "tiles": arch.tiles,
        "precision": estimate.precision,
        "cost_model": estimate.cost_model,
        "schedule": {"kind": estimate.schedule.kind, "description": estimate.schedule.description},
        "strategy_policy": estimate.plan.policy,
        "strategy_search_exact": estimate.plan.exact,
        "latency_ms": _r(estimate.latency_ms, 6),
        "fps": _r(estimate.fps, 3),
        "macs": estimate.macs,
        "achieved_tops": _r(estimate.achieved_tops),
        "peak_tops": _r(arch.peak_tops("int8" if estimate.precision == "int8" else "fp16")),
        "ddr_bytes": estimate.ddr_bytes,
        "weight_ddr_bytes": estimate.weight_ddr_bytes,
        "activation_ddr_bytes": estimate.activation_ddr_bytes,
        "spilled_bytes": estimate.schedule.spilled_bytes,
        "peak_cmx_bytes": estimate.schedule.peak_cmx_bytes,
        "inference_overhead_us": _r(arch.inference_overhead_us),
        "unknown_ops": list(estimate.unknown_ops),
        "layers": [layer_record(t, estimate) for t in estimate.schedule.tasks],
    }
