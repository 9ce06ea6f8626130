"""The HTML page of ``nbperf compare --html``: the same comparison records as the terminal and the
JSON (``compare.comparison_record``), drawn: totals per side, the layers whose time changes most
side by side, each layer's speedup, and a sortable, filterable table of every layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbperf.compare import Comparison, comparison_record
from nbperf.report.atomic import write_text_atomic
from nbperf.report.html import Column, Section, figure_html, page, sortable_table

SHOWN = 30  # layers in the side-by-side plot: the largest changes (the table has all)


def to_html(comparison: Comparison) -> str:
    record = comparison_record(comparison)
    sides, layers = record["sides"], record["layers"]
    labels = [s["label"] for s in sides]
    return page(f"nbperf compare: {sides[0]['model']}", [
        Section("Sides", _totals(sides), f"baseline {labels[0]}; speedup: baseline latency over the side's"),
        Section("Largest changes", figure_html(_side_by_side(layers, labels), "nbperf-compare-layers"),
                f"the {min(SHOWN, len(layers))} layers whose time changes most, time per side"),
        Section("Speedup per layer", figure_html(_speedups(layers, labels), "nbperf-compare-speedup"),
                "baseline time over each side's time, in execution order of the baseline (1 = no change)"),
        Section("Layers", _table(layers, labels),
                "click a header to sort, type to filter; note: why a layer gains nothing"),
    ], subtitle=" vs ".join(labels) + f" (nbperf {sides[0]['provenance']['nbperf_version']})")


def write_html(comparison: Comparison, path: str | Path) -> None:
    write_text_atomic(path, to_html(comparison))


def _totals(sides: list[dict[str, Any]]) -> str:
    columns = [Column("side"), Column("latency ms", True), Column("FPS", True), Column("TOPS", True),
               Column("DDR MB", True), Column("speedup", True)]
    rows = [[s["label"], (f"{s['latency_ms']:.3f}", s["latency_ms"]), (f"{s['fps']:,.1f}", s["fps"]),
             (f"{s['achieved_tops']:.2f}", s["achieved_tops"]),
             (f"{s['ddr_bytes'] / 1e6:.2f}", s["ddr_bytes"]),
             ("baseline", 1.0) if s["speedup"] is None else (f"{s['speedup']:.2f}x", s["speedup"])]
            for s in sides]
    return sortable_table("nbperf-compare-sides", columns, rows, "sides")


def _side_by_side(layers: list[dict[str, Any]], labels: list[str]) -> Any:
    import plotly.graph_objects as go

    top = list(reversed(layers[:SHOWN]))  # largest change at the top of a horizontal chart
    fig = go.Figure()
    for i, label in enumerate(labels):
        fig.add_trace(go.Bar(
            name=label, orientation="h", y=[r["name"] for r in top],
            x=[r["sides"][i]["time_us"] or 0 for r in top],
            customdata=[r["sides"][i]["bound"] or "-" for r in top],
            hovertemplate="%{y}<br>%{x:,.2f} us, %{customdata}<extra>" + label + "</extra>"))
    fig.update_layout(barmode="group", height=max(320, 22 * len(top) * len(labels)), plot_bgcolor="white",
                      margin={"l": 10, "r": 10, "t": 10, "b": 40}, legend={"orientation": "h"})
    fig.update_xaxes(title_text="time (us)", gridcolor="#eee")
    fig.update_yaxes(automargin=True)
    return fig


def _speedups(layers: list[dict[str, Any]], labels: list[str]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, label in enumerate(labels[1:], start=1):
        shown = [r for r in layers if r["sides"][i]["speedup"] is not None]
        fig.add_trace(go.Scatter(
            name=label, mode="markers", x=[r["name"] for r in shown],
            y=[r["sides"][i]["speedup"] for r in shown],
            customdata=[r["sides"][i]["note"] or r["sides"][i]["bound"] for r in shown],
            hovertemplate="%{x}<br>%{y:.2f}x: %{customdata}<extra>" + label + "</extra>"))
    fig.add_hline(y=1.0, line_dash="dot", line_color="#888")
    fig.update_layout(height=380, plot_bgcolor="white", margin={"l": 10, "r": 10, "t": 10, "b": 40},
                      legend={"orientation": "h"})
    fig.update_xaxes(showticklabels=False, title_text="layers")
    fig.update_yaxes(type="log", title_text="speedup (x)", gridcolor="#eee")
    return fig


def _table(layers: list[dict[str, Any]], labels: list[str]) -> str:
    columns = [Column("layer", wrap=True), Column("op")]
    for i, label in enumerate(labels):
        columns += [Column(f"{label} us", True), Column(f"{label} bound")]
        if i:
            columns.append(Column(f"{label} speedup", True))
    columns.append(Column("note", wrap=True))
    rows = []
    for r in layers:
        cells: list[Any] = [r["name"], r["op_type"]]
        for i, side in enumerate(r["sides"]):
            t = side["time_us"]
            cells += [("-", None) if t is None else (f"{t:,.2f}", t), side["bound"] or "-"]
            if i:
                s = side["speedup"]
                cells.append(("-", None) if s is None else (f"{s:.2f}x", s))
        cells.append("; ".join(side["note"] for side in r["sides"][1:] if side["note"]))
        rows.append(cells)
    return sortable_table("nbperf-compare-layers-table", columns, rows, "layers")
