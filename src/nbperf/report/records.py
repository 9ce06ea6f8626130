"""Plain records of an estimate: the one place report formats get their numbers from.

JSON, CSV and the terminal table all read these, so they always agree. Floats are rounded
to fixed digits so the same inputs give byte-identical files.
"""

from __future__ import annotations

from typing import Any

from nbperf.cost.dma import ns_to_dma_cycles
from nbperf.cost.inventory import LayerSources
from nbperf.report.why import channel_padding_share, why
from nbperf.result import Estimate, dense_weight_ddr_bytes
from nbperf.schedule.timeline import TimedTask
from nbperf.version import __version__

# 2: schedule kinds, layer layout/tiling/spill (issue 9); 3: precision_reason, modes; 4: latency_hint;
# 5: inner_chunks, batch_groups; 6: arch with its overrides, provenance; 7: layer why; 8: cost sources;
# 9: weight compression (layer weight_dense_bytes, weight_sparsity; provenance weight_sparsity_assumed);
# 10: activation sparsity (layer input_sparsity, provenance activation_sparsity), per-layer weight shares,
# swizzling (layer cmx_fit_bytes_per_tile, swizzled), weight_ddr_dense_bytes, weight_zero_blocks;
# 11: upsampling lowering (layer lowering, se_table_bytes), layer channel_padding_share
SCHEMA_VERSION = 11


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def layer_record(task: TimedTask, estimate: Estimate) -> dict[str, Any]:
    op, compute = task.op, task.compute
    return {
        "name": op.name,
        "op_type": op.op_type,
        "engine": op.engine.value,
        "precision": op.precision,
        "precision_reason": op.precision_reason,
        "strategy": task.strategy.value,
        "strategy_label": str(task.candidate.label),
        "output_distribution": task.candidate.out_dist.value,
        "tiles_used": task.tiles_used,
        "macs": op.macs,
        "weight_bytes": op.weight_bytes,
        "weight_dense_bytes": op.weight_dense_bytes or op.weight_bytes,
        "weight_sparsity": _r(op.dpu.weight_sparsity if op.dpu is not None else 0.0),
        "input_sparsity": _r(op.dpu.input_sparsity if op.dpu is not None else 0.0),
        "weight_zero_blocks": _r(op.weight_zero_blocks),
        "lowering": op.lowering,
        "se_table_bytes": op.se_table_bytes,
        "channel_padding_share": _r(channel_padding_share(task.candidate.work or op.dpu)),
        "input_bytes": op.input_bytes,
        "output_bytes": op.output_bytes,
        "weight_ddr_bytes": task.weight_ddr_bytes,
        "weight_ddr_dense_bytes": dense_weight_ddr_bytes(task, estimate.arch),
        "activation_ddr_bytes": task.ddr_bytes - task.weight_ddr_bytes,
        "transition_dma_bytes": task.transition_dma_bytes,
        "transition_ddr_bytes": task.transition_ddr_bytes,
        "cmx_bytes_per_tile": task.cmx_bytes,
        "cmx_fit_bytes_per_tile": max(task.candidate.fit_bytes_per_tile, task.cmx_bytes),
        "swizzled": list(task.candidate.swizzled),
        "subtiles": task.subtiles,
        "tiled_over": task.candidate.tiled_over.value,
        "inner_chunks": task.candidate.tiling.inner if task.candidate.tiling else 1,
        "batch_groups": task.candidate.tiling.items if task.candidate.tiling else 1,
        "pipelined": bool(task.candidate.tiling and task.candidate.tiling.pipelined),
        "compute_cycles": compute.cycles,
        "compute_clock_mhz": _r(compute.clock_mhz, 3),
        "overhead_cycles": compute.overhead_cycles,
        "dma_cycles": ns_to_dma_cycles(estimate.arch, task.dma_ns),
        "transition_us": _r(task.transition_ns / 1e3),
        "spill_us": _r(task.spill_ns / 1e3),
        "compute_us": _r(compute.ns / 1e3),
        "dma_us": _r(task.dma_ns / 1e3),
        "start_us": _r(task.start_ns / 1e3),
        "end_us": _r(task.end_ns / 1e3),
        "bound": task.bound.value,
        "why": why(task, estimate.arch),
        "compute_limit": compute.limit,
        "mpe_mode": compute.mpe_mode,
        "mac_utilisation": None if compute.mac_utilisation is None else _r(compute.mac_utilisation),
        "fused": list(op.fused),
        "unknown": op.unknown,
        "cost_source": _source(op.name, estimate).label,
        "cost_notes": list(_source(op.name, estimate).reasons),
    }


