"""The emulator: invariants of the timed task graph, bounds, resource monotonicity, errors, trace."""

from __future__ import annotations

import itertools
import json

import pytest
from tests.conftest import EXAMPLES, SHARED_MODELS

import nbperf
from nbperf.cli import main
from nbperf.cost.dma import Path, transfer_ns
from nbperf.errors import InfeasibleError
from nbperf.report.trace import cmx_timeline, trace_events
from nbperf.schedule.taskgraph import TaskKind, engine_label, task_engines

MODELS = sorted(p.name for p in SHARED_MODELS.glob("*.onnx")) or ["(shared models absent)"]
ARCHS = ("npu3720", "npu4000")


def _emulate(path, arch, **kwargs):
    return nbperf.estimate(path, arch, schedule="emulator", **kwargs)


def alone_ns(task, arch) -> float:
    """How long a task takes with the machine to itself (a DMA alone: split over the idle port
    where the arch does that)."""
    if task.kind is not TaskKind.DMA:
        return task.duration_ns
    return transfer_ns(arch, task.nbytes, task.path, permuted=task.permuted)


def check_invariants(result) -> None:
    em, arch = result.emulation, result.arch
    tasks, times = em.graph.tasks, em.times
    # 1. one task at a time per engine (a gang occupies every engine it names)
    by_engine: dict[str, list] = {}
    for t, lanes in zip(times, task_engines(tasks, arch.dma.channels), strict=True):
        for lane in lanes:
            by_engine.setdefault(lane, []).append(t)
    for engine, spans in by_engine.items():
        spans.sort(key=lambda s: s.start_ns)
        for a, b in itertools.pairwise(spans):
            assert a.end_ns <= b.start_ns + 1e-6, f"overlap on {engine}"
    # 2. every dependency ends before its consumer starts
    for task in tasks:
        for d in task.deps:
            assert times[d].end_ns <= times[task.id].start_ns + 1e-6, (tasks[d].name, task.name)
    # 3. CMX never over capacity, and no two live buffers share an address at the same time
    for tile in range(arch.tiles):
        assert max((level for _, level in cmx_timeline(em, tile)), default=0) <= arch.cmx.bytes_per_tile
    live = []
    for buf in em.graph.buffers:
        if buf.writers:
            users = buf.writers + buf.readers
            begin, end = min(times[w].start_ns for w in buf.writers), max(times[u].end_ns for u in users)
            for tile in range(buf.tile, buf.tile + buf.width):  # a distributed buffer is on each
                live.append((tile, buf.start, buf.start + buf.size, begin, end))
    live.sort()
    for i, (tile, _, hi, t0, t1) in enumerate(live):
        for other in live[i + 1:]:
            if other[0] != tile or other[1] >= hi:
                break
            assert other[4] <= t0 + 1e-6 or t1 <= other[3] + 1e-6, "two live buffers share CMX addresses"
    # 4. physical barriers in flight never exceed the arch's count
    steps = sorted([(a, 1) for a, _, _ in em.barrier_intervals]
                   + [(r, -1) for _, r, _ in em.barrier_intervals])
    level = peak = 0
    for _, delta in steps:
        level += delta
        peak = max(peak, level)
    assert peak <= arch.barriers and em.barriers_in_flight_max <= arch.barriers


def check_bounds(result) -> None:
    em, arch = result.emulation, result.arch
    tasks = em.graph.tasks
    serial = sum(alone_ns(t, arch) for t in tasks)
    longest = [0.0] * len(tasks)
    for t in tasks:  # tasks are in topological order
        longest[t.id] = alone_ns(t, arch) + max((longest[d] for d in t.deps), default=0.0)
    assert em.makespan_ns <= serial + 1e-3
    assert em.makespan_ns >= max(longest, default=0.0) - 1e-3


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("model", MODELS)
def test_invariants_and_bounds_on_shared_models(model, arch, shared_models):
    result = _emulate(shared_models / model, arch)
    check_invariants(result)
    check_bounds(result)


@pytest.mark.parametrize("arch", ARCHS)
def test_invariants_and_bounds_on_the_shipped_examples(arch):
    for path in sorted(EXAMPLES.glob("*.onnx")):
        result = _emulate(path, arch)
        check_invariants(result)
        check_bounds(result)


@pytest.mark.parametrize("model", MODELS)
def test_halving_cmx_never_reduces_spilled_bytes(model, shared_models):
    path = shared_models / model
    for arch in ARCHS:
        full = _emulate(path, arch)
        half_bytes = full.arch.cmx.bytes_per_tile // 2
        half = _emulate(path, arch, arch_overrides=[f"cmx.bytes_per_tile={half_bytes}"])
        assert half.emulation.graph.spilled_bytes >= full.emulation.graph.spilled_bytes, arch


def test_more_barriers_never_make_it_slower():
    path = EXAMPLES / "resnet50.onnx"
    for arch in ARCHS:
        latencies = [_emulate(path, arch, barriers=b).latency_ns for b in (3, 4, 6, 8, 16, 32, 64, 128)]
        assert latencies == sorted(latencies, reverse=True), (arch, latencies)
    few = _emulate(path, "npu4000", barriers=4)
    assert few.emulation.barrier_stall_ns > 0, "4 barriers for 6 tiles must make tasks wait"
    check_invariants(few)


