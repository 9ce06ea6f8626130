"""The result of one estimate: the timed schedule plus everything it was computed from.

Reports read this (never the orchestrator in ``api``), so a report can be made from any
``Estimate``, however it was produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from nbperf.arch.model import ArchSpec
from nbperf.cost.inventory import LayerSources
from nbperf.lower.npu_ops import NpuGraph
from nbperf.schedule.emulator import Emulation
from nbperf.schedule.timeline import Schedule, ScheduleKind, TimedTask
from nbperf.strategy.plan import StrategyPlan
from nbperf.strategy.swizzling import stored_weight_bytes, swizzles_weights

MODES = ("latency", "throughput")


@dataclass(frozen=True)
class Provenance:
    """Everything an estimate was computed from, so a report says what it is: a what-if run is
    never labelled like the real part. ``arch_label`` is the preset (or file) with its overrides,
    ``npu4000+dpu.macs_per_tile=4096``; ``input_shapes`` are every graph input's static shape."""

    arch_base: str
    arch_overrides: tuple[str, ...]
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]
    strategies: tuple[tuple[str, str], ...]  # forced, by layer name ("all" for every layer)
    policy: str
    cost_model: str
    schedule: str
    precision: str | None  # as requested: None keeps the model's own Q/DQ
    nbperf_version: str
    # assumed where the file has no weights (--weight-sparsity, or by layer name from --sparsity)
    weight_sparsity: float | tuple[tuple[str, float], ...] | None = None
    activation_sparsity: str | None = None  # where the activation statistics came from (None: dense)

    @property
    def arch_label(self) -> str:
        return "+".join((self.arch_base, *self.arch_overrides))

    def to_dict(self) -> dict[str, object]:
        return {"arch": self.arch_label, "arch_base": self.arch_base,
                "arch_overrides": list(self.arch_overrides),
                "input_shapes": {name: list(shape) for name, shape in self.input_shapes},
                "strategies": dict(self.strategies), "policy": self.policy, "cost_model": self.cost_model,
                "schedule": self.schedule, "precision_requested": self.precision,
                "weight_sparsity_assumed": dict(self.weight_sparsity)
                if isinstance(self.weight_sparsity, tuple) else self.weight_sparsity,
                "activation_sparsity": self.activation_sparsity, "nbperf_version": self.nbperf_version}


@dataclass(frozen=True)
class Throughput:
    """Throughput mode, as OpenVINO runs it: ``requests`` in flight, each compiled for
    ``tiles_per_request`` tiles; ``concurrent`` of them run on the device at once, each with its
    share of DDR bandwidth and DMA ports (an equal split: assumed), taking ``request_device_ns``.
    FPS is the lower of what the device completes and what the host can submit (one request's
    host work at a time, assumed); ``bound`` says which. A network that fits no strategy on the
    throughput tile count runs one request at a time on all tiles, and ``note`` says so."""

    fps: float
    requests: int
    tiles_per_request: int
    concurrent: int
    request_device_ns: float
    bound: str  # "device" or "host"
    note: str = ""  # why the compiler's throughput tile count was not used, if it was not


@dataclass(frozen=True)
class LatencyHint:
    """What benchmark_app's ``-hint latency`` runs by default: a compile for ``tiles`` tiles (on
    NPU 4000, 4 of 6: the compiler's default performance-hint-override, "efficiency"), one
    synchronous request taking ``latency_ns`` with its host share. Equal to latency mode when that
    tile count is every tile; ``note`` says why it could not be estimated on fewer, if so."""

    tiles: int
    latency_ns: float
    note: str = ""

    @property
    def latency_ms(self) -> float:
        return self.latency_ns / 1e6


