"""The HTML page of ``nbperf correlate --html``: estimated against measured per layer on log-log
axes, coloured by op class, with the +-10% and +-20% bands; the statistics per class and engine;
and a sortable table of every layer. Built from the same records as the JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbperf.calibration.correlate import Correlation
from nbperf.report.atomic import write_text_atomic
from nbperf.report.correlate_report import correlation_record, matching_lines
from nbperf.report.html import Column, Section, figure_html, page, sortable_table


def to_html(corr: Correlation) -> str:
    record = correlation_record(corr)
    overall = record["overall"]
    notes = matching_lines(corr)
    sections = [
        Section("Estimated vs measured", figure_html(_scatter(record["layers"]), "nbperf-correlate-scatter"),
                f"{overall['layers']} layers; {overall['within_10_pct']}% within +-10%, "
                f"{overall['within_20_pct']}% within +-20%, MAPE {overall['mape_pct']}%; "
                "dashed: +-10% and +-20%"),
        Section("Error by group", _groups(record), "per op class and per engine"),
        Section("Layers", _layers(record["layers"]), "click a header to sort, type to filter"),
    ]
    if notes:
        items = "".join(f"<li>{_esc(n)}</li>" for n in notes)
        sections.insert(1, Section("Unmatched", f"<ul>{items}</ul>", "what did not pair up, on either side"))
    return page(f"nbperf correlate: {record['model']} on {record['arch']}", sections,
                subtitle=f"measured: {record['measured']['source']} ({record['measured']['format']}); "
                         f"nbperf {record['provenance']['nbperf_version']}")


def write_html(corr: Correlation, path: str | Path) -> None:
    write_text_atomic(path, to_html(corr))


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _scatter(layers: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    shown = [r for r in layers if r["measured_us"] > 0 and r["estimated_us"] > 0]
    fig = go.Figure()
    for cls in sorted({r["op_class"] for r in shown}):
        rows = [r for r in shown if r["op_class"] == cls]
        fig.add_trace(go.Scatter(
            x=[r["measured_us"] for r in rows], y=[r["estimated_us"] for r in rows], mode="markers", name=cls,
            text=[r["layer"] for r in rows], customdata=[r["bound"] for r in rows],
            hovertemplate="%{text}<br>measured %{x:,.2f} us<br>estimated %{y:,.2f} us<br>%{customdata}"
                          "<extra>" + cls + "</extra>"))
    if shown:
        low = min(min(r["measured_us"], r["estimated_us"]) for r in shown) * 0.8
        high = max(max(r["measured_us"], r["estimated_us"]) for r in shown) * 1.25
        for factor, dash, name in ((1.0, "solid", "estimate = measured"), (1.1, "dash", "+10%"),
                                   (0.9, "dash", "-10%"), (1.2, "dot", "+20%"), (0.8, "dot", "-20%")):
            fig.add_trace(go.Scatter(x=[low, high], y=[low * factor, high * factor], mode="lines", name=name,
                                     line={"color": "#888", "dash": dash, "width": 1}, hoverinfo="skip",
                                     showlegend=factor == 1.0))
    fig.update_layout(height=560, plot_bgcolor="white", margin={"l": 10, "r": 10, "t": 10, "b": 40},
                      legend={"orientation": "h"})
    fig.update_xaxes(type="log", dtick="D2", title_text="measured (us)", gridcolor="#eee")
    fig.update_yaxes(type="log", dtick="D2", title_text="estimated (us)", gridcolor="#eee")
    return fig


def _groups(record: dict[str, Any]) -> str:
    columns = [Column("group"), Column("layers", True), Column("estimated us", True),
               Column("measured us", True), Column("total error %", True), Column("MAPE %", True),
               Column("within 10 %", True), Column("within 20 %", True), Column("geomean est/meas", True)]
    groups = [("all layers", record["overall"])]
    groups += list(record["by_op_class"].items())
    groups += [(f"engine {k}", v) for k, v in record["by_engine"].items()]
    rows = [[name, *((f"{s[k]}", s[k]) if s[k] is not None else ("-", None)
                     for k in ("layers", "estimated_us", "measured_us", "total_error_pct", "mape_pct",
                               "within_10_pct", "within_20_pct", "geomean_ratio"))]
            for name, s in groups]
    return sortable_table("nbperf-correlate-groups", columns, rows, "groups")


def _layers(layers: list[dict[str, Any]]) -> str:
    columns = [Column("layer", wrap=True), Column("class"), Column("engine"), Column("bound"),
               Column("estimated us", True), Column("measured us", True), Column("est/meas", True),
               Column("measured as", wrap=True)]
    rows = [[r["layer"], r["op_class"], r["engine"], r["bound"],
             (f"{r['estimated_us']:,.2f}", r["estimated_us"]),
             (f"{r['measured_us']:,.2f}", r["measured_us"]),
             ("-", None) if r["ratio"] is None else (f"{r['ratio']:.3f}", r["ratio"]),
             f"{r['measured_rows']} ({r['matched_by']})"] for r in layers]
    return sortable_table("nbperf-correlate-layers", columns, rows, "layers")
