"""JSON and CSV files of an estimate, written atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from nbperf.report.atomic import write_text_atomic
from nbperf.report.records import estimate_record, provenance_record, shapes_label, strategies_label
from nbperf.result import Estimate


def to_json(estimate: Estimate) -> str:
    return json.dumps(estimate_record(estimate), indent=2, sort_keys=False) + "\n"


def to_csv(estimate: Estimate) -> str:
    """One row per layer; every row names the model and what it was run on (arch with overrides,
    input shapes, policy, cost model, schedule, nbperf version), so rows of several runs can be
    concatenated and still say where they came from."""
    layers = estimate_record(estimate)["layers"]
    prov = provenance_record(estimate)
    where = {"model": estimate.model, "arch": prov["arch"],
             "input_shapes": shapes_label(prov["input_shapes"]),
             "forced_strategies": strategies_label(prov),
             "policy": prov["policy"], "cost_model": prov["cost_model"], "schedule": prov["schedule"],
             "nbperf_version": prov["nbperf_version"]}
    buffer = io.StringIO()
    if layers:
        writer = csv.DictWriter(buffer, fieldnames=[*where, *layers[0]], lineterminator="\n")
        writer.writeheader()
        for row in layers:
            writer.writerow({**where, **row, "fused": ";".join(row["fused"])})
    return buffer.getvalue()


def write_json(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, to_json(estimate))


def write_csv(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, to_csv(estimate))
