"""What the study scripts print: markdown tables, the paths of the files they wrote, and how they
read a layer of an estimate's JSON (imported by them; not a study itself)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; numeric columns right-aligned."""
    numeric = [all(_is_number(r[i]) for r in rows) and bool(rows) for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    """A number, or its text with thousands commas and a trailing x or %."""
    if isinstance(value, (int, float)):
        return True
    text = str(value).replace(",", "").rstrip("x%")
    try:
        float(text)
    except ValueError:
        return False
    return True


def shown(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it (as the docs cite it)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def duration_us(rec: dict[str, Any]) -> float:
    """A layer record's time in the schedule."""
    return rec["end_us"] - rec["start_us"]


def bound_label(rec: dict[str, Any]) -> str:
    """The layer's bound; for a compute-bound DPU layer, what limits its compute (MAC array, CMX
    reads, PPE); SHAVE compute is its own class."""
    if rec["bound"] != "compute":
        return rec["bound"]
    if rec["engine"] == "SHAVE":
        return "SHAVE"
    return {"mac": "MAC", "cmx-read": "CMX-read", "ppe": "PPE"}.get(rec["compute_limit"] or "",
                                                                   f"compute ({rec['compute_limit']})")
