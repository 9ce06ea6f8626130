"""Synthetic measured files: an estimate's own layer times, scaled per class and with noise.

For testing a calibration end to end without silicon: the file says it is synthetic in its
first line, and nothing in nbperf reads it as a measurement of a real part.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from nbperf.arch.model import CalibrationSpec
from nbperf.calibration.classes import op_class
from nbperf.calibration.recost import FixedPlan
from nbperf.result import Estimate


def synthetic_layers(estimate: Estimate, calibration: CalibrationSpec, noise: float = 0.1,
                     seed: int = 0) -> list[tuple[str, float, str]]:
    """(layer, time_us, op class) of every costed layer of ``estimate``: its fixed plan re-costed
    with ``calibration``'s factors, times log-normal noise of ``noise`` (0.1: about 10%)."""
    times = FixedPlan(estimate).layer_ns(calibration)
    rng = np.random.default_rng(seed)
    ops = {op.name: op for op in estimate.graph.ops}
    return [(name, ns / 1e3 * math.exp(noise * rng.standard_normal()), op_class(ops[name]))
            for name, ns in times.items()]


def write_synthetic(path: str | Path, rows: list[tuple[str, float, str]], what: str) -> None:
    """A plain measured CSV (layer, time_us, op_class), labelled synthetic in its first line."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(f"# SYNTHETIC, not a silicon measurement: {what}\n")
        writer = csv.writer(f)
        writer.writerow(["layer", "time_us", "op_class"])
        writer.writerows((name, f"{us:.4f}", cls) for name, us, cls in rows)
