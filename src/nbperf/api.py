"""The public API: one function runs the whole pipeline.

The stage list in ``estimate`` is the pipeline; each line names one stage and the arrow it follows
in DESIGN.md section 4, so any number in a report can be traced back one stage at a time. Every
compute time comes from one ``TaskCoster`` (the cost backend behind the one cost path), whichever
stage asks: the strategy search, the layer-serial schedule or the emulator.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from nbperf.arch import ArchSpec, Precision, load_arch
from nbperf.cost import TaskCoster, get_backend
from nbperf.cost.inventory import (
    RecordingMath,
    WorkloadRow,
    dma_rows,
    dma_sources,
    dpu_rows,
    layer_sources,
    searched_rows,
)
from nbperf.errors import InfeasibleError, UsageError
from nbperf.frontend.ir import Graph
from nbperf.gcpause import paused_gc
from nbperf.loaded import LoadedModel, load
from nbperf.lower import NpuGraph
from nbperf.lower.upsampling import LoweringOptions
from nbperf.result import MODES, Estimate, LatencyHint, Provenance, Throughput
from nbperf.schedule import schedule_serial
from nbperf.schedule.emulated import schedule_from_emulation
from nbperf.schedule.emulator import emulate_plan
from nbperf.schedule.taskgraph import DEFAULT_PREFETCH_DEPTH
from nbperf.strategy import StrategyPlan, choose_strategies
from nbperf.strategy.explain import LayerExplanation, explain_layer
from nbperf.strategy.search import Problem, build_plan
from nbperf.version import __version__

if TYPE_CHECKING:
    import onnx

SCHEDULES = ("serial", "emulator")


def _check_weight_sparsity(weight_sparsity: float | Mapping[str, float] | None) -> None:
    shares = weight_sparsity.values() if isinstance(weight_sparsity, Mapping) else [weight_sparsity]
    for share in shares:
        if share is not None and (not isinstance(share, int | float) or not 0 <= share < 1):
            raise UsageError(f"weight sparsity must be in [0, 1), got {share}")


def _check_layer_names(graph: Graph, shares: Mapping[str, float]) -> None:
    names = {node.name for node in graph.nodes}
    unknown = sorted(set(shares) - names)
    if unknown:
        raise UsageError(f"weight sparsity: no layer named {unknown[0]!r} in the model")


def _resolve(arch: str | Path | ArchSpec, arch_overrides: list[str] | tuple[str, ...], cost_model: str,
             schedule: str, prefetch_depth: int | None, barriers: int | None) -> tuple[ArchSpec, str, str]:
    """The arch, the backend name and the schedule; every option checked before any work."""
    if cost_model == "emulator":  # before the emulator became a schedule: --cost emulator
        cost_model, schedule = "math", "emulator"
    if schedule not in SCHEDULES:
        raise UsageError(f"unknown schedule {schedule!r}; use serial (layer by layer) or emulator")
    if schedule == "serial" and (prefetch_depth is not None or barriers is not None):
        option = "--prefetch-depth" if prefetch_depth is not None else "--barriers"
        raise UsageError(f"{option} needs --schedule emulator: the layer-serial schedule has no prefetch "
                         "queue and no barriers")
    if prefetch_depth is not None and prefetch_depth < 0:
        raise UsageError(f"--prefetch-depth must be >= 0, got {prefetch_depth}")
    if barriers is not None and barriers < 1:
        raise UsageError(f"--barriers must be >= 1, got {barriers}")
    if isinstance(arch, ArchSpec):
        if arch_overrides:
            raise UsageError("arch overrides need an arch name or file, not an ArchSpec object")
        return arch, cost_model, schedule
    return load_arch(arch, arch_overrides), cost_model, schedule


def estimate(
    model: str | Path | Graph | LoadedModel | onnx.ModelProto,
    arch: str | Path | ArchSpec = "npu4000",
    *,
    precision: Precision | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    arch_overrides: list[str] | tuple[str, ...] = (),
    cost_model: str = "math",
    schedule: str = "serial",
    policy: str = "optimal",
    strategies: dict[str, str] | None = None,
    prefetch_depth: int | None = None,
    barriers: int | None = None,
    mode: str = "latency",
    weight_sparsity: float | Mapping[str, float] | None = None,
    activation_sparsity: float | str | Mapping[str, float] | None = None,
) -> Estimate:
    """Estimate the latency of ``model`` on ``arch``.

    ``model``: an ONNX or OpenVINO IR path, an in-memory ``onnx.ModelProto``, or a model loaded once
    with ``nbperf.load`` (whose frontend and lowering every call reuses: the fast path for sweeps
    and NAS); ``arch``: a preset name, a YAML path or an
    ``ArchSpec``; ``precision``: ``int8`` quantizes a float model as NNCF does for the NPU (SHAVE
    kernels stay fp16, conversions between the parts), ``fp16`` runs every op in fp16 (default: fp16,
    int8 where the model's Q/DQ say so); ``input_shapes`` fills dynamic input dimensions;
    ``arch_overrides`` are ``section.field=value`` edits applied to a named or file arch;
    ``cost_model`` is the per-workload cost backend (``math``); ``schedule`` puts the ops in time:
    ``serial`` (layer by layer, the search's own objective) or ``emulator`` (the task graph with
    feasible CMX allocation and barriers, run event by event; ``prefetch_depth`` ops of weight
    prefetch, ``barriers`` overriding the arch's hardware barrier count). ``policy`` picks strategies
    by whole-graph search (``optimal``) or the NPU compiler's greedy rule (``compiler``);
    ``strategies`` forces strategies by layer name (``{"conv1": "SOK", "all": "SOH"}``).
    ``cost_model="emulator"`` is accepted for ``schedule="emulator"``. ``weight_sparsity`` is the
    share of zero weights of the layers whose weights the file does not hold (a weightless model),
    one for every layer or a mapping by layer name; weights it holds are measured. The compiler
    compresses weights that are at least 6.25% (fp16) or 12.5% (int8) zero: fewer bytes to move
    and hold, fewer MAC cycles where the arch says so.
    ``activation_sparsity`` stands for the runtime statistics the compiler reads: ``"measure"`` runs
    the model with onnxruntime on a seeded random input, a share applies at every ReLU output, a
    mapping gives shares by tensor or node name. A conv or matmul input at least 20% zero then
    arrives sparse, which saves MAC cycles and CMX reads where ``dpu.input_sparsity_cycles`` says so.
    """
    if precision not in (None, "int8", "fp16"):
        raise UsageError(f"precision must be int8 or fp16, got {precision!r}")
    _check_weight_sparsity(weight_sparsity)
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; use latency (one synchronous request) or throughput")
    spec, backend_name, timing = _resolve(arch, arch_overrides, cost_model, schedule, prefetch_depth,
                                          barriers)
    backend = get_backend(backend_name)
    coster = TaskCoster(spec, backend, shared=True)  # cost: the one path
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - clock
        clock = now

    loaded = load(model, input_shapes)  # frontend (nothing to do for a model loaded before)
    if isinstance(weight_sparsity, Mapping):
        _check_layer_names(loaded.graph, weight_sparsity)
    lap("frontend")
    # lowering: DPU / SHAVE / DMA tasks, fused patterns, compressed weights (cached)
    statistics = loaded.activation_statistics(activation_sparsity)
    npu_graph = loaded.lowered(precision, weight_sparsity, statistics, LoweringOptions.of(spec))
    lap("lowering")
    with paused_gc():
        plan = choose_strategies(npu_graph, spec, coster, policy, strategies)  # strategy: split per op
    lap("strategy")
    emulation = None
    depth = None
    if timing == "emulator":
        depth = DEFAULT_PREFETCH_DEPTH if prefetch_depth is None else prefetch_depth
        # schedule: the plan's tasks with CMX placement and spills, run event by event on the engines
        emulation = emulate_plan(npu_graph, spec, plan, coster, depth, barriers, stages)
        clock = time.perf_counter()
        timed = schedule_from_emulation(spec, plan, emulation)
    else:
        timed = schedule_serial(spec, plan)  # schedule: the plan's layer-serial steps
    lap("schedule")
    provenance = Provenance(
        arch_base=spec.name, arch_overrides=tuple(arch_overrides),
        input_shapes=tuple(loaded.input_shapes.items()), strategies=tuple((strategies or {}).items()),
        policy=policy, cost_model=backend_name, schedule=timing, precision=precision,
        nbperf_version=__version__,
        weight_sparsity=tuple(sorted(weight_sparsity.items())) if isinstance(weight_sparsity, Mapping)
        else weight_sparsity,
        activation_sparsity=statistics.source if statistics else None)

    def recompiled(other: ArchSpec) -> Estimate:
        """The same network, options and schedule on ``other`` (fewer tiles, shared resources)."""
        return estimate(loaded, other, precision=precision, cost_model=backend_name, schedule=timing,
                        policy=policy, strategies=strategies, prefetch_depth=prefetch_depth,
                        barriers=barriers, weight_sparsity=weight_sparsity,
                        activation_sparsity=activation_sparsity)

    def throughput_of(result: Estimate) -> Throughput:
        """Throughput mode: each request compiled for the tiles the compiler picks under the
        THROUGHPUT hint, as many running at once as the tiles allow (at most the requests the
        plugin keeps in flight), each with its share of DDR bandwidth and DMA ports."""
        runtime = spec.runtime
        tiles = min(runtime.throughput_tiles, spec.tiles)
        concurrent = min(runtime.throughput_requests, max(1, spec.tiles // tiles))
        device_ns, note = result.schedule.makespan_ns, ""  # the latency-mode compile, one at a time
        if tiles != spec.tiles or concurrent != 1:
            dma = spec.dma.model_copy(update={"channels": max(1, spec.dma.channels // concurrent),
                                              "ddr_bandwidth_gbps": spec.dma.ddr_bandwidth_gbps / concurrent})
            shared = spec.model_copy(update={"tiles": tiles, "dma": dma})
            try:
                device_ns = recompiled(shared).schedule.makespan_ns
            except InfeasibleError as exc:  # the model needs more tiles' CMX than a throughput compile has
                tiles, concurrent = spec.tiles, 1
                note = f"does not fit a {shared.tiles}-tile compile ({exc.message}); one request at a time"
        device_fps = concurrent * 1e9 / device_ns if device_ns else 0.0
        host_fps = 1e9 / result.host_ns if result.host_ns else device_fps
        fps, bound = (device_fps, "device") if device_fps <= host_fps else (host_fps, "host")
        return Throughput(fps, runtime.throughput_requests, tiles, concurrent, device_ns, bound, note)

    def latency_hint_of(result: Estimate) -> LatencyHint:
        """benchmark_app -hint latency: the compile the LATENCY hint makes by default (fewer
        tiles on NPU 4000, options_mapper.cpp), one request owning the DMA ports and DDR."""
        tiles = min(spec.runtime.latency_hint_tiles or spec.tiles, spec.tiles)
        if tiles == spec.tiles:
            return LatencyHint(tiles, result.latency_ns)
        fewer = spec.model_copy(update={"tiles": tiles})
        try:
            hinted = recompiled(fewer)
        except InfeasibleError as exc:
            return LatencyHint(spec.tiles, result.latency_ns,
                               f"does not fit a {tiles}-tile compile ({exc.message}); all tiles")
        return LatencyHint(tiles, hinted.latency_ns)

    dmas = dma_sources(npu_graph, spec, plan, backend, depth)
    return Estimate(model=loaded.name, arch=spec, precision=_precision(timed.tasks, npu_graph),
                    cost_sources_of=lambda: layer_sources(npu_graph, plan, coster, backend),
                    dma_sources=dmas, cost_model=backend_name, graph=npu_graph,
                    plan=plan, schedule=timed, emulation=emulation,
                    barriers=None if emulation is None else (barriers or spec.barriers), prefetch_depth=depth,
                    stage_seconds=stages, mode=mode, throughput_of=throughput_of,
                    latency_hint_of=latency_hint_of, provenance=provenance)


def _precision(tasks, graph: NpuGraph) -> str:
    """The precision of the ops that carry MACs: SHAVE kernels always run fp16 and conversions
    between parts are neither, so an int8 model whose matmuls are all int8 is "int8"."""
    used = {t.op.precision for t in tasks if t.op.macs}
    return "mixed" if len(used) > 1 else (used.pop() if used else graph.default_precision)


def explain(result: Estimate, layer: str, strategies: dict[str, str] | None = None) -> LayerExplanation:
    """Every candidate of ``layer`` in ``result``'s graph, each priced for the whole graph under the
    schedule that timed ``result`` (re-planned with the layer pinned)."""
    coster = TaskCoster(result.arch, get_backend(result.cost_model))
    if result.emulation is None:
        return explain_layer(result.graph, result.arch, coster, layer, result.plan.policy, strategies)
    depth = result.prefetch_depth if result.prefetch_depth is not None else DEFAULT_PREFETCH_DEPTH

    def emulated_ns(problem: Problem, picks: list[int]) -> float:
        plan: StrategyPlan = build_plan(problem, picks, result.plan.policy, problem.evaluate(picks), True)
        return emulate_plan(result.graph, result.arch, plan, coster, depth, result.barriers).makespan_ns

    return explain_layer(result.graph, result.arch, coster, layer, result.plan.policy, strategies,
                         price=emulated_ns, priced_by="emulated")


def workloads(result: Estimate, dma: bool = True, searched: bool = False) -> list[WorkloadRow]:
    """Every DPU workload ``result``'s plan runs on each layer's busiest tile (with how many times),
    and, with ``dma``, every DMA transfer of its task graph, as VPUNN descriptors with their keys
    (``nbperf.cost.descriptors``): what ``nbperf workloads`` exports. With ``searched``, also every
    other workload the strategy search priced on its way (layer "(searched)", count 0), so a cost
    table made from the rows drives the search itself, not only the plan it picked."""
    rows = dpu_rows(result.graph, result.arch, result.plan)
    if searched:
        coster = TaskCoster(result.arch, RecordingMath(), placed=True)
        forced = dict(result.provenance.strategies) if result.provenance is not None else {}
        choose_strategies(result.graph, result.arch, coster, result.plan.policy, forced)
        rows += searched_rows(coster, {r.descriptor.key for r in rows})
    if dma:
        rows += dma_rows(result.graph, result.arch, result.plan, result.prefetch_depth)
    return rows
