"""Sweep results files: one row per (model, point), Parquet (pyarrow) or CSV by suffix.

Writes are atomic (a temporary file renamed over the target), so an interrupted sweep leaves the
last complete checkpoint; reading it back tells a restarted sweep which jobs are done. Rows are
always written in the sweep's own order (models, then points), so an interrupted and resumed
sweep ends with the same file as one that ran straight through.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from nbperf.errors import UsageError
from nbperf.report.atomic import write_bytes_atomic, write_text_atomic

SUFFIXES = (".parquet", ".csv")


def check_out_path(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--out {path}: the results file must end in .parquet or .csv")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.suffix.lower() == ".parquet":
        _pyarrow()


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError("Parquet results need pyarrow: pip install 'nbperf[sweep]', or use --out x.csv") \
            from None
    return pyarrow


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an existing results file (none when it does not exist)."""
    if not path.exists():
        return []
    try:
        if path.suffix.lower() == ".parquet":
            return _pyarrow().parquet.read_table(path).to_pylist()
        with path.open(newline="", encoding="utf-8") as f:
            return [_typed(row) for row in csv.DictReader(f)]
    except UsageError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot resume from {path}: it is not a readable results file ({reason}); "
                         "move it away or give another --out") from None


def write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` with ``columns`` in that order, atomically."""
    if path.suffix.lower() == ".parquet":
        pa = _pyarrow()
        schema = _schema(pa, rows, columns)
        text = {f.name for f in schema if f.type == pa.string()}
        table = pa.Table.from_pylist(
            [{c: None if (v := row.get(c)) is None else (str(v) if c in text else v) for c in columns}
             for row in rows], schema=schema)
        sink = pa.BufferOutputStream()
        pa.parquet.write_table(table, sink)
        write_bytes_atomic(path, sink.getvalue().to_pybytes())
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: "" if (v := row.get(c)) is None else v for c in columns} for row in rows)
    write_text_atomic(path, buffer.getvalue())


def _schema(pa: Any, rows: list[dict[str, Any]], columns: list[str]) -> Any:
    """One type per column from its non-null values (a column with errors only is a string), so a
    checkpoint with fewer rows has the same schema as the final file."""
    fields = []
    for column in columns:
        values = [row.get(column) for row in rows if row.get(column) is not None]
        if values and all(isinstance(v, bool) for v in values):
            kind = pa.bool_()
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = pa.int64()
        elif values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            kind = pa.float64()
        else:
            kind = pa.string()  # mixed values (a grid of words and numbers) are written as text
        fields.append(pa.field(column, kind))
    return pa.schema(fields)


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row with its numbers back as numbers (what the sweep wrote), empty cells as None."""
    out: dict[str, Any] = {}
    for key, text in row.items():
        if text == "" and key != "error":
            out[key] = None
            continue
        value: Any = text
        if key not in ("model", "model_path", "point", "arch", "error"):
            for convert in (int, float):
                try:
                    value = convert(text)
                    break
                except ValueError:
                    continue
            if text in ("True", "False"):
                value = text == "True"
        out[key] = value
    return out
