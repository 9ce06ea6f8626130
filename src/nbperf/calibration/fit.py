"""Fit per-op-class compute time factors to measured layer times.

The model: a layer's measured time is its estimated time with its class's compute scaled by
that class's factor, the plan fixed (``recost.FixedPlan``), times noise. The factors minimise
the robust (soft L1) loss of log(estimated / measured) over the training layers, bounded to the
arch field's 0.05 .. 20, with SciPy's ``least_squares``: log errors weigh a 2x miss on a 10 us
layer like one on a 1 ms layer, as the share-within-10% metric does, and the soft L1 loss keeps a
few odd layers (a profiler artefact, a layer nbperf lowers differently) from pulling a class.
Each class starts from its layers' median measured / estimated ratio, so a class whose layers
are all DMA bound at factor 1 (insensitive there) still starts where its compute shows.

Layers are split into training and held-out sets by a hash of (model, layer name): the same
split on every run, and error before and after is reported on both.
"""

from __future__ import annotations

import math
import statistics
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbperf.arch.model import CalibrationSpec
from nbperf.calibration.classes import fittable
from nbperf.calibration.recost import FixedPlan
from nbperf.calibration.stats import ErrorStats, error_stats
from nbperf.errors import UsageError

if TYPE_CHECKING:
    from nbperf.calibration.correlate import Correlation

FACTOR_BOUNDS = (0.05, 20.0)  # the arch field's bounds (CalibrationSpec)
MIN_LAYERS = 3  # assumed: a class fitted on fewer training layers keeps its factor
SOFT_L1_SCALE = 0.1  # residuals (log ratio) beyond ~10% count linearly, not squared (assumed noise scale)
_SENSITIVE = 1e-3  # d log(time) / d log(factor) below this over a class: its layers never show compute


@dataclass(frozen=True)
class Sample:
    """One model's fixed plan and the measured time of each of its matched layers (us)."""

    model: str
    plan: FixedPlan
    measured_us: dict[str, float]
    classes: dict[str, str]  # layer -> op class


@dataclass(frozen=True)
class ClassFit:
    op_class: str
    factor: float
    start: float  # the factor the arch had
    layers: int  # training layers of the class
    status: str  # "fitted", or why the factor was kept / where it stopped
    rel_stderr: float | None = None  # the factor's standard error over the factor (None: not fitted)


@dataclass(frozen=True)
class FitResult:
    calibration: CalibrationSpec
    classes: tuple[ClassFit, ...]
    train_before: ErrorStats
    train_after: ErrorStats
    held_before: ErrorStats
    held_after: ErrorStats
    held_out_share: float


def sample_of(correlation: Correlation) -> Sample:
    """The fittable, measured layers of one correlation, with their fixed plan."""
    measured = {c.name: c.measured_us for c in correlation.compared
                if fittable(c.op_class) and c.estimated_us > 0}
    classes = {c.name: c.op_class for c in correlation.layers}
    return Sample(correlation.estimate.model, FixedPlan(correlation.estimate), measured, classes)


def held_out(model: str, layer: str, share: float) -> bool:
    """Whether a layer is in the held-out set: a stable hash, so every run splits alike."""
    return zlib.crc32(f"{model}\0{layer}".encode()) % 10_000 < share * 10_000


def check_holdout(holdout: float) -> None:
    if not 0 <= holdout < 1:
        raise UsageError(f"--holdout must be in [0, 1), got {holdout}")


