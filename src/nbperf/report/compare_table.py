"""The terminal view of a comparison: totals per side, then per-layer times side by side."""

from __future__ import annotations

from rich.table import Table

from nbperf.compare import Comparison


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"S{i + 1}"


def _speedup(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if value == float("inf") else f"{value:.2f}x"


def totals_table(comparison: Comparison) -> Table:
    """Latency, FPS, MAC utilisation and speedup of each side against the baseline (the first)."""
    table = Table(title=f"{comparison.estimates[0].model}: {len(comparison.labels)} sides, baseline "
                        f"{comparison.labels[0]}", title_justify="left", header_style="bold")
    for col, justify in (("", "left"), ("side", "left"), ("latency ms", "right"), ("FPS", "right"),
                         ("TOPS", "right"), ("DDR MB", "right"), ("speedup", "right")):
        table.add_column(col, justify=justify, overflow="fold")
    for i, (label, e) in enumerate(zip(comparison.labels, comparison.estimates, strict=True)):
        table.add_row(_letter(i), label, f"{e.latency_ms:.3f}", f"{e.fps:,.1f}", f"{e.achieved_tops:.2f}",
                      f"{e.ddr_bytes / 1e6:.2f}",
                      "baseline" if i == 0 else _speedup(comparison.total_speedup(i)))
    return table


def layers_table(comparison: Comparison, top: int | None = None) -> Table:
    """Per-layer time and bound on each side, speedup against the baseline and why a layer gains
    nothing; the ``top`` layers whose time changes most (all when None)."""
    rows = comparison.layers if top is None else comparison.layers[:top]
    title = "per layer, largest change first; A/B: speedup of B over the baseline A"
    if len(rows) < len(comparison.layers):
        title += f": {len(rows)} of {len(comparison.layers)} layers (--top 0 shows all)"
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("layer", overflow="fold", min_width=14)
    table.add_column("op")
    for i in range(len(comparison.labels)):  # sides by letter: the totals table names them
        table.add_column(f"{_letter(i)} us", justify="right")
        table.add_column(f"{_letter(i)} bound", overflow="fold")
        if i:
            table.add_column(f"A/{_letter(i)}", justify="right")
    table.add_column("note", overflow="fold")
    for row in rows:
        cells = [row.name, row.op_type]
        notes = []
        for i, side in enumerate(row.sides):
            cells += ["-", "-"] if side is None else [f"{side.time_ns / 1e3:,.2f}", side.bound]
            if i:
                cells.append(_speedup(row.speedup(i)))
                if row.note(i):
                    notes.append(row.note(i) if len(row.sides) == 2 else f"{_letter(i)}: {row.note(i)}")
        cells.append("; ".join(notes))
        table.add_row(*cells)
    return table
