"""Shared pieces of the robustness suite: per-case time limits, the outcome contract, settings.

The contract every fuzz case checks: ``nbperf.estimate`` either returns an estimate with a finite,
positive latency whose JSON and CSV reports can be produced, or raises ``NbperfError`` with a
one-line message and exit code 2. Any other exception (an ``InternalError``, exit code 3, or a raw
KeyError from nbperf's code), a user error whose message reads like a bug report, or a case running
longer than ``CASE_SECONDS``, fails the test.
"""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings

from nbperf.api import Estimate
from nbperf.errors import InternalError, NbperfError
from nbperf.report import to_csv, to_json

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"
EXAMPLES = REPO_ROOT / "examples" / "models"
BROKEN = REPO_ROOT / "tests" / "data" / "broken"

CASE_SECONDS = 20.0  # hard per-case limit (SIGALRM); hypothesis' deadline catches slow cases earlier
FUZZ_EXAMPLES = max(500, int(os.environ.get("NBPERF_FUZZ_EXAMPLES", "500")))

# Deterministic in CI (derandomize); NBPERF_FUZZ_RANDOM=1 explores new cases locally.
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=not os.environ.get("NBPERF_FUZZ_RANDOM"),
    database=None,
    # A slow case, not a wrong one: speed goals live in benchmarks/; SIGALRM (CASE_SECONDS) still
    # stops a hang. 5 s was hit by a mutated ResNet-50 (5.9 s) once int8 conversions, permutes and
    # the finer DPU grid made its estimate slower.
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
    print_blob=True,
)


class CaseTimeout(BaseException):
    """A fuzz case ran longer than its time limit (a hang).

    A BaseException on purpose: nbperf's own ``except Exception`` guards must not turn it into a
    ModelError and hide the hang.
    """


@contextmanager
def time_limit(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Raise ``CaseTimeout`` in the main thread when the block runs longer than ``seconds``."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - not on Windows
        yield
        return

    def on_alarm(_signum: int, _frame: object) -> None:
        raise CaseTimeout(f"case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _no_constants(name: str) -> None:
    raise AssertionError(f"report contains {name}")


def check_report(result: Estimate) -> None:
    """The estimate's latency is finite and positive and its JSON/CSV reports are well formed."""
    assert math.isfinite(result.latency_ms) and result.latency_ms > 0, result.latency_ms
    assert math.isfinite(result.fps) and result.fps > 0, result.fps
    text = to_json(result)
    report = json.loads(text, parse_constant=_no_constants)  # NaN / Infinity are not JSON
    assert report["latency_ms"] > 0
    to_csv(result)


# Words that only a report of nbperf's own failure may use: a user error never says them.
INTERNAL_WORDS = ("internal error", "a bug in nbperf", "processing it failed")


def check_user_error(e: BaseException) -> None:
    """``e`` is a user error: an NbperfError, exit code 2, one non-empty line that blames the input.

    An ``InternalError`` (exit code 3) is a bug in nbperf and fails the case, as does a user error
    that wraps one (the frontend once reported its own KeyErrors as "processing it failed").
    """
    assert not isinstance(e, InternalError), f"internal error: {e}"
    assert isinstance(e, NbperfError), f"{type(e).__name__}: {e}"
    assert e.message.strip(), "empty error message"
    assert "\n" not in e.message and "\r" not in e.message, e.message
    assert e.exit_code == 2, e.exit_code
    lowered = e.message.lower()
    assert not any(w in lowered for w in INTERNAL_WORDS), f"a user error that reads like a bug: {e.message}"
    assert not isinstance(e.__cause__, InternalError), f"a user error caused by an internal one: {e.message}"


def check_outcome(run: Callable[[], Estimate], seconds: float = CASE_SECONDS) -> str:
    """Run one case under the contract; return "ok" or "error" (for hypothesis.event statistics)."""
    with time_limit(seconds):
        try:
            result = run()
        except NbperfError as e:
            check_user_error(e)
            return "error"
        check_report(result)
    return "ok"


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m nbperf`` in a child: this checkout's src first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p]])
    env.pop("NBPERF_DEBUG", None)
    return env


def reports_in_child(model: str, arch: str, cost: str = "math", repeats: int = 2
                     ) -> tuple[list[tuple[str, str]], int]:
    """Worker for the cross-process determinism check: (JSON, CSV) of ``repeats`` estimates, and
    this process's hash of a fixed string (proves the workers hash strings differently)."""
    import nbperf

    out = []
    for _ in range(repeats):
        result = nbperf.estimate(model, arch, cost_model=cost)
        out.append((to_json(result), to_csv(result)))
    return out, hash("nbperf-hash-seed-probe")
