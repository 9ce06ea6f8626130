"""Design-space sweeps: every model at every point of a grid, one results row each.

``sweep`` checks the grid, expands it (``grid``), skips the jobs an existing results file already
holds, runs the rest on an executor (``runner``: a local process pool, Ray, or in process) and
writes the rows (``results``), checkpointing as it goes so an interrupted sweep resumes where it
stopped and ends with the same file.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbperf.errors import UsageError
from nbperf.sweep.grid import OPTION_KEYS, Axis, Point, check_axes, parse_grid, points
from nbperf.sweep.results import check_out_path, read_rows, write_rows
from nbperf.sweep.runner import EXECUTORS, Job, run_jobs

MODEL_SUFFIXES = (".onnx", ".xml")
CHECKPOINT_SECONDS = 5.0  # rewrite the results file at most this often while the sweep runs

__all__ = ["EXECUTORS", "OPTION_KEYS", "Axis", "Point", "SweepRun", "find_models", "parse_grid", "sweep"]


class SweepRun:
    """What a sweep did: its rows (all of the file's, in order), and how many ran, were skipped
    because the file already had them, or failed."""

    def __init__(self, rows: list[dict[str, Any]], ran: int, skipped: int, seconds: float) -> None:
        self.rows, self.ran, self.skipped, self.seconds = rows, ran, skipped, seconds

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("error")]

    def __repr__(self) -> str:
        return (f"SweepRun(rows={len(self.rows)}, ran={self.ran}, skipped={self.skipped}, "
                f"failed={len(self.failed)}, seconds={self.seconds:.1f})")


def find_models(specs: list[str | Path]) -> list[str]:
    """Model files from files, folders (their .onnx and .xml files) and glob patterns, sorted within
    each spec, each file once."""
    found: list[str] = []
    for spec in specs:
        text = str(spec)
        path = Path(text)
        if path.is_dir():
            matches = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in MODEL_SUFFIXES)
        elif path.is_file():
            matches = [text]
        else:
            matches = sorted(m for m in glob.glob(text, recursive=True)
                             if Path(m).suffix.lower() in MODEL_SUFFIXES)
        if not matches:
            raise UsageError(f"--models {text}: no .onnx or .xml model there")
        found += [m for m in matches if m not in found]
    return found


def sweep(models: list[str | Path] | str | Path, arch: str | Path = "npu4000",
          grid: list[str] | dict[str, list[Any]] | None = None, *, out: str | Path | None = None,
          executor: str = "pool", workers: int | None = None, address: str | None = None,
          arch_overrides: list[str] | tuple[str, ...] = (), modes: bool = True,
          on_progress: Callable[[int, int], None] | None = None, **options: Any) -> SweepRun:
    """Estimate every model at every point of ``grid`` (the cartesian product of its axes).

    ``grid``: ``["dpu.macs_per_tile=2048,4096", "tiles=2,4,6"]`` or ``{"tiles": [2, 4, 6]}``; keys
    are arch fields or ``precision`` / ``policy`` / ``schedule``. ``out`` (``.parquet`` or ``.csv``):
    results file, resumed when it exists (jobs it holds are skipped). ``executor``: ``pool`` (local
    processes, ``workers`` of them, default all cores), ``ray`` (a Ray cluster at ``address``, or a
    local one) or ``serial``. ``modes`` adds throughput and -hint latency figures (each may estimate
    again on fewer tiles). ``options`` go to every ``nbperf.estimate`` call (``input_shapes``,
    ``policy``, ``precision``, ...). ``on_progress(done, total)`` is called as rows arrive."""
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; use {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if address is not None and executor != "ray":
        raise UsageError("--address is the Ray cluster's: it needs --executor ray")
    paths = find_models([models] if isinstance(models, str | Path) else list(models))
    axes = parse_grid(grid or [])
    clash = sorted({a.key for a in axes} & set(options))
    if clash:
        raise UsageError(f"{clash[0]} is both swept (--grid) and fixed: give it in one place")
    check_axes(arch, axes, list(arch_overrides))
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        check_out_path(out_path)
    fixed = tuple(sorted(options.items()))
    jobs = [Job(i, path, str(arch), tuple(arch_overrides), point, fixed, modes)
            for i, (path, point) in enumerate((p, q) for p in paths for q in points(axes))]
    previous = read_rows(out_path) if out_path is not None else []
    _check_same_sweep(previous, axes, out_path)
    done = {(r["model_path"], r["point"]): r for r in previous}
    todo = [job for job in jobs if job.key not in done]
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    last_write = time.monotonic()
    start = time.perf_counter()

    def ordered() -> list[dict[str, Any]]:
        rows = {**done, **fresh}
        known = [rows[job.key] for job in jobs if job.key in rows]
        keys = {job.key for job in jobs}
        return known + [r for k, r in rows.items() if k not in keys]  # rows of other grids, kept

    def on_row(job: Job, row: dict[str, Any]) -> None:
        nonlocal last_write
        fresh[job.key] = row
        if on_progress is not None:
            on_progress(len(fresh), len(todo))
        if out_path is not None and time.monotonic() - last_write >= CHECKPOINT_SECONDS:
            write_rows(out_path, ordered(), _columns(ordered()))
            last_write = time.monotonic()

    run_jobs(todo, executor, workers, address, on_row)
    rows = ordered()
    if out_path is not None and (todo or not out_path.exists()):
        write_rows(out_path, rows, _columns(rows))
    return SweepRun(rows, len(todo), len(jobs) - len(todo), time.perf_counter() - start)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of every row, first seen first (a failed row has fewer): stable for the same rows."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _check_same_sweep(previous: list[dict[str, Any]], axes: list[Axis], out: Path | None) -> None:
    if not previous:
        return
    swept = sorted(k for k in previous[0] if k.startswith("grid."))
    wanted = sorted(a.column for a in axes)
    if swept != wanted:
        raise UsageError(f"{out} holds a sweep over {', '.join(swept) or 'no grid'}, not "
                         f"{', '.join(wanted) or 'no grid'}: give another --out to start a new sweep")
    for row in previous:
        if "model_path" not in row or "point" not in row:
            raise UsageError(f"{out} is not an nbperf sweep results file (no model_path / point columns)")