def _source(name: str, estimate: Estimate) -> LayerSources:
    """Who priced a layer: its DPU workloads' sources; SHAVE and DMA work is the math model's."""
    return estimate.cost_sources.get(name) or _MATH_ONLY


_MATH_ONLY = LayerSources({"math": 1})


def estimate_record(estimate: Estimate) -> dict[str, Any]:
    """The whole estimate as the documented JSON object (docs/json-schema.md)."""
    arch = estimate.arch
    return {
        "schema_version": SCHEMA_VERSION,
        "nbperf_version": __version__,
        "model": estimate.model,
        "arch": estimate.arch_label,
        "provenance": provenance_record(estimate),
        "tiles": arch.tiles,
        "precision": estimate.precision,
        "cost_model": estimate.cost_model,
        "schedule": {"kind": estimate.schedule.kind.value, "description": estimate.schedule.description},
        "strategy_policy": estimate.plan.policy,
        "strategy_search_exact": estimate.plan.exact,
        "mode": estimate.mode,
        "latency_ms": _r(estimate.latency_ms, 6),
        "fps": _r(estimate.fps, 3),
        "throughput_fps": _r(estimate.throughput_fps, 3),
        "throughput": throughput_record(estimate),
        "latency_hint": latency_hint_record(estimate),
        "host_us": _r(estimate.host_ns / 1e3),
        "macs": estimate.macs,
        "achieved_tops": _r(estimate.achieved_tops),
        "peak_tops": _r(arch.peak_tops("int8" if estimate.precision == "int8" else "fp16")),
        "ddr_bytes": estimate.ddr_bytes,
        "weight_ddr_bytes": estimate.weight_ddr_bytes,
        "weight_ddr_dense_bytes": estimate.weight_ddr_dense_bytes,
        "activation_ddr_bytes": estimate.activation_ddr_bytes,
        "spilled_bytes": estimate.schedule.spilled_bytes,
        "peak_cmx_bytes": estimate.schedule.peak_cmx_bytes,
        "inference_overhead_us": _r(arch.inference_overhead_us),
        "unknown_ops": list(estimate.unknown_ops),
        "cost_fallbacks": estimate.cost_fallbacks[0],
        "cost_workloads": estimate.cost_fallbacks[1],
        "cost_dma_fallbacks": estimate.dma_fallbacks[0],
        "cost_dma_transfers": estimate.dma_fallbacks[1],
        "layers": [layer_record(t, estimate) for t in estimate.schedule.tasks],
        **({"emulation": emulation_record(estimate)} if estimate.emulation is not None else {}),
    }


def provenance_record(estimate: Estimate) -> dict[str, Any]:
    """What the estimate was computed from: arch and overrides, input shapes, forced strategies,
    policy, cost model, schedule, requested precision and nbperf version."""
    if estimate.provenance is not None:
        return estimate.provenance.to_dict()
    return {"arch": estimate.arch.name, "arch_base": estimate.arch.name, "arch_overrides": [],
            "input_shapes": {}, "strategies": {}, "policy": estimate.plan.policy,
            "cost_model": estimate.cost_model, "schedule": estimate.timing, "precision_requested": None,
            "weight_sparsity_assumed": None, "activation_sparsity": None,
            "nbperf_version": __version__}


def shapes_label(shapes: dict[str, list[int]]) -> str:
    """``input.1=1x3x224x224;mask=1x128``: input shapes in the CLI's own spelling."""
    return ";".join(f"{name}={'x'.join(map(str, dims))}" for name, dims in shapes.items())


def strategies_label(prov: dict[str, Any]) -> str:
    """``all=SOK;/conv1/Conv=SOH``: forced strategies in the CLI's own spelling."""
    return ";".join(f"{k}={v}" for k, v in prov["strategies"].items())


