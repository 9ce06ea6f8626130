"""Whole-model correlation: measured latency or throughput against the matching estimate.

benchmark_app measures one of two things and nbperf estimates both: ``-hint latency`` (one
synchronous request on the compile the LATENCY hint makes: ``Estimate.latency_hint``) and
``-hint throughput`` (several requests in flight: ``Estimate.throughput_fps``). Each measured run
is compared with the estimate of its own mode, never the other one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbperf.arch.loader import preset_names
from nbperf.errors import UsageError
from nbperf.measured import MeasuredRun
from nbperf.result import Estimate


@dataclass(frozen=True)
class RunComparison:
    run: MeasuredRun
    model_path: str
    arch: str
    estimated: float  # latency ms or FPS, as the run's mode measures
    measured: float
    unit: str  # "ms" or "FPS"

    @property
    def time_ratio(self) -> float:
        """Estimated time over measured time (1.2: 20% pessimistic), whichever the mode measured."""
        return self.estimated / self.measured if self.unit == "ms" else self.measured / self.estimated


@dataclass(frozen=True)
class RunsCorrelation:
    rows: tuple[RunComparison, ...]
    unpaired_runs: tuple[MeasuredRun, ...]
    unused_models: tuple[str, ...]

    @property
    def geomean_ratio(self) -> float:
        return math.exp(sum(math.log(r.time_ratio) for r in self.rows) / len(self.rows))

    @property
    def geomean_error_pct(self) -> float:
        """exp(mean |log(estimated / measured)|) - 1: the typical miss, whichever way."""
        return 100.0 * (math.exp(sum(abs(math.log(r.time_ratio)) for r in self.rows) / len(self.rows)) - 1)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", Path(name).stem.lower() if "/" in name or "." in name else name.lower())


def correlate_runs(models: list[str], runs: list[MeasuredRun], arch: str,
                   estimate_of: Callable[[str, str, str | None], Estimate]) -> RunsCorrelation:
    """Pair each run with a model (by name; a single model takes a single run whatever its name),
    estimate it on the run's arch (a preset it names, else ``arch``) at its precision, and compare
    in the run's mode. ``estimate_of(model, arch, precision)`` runs one estimate."""
    keyed = {_key(m): m for m in models}
    rows: list[RunComparison] = []
    unpaired: list[MeasuredRun] = []
    used: set[str] = set()
    for run in runs:
        path = keyed.get(_key(run.model)) or (models[0] if len(models) == 1 and len(runs) == 1 else None)
        if path is None:
            unpaired.append(run)
            continue
        measured = run.latency_ms if run.mode == "latency" else run.fps
        if measured is None or measured <= 0:
            what = "latency" if run.mode == "latency" else "throughput"
            raise UsageError(f"measured run of {run.model} ({run.source}) is in {run.mode} mode but has "
                             f"no {what}")
        run_arch = run.arch if run.arch in preset_names() else arch
        precision = run.precision if run.precision in ("int8", "fp16") else None
        est = estimate_of(path, run_arch, precision)
        estimated, unit = ((est.latency_hint.latency_ms, "ms") if run.mode == "latency"
                           else (est.throughput_fps, "FPS"))
        rows.append(RunComparison(run, path, run_arch, estimated, measured, unit))
        used.add(path)
    if not rows:
        names = ", ".join(repr(r.model) for r in runs[:4])
        raise UsageError(f"no measured run names one of the models given ({names} vs "
                         f"{', '.join(Path(m).stem for m in models[:4])})")
    return RunsCorrelation(tuple(rows), tuple(unpaired), tuple(m for m in models if m not in used))
