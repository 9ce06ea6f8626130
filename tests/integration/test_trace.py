"""The Perfetto / Chrome trace: named tracks, exactly nesting slices, flows bound to slices, the end
at the reported latency, provenance metadata, byte-identical output, for both schedules."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from tests.conftest import EXAMPLES

import nbperf
from nbperf.report.trace import assign_lanes, trace_events, write_trace

CASES = {
    "resnet50-emulator": ("resnet50.onnx", {"schedule": "emulator"}),
    # two barriers: tasks wait for them, concurrently, so the waits need several lanes
    "resnet50-emulator-2-barriers": ("resnet50.onnx", {"schedule": "emulator", "barriers": 2}),
    "resnet50-serial": ("resnet50.onnx", {"arch_overrides": ["dpu.macs_per_tile=4096"]}),
    "fsrcnn-emulator": ("fsrcnn_x2_540p.onnx", {"schedule": "emulator"}),
    "fsrcnn-serial": ("fsrcnn_x2_540p.onnx", {}),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    model, kwargs = CASES[request.param]
    estimate = nbperf.estimate(EXAMPLES / model, "npu4000", **kwargs)
    return estimate, json.loads(json.dumps(trace_events(estimate)))  # as written to the file


def _ns(us: float) -> int:
    return round(us * 1000)


def _slices_by_track(events) -> dict[tuple[int, int], list[tuple[int, int]]]:
    tracks = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            tracks[e["pid"], e["tid"]].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])))
    return tracks


def _partial_overlaps(spans: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs of spans that overlap without one containing the other (a stack walk in start order)."""
    bad, stack = [], []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1][1] <= span[0]:
            stack.pop()
        if stack and span[1] > stack[-1][1]:
            bad.append((stack[-1], span))
        stack.append(span)
    return bad


def test_every_track_and_process_is_named(case):
    _, trace = case
    events = trace["traceEvents"]
    processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e["ph"] == "M" and e["name"] == "thread_name"}
    for e in events:
        if e["ph"] in "XCsf":
            assert e["pid"] in processes, e
        if e["ph"] in "Xsf" or (e["ph"] == "C" and "tid" in e):
            assert threads.get((e["pid"], e["tid"])), e
    assert all(threads.values()) and "host" in {e["args"]["name"] for e in events
                                                if e["name"] == "process_name"}


def test_slices_on_a_track_nest_exactly(case):
    _, trace = case
    for track, spans in _slices_by_track(trace["traceEvents"]).items():
        assert all(end >= start for start, end in spans), track
        assert not _partial_overlaps(spans), track


def test_times_are_whole_nanoseconds(case):
    _, trace = case
    for e in trace["traceEvents"]:
        for key in ("ts", "dur"):
            if key in e:
                assert e[key] * 1000 == pytest.approx(_ns(e[key]), abs=1e-6)
                assert len(repr(e[key]).partition(".")[2]) <= 3, e


def test_flows_join_existing_slices(case):
    estimate, trace = case
    events = trace["traceEvents"]
    tracks = _slices_by_track(events)
    ends: dict[int, dict[str, dict]] = defaultdict(dict)
    for e in events:
        if e["ph"] in "sf":
            assert e["id"] not in ends or e["ph"] not in ends[e["id"]], f"id {e['id']} used twice"
            ends[e["id"]][e["ph"]] = e
            at = _ns(e["ts"])
            assert any(start <= at <= end for start, end in tracks[e["pid"], e["tid"]]), e
    assert ends and all(set(pair) == {"s", "f"} for pair in ends.values())
    assert all(p["s"]["name"] == p["f"]["name"] and p["s"]["cat"] == p["f"]["cat"] and p["f"]["bp"] == "e"
               for p in ends.values())
    if estimate.emulation is not None:  # one flow per dependency of the task graph
        assert len(ends) == sum(len(t.deps) for t in estimate.emulation.graph.tasks)


def test_the_trace_ends_at_the_reported_latency(case):
    estimate, trace = case
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert abs(max(_ns(e["ts"]) + _ns(e["dur"]) for e in slices) - estimate.latency_ns) <= 1
    host = [e for e in slices if e["cat"] == "host"]
    assert abs(min(_ns(e["ts"]) for e in host) - estimate.schedule.makespan_ns) <= 1
    assert abs(sum(_ns(e["dur"]) for e in host) - estimate.host_ns) <= 1


def test_metadata_names_what_was_estimated(case):
    estimate, trace = case
    meta = trace["otherData"]
    assert meta["arch"] == estimate.arch_label and meta["nbperf_version"] == nbperf.__version__
    assert meta["model"] == estimate.model and meta["schedule"] == estimate.timing
    assert meta["latency_ms"] == round(estimate.latency_ms, 6)


def test_the_serial_trace_has_a_track_per_engine():
    estimate = nbperf.estimate(EXAMPLES / "fsrcnn_x2_540p.onnx")
    events = trace_events(estimate)["traceEvents"]
    names = {e["args"]["name"] for e in events if e["name"] == "thread_name" and e["pid"] == 0}
    assert {"DPU", "SHAVE", "DMA"} <= names
    layers = [e for e in events if e["ph"] == "X" and e["pid"] == 0 and e["cat"] != "transition"]
    assert [e["name"] for e in layers] == [t.op.name for t in estimate.schedule.tasks]


def test_concurrent_barrier_waits_get_lanes():
    estimate = nbperf.estimate(EXAMPLES / "resnet50.onnx", schedule="emulator", barriers=2)
    events = trace_events(estimate)["traceEvents"]
    lanes = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name" and e["pid"] == 1001}
    waits = [e for e in events if e["ph"] == "X" and e["cat"] == "barrier"]
    assert len(waits) == sum(t.barrier_wait_ns > 0 for t in estimate.emulation.times) > 0
    assert len(lanes) > 1 and sorted(lanes.values()) == [f"barrier waits {k + 1}" for k in range(len(lanes))]


def test_the_output_is_deterministic(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        write_trace(nbperf.estimate(EXAMPLES / "fsrcnn_x2_540p.onnx", schedule="emulator"), path)
    assert first.read_bytes() == second.read_bytes()


def test_lanes_nest_or_separate_overlapping_intervals():
    spans = [(0, 10), (2, 5), (4, 12), (5, 6), (10, 20), (11, 13), (0, 0), (3, 3), (12, 25), (12, 25)]
    lanes = assign_lanes(spans)
    assert lanes == [0, 0, 1, 0, 0, 0, 0, 0, 1, 1]  # (4, 12) and the (12, 25)s cross a lane-0 span
    by_lane = defaultdict(list)
    for span, lane in zip(spans, lanes, strict=True):
        by_lane[lane].append(span)
    assert all(not _partial_overlaps(group) for group in by_lane.values())
    # three waits open at once need three lanes; back-to-back ones share one
    assert assign_lanes([(0, 4), (1, 5), (2, 6), (6, 8), (8, 9)]) == [0, 1, 2, 0, 0]
    assert assign_lanes([]) == []