def fit(samples: list[Sample], holdout: float = 0.25) -> FitResult:
    """Fit the classes of ``samples``' training layers; error before and after on both sets."""
    try:
        from scipy.optimize import least_squares
    except ImportError:
        raise UsageError("nbperf calibrate needs SciPy: pip install 'nbperf[calibrate]'") from None
    check_holdout(holdout)
    base = samples[0].plan.arch.calibration
    train = [{n: t for n, t in s.measured_us.items() if not held_out(s.model, n, holdout)} for s in samples]
    held = [{n: t for n, t in s.measured_us.items() if held_out(s.model, n, holdout)} for s in samples]
    before = [s.plan.layer_ns(base) for s in samples]
    counts: dict[str, int] = {}
    for s, layers in zip(samples, train, strict=True):
        for name in layers:
            counts[s.classes[name]] = counts.get(s.classes[name], 0) + 1
    fitted = sorted(c for c, n in counts.items() if n >= MIN_LAYERS)

    def spec(theta: list[float]) -> CalibrationSpec:
        factors = {c: math.exp(t) for c, t in zip(fitted, theta, strict=True)}
        return _with_factors(base, factors)

    def residuals(theta: list[float]) -> list[float]:
        calibration = spec(theta)
        out: list[float] = []
        for s, layers in zip(samples, train, strict=True):
            times = s.plan.layer_ns(calibration)
            out.extend(math.log(max(times[n], 1e-3) / 1e3 / t) for n, t in layers.items())
        return out

    start = [math.log(_factor(base, c)) for c in fitted]
    theta0 = [_clamp_log(s + math.log(_median_ratio(c, samples, train, before)))
              for c, s in zip(fitted, start, strict=True)]
    theta = theta0
    statuses = {c: "fitted" for c in fitted}
    if fitted:
        low, high = math.log(FACTOR_BOUNDS[0]), math.log(FACTOR_BOUNDS[1])
        solution = least_squares(residuals, theta0, bounds=(low, high), loss="soft_l1", f_scale=SOFT_L1_SCALE,
                                 diff_step=1e-2, x_scale=1.0)
        theta = list(solution.x)
        stderr = _stderr(solution.jac, solution.fun)
        for i, c in enumerate(fitted):
            if not any(abs(v) > _SENSITIVE for v in solution.jac[:, i]):
                statuses[c] = "no effect: its layers' time never follows their compute (DMA bound)"
                theta[i] = start[i]
            elif min(theta[i] - low, high - theta[i]) < 1e-6:
                statuses[c] = "at the bound"
    calibration = _rounded(spec(theta))  # what the overlay will hold, to the digit
    after = [s.plan.layer_ns(calibration) for s in samples]
    classes = [ClassFit(c, round(_factor(calibration, c), 4), _factor(base, c), counts[c], statuses[c],
                        stderr[i] if statuses[c] == "fitted" else None)
               for i, c in enumerate(fitted)]
    classes += [ClassFit(c, _factor(base, c), _factor(base, c), n,
                         f"kept: {n} training layers (< {MIN_LAYERS})")
                for c, n in sorted(counts.items()) if c not in statuses]
    return FitResult(
        calibration=calibration, classes=tuple(sorted(classes, key=lambda f: f.op_class)),
        train_before=_stats(train, before), train_after=_stats(train, after),
        held_before=_stats(held, before), held_after=_stats(held, after), held_out_share=holdout)


def _stderr(jac: Any, residuals: Any) -> list[float]:
    """Each log-factor's standard error, which is the factor's relative one: the Gauss-Newton
    covariance sigma^2 (J^T J)^-1 at the solution (J weighted by the robust loss, as SciPy returns
    it), sigma the residuals' scale from their median absolute deviation (robust to the outliers
    the loss discounts). It says how well the layers pin a factor down: a class whose layers are
    mostly DMA bound, or few, gets a wide one."""
    import numpy as np

    r = np.asarray(residuals, dtype=float)
    sigma = 1.4826 * float(np.median(np.abs(r - np.median(r)))) if r.size else 0.0
    j = np.asarray(jac, dtype=float)
    cov = sigma**2 * np.linalg.pinv(j.T @ j)
    return [float(math.sqrt(max(v, 0.0))) for v in np.diag(cov)]


def _median_ratio(op_class_name: str, samples: list[Sample], train: list[dict[str, float]],
                  before: list[dict[str, float]]) -> float:
    ratios = [t / (times[n] / 1e3) for s, layers, times in zip(samples, train, before, strict=True)
              for n, t in layers.items() if s.classes[n] == op_class_name and times[n] > 0]
    return statistics.median(ratios) if ratios else 1.0


def _clamp_log(value: float) -> float:
    return min(max(value, math.log(FACTOR_BOUNDS[0])), math.log(FACTOR_BOUNDS[1]))


def _factor(calibration: CalibrationSpec, name: str) -> float:
    engine, _, kind = name.partition(".")
    return calibration.dpu_factor(kind) if engine == "dpu" else calibration.shave_factor(kind)


def _with_factors(base: CalibrationSpec, factors: dict[str, float]) -> CalibrationSpec:
    dpu, shave = dict(base.dpu), dict(base.shave)
    for name, value in factors.items():
        engine, _, kind = name.partition(".")
        (dpu if engine == "dpu" else shave)[kind] = value
    return CalibrationSpec.model_construct(dpu=dpu, shave=shave, fitted_from=base.fitted_from)


def _rounded(calibration: CalibrationSpec) -> CalibrationSpec:
    return CalibrationSpec(dpu={k: round(v, 4) for k, v in calibration.dpu.items()},
                           shave={k: round(v, 4) for k, v in calibration.shave.items()},
                           fitted_from=calibration.fitted_from)


def _stats(sets: list[dict[str, float]], times: list[dict[str, float]]) -> ErrorStats:
    return error_stats((times_of[n] / 1e3, t) for layers, times_of in zip(sets, times, strict=True)
                       for n, t in layers.items())
