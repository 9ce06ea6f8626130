"""Whole-model measurements: benchmark_app's ``benchmark_report.csv`` / ``.json``, or a plain table.

benchmark_app (``openvino/tools/benchmark/main.py`` and ``utils/statistics_report.py`` in the
openvino wheel, 2025.4) writes three sections of ``key;value`` lines: "Command line parameters"
(the arguments as given, ``-hint`` among them), "Configuration setup" (``topology``, ``target
device``, ``API``, ...) and "Execution results" (``latency (ms)``: the median, or ``latency (90
percentile) (ms)``; ``throughput`` in FPS). The JSON report holds the same three as
``cmd_options``, ``configuration_setup`` and ``execution_results``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from nbperf.errors import UsageError
from nbperf.measured.text import number, read_text

_SECTIONS = {"Command line parameters": "cmd_options", "Configuration setup": "configuration_setup",
             "Execution results": "execution_results"}
_PLAIN_COLUMNS = ("model", "arch", "precision", "mode", "latency_ms", "fps")
_THROUGHPUT_HINTS = {"throughput", "tput", "cumulative_throughput", "ctput"}


@dataclass(frozen=True)
class MeasuredRun:
    model: str
    arch: str | None
    precision: str | None
    mode: str  # "latency" or "throughput"
    latency_ms: float | None
    fps: float | None
    source: str


def read_runs(path: str | Path) -> list[MeasuredRun]:
    """The whole-model runs in ``path``: one for a benchmark_app report, one per row of a table."""
    text = read_text(path)
    source = str(path)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise UsageError(f"measured file {source}: not valid JSON: {exc}") from None
        if not isinstance(data, dict) or "execution_results" not in data:
            raise UsageError(f"measured file {source}: not a benchmark_app report (no execution_results)")
        return [_benchmark_run({k: v for k, v in data.items() if isinstance(v, dict)}, source)]
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and lines[0].strip() in _SECTIONS:
        return [_benchmark_run(_sections(lines, source), source)]
    header = [h.strip() for h in lines[0].split(",")] if lines else []
    if {"model", "mode"} <= set(header):
        return _plain_runs(lines, source)
    raise UsageError(f"measured file {source}: unknown layout; nbperf reads benchmark_app's "
                     f"benchmark_report.csv or .json, or a CSV with columns {','.join(_PLAIN_COLUMNS)}")


def _sections(lines: list[str], source: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for lineno, line in enumerate(lines, 1):
        if line.strip() in _SECTIONS:
            current = sections.setdefault(_SECTIONS[line.strip()], {})
            continue
        key, sep, value = line.partition(";")
        if not sep or current is None:
            raise UsageError(f"measured file {source}: line {lineno}: {line[:60]!r} is not a key;value line")
        current[key.strip()] = value.strip()
    return sections


def _benchmark_run(sections: dict[str, dict[str, str]], source: str) -> MeasuredRun:
    setup, results = sections.get("configuration_setup", {}), sections.get("execution_results", {})
    options = {k.lstrip("-"): str(v) for k, v in sections.get("cmd_options", {}).items()}
    hint = (options.get("hint") or options.get("perf_hint") or "").strip().lower()
    if hint and hint != "none":
        mode = "throughput" if hint in _THROUGHPUT_HINTS else "latency"
    else:  # no hint (or -hint none): the API decides, as in benchmark_app's main.py (sync: latency)
        mode = "latency" if str(setup.get("API", "async")).strip().lower() == "sync" else "throughput"
    latency_key = next((k for k in results if re.fullmatch(r"latency( \(\d+ percentile\))? \(ms\)", k)), None)
    latency = number(results[latency_key], source, "execution results", latency_key) if latency_key else None
    fps = (number(results["throughput"], source, "execution results", "throughput")
           if "throughput" in results else None)
    if latency is None and fps is None:
        raise UsageError(f"measured file {source}: its execution results have neither latency (ms) nor "
                         "throughput")
    model = str(setup.get("topology") or options.get("m") or Path(source).stem)
    precision = str(setup.get("precision", "")).lower()
    arch = str(setup.get("target device") or "").strip() or None  # not str(None): a missing key is None
    return MeasuredRun(model=model, arch=arch,
                       precision=precision if precision in ("int8", "fp16") else None, mode=mode,
                       latency_ms=latency, fps=fps, source=source)


def _plain_runs(lines: list[str], source: str) -> list[MeasuredRun]:
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    fields = [f.strip() for f in reader.fieldnames or []]
    if len(set(fields)) != len(fields):
        raise UsageError(f"measured file {source}: a column name is repeated in its header")
    reader.fieldnames = fields
    missing = [c for c in ("model", "mode") if c not in fields]
    if not {"latency_ms", "fps"} & set(fields):
        missing.append("latency_ms or fps")
    if missing:
        raise UsageError(f"measured file {source}: its header lacks the column {', '.join(missing)} "
                         f"(columns: {','.join(_PLAIN_COLUMNS)}; arch and precision may be left out)")
    runs = []
    for index, row in enumerate(reader, 2):
        where = f"row {index}"
        if None in row:  # DictReader's key for cells past the header: a shifted row, not extra data
            raise UsageError(f"measured file {source}: {where}: more fields than the header has")
        mode = (row.get("mode") or "").strip().lower()
        if mode not in ("latency", "throughput"):
            raise UsageError(f"measured file {source}: {where}: mode {row.get('mode')!r} must be latency or "
                             "throughput")
        latency = number(row.get("latency_ms"), source, where, "latency_ms", allow_blank=True)
        fps = number(row.get("fps"), source, where, "fps", allow_blank=True)
        if math.isnan(latency) and math.isnan(fps):
            raise UsageError(f"measured file {source}: {where}: neither latency_ms nor fps is given")
        model = (row.get("model") or "").strip()
        if not model:
            raise UsageError(f"measured file {source}: {where}: empty model name")
        runs.append(MeasuredRun(
            model=model, arch=(row.get("arch") or "").strip() or None,
            precision=(row.get("precision") or "").strip().lower() or None, mode=mode,
            latency_ms=None if math.isnan(latency) else latency, fps=None if math.isnan(fps) else fps,
            source=source))
    if not runs:
        raise UsageError(f"measured file {source}: no rows")
    return runs
