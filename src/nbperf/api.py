"""The public API: one function runs the whole pipeline.

The stage list in ``estimate`` is the pipeline; each line names one stage and the arrow it follows
in DESIGN.md section 4, so any number in a report can be traced back one stage at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbperf.arch import ArchSpec, Precision, load_arch
from nbperf.cost import GRAPH_MODELS, get_backend
from nbperf.errors import UsageError
from nbperf.frontend import load_model
from nbperf.frontend.ir import Graph
from nbperf.lower import NpuGraph, lower
from nbperf.schedule import Schedule, schedule_serial
from nbperf.schedule.emulated import schedule_from_emulation
from nbperf.schedule.emulator import Emulation, emulate
from nbperf.schedule.taskgraph import DEFAULT_PREFETCH_DEPTH, build_task_graph
from nbperf.strategy import StrategyPlan, choose_strategies


@dataclass(frozen=True)
class Estimate:
    """The result of one estimate: the timed schedule plus what it was computed for."""

    model: str
    arch: ArchSpec
    precision: str  # "fp16", "int8", or "mixed" when quantized and float ops coexist
    cost_model: str
    graph: NpuGraph
    plan: StrategyPlan
    schedule: Schedule
    emulation: Emulation | None = None  # the per-task timeline, with --cost emulator

    @property
    def inference_overhead_ns(self) -> float:
        return self.arch.inference_overhead_us * 1e3

    @property
    def latency_ns(self) -> float:
        return self.schedule.makespan_ns + self.inference_overhead_ns

    @property
    def latency_ms(self) -> float:
        return self.latency_ns / 1e6

    @property
    def fps(self) -> float:
        return 1e9 / self.latency_ns if self.latency_ns else 0.0

    @property
    def macs(self) -> int:
        return sum(t.op.macs for t in self.schedule.tasks)

    @property
    def ddr_bytes(self) -> int:
        return sum(t.ddr_bytes for t in self.schedule.tasks)

    @property
    def weight_ddr_bytes(self) -> int:
        return sum(t.weight_ddr_bytes for t in self.schedule.tasks)

    @property
    def activation_ddr_bytes(self) -> int:
        return self.ddr_bytes - self.weight_ddr_bytes

    @property
    def achieved_tops(self) -> float:
        return 2 * self.macs / self.latency_ns / 1e3 if self.latency_ns else 0.0

    @property
    def unknown_ops(self) -> tuple[str, ...]:
        return self.graph.unknown_ops


def estimate(
    model: str | Path | Graph,
    arch: str | Path | ArchSpec = "npu4000",
    *,
    precision: Precision | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    arch_overrides: list[str] | tuple[str, ...] = (),
    cost_model: str = "math",
    policy: str = "optimal",
    strategies: dict[str, str] | None = None,
    prefetch_depth: int = DEFAULT_PREFETCH_DEPTH,
    barriers: int | None = None,
) -> Estimate:
    """Estimate the latency of ``model`` on ``arch``.

    ``model``: an ONNX path or an already loaded ``Graph``; ``arch``: a preset name, a YAML path
    or an ``ArchSpec``; ``precision`` forces int8 or fp16 (default: fp16, int8 where the model is
    quantized); ``input_shapes`` fills dynamic input dimensions; ``arch_overrides`` are
    ``section.field=value`` edits applied to a named or file arch; ``policy`` picks strategies by
    whole-graph search (``optimal``) or the NPU compiler's greedy rule (``compiler``);
    ``strategies`` forces strategies by layer name (``{"conv1": "SOK", "all": "SOH"}``).
    ``cost_model="emulator"`` runs the task graph in an event-driven emulation (per-task times from
    the math model), with ``prefetch_depth`` ops of weight prefetch and ``barriers`` overriding the
    arch's hardware barrier count.
    """
    if precision not in (None, "int8", "fp16"):
        raise UsageError(f"precision must be int8 or fp16, got {precision!r}")
    if isinstance(arch, ArchSpec):
        if arch_overrides:
            raise UsageError("arch overrides need an arch name or file, not an ArchSpec object")
        spec = arch
    else:
        spec = load_arch(arch, arch_overrides)
    emulated = cost_model in GRAPH_MODELS
    backend = get_backend(GRAPH_MODELS.get(cost_model, cost_model))
    graph = model if isinstance(model, Graph) else load_model(model, input_shapes)  # frontend
    npu_graph = lower(graph, precision)  # lowering: DPU / SHAVE / DMA tasks, fused patterns
    plan = choose_strategies(npu_graph, spec, backend, policy, strategies)  # strategy: split per op
    emulation = None
    if emulated:
        tasks = build_task_graph(npu_graph, spec, plan, prefetch_depth)  # schedule: tasks, CMX, spills
        emulation = emulate(tasks, spec, barriers)  # cost: event-driven run on the engines
        schedule = schedule_from_emulation(npu_graph, spec, plan, emulation)
    else:
        schedule = schedule_serial(npu_graph, spec, plan)  # schedule: CMX residency, transitions, time
    used = {t.op.precision for t in schedule.tasks}
    name = graph.name if isinstance(model, Graph) else Path(model).name
    return Estimate(model=name, arch=spec, precision="mixed" if len(used) > 1 else (used.pop() if used
                    else npu_graph.default_precision), cost_model=cost_model, graph=npu_graph,
                    plan=plan, schedule=schedule, emulation=emulation)
