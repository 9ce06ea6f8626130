"""The one unit convention of every nbperf report: decimal prefixes (k = 1e3, M = 1e6, G = 1e9)."""

from __future__ import annotations


def si(value: float, unit: str = "") -> str:
    """``51.91 MB``, ``4.09 G``: two decimals above a thousand, whole numbers below."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()
