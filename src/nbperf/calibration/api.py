"""The public functions of correlation and calibration (``nbperf.correlate``, ``nbperf.calibrate``)."""

from __future__ import annotations

from pathlib import Path

from nbperf.calibration.correlate import Correlation
from nbperf.calibration.correlate import correlate as _correlate
from nbperf.calibration.session import CalibrationSession
from nbperf.calibration.session import calibrate as _calibrate
from nbperf.measured import MeasuredLayers, read_layer_times
from nbperf.result import Estimate


def correlate(result: Estimate, measured: str | Path | MeasuredLayers) -> Correlation:
    """``result`` against measured per-layer times (a benchmark_app counters report, a
    ``layer,time_us`` CSV, or layers already read): ``.overall``, ``.grouped("op_class")``,
    ``.grouped("engine")`` (MAPE, shares within +-10% / +-20%, geometric mean ratio) and ``.layers``."""
    layers = measured if isinstance(measured, MeasuredLayers) else read_layer_times(measured)
    return _correlate(result, layers)


def calibrate(models: list[str | Path], measured: list[str | Path], arch: str = "npu4000",
              holdout: float = 0.25, **options: object) -> CalibrationSession:
    """Fit per-op-class compute factors of ``arch`` to ``measured`` (one file per model, in order),
    the plans fixed; ``.fit`` holds the factors (``.fit.calibration``, an arch ``calibration``
    section) and the error before and after. ``options`` are ``nbperf.estimate``'s."""
    return _calibrate([Path(m) for m in models], [Path(m) for m in measured], arch, holdout, **options)
