"""Reading a measured file's text and its numbers, with one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

from nbperf.errors import UsageError

MAX_MEASURED_BYTES = 64 << 20  # a counters report of a large model is a few MB


def read_text(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"measured file not found: {path}")
    try:
        size = path.stat().st_size
        if size > MAX_MEASURED_BYTES:
            raise UsageError(f"measured file {path} is {size} bytes; at most {MAX_MEASURED_BYTES} are read")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"measured file {path} is not UTF-8 text: {exc.reason} at byte "
                         f"{exc.start}") from None
    except OSError as exc:
        raise UsageError(f"cannot read measured file {path}: {exc.strerror or exc}") from None
    if not text.strip():
        raise UsageError(f"measured file {path} is empty")
    return text


def number(raw: object, source: str, where: str, what: str, allow_blank: bool = False) -> float:
    """A finite, non-negative number from a cell, or one error line naming the file and cell."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        if allow_blank:
            return math.nan
        raise UsageError(f"measured file {source}: {where}: {what} is missing")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"measured file {source}: {where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"measured file {source}: {where}: {what} {text!r} must be a finite number >= 0")
    return value
