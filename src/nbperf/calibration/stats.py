"""Error statistics of estimates against measurements, as the field reports them.

nn-Meter (Zhang et al., MobiSys 2021) reports the share of predictions within +-10% of the
measurement; MAPE and the geometric mean of estimate / measurement say how large and which way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorStats:
    """``count`` pairs of (estimated, measured): mean absolute percentage error, the shares within
    +-10% and +-20%, the geometric mean ratio (estimate / measurement; 1.2: 20% pessimistic) and
    the sums of both sides."""

    count: int
    mape_pct: float
    within_10_pct: float
    within_20_pct: float
    geomean_ratio: float | None  # None when an estimate is zero (a layer nbperf prices as free)
    estimated_us: float
    measured_us: float

    @property
    def total_error_pct(self) -> float:
        """The sums' error: (estimated - measured) / measured."""
        return 100.0 * (self.estimated_us - self.measured_us) / self.measured_us if self.measured_us else 0.0


def error_stats(pairs: Iterable[tuple[float, float]]) -> ErrorStats:
    """Statistics of (estimated_us, measured_us) pairs; measured times must be > 0."""
    pairs = list(pairs)
    if not pairs:
        return ErrorStats(0, 0.0, 0.0, 0.0, None, 0.0, 0.0)
    errors = [abs(est - meas) / meas for est, meas in pairs]
    logs = [math.log(est / meas) for est, meas in pairs if est > 0]
    n = len(pairs)
    return ErrorStats(
        count=n,
        mape_pct=100.0 * sum(errors) / n,
        within_10_pct=100.0 * sum(e <= 0.10 + 1e-12 for e in errors) / n,
        within_20_pct=100.0 * sum(e <= 0.20 + 1e-12 for e in errors) / n,
        geomean_ratio=math.exp(sum(logs) / len(logs)) if len(logs) == n else None,
        estimated_us=sum(est for est, _ in pairs),
        measured_us=sum(meas for _, meas in pairs),
    )