@dataclass(frozen=True)
class Estimate:
    """Latency, throughput and the per-op timeline of one model on one arch.

    ``cost_model`` names the per-workload cost backend; ``schedule.kind`` says how the ops were
    put in time (layer-serial, or emulated event by event). ``barriers`` is the hardware barrier
    count the emulation ran with (the arch's unless forced), ``prefetch_depth`` its weight prefetch
    horizon; both are None for the layer-serial schedule, which has neither.
    """

    model: str
    arch: ArchSpec
    precision: str  # of the ops with MACs: "fp16", "int8", or "mixed" when both run
    cost_model: str
    graph: NpuGraph
    plan: StrategyPlan
    schedule: Schedule
    emulation: Emulation | None = None
    barriers: int | None = None
    prefetch_depth: int | None = None
    # wall seconds per pipeline stage (frontend, lowering, strategy, task graph, emulation, schedule):
    # where an estimate's time went; not part of the report, which is the same on every run
    stage_seconds: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    mode: str = "latency"  # the headline: one synchronous request, or throughput with several
    provenance: Provenance | None = field(default=None, compare=False, repr=False)
    # computes the throughput mode on first use (it estimates the network again for fewer tiles)
    throughput_of: Callable[[Estimate], Throughput] | None = field(default=None, compare=False, repr=False)
    # the LATENCY hint's default compile, on first use (it estimates again when that is fewer tiles)
    latency_hint_of: Callable[[Estimate], LatencyHint] | None = field(default=None, compare=False,
                                                                      repr=False)
    # computes ``cost_sources`` on first use (reports need it, a sweep or NAS loop does not)
    cost_sources_of: Callable[[], dict[str, LayerSources]] | None = field(default=None, compare=False,
                                                                          repr=False)
    # who priced the plan's DMA transfers, when the cost model prices DMAs (None: the DMA model did)
    dma_sources: LayerSources | None = field(default=None, compare=False, repr=False)

    @property
    def dma_fallbacks(self) -> tuple[int, int]:
        """DMA transfers of the plan's task graph the DMA model priced in place of the cost model,
        of all of them ((0, 0) when the cost model prices no DMA)."""
        if self.dma_sources is None:
            return 0, 0
        runs = self.dma_sources.runs
        return runs.get("math", 0), sum(runs.values())

    @property
    def cost_fallbacks(self) -> tuple[int, int]:
        """DPU workload runs the math model priced in place of the chosen backend, of all runs."""
        runs = [s.runs for s in self.cost_sources.values()]
        total = sum(sum(r.values()) for r in runs)
        if self.cost_model == "math":
            return 0, total
        return sum(r.get("math", 0) for r in runs), total

    @property
    def timing(self) -> str:
        """"serial" or "emulator": the schedule that timed the estimate."""
        return "emulator" if self.schedule.kind is ScheduleKind.EMULATED else "serial"

    @property
    def inference_overhead_ns(self) -> float:
        return self.arch.inference_overhead_us * 1e3

    @property
    def host_ns(self) -> float:
        """The host's share of one synchronous request: the fixed runtime cost plus copying the
        network's inputs and outputs at host memcpy bandwidth (both arch fields, assumed)."""
        return self.inference_overhead_ns + self.graph.host_io_bytes / self.arch.runtime.host_copy_gbps

    @property
    def latency_ns(self) -> float:
        """Latency mode: one synchronous request, device schedule plus host work."""
        return self.schedule.makespan_ns + self.host_ns

    @cached_property
    def cost_sources(self) -> dict[str, LayerSources]:
        """Per DPU layer, who priced its workloads (the backend, or the math model it fell back to)."""
        return self.cost_sources_of() if self.cost_sources_of is not None else {}

    @cached_property
    def throughput(self) -> Throughput:
        if self.throughput_of is None:
            raise ValueError("this estimate was made without a throughput mode")
        return self.throughput_of(self)

    @cached_property
    def latency_hint(self) -> LatencyHint:
        if self.latency_hint_of is None:
            return LatencyHint(self.arch.tiles, self.latency_ns)
        return self.latency_hint_of(self)

    @property
    def throughput_fps(self) -> float:
        return self.throughput.fps

    @property
    def latency_ms(self) -> float:
        return self.latency_ns / 1e6

    @property
    def fps(self) -> float:
        """Requests per second of latency mode: one after another."""
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
    def weight_ddr_dense_bytes(self) -> int:
        """``weight_ddr_bytes`` had no weight been compressed (the same re-reads of raw weights)."""
        return sum(dense_weight_ddr_bytes(t, self.arch) for t in self.schedule.tasks)

    @property
    def activation_ddr_bytes(self) -> int:
        return self.ddr_bytes - self.weight_ddr_bytes

    @property
    def achieved_tops(self) -> float:
        return 2 * self.macs / self.latency_ns / 1e3 if self.latency_ns else 0.0

    @property
    def unknown_ops(self) -> tuple[str, ...]:
        return self.graph.unknown_ops

    @property
    def arch_label(self) -> str:
        """The arch as reports name it: the preset with its overrides (``npu4000+tiles=4``)."""
        return self.provenance.arch_label if self.provenance is not None else self.arch.name

    def __repr__(self) -> str:
        return (f"Estimate(model={self.model!r}, arch={self.arch_label!r}, precision={self.precision!r}, "
                f"timing={self.timing!r}, latency_ms={self.latency_ms:.4f}, "
                f"layers={len(self.schedule.tasks)})")

    def summary(self, modes: bool = True) -> dict[str, object]:
        """The whole-model figures as one flat record (what a sweep writes per point). ``modes``
        adds throughput mode and the -hint latency compile, which may estimate again on fewer
        tiles: pass False in a tight NAS loop that needs only latency."""
        from nbperf.report.records import summary_record

        return summary_record(self, modes)

    def to_dict(self) -> dict[str, object]:
        """The full report as plain data: the JSON report's object (docs/json-schema.md)."""
        from nbperf.report.records import estimate_record

        return estimate_record(self)

    def layers_frame(self):  # -> pandas.DataFrame
        """One row per layer, the JSON report's layer records, as a pandas DataFrame (the
        ``sweep`` extra installs pandas)."""
        try:
            import pandas
        except ImportError:
            from nbperf.errors import UsageError

            raise UsageError("layers_frame needs pandas: pip install 'nbperf[sweep]'") from None
        from nbperf.report.records import layer_record

        return pandas.DataFrame([layer_record(t, self) for t in self.schedule.tasks])


def dense_weight_ddr_bytes(task: TimedTask, arch: ArchSpec) -> int:
    """The weight bytes ``task`` reads from DDR, had its weights not been compressed (the same
    reads, each piece padded as stored)."""
    op = task.op
    if op.weight_dense_bytes and op.weight_bytes:
        parts, swizzled = task.candidate.weight_parts, swizzles_weights(op, arch)
        stored = stored_weight_bytes(op.weight_bytes, parts, arch, swizzled)
        dense = stored_weight_bytes(op.weight_dense_bytes, parts, arch, swizzled)
        return round(task.weight_ddr_bytes * dense / stored)
    return task.weight_ddr_bytes
