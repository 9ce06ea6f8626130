"""Chrome trace-event JSON of an emulation, as ui.perfetto.dev and chrome://tracing open it.

One process per tile with a DPU and a SHAVE track, one process for the DMA channels, counter
tracks of CMX bytes in use per tile, and a barrier track showing when tasks waited for a free
hardware barrier. Times are microseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbperf.errors import UsageError
from nbperf.report.atomic import write_text_atomic
from nbperf.report.records import provenance_record
from nbperf.result import Estimate
from nbperf.schedule.emulator import Emulation

DMA_PID = 1000
BARRIER_PID = 1001


def _us(ns: float) -> float:
    return round(ns / 1e3, 4)


def cmx_timeline(em: Emulation, tile: int) -> list[tuple[float, int]]:
    """(time ns, bytes in use) steps of one tile: a buffer counts from its first writer's start
    to its last user's end."""
    steps: list[tuple[float, int]] = []
    for buf in em.graph.buffers:
        if not buf.on_tile(tile) or not buf.writers:
            continue
        users = buf.writers + buf.readers
        begin = min(em.times[w].start_ns for w in buf.writers)
        end = max(em.times[u].end_ns for u in users)
        steps += [(begin, buf.size), (end, -buf.size)]
    steps.sort(key=lambda s: (s[0], s[1]))  # frees before allocations at the same instant
    level, out = 0, []
    for time, delta in steps:
        level += delta
        out.append((time, level))
    return out


def trace_events(estimate: Estimate) -> dict[str, Any]:
    em = estimate.emulation
    if em is None:
        raise UsageError("--trace needs --schedule emulator: the layer-serial schedule has no per-engine "
                         "timeline")
    events: list[dict[str, Any]] = []
    tiles = estimate.arch.tiles
    for tile in range(tiles):
        events.append({"ph": "M", "name": "process_name", "pid": tile, "args": {"name": f"tile {tile}"}})
        events.append({"ph": "M", "name": "thread_name", "pid": tile, "tid": 0, "args": {"name": "DPU"}})
        events.append({"ph": "M", "name": "thread_name", "pid": tile, "tid": 1, "args": {"name": "SHAVE"}})
    events.append({"ph": "M", "name": "process_name", "pid": DMA_PID, "args": {"name": "DMA"}})
    for c in range(estimate.arch.dma.channels):
        events.append({"ph": "M", "name": "thread_name", "pid": DMA_PID, "tid": c,
                       "args": {"name": f"channel {c}"}})
    events.append({"ph": "M", "name": "process_name", "pid": BARRIER_PID, "args": {"name": "barriers"}})
    for task, time in zip(em.graph.tasks, em.times, strict=True):
        if time.engine.startswith("DMA"):
            places = [(DMA_PID, int(time.engine[3:]))]
        else:  # a gang shows on each of its tiles
            tid = 0 if time.engine.startswith("DPU") else 1
            places = [(tile, tid) for tile in range(task.tile or 0, (task.tile or 0) + task.width)]
        args = {"layer": task.layer, "role": task.role}
        if task.nbytes:
            args["bytes"] = task.nbytes
        for pid, tid in places:
            events.append({"ph": "X", "name": task.name, "cat": task.role, "pid": pid, "tid": tid,
                           "ts": _us(time.start_ns), "dur": _us(time.end_ns - time.start_ns), "args": args})
        if time.barrier_wait_ns > 0:
            events.append({"ph": "X", "name": f"wait for barrier: {task.name}", "cat": "barrier",
                           "pid": BARRIER_PID, "tid": 0, "ts": _us(time.start_ns - time.barrier_wait_ns),
                           "dur": _us(time.barrier_wait_ns)})
    for tile in range(tiles):
        for time_ns, level in cmx_timeline(em, tile):
            events.append({"ph": "C", "name": "CMX bytes in use", "pid": tile, "ts": _us(time_ns),
                           "args": {"bytes": level}})
    barrier_steps = sorted([(a, 1) for a, _, _ in em.barrier_intervals]
                           + [(r, -1) for _, r, _ in em.barrier_intervals])
    level = 0
    for time_ns, delta in barrier_steps:
        level += delta
        events.append({"ph": "C", "name": "barriers in flight", "pid": BARRIER_PID, "ts": _us(time_ns),
                       "args": {"barriers": level}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"model": estimate.model, **provenance_record(estimate),
                          "latency_ms": round(estimate.latency_ms, 6)}}


def write_trace(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(trace_events(estimate)) + "\n")