def test_a_task_too_big_for_cmx_is_one_clear_error(capsys, tmp_path):
    with pytest.raises(InfeasibleError, match=r"B over"):
        _emulate(EXAMPLES / "resnet50.onnx", "npu4000", arch_overrides=["cmx.bytes_per_tile=4096"])
    code = main(["estimate", str(EXAMPLES / "resnet50.onnx"), "--schedule", "emulator", "--set",
                 "cmx.bytes_per_tile=4096", "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("nbperf: error: ") and "B over" in err[0]
    assert not (tmp_path / "r.json").exists()


def test_emulator_reports_and_trace(tmp_path, capsys):
    trace, report = tmp_path / "t.json", tmp_path / "r.json"
    code = main(["estimate", str(EXAMPLES / "resnet50.onnx"), "--arch", "npu3720", "--schedule", "emulator",
                 "--trace", str(trace), "--json", str(report), "-q"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(report.read_text())
    emu = data["emulation"]
    assert emu["tasks_count"] == len(emu["tasks"]) > 0
    assert len(emu["peak_cmx_bytes_per_tile"]) == 2
    assert all(0 < b <= 1982464 for b in emu["peak_cmx_bytes_per_tile"])
    assert emu["barriers_used"] <= emu["barriers_available"] == 64
    assert emu["critical_path"] and all(t["end_us"] >= t["start_us"] for t in emu["tasks"])
    events = json.loads(trace.read_text())["traceEvents"]
    names = {(e["pid"], e.get("tid"), e["args"]["name"]) for e in events if e["name"] == "thread_name"}
    assert {(0, 0, "DPU"), (0, 1, "SHAVE"), (1, 0, "DPU"), (1, 1, "SHAVE")} <= names
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] >= 0 and "ts" in e for e in spans)
    assert any(e["ph"] == "C" and e["name"] == "CMX bytes in use" for e in events)
    assert any(e["ph"] == "C" and e["name"] == "barriers in flight" for e in events)
    assert any(e["pid"] == 1000 for e in spans), "DMA tracks"


def test_the_layer_serial_schedule_traces_too(capsys, tmp_path):
    code = main(["estimate", str(EXAMPLES / "resnet50.onnx"), "--trace", str(tmp_path / "t.json"), "-q"])
    assert code == 0, capsys.readouterr().err
    names = {e["args"]["name"] for e in json.loads((tmp_path / "t.json").read_text())["traceEvents"]
             if e.get("ph") == "M" and e["name"] == "process_name"}
    assert "NPU (layer-serial)" in names
    assert trace_events(nbperf.estimate(EXAMPLES / "resnet50.onnx"))["traceEvents"]


def test_serial_latency_uses_the_same_transfer_model():
    arch = nbperf.load_arch("npu4000")
    assert transfer_ns(arch, 45_000, Path.DDR) > arch.dma.ddr_latency_ns


def test_a_small_decoder_from_the_benchmark_builder_emulates(tmp_path):
    import onnx
    from benchmarks.model_builders import decoder_lm

    path = tmp_path / "decoder.onnx"
    onnx.save(decoder_lm(layers=2, d_model=256, heads=4, ffn=1024, vocab=1000, seq=64), path)
    for arch in ARCHS:
        result = _emulate(path, arch)
        assert result.unknown_ops == ()
        kinds = {t.op.op_type for t in result.schedule.tasks}
        assert kinds >= {"MatMul", "Softmax", "Gelu", "LayerNormalization"}
        check_invariants(result)
        check_bounds(result)


def test_gang_tasks_occupy_every_tile_they_name():
    """A split op's compute is one task on every tile it uses, labelled with the tile range."""
    result = _emulate(EXAMPLES / "resnet50.onnx", "npu4000")
    tasks = result.emulation.graph.tasks
    lanes = task_engines(tasks, result.arch.dma.channels)
    gangs = [(t, mine) for t, mine in zip(tasks, lanes, strict=True) if t.width > 1]
    assert gangs, "a split op should run as a gang"
    for task, mine in gangs:
        assert mine == tuple(f"{task.kind.value}{k}" for k in range(task.tile, task.tile + task.width))
        assert result.emulation.times[task.id].engine == engine_label(mine) == f"{mine[0]}-{task.width - 1}"


def test_stage_seconds_cover_the_pipeline():
    result = _emulate(EXAMPLES / "resnet50.onnx", "npu4000")
    assert set(result.stage_seconds) == {"frontend", "lowering", "strategy", "task graph", "emulation",
                                         "schedule"}
    assert all(s >= 0 for s in result.stage_seconds.values())
    serial = nbperf.estimate(EXAMPLES / "resnet50.onnx", "npu4000")
    assert set(serial.stage_seconds) == {"frontend", "lowering", "strategy", "schedule"}


def test_the_decoder_blocks_place_without_repairs_where_the_plan_fits(tmp_path):
    """On 1.3B decoder blocks (npu4000 with each DMA on its own port, which keeps the residual, Q, K
    and V in CMX beside the scores' K^T blocks with 2% of the tile to spare) the plan's buffers all
    find addresses in one placement: best fit leaves the holes the K^T blocks need, where first
    fit alone needed two rounds of repairs and three constructions of the graph."""
    import onnx
    from benchmarks.model_builders import decoder_lm

    path = tmp_path / "decoder.onnx"
    onnx.save(decoder_lm(layers=3, d_model=1280, heads=16, ffn=5120, vocab=1000, seq=512), path)
    graph = _emulate(path, "npu4000", arch_overrides=["dma.split_lone_transfers=false"]).emulation.graph
    assert (graph.repairs, graph.passes) == (0, 1)
