"""Running the (model, point) estimates of a sweep: in process, on a local process pool, or on Ray.

Each job is a plain tuple, its result a plain row, so every executor runs the same function and
gives identical rows. A worker process keeps each model it has loaded (frontend and lowering run
once per model and precision, ``nbperf.load``) and the shared compute-cost memo
(``TaskCoster(shared=True)``), so repeated layers and repeated DPU points cost once per worker.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbperf.errors import InternalError, NbperfError
from nbperf.sweep.grid import Point

EXECUTORS = ("pool", "ray", "serial")


@dataclass(frozen=True)
class Job:
    """One estimate of a sweep: a model file at a design point, with the options every point shares."""

    index: int
    model_path: str
    arch: str
    base_overrides: tuple[str, ...]
    point: Point
    options: tuple[tuple[str, Any], ...]  # estimate keyword arguments (input shapes, policy, ...)
    modes: bool  # add throughput mode and the -hint latency compile to the row

    @property
    def key(self) -> tuple[str, str]:
        """What a results file knows a finished job by: (model path, point label)."""
        return self.model_path, self.point.label


# Models a worker process has loaded, most recent last. Jobs go out model after model, so a few
# suffice; a sweep over many models does not keep them all.
_loaded: OrderedDict[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], Any] = OrderedDict()
_LOADED_KEPT = 4


def run_job(job: Job) -> dict[str, Any]:
    """The results row of one job. A problem with the model or the point (it does not fit, the
    arch is inconsistent) is the row's ``error``, not the sweep's end; a bug in nbperf is marked
    as one (``internal error: ...``) so it is never mistaken for the design point's fault."""
    from nbperf.api import estimate
    from nbperf.loaded import load
    from nbperf.report.records import summary_record

    options = dict(job.options)
    shapes = options.pop("input_shapes", None) or {}
    row: dict[str, Any] = {"model": Path(job.model_path).name, "model_path": job.model_path,
                           "point": job.point.label}
    row.update({f"grid.{k}": v for k, v in job.point.values})
    try:
        cache_key = (job.model_path, tuple(sorted(shapes.items())))
        model = _loaded.get(cache_key)
        if model is None:
            model = _loaded[cache_key] = load(job.model_path, shapes)
            if len(_loaded) > _LOADED_KEPT:
                _loaded.popitem(last=False)
        else:
            _loaded.move_to_end(cache_key)
        result = estimate(model, job.arch, arch_overrides=[*job.base_overrides, *job.point.arch_overrides()],
                          **{**options, **job.point.options()})
        row["error"] = ""
        summary = summary_record(result, modes=job.modes)
        summary.pop("model")  # the file name is already the row's first column
        row.update(summary)
    except InternalError as exc:
        row["error"] = f"internal error (a bug in nbperf): {exc.message}"
    except NbperfError as exc:
        row["error"] = exc.message
    except Exception as exc:  # a bug in nbperf: say so, keep the sweep going
        row["error"] = f"internal error (a bug in nbperf): {type(exc).__name__}: {exc}"
    return row


def run_jobs(jobs: list[Job], executor: str = "pool", workers: int | None = None, address: str | None = None,
             on_row: Callable[[Job, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every job's row, in job order, whatever order they finished in. ``on_row`` sees each row as
    it arrives (progress, checkpoints)."""
    rows: dict[int, dict[str, Any]] = {}
    by_index = {job.index: job for job in jobs}
    for index, row in _execute(jobs, executor, workers, address):
        rows[index] = row
        if on_row is not None:
            on_row(by_index[index], row)
    return [rows[job.index] for job in jobs]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _execute(jobs: list[Job], executor: str, workers: int | None,
             address: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    if not jobs:
        return
    if executor == "ray":
        yield from _ray(jobs, workers, address)
        return
    workers = workers or default_workers()
    if executor == "serial" or workers == 1 or len(jobs) == 1:
        for job in jobs:
            yield job.index, run_job(job)
        return
    yield from _pool(jobs, workers)


def _pool(jobs: list[Job], workers: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """A local process pool. Jobs go out grouped by model (one model's points after another), so a
    worker mostly meets models it has already loaded."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job): job.index for job in jobs}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # Ctrl-C or a dead worker: do not wait for the queued jobs
            for future in futures:
                future.cancel()
            raise


def _ray(jobs: list[Job], workers: int | None, address: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """The same jobs on a Ray cluster: ``address`` of a running one, or a local one started here
    (``workers`` CPUs). Ray workers are long-lived processes, so they keep their loaded models."""
    try:
        import ray
    except ImportError:
        from nbperf.errors import UsageError

        raise UsageError("--executor ray needs Ray: pip install 'nbperf[ray]'") from None
    import logging

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else (workers or default_workers()),
                 include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        remote = ray.remote(run_job)
        pending = {remote.remote(job): job.index for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()
