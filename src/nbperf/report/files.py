"""JSON and CSV files of an estimate, written atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from nbperf.report.atomic import write_text_atomic
from nbperf.report.records import estimate_record
from nbperf.result import Estimate


def to_json(estimate: Estimate) -> str:
    return json.dumps(estimate_record(estimate), indent=2, sort_keys=False) + "\n"


def to_csv(estimate: Estimate) -> str:
    layers = estimate_record(estimate)["layers"]
    buffer = io.StringIO()
    if layers:
        writer = csv.DictWriter(buffer, fieldnames=list(layers[0]), lineterminator="\n")
        writer.writeheader()
        for row in layers:
            writer.writerow({**row, "fused": ";".join(row["fused"])})
    return buffer.getvalue()


def write_json(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, to_json(estimate))


def write_csv(estimate: Estimate, path: str | Path) -> None:
    write_text_atomic(path, to_csv(estimate))
