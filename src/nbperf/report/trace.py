"""Chrome trace-event JSON of an estimate, as ui.perfetto.dev and chrome://tracing open it.

Emulated schedule: one process per tile with a DPU and a SHAVE track and a counter of CMX bytes in
use, one process for the DMA channels, one for barriers (when tasks waited for a free hardware
barrier, and a counter of barriers in flight). Layer-serial schedule: one process with a DPU, a
SHAVE and a DMA track, each layer one slice, its input transitions and spills a slice on DMA at its
start. Both end with a host track (the runtime's fixed cost and the I/O copies), so the trace ends
at the reported latency, and draw a flow arrow for every dependency.

Every time is rounded once to an integer nanosecond and ``ts``/``dur`` are derived from those
integers (microseconds, at most 3 decimals): rounding cannot make slices overlap. Slices that do
overlap in the schedule (concurrent barrier waits) go on separate lanes, so on every track any two
slices are disjoint or nested, as Perfetto requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbperf.report.atomic import write_text_atomic
from nbperf.report.records import provenance_record
from nbperf.result import Estimate
from nbperf.schedule.emulator import Emulation

SERIAL_PID = 0  # the layer-serial schedule's process (the emulator's tiles are pids 0, 1, ...)
DMA_PID = 1000
BARRIER_PID = 1001
HOST_PID = 1002
FLOW = "dependency"  # name and cat of every flow event: Perfetto pairs "s" and "f" by (id, cat, name)


def _ns(time_ns: float) -> int:
    return round(time_ns)


def _us(ns: int) -> float:
    return ns / 1000  # exact to the ns: the nearest double to k/1000 prints with at most 3 decimals


def _fits(ends: list[int], start: int, end: int) -> bool:
    """Whether [start, end] can join a lane whose open spans end at ``ends`` (outermost first)."""
    while ends and ends[-1] <= start:  # ended: later spans start no earlier, so it stays closed
        ends.pop()
    return not ends or end <= ends[-1]  # the lane is free, or it nests in the innermost open span


def assign_lanes(spans: list[tuple[int, int]]) -> list[int]:
    """A lane (0, 1, ...) per [start, end] span so that on each lane any two spans are disjoint (touching
    is fine) or nested; first fit in order of start, the longer first at equal starts."""
    lanes = [0] * len(spans)
    open_ends: list[list[int]] = []  # per lane: the ends of its spans still open, outermost first
    for i in sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1], i)):
        start, end = spans[i]
        lane = next((k for k, ends in enumerate(open_ends) if _fits(ends, start, end)), len(open_ends))
        if lane == len(open_ends):
            open_ends.append([])
        open_ends[lane].append(end)
        lanes[i] = lane
    return lanes


@dataclass
class _Trace:
    """Slices by logical track; each track becomes one thread per lane when the events are made."""

    processes: dict[int, str] = field(default_factory=dict)
    tracks: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # -> its slices
    slices: list[dict[str, Any]] = field(default_factory=list)  # "X" events without tid, ts, dur, args
    args: list[dict[str, Any]] = field(default_factory=list)  # each slice's args
    spans: list[tuple[int, int]] = field(default_factory=list)  # each slice's [start, end] ns
    flows: list[tuple[int, int]] = field(default_factory=list)  # (from slice, to slice)
    counters: list[dict[str, Any]] = field(default_factory=list)

    def track(self, pid: int, name: str) -> tuple[int, str]:
        self.tracks.setdefault((pid, name), [])
        return pid, name

    def slice(self, track: tuple[int, str], name: str, cat: str, start: int, end: int,
              args: dict[str, Any]) -> int:
        self.tracks[self.track(*track)].append(len(self.slices))
        self.slices.append({"ph": "X", "name": name, "cat": cat, "pid": track[0]})
        self.args.append(args)
        self.spans.append((start, end))
        return len(self.slices) - 1

    def counter(self, pid: int, name: str, at: int, args: dict[str, int]) -> None:
        self.counters.append({"ph": "C", "name": name, "pid": pid, "ts": _us(at), "args": args})

    def events(self) -> list[dict[str, Any]]:
        meta = [e for pid, name in self.processes.items() for e in (
            {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}},
            {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}})]
        tid_of = [0] * len(self.slices)
        next_tid: dict[int, int] = {}
        for (pid, name), ids in self.tracks.items():
            lanes = assign_lanes([self.spans[i] for i in ids])
            count = max(lanes, default=0) + 1
            first = next_tid.get(pid, 0)
            next_tid[pid] = first + count
            for i, lane in zip(ids, lanes, strict=True):
                tid_of[i] = first + lane
            for lane in range(count):
                label = name if count == 1 else f"{name} {lane + 1}"
                meta += [{"ph": "M", "name": "thread_name", "pid": pid, "tid": first + lane,
                          "args": {"name": label}},
                         {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": first + lane,
                          "args": {"sort_index": first + lane}}]
        slices = [{**e, "tid": tid_of[i], "ts": _us(self.spans[i][0]),
                   "dur": _us(self.spans[i][1] - self.spans[i][0]), "args": self.args[i]}
                  for i, e in enumerate(self.slices)]
        flows = []
        for flow_id, (a, b) in enumerate(self.flows, start=1):
            # 1 ns inside each slice, so the flow binds to it and not to a neighbour touching it
            at_a = max(self.spans[a][0], self.spans[a][1] - 1)
            at_b = min(self.spans[b][0] + 1, self.spans[b][1])
            for ph, i, at in (("s", a, at_a), ("f", b, at_b)):
                flows.append({"ph": ph, "id": flow_id, "name": FLOW, "cat": FLOW, "bp": "e",
                              "pid": self.slices[i]["pid"], "tid": tid_of[i], "ts": _us(at)})
        return meta + slices + self.counters + flows  # flows last: bound to slices already open


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


def _emulated(trace: _Trace, estimate: Estimate, em: Emulation) -> None:
    tiles = estimate.arch.tiles
    for tile in range(tiles):
        trace.processes[tile] = f"tile {tile}"
        trace.track(tile, "DPU")
        trace.track(tile, "SHAVE")
    trace.processes[DMA_PID] = "DMA"
    for c in range(estimate.arch.dma.channels):
        trace.track(DMA_PID, f"channel {c}")
    trace.processes[BARRIER_PID] = "barriers"
    waits = trace.track(BARRIER_PID, "barrier waits")
    first_slice: list[int] = []  # per task: the slice its flows bind to (a gang's first tile)
    for task, time in zip(em.graph.tasks, em.times, strict=True):
        start, end = _ns(time.start_ns), _ns(time.end_ns)
        if time.engine.startswith("DMA"):
            places = [(DMA_PID, f"channel {int(time.engine[3:])}")]
        else:  # a gang shows on each of its tiles
            kind = "DPU" if time.engine.startswith("DPU") else "SHAVE"
            places = [(tile, kind) for tile in range(task.tile or 0, (task.tile or 0) + task.width)]
        args: dict[str, Any] = {"layer": task.layer, "role": task.role.value, "engine": time.engine}
        if task.nbytes:
            args["bytes"] = task.nbytes
        ids = [trace.slice(place, task.name, task.role.value, start, end, args) for place in places]
        first_slice.append(ids[0])
        if time.barrier_wait_ns > 0:
            trace.slice(waits, f"wait for barrier: {task.name}", "barrier",
                        _ns(time.start_ns - time.barrier_wait_ns), start, {"layer": task.layer})
    for task in em.graph.tasks:
        trace.flows += [(first_slice[d], first_slice[task.id]) for d in sorted(task.deps)]
    for tile in range(tiles):
        for time_ns, level in cmx_timeline(em, tile):
            trace.counter(tile, "CMX bytes in use", _ns(time_ns), {"bytes": level})
    steps = sorted([(_ns(a), 1) for a, _, _ in em.barrier_intervals]
                   + [(_ns(r), -1) for _, r, _ in em.barrier_intervals])
    level = 0
    for at, delta in steps:
        level += delta
        trace.counter(BARRIER_PID, "barriers in flight", at, {"barriers": level})


def _serial(trace: _Trace, estimate: Estimate) -> None:
    trace.processes[SERIAL_PID] = "NPU (layer-serial)"
    for engine in ("DPU", "SHAVE", "DMA"):
        trace.track(SERIAL_PID, engine)
    graph = estimate.graph
    producer: dict[str, int] = {}  # tensor (views resolved) -> slice of the layer writing it
    for task in estimate.schedule.tasks:
        op = task.op
        start, end = _ns(task.start_ns), _ns(task.end_ns)
        before_ns = task.transition_ns + task.spill_ns
        if before_ns > 0:  # the layer first waits for its input moves and spills, all DMA
            trace.slice((SERIAL_PID, "DMA"), f"{op.name}: transitions + spills", "transition", start,
                        _ns(min(task.start_ns + before_ns, task.end_ns)),
                        {"layer": op.name, "transition_ns": round(task.transition_ns, 3),
                         "spill_ns": round(task.spill_ns, 3)})
        me = trace.slice((SERIAL_PID, op.engine.value), op.name, op.op_type, start, end,
                         {"op_type": op.op_type, "strategy": task.strategy.value,
                          "tiles_used": task.tiles_used, "bound": task.bound.value})
        sources = {producer[t] for t in map(graph.resolve, op.inputs) if t in producer}
        trace.flows += [(src, me) for src in sorted(sources)]
        for out in op.outputs:
            producer[graph.resolve(out)] = me


def trace_events(estimate: Estimate) -> dict[str, Any]:
    """The trace of either schedule as a JSON-ready object (see the module docstring)."""
    trace = _Trace()
    if estimate.emulation is not None:
        _emulated(trace, estimate, estimate.emulation)
    else:
        _serial(trace, estimate)
    # The host's share after the device work: each boundary rounded once from the exact sums, so
    # the last slice ends at the reported latency to the ns.
    device_ns, latency_ns = estimate.schedule.makespan_ns, estimate.latency_ns
    overhead_end = min(device_ns + estimate.inference_overhead_ns, latency_ns)
    trace.processes[HOST_PID] = "host"
    host = trace.track(HOST_PID, "runtime")
    trace.slice(host, "runtime overhead", "host", _ns(device_ns), _ns(overhead_end), {})
    if latency_ns > overhead_end:
        trace.slice(host, "input and output copies", "host", _ns(overhead_end), _ns(latency_ns),
                    {"bytes": estimate.graph.host_io_bytes})
    return {"traceEvents": trace.events(), "displayTimeUnit": "ns",
            "otherData": {"model": estimate.model, **provenance_record(estimate),
                          "schedule_kind": estimate.schedule.kind.value,
                          "latency_ms": round(estimate.latency_ms, 6), "latency_ns": _ns(latency_ns),
                          "device_ns": _ns(device_ns), "host_ns": _ns(estimate.host_ns)}}


def write_trace(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(trace_events(estimate)) + "\n")
