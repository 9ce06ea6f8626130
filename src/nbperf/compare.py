"""Side-by-side estimates: one model on several arch points, or several models on one arch.

``compare`` estimates every side with the same options, matches layers by name and reports, per
layer and in total, each side's time, what bounds it, and the speedup against the first side
(the baseline). Rows are sorted by the largest change in time, so what a what-if buys (or does
not) is at the top; a layer whose time does not move is marked with what holds it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbperf.errors import UsageError
from nbperf.result import Estimate

UNCHANGED_RELATIVE = 1e-3  # a layer within 0.1% of the baseline's time gains nothing


@dataclass(frozen=True)
class LayerSide:
    """One layer on one side: its time, what bounds it and its strategy."""

    time_ns: float
    bound: str
    strategy: str


@dataclass(frozen=True)
class LayerRow:
    """One layer across the sides (``None`` where a side has no layer of that name)."""

    name: str
    op_type: str
    sides: tuple[LayerSide | None, ...]

    def speedup(self, side: int) -> float | None:
        """Baseline time over this side's time (2.0: twice as fast); None when either is missing."""
        base, other = self.sides[0], self.sides[side]
        if base is None or other is None:
            return None
        if other.time_ns <= 0:
            return math.inf if base.time_ns > 0 else 1.0
        return base.time_ns / other.time_ns

    @property
    def largest_change_ns(self) -> float:
        times = [s.time_ns for s in self.sides if s is not None]
        return max(times) - min(times) if times else 0.0

    def note(self, side: int) -> str:
        """``gains nothing: dma-weights bound`` when this side's time equals the baseline's."""
        speedup, other = self.speedup(side), self.sides[side]
        if speedup is None or other is None:
            return "only on one side"
        if abs(speedup - 1.0) <= UNCHANGED_RELATIVE:
            return f"gains nothing: {other.bound} bound"
        return ""


@dataclass(frozen=True)
class Comparison:
    """Estimates side by side; ``layers`` sorted by the largest change in time first."""

    labels: tuple[str, ...]
    estimates: tuple[Estimate, ...]
    layers: tuple[LayerRow, ...]

    def total_speedup(self, side: int) -> float:
        base, other = self.estimates[0].latency_ns, self.estimates[side].latency_ns
        return base / other if other else math.inf


def compare(models: list[Any], archs: list[str | Path], *, arch_overrides: list[str] | tuple[str, ...] = (),
            **options: Any) -> Comparison:
    """Estimate each side and line them up.

    Either one model on several ``archs`` or several ``models`` on one arch. An arch may carry its
    own overrides in the label syntax reports use: ``npu4000+dpu.macs_per_tile=4096``;
    ``arch_overrides`` apply to every side. ``options`` are those of ``nbperf.estimate``."""
    from nbperf.api import estimate
    from nbperf.loaded import load

    if not models or not archs:
        raise UsageError("compare needs a model and an arch")
    if len(models) > 1 and len(archs) > 1:
        raise UsageError("compare one model on several archs (--arch A --arch B), or several models on one "
                         "arch (--model X --model Y), not both")
    if len(models) == 1 and len(archs) == 1:
        raise UsageError("compare needs two sides: give a second --arch, or a second --model")
    input_shapes = options.pop("input_shapes", None)
    loaded = [load(m, input_shapes) for m in models]
    sides = [(m, a) for m in loaded for a in archs]
    estimates = []
    for model, arch in sides:
        base, overrides = split_arch_point(arch)
        estimates.append(estimate(model, base, arch_overrides=[*overrides, *arch_overrides], **options))
    labels = _labels(estimates, several_models=len(loaded) > 1)
    return Comparison(tuple(labels), tuple(estimates), _rows(estimates))


def split_arch_point(arch: str | Path) -> tuple[str | Path, list[str]]:
    """``npu4000+dpu.macs_per_tile=4096+tiles=4`` -> ("npu4000", [overrides]); a path is kept whole."""
    text = str(arch)
    if isinstance(arch, Path) or Path(text).is_file() or "+" not in text:
        return arch, []
    base, *overrides = text.split("+")
    if not base or any("=" not in o for o in overrides):
        raise UsageError(f"arch {text!r} must look like npu4000 or npu4000+section.field=value[+...]")
    return base, overrides


def _labels(estimates: list[Estimate], several_models: bool) -> list[str]:
    labels = [e.model if several_models else e.arch_label for e in estimates]
    if len(set(labels)) < len(labels):  # the same thing twice: number the sides
        labels = [f"{i + 1}:{label}" for i, label in enumerate(labels)]
    return labels


def _rows(estimates: list[Estimate]) -> tuple[LayerRow, ...]:
    per_side = [{t.op.name: t for t in e.schedule.tasks} for e in estimates]
    order: dict[str, str] = {}  # layer name -> op type, in the first side's order, then the others'
    for e in estimates:
        for t in e.schedule.tasks:
            order.setdefault(t.op.name, t.op.op_type)
    rows = []
    for name, op_type in order.items():
        sides = tuple(
            LayerSide(t.duration_ns, _bound(t), str(t.candidate.label)) if (t := side.get(name)) else None
            for side in per_side)
        rows.append(LayerRow(name, op_type, sides))
    rows.sort(key=lambda r: -r.largest_change_ns)  # stable: equal changes keep graph order
    return tuple(rows)


def _bound(task: Any) -> str:
    """The layer's bound, and for compute what inside the engine: MACs, CMX reads, the PPE, or the
    SHAVE kernel (so an Add that a 2x-MAC part does not speed up says why)."""
    bound = task.bound.value
    if bound != "compute":
        return bound
    limit = task.compute.limit or task.op.engine.value.lower()
    return f"compute ({limit})"


def comparison_record(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain data (``--json``)."""
    from nbperf.report.records import provenance_record, summary_record

    def side(row: LayerRow, i: int) -> dict[str, Any]:
        s = row.sides[i]
        speedup = row.speedup(i)
        return {"label": comparison.labels[i],
                "time_us": None if s is None else round(s.time_ns / 1e3, 4),
                "bound": None if s is None else s.bound, "strategy": None if s is None else s.strategy,
                "speedup": None if speedup is None or i == 0 else _finite(speedup),
                "note": "" if i == 0 else row.note(i)}

    return {
        "baseline": comparison.labels[0],
        "sides": [{"label": label, **summary_record(e, modes=False), "provenance": provenance_record(e),
                   "speedup": None if i == 0 else _finite(comparison.total_speedup(i))}
                  for i, (label, e) in enumerate(zip(comparison.labels, comparison.estimates, strict=True))],
        "layers": [{"name": r.name, "op_type": r.op_type,
                    "largest_change_us": round(r.largest_change_ns / 1e3, 4),
                    "sides": [side(r, i) for i in range(len(comparison.labels))]} for r in comparison.layers],
    }


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One flat row per layer (``--csv``): each side's time, bound, strategy, speedup and note."""
    rows = []
    for r in comparison.layers:
        row: dict[str, Any] = {"layer": r.name, "op_type": r.op_type,
                               "largest_change_us": round(r.largest_change_ns / 1e3, 4)}
        for i, label in enumerate(comparison.labels):
            s, speedup = r.sides[i], r.speedup(i)
            row[f"{label} time_us"] = "" if s is None else round(s.time_ns / 1e3, 4)
            row[f"{label} bound"] = "" if s is None else s.bound
            row[f"{label} strategy"] = "" if s is None else s.strategy
            if i:
                row[f"{label} speedup"] = "" if speedup is None else _finite(speedup)
                row[f"{label} note"] = r.note(i)
        rows.append(row)
    return rows


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None
