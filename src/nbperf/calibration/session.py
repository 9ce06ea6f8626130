"""``nbperf calibrate`` as a function: estimate, match, fit, and check the result by re-estimating."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbperf.calibration.correlate import Correlation, correlate
from nbperf.calibration.fit import FitResult, check_holdout, fit, sample_of
from nbperf.measured import read_layer_times
from nbperf.result import Estimate


@dataclass(frozen=True)
class CalibrationSession:
    models: tuple[Path, ...]
    measured: tuple[Path, ...]
    estimates: tuple[Estimate, ...]  # before: on the arch as given
    correlations: tuple[Correlation, ...]
    fit: FitResult
    options: dict[str, object] = field(default_factory=dict)  # estimate options, reused with the overlay

    def re_estimate(self, overlay: str | Path) -> list[Estimate]:
        """Every model again on the overlay: re-planned, as a user's next ``estimate`` will be."""
        from nbperf.api import estimate

        return [estimate(model, overlay, **self.options) for model in self.models]  # type: ignore[arg-type]


def calibrate(models: list[Path], measured: list[Path], arch: str, holdout: float = 0.25,
              **options: object) -> CalibrationSession:
    """Fit factors for ``arch`` to ``measured`` (one file per model, in order); ``options`` are
    ``nbperf.estimate``'s (precision, input_shapes, cost_model, policy)."""
    from nbperf.api import estimate

    check_holdout(holdout)  # before any estimate runs
    estimates, correlations = [], []
    for model, path in zip(models, measured, strict=True):
        times = read_layer_times(path)  # a bad file fails before any estimate runs
        result = estimate(model, arch, **options)  # type: ignore[arg-type]
        estimates.append(result)
        correlations.append(correlate(result, times))
    samples = [sample_of(c) for c in correlations]
    return CalibrationSession(tuple(models), tuple(measured), tuple(estimates), tuple(correlations),
                              fit(samples, holdout), dict(options))
