"""Per-layer correlation of an estimate with measured layer times.

Each nbperf layer's estimated time is its span in the schedule (input moves, spills and the op
itself: what the NPU profiler's per-layer ``realTime`` spans, from the layer's first task to its
last). Measured rows are matched to layers by name (``nbperf.measured.matching``); the layers
on both sides that found no partner are kept and reported, never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from nbperf.calibration.classes import op_class
from nbperf.calibration.stats import ErrorStats, error_stats
from nbperf.errors import UsageError
from nbperf.measured import MeasuredLayers
from nbperf.measured.matching import Matching, match_layers
from nbperf.result import Estimate

MIN_MATCHED_SHARE = 0.5  # assumed: fewer executed rows matched than this, the file is not of this model
_EXAMPLES = 4  # names quoted in an error line


@dataclass(frozen=True)
class LayerComparison:
    """One nbperf layer against what was measured for it."""

    name: str
    op_type: str
    op_class: str
    engine: str
    bound: str  # what bounds it in the estimate ("free": nbperf prices it at zero)
    estimated_us: float
    measured_us: float
    measured_rows: tuple[str, ...]
    via: str
    measured_engines: tuple[str, ...] = ()  # what the profiler says ran it (NPU plugin execType)

    @property
    def engine_differs(self) -> bool:
        """The profiler names an engine that nbperf does not lower the layer to (a SHAVE kernel
        where nbperf has a DPU task, say): a lowering to look at before any factor."""
        main = self.measured_engines[0] if self.measured_engines else ""
        return bool(main) and self.engine in ("DPU", "SHAVE", "DMA") and main != self.engine

    @property
    def ratio(self) -> float | None:
        """Estimated over measured (None when the measurement is zero: below the report's resolution)."""
        return self.estimated_us / self.measured_us if self.measured_us > 0 else None


@dataclass(frozen=True)
class Correlation:
    """An estimate against a measured file, layer by layer and in groups."""

    estimate: Estimate
    measured: MeasuredLayers
    layers: tuple[LayerComparison, ...]  # execution order of the estimate, free layers last
    matching: Matching

    @property
    def compared(self) -> list[LayerComparison]:
        """Layers with a non-zero measurement: the ones every statistic is over."""
        return [c for c in self.layers if c.measured_us > 0]

    @property
    def overall(self) -> ErrorStats:
        return error_stats((c.estimated_us, c.measured_us) for c in self.compared)

    def grouped(self, key: str) -> dict[str, ErrorStats]:
        """Statistics per ``op_class`` or per ``engine``, largest measured time first."""
        groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for c in self.compared:
            groups[getattr(c, key)].append((c.estimated_us, c.measured_us))
        stats = {k: error_stats(v) for k, v in groups.items()}
        return dict(sorted(stats.items(), key=lambda kv: (-kv[1].measured_us, kv[0])))

    @property
    def unmeasured_us(self) -> float:
        """Estimated time of the costed layers no measured row landed on."""
        names = set(self.matching.unmeasured_layers)
        return sum((t.end_ns - t.start_ns) / 1e3 for t in self.estimate.schedule.tasks if t.op.name in names)


def correlate(estimate: Estimate, measured: MeasuredLayers) -> Correlation:
    """Match ``measured`` to ``estimate``'s layers and compare them; a file whose names mostly
    match nothing is an error (it is not a report of this model)."""
    matching = match_layers(estimate.graph, measured.layers)
    check_matching(matching, measured.source, estimate)
    ops = {op.name: op for op in estimate.graph.ops}
    rows: list[LayerComparison] = []
    seen: set[str] = set()
    for task in estimate.schedule.tasks:
        hit = matching.matches.get(task.op.name)
        if hit is None:
            continue
        seen.add(hit.layer)
        rows.append(LayerComparison(
            task.op.name, task.op.op_type, op_class(task.op), task.op.engine.value, task.bound.value,
            (task.end_ns - task.start_ns) / 1e3, hit.measured_us, hit.rows, hit.via, hit.engines))
    for name, hit in matching.matches.items():  # measured time on layers nbperf prices at zero
        if name not in seen:
            op = ops[name]
            rows.append(LayerComparison(name, op.op_type, op_class(op), op.engine.value, "free", 0.0,
                                        hit.measured_us, hit.rows, hit.via, hit.engines))
    return Correlation(estimate, measured, tuple(rows), matching)


def check_matching(matching: Matching, source: str, estimate: Estimate) -> None:
    """One clear error when the measured names do not belong to ``estimate``'s model."""
    executed = matching.executed_rows
    if executed == 0:
        raise UsageError(f"measured file {source}: no executed layer in it "
                         f"({len(matching.not_executed)} rows not run or optimized out)")
    if matching.matched_rows >= MIN_MATCHED_SHARE * executed:
        return
    missing = ", ".join(repr(n) for n, _ in matching.unmatched_measured[:_EXAMPLES])
    ours = ", ".join(repr(op.name) for op in estimate.graph.ops[:_EXAMPLES])
    raise UsageError(
        f"measured file {source}: {len(matching.unmatched_measured)} of {executed} executed layers match no "
        f"layer of {estimate.model} (e.g. {missing}); its layers are named like {ours}: is the file a "
        "report of this model?")
