"""What the study scripts print: markdown tables, and the paths of the files they wrote
(imported by them; not a study itself)."""

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