def summary_record(estimate: Estimate, modes: bool = True) -> dict[str, Any]:
    """The whole-model figures of an estimate as one flat record: a sweep row, ``Estimate.summary()``.

    ``modes`` adds throughput mode and the -hint latency compile, each of which estimates the
    network again on fewer tiles when the arch's runtime asks for that."""
    arch, prov = estimate.arch, provenance_record(estimate)
    peak = arch.peak_tops("int8" if estimate.precision == "int8" else "fp16")
    row: dict[str, Any] = {
        "model": estimate.model,
        "arch": prov["arch"],
        "precision": estimate.precision,
        "latency_ms": _r(estimate.latency_ms, 6),
        "fps": _r(estimate.fps, 3),
        "device_ms": _r(estimate.schedule.makespan_ns / 1e6, 6),
        "host_us": _r(estimate.host_ns / 1e3),
    }
    if modes:
        row["throughput_fps"] = _r(estimate.throughput_fps, 3)
        row["latency_hint_ms"] = _r(estimate.latency_hint.latency_ms, 6)
    row.update({
        "macs": estimate.macs,
        "achieved_tops": _r(estimate.achieved_tops),
        "peak_tops": _r(peak),
        "mac_utilisation": _r(estimate.achieved_tops / peak if peak else 0.0),
        "ddr_bytes": estimate.ddr_bytes,
        "weight_ddr_bytes": estimate.weight_ddr_bytes,
        "activation_ddr_bytes": estimate.activation_ddr_bytes,
        "spilled_bytes": estimate.schedule.spilled_bytes,
        "peak_cmx_bytes": estimate.schedule.peak_cmx_bytes,
        "layers": len(estimate.schedule.tasks),
        "uncosted_ops": len(estimate.unknown_ops),
        "tiles": arch.tiles,
        "macs_per_tile": arch.dpu.macs_per_tile,
        "area_proxy_macs": arch.tiles * arch.dpu.macs_per_tile,
        "cmx_bytes_per_tile": arch.cmx.bytes_per_tile,
        "ddr_bandwidth_gbps": arch.dma.ddr_bandwidth_gbps,
        "dpu_frequency_mhz": arch.dpu.frequency_mhz,
        "input_shapes": shapes_label(prov["input_shapes"]),
        "strategies": strategies_label(prov),
        "policy": prov["policy"],
        "cost_model": prov["cost_model"],
        "cost_fallbacks": estimate.cost_fallbacks[0],
        "schedule": prov["schedule"],
        "strategy_search_exact": estimate.plan.exact,
        "nbperf_version": prov["nbperf_version"],
    })
    return row


def throughput_record(estimate: Estimate) -> dict[str, Any]:
    th = estimate.throughput
    return {"requests": th.requests, "tiles_per_request": th.tiles_per_request, "concurrent": th.concurrent,
            "request_device_ms": _r(th.request_device_ns / 1e6, 6), "bound": th.bound, "note": th.note}


def latency_hint_record(estimate: Estimate) -> dict[str, Any]:
    hint = estimate.latency_hint
    return {"tiles": hint.tiles, "latency_ms": _r(hint.latency_ms, 6), "note": hint.note}


def emulation_record(estimate: Estimate) -> dict[str, Any]:
    """Per-task timeline and resource figures of an emulated estimate."""
    em = estimate.emulation
    assert em is not None
    tg = em.graph
    span = em.makespan_ns or 1.0
    return {
        "tasks_count": len(tg.tasks),
        "peak_cmx_bytes_per_tile": tg.peak_cmx_bytes,
        "cmx_fragmentation_at_peak": [_r(f) for f in tg.fragmentation],
        "spilled_bytes": tg.spilled_bytes,
        "prefetch_depth": tg.prefetch_depth,
        "barriers_available": em.barriers_available,
        "barriers_used": em.barriers_in_flight_max,
        "virtual_barriers": em.virtual_barriers,
        "barrier_stall_us": _r(em.barrier_stall_ns / 1e3),
        "engine_utilisation": {e: _r(busy / span) for e, busy in sorted(em.engine_busy_ns.items())},
        "critical_path": [tg.tasks[i].name for i in em.critical_path],
        "tasks": [
            {"id": t.id, "name": t.name, "layer": t.layer, "kind": t.kind.value, "role": t.role.value,
             "engine": tm.engine, "tile": t.tile,
             "tiles": 0 if t.tile is None else t.width, "bytes": t.nbytes, "deps": sorted(t.deps),
             "start_us": _r(tm.start_ns / 1e3), "end_us": _r(tm.end_ns / 1e3),
             "barrier_wait_us": _r(tm.barrier_wait_ns / 1e3)}
            for t, tm in zip(tg.tasks, em.times, strict=True)
        ],
    }
