"""The HTML report of an estimate: one self-contained page that works offline.

``to_html`` turns an estimate into a page of summary cards, plots (per-layer time, the engine
timeline, CMX use, strategies, a roofline), a box of warnings and a sortable, filterable layer
table. Every per-layer number comes from ``estimate_record`` (the JSON report), so the terminal
table, JSON, CSV and HTML cannot disagree; only the roofs and the CMX capacity read the arch.

``page`` is the generic part, for any report page (compare, sweep): it inlines plotly.js once,
the page's style and the script that sorts and filters every ``sortable_table``. The same inputs
give a byte-identical page: fixed div ids, no timestamps, no random ids.

plotly is optional (``pip install 'nbperf[html]'``) and imported only when a page is built.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbperf.errors import UsageError
from nbperf.report.atomic import write_text_atomic
from nbperf.report.records import estimate_record
from nbperf.report.units import si
from nbperf.result import Estimate

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["Column", "Section", "figure_html", "page", "plotly_js", "sortable_table", "to_html", "write_html"]

_PLOTLY_MISSING = "the HTML report needs plotly: pip install 'nbperf[html]'"

# plotly.js names one server: the default topojsonURL (https://cdn.plot.ly/, /un/ since plotly.js
# 3), fetched only for geo maps, which these pages never draw. Pointing it at a relative folder
# keeps any CDN name out of the file.
_TOPOJSON_CDN = re.compile(r'(topojsonURL:\{[^}]*?dflt:)"https://cdn\.plot\.ly/[^"]*"')
_TOPOJSON_LOCAL = r'\1"topojson/"'

# Fixed colours, so a bound or a strategy looks the same in every plot and every report.
BOUND_COLOURS = {
    "compute": "#1f77b4", "overhead": "#8c8c8c", "dma-weights": "#ff7f0e", "dma-activations": "#d62728",
    "dma-copy": "#9467bd", "transition": "#2ca02c", "barriers": "#8c564b",
}
STRATEGY_COLOURS = {
    "SplitOverHeight": "#1f77b4", "SplitOverWidth": "#17becf", "SplitOverKernel": "#ff7f0e",
    "HKSwitch": "#2ca02c", "Clustering": "#9467bd",
}
ROLE_COLOURS = {
    "compute": "#1f77b4", "weights": "#ff7f0e", "stream-weights": "#ffbb78", "load": "#2ca02c",
    "stream-in": "#98df8a", "convert": "#9467bd", "stage": "#c5b0d5", "spill": "#d62728",
    "stream-out": "#ff9896", "store": "#8c564b", "copy": "#e377c2",
}
_SPARE_COLOURS = ("#bcbd22", "#7f7f7f", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
_ENGINE_ORDER = ("DPU", "SHAVE", "DMA")  # timeline rows, top to bottom
_PLOT_CONFIG = {"responsive": True, "displaylogo": False}


# ---------------------------------------------------------------------------------------------
# The generic page: sections, plots, sortable tables


@dataclass(frozen=True)
class Section:
    """One titled part of a page. ``body`` is HTML built by this module (trusted); ``title`` and
    ``subtitle`` are plain text and are escaped."""

    title: str
    body: str
    subtitle: str = ""


@dataclass(frozen=True)
class Column:
    """A column of a ``sortable_table``: its header, whether it sorts as numbers, a tooltip, and
    whether its text may wrap (long names, sentences); other columns keep to one line."""

    header: str
    numeric: bool = False
    tooltip: str = ""
    wrap: bool = False


Cell = str | tuple[str, float | None]
"""A table cell: its text, or (text, number to sort by; None sorts first)."""


def require_plotly() -> None:
    """Fail now, before any estimate runs, when an HTML page was asked for and plotly is missing."""
    _plotly()


def _plotly() -> tuple[Any, Any]:
    """plotly.graph_objects and plotly.io, or one clear error naming the extra to install."""
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError:
        raise UsageError(_PLOTLY_MISSING) from None
    return go, pio


@cache
def plotly_js() -> str:
    """The plotly.js source this package inlines (plotly's bundle, its one server name removed)."""
    _plotly()
    from plotly.offline import get_plotlyjs

    return _TOPOJSON_CDN.sub(_TOPOJSON_LOCAL, get_plotlyjs(), count=1)


def figure_html(fig: go.Figure, div_id: str) -> str:
    """A plot as an HTML fragment for ``page``: a div with a fixed id and the script that draws it
    (plotly.js itself is left to ``page``, which inlines it once)."""
    _, pio = _plotly()
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=_PLOT_CONFIG,
                       default_width="100%", validate=True)


def sortable_table(table_id: str, columns: Sequence[Column], rows: Iterable[Sequence[Cell]],
                   what: str = "rows") -> str:
    """A table whose headers sort it (click again to reverse) and a text box that filters its rows;
    the script that does both is part of every ``page``. ``what`` names the rows in the count."""
    head = "".join(
        f'<th data-type="{"num" if c.numeric else "text"}"'
        + (f' title="{_esc(c.tooltip)}"' if c.tooltip else "") + f">{_esc(c.header)}</th>"
        for c in columns)
    body = [f'<tr data-i="{i}">' + "".join(_cell(c, col) for c, col in zip(row, columns, strict=True))
            + "</tr>" for i, row in enumerate(rows)]
    count = len(body)
    tid = _esc(table_id)
    return (f'<div class="nb-filter"><input type="search" id="{tid}-filter" data-filter-for="{tid}" '
            f'placeholder="filter {_esc(what)}: any text in a row" aria-label="filter {_esc(what)}"> '
            f'<span class="nb-count" id="{tid}-count">{count} of {count} {_esc(what)}</span></div>'
            f'<div class="nb-scroll"><table class="nb-sortable" id="{tid}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def page(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """A whole self-contained HTML page: plotly.js inlined once in the head, then ``sections`` in
    order. It loads nothing from anywhere: no CDN, no fonts, no network request."""
    parts = [f'<section><h2>{_esc(s.title)}</h2>'
             + (f'<p class="nb-sub">{_esc(s.subtitle)}</p>' if s.subtitle else "")
             + f"{s.body}</section>" for s in sections]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js()}</script>\n</head>\n<body>\n'
        f"<header><h1>{_esc(title)}</h1>"
        + (f'<p class="nb-sub">{_esc(subtitle)}</p>' if subtitle else "")
        + "</header>\n<main>\n" + "\n".join(parts) + "\n</main>\n"
        f'<script type="text/javascript">{_TABLE_JS}</script>\n</body>\n</html>\n'
    )


def _cell(cell: Cell, column: Column) -> str:
    text, value = cell if isinstance(cell, tuple) else (cell, None)
    if column.numeric:  # the number to sort by rides along: the shown text may be "1.2 M" or "-"
        return f'<td data-v="{"" if value is None else repr(float(value))}">{_esc(text)}</td>'
    return f'<td class="nb-wrap">{_esc(text)}</td>' if column.wrap else f"<td>{_esc(text)}</td>"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------------------------------
# The estimate report


def write_html(estimate: Estimate, path: str | Path) -> None:
    """Write ``to_html(estimate)`` to ``path`` atomically (a failed run leaves no partial file)."""
    write_text_atomic(path, to_html(estimate))


def to_html(estimate: Estimate) -> str:
    """The estimate as one self-contained HTML page (see the module docstring)."""
    _plotly()  # fail before any work when plotly is missing
    record = estimate_record(estimate)
    layers: list[dict[str, Any]] = record["layers"]
    device_us = max((layer["end_us"] for layer in layers), default=0.0)
    cmx_capacity = estimate.arch.cmx.bytes_per_tile
    sections = [
        Section("Summary", _cards(record, cmx_capacity)),
        Section("Warnings and notes", _notes(record, estimate.plan.notes)),
        Section("Time per layer", figure_html(_layer_time_figure(layers), "nbperf-layer-time"),
                "each bar is one layer's whole time (end - start, in execution order), coloured by what "
                "bounds it; hover for why"),
        Section("Engine timeline", figure_html(_timeline_figure(record), "nbperf-timeline"),
                _timeline_subtitle(record)),
        Section("CMX use per tile", figure_html(_cmx_figure(layers, record["tiles"], cmx_capacity),
                                                "nbperf-cmx"),
                "per-layer footprint: each layer holds its cmx_bytes_per_tile on tiles 0..tiles_used-1 "
                "from its start to its end; not the buffer-by-buffer allocation, so tensors kept alive "
                "for later layers are not counted (the peak CMX card counts them)"),
        Section("Strategies", figure_html(_strategy_figure(layers), "nbperf-strategies"),
                "how many layers run each strategy; hover for their summed time"),
        Section("Roofline", figure_html(_roofline_figure(layers, record["peak_tops"],
                                                         estimate.arch.dma.ddr_bandwidth_gbps),
                                        "nbperf-roofline"),
                "per layer with MACs and DDR traffic: operational intensity 2*MACs / the layer's DDR "
                "bytes (weights, streamed or spilled activations, layout moves) against achieved TOPS "
                "2*MACs / layer time; roofs: the arch's peak TOPS and its DDR bandwidth. Layers whose "
                "operands all stay in CMX move no DDR bytes and are not drawn"),
        Section("Layers", _layer_table(layers, device_us),
                "click a header to sort (again to reverse); type to filter. time us: end - start; share: "
                "of the device time; util: useful MACs over the DPU's peak during the compute"),
    ]
    title = f"nbperf: {record['model']} on {record['arch']}"
    subtitle = (f"{record['precision']}, {record['schedule']['kind']} schedule, "
                f"{record['strategy_policy']} strategies, {record['cost_model']} costs, "
                f"nbperf {record['nbperf_version']}")
    return page(title, sections, subtitle)


# Summary and notes -----------------------------------------------------------------------------


def _cards(record: dict[str, Any], cmx_capacity: int) -> str:
    """The headline figures as cards: (label, value, detail) each."""
    th, prov = record["throughput"], record["provenance"]
    peak, achieved = record["peak_tops"], record["achieved_tops"]
    overrides = prov.get("arch_overrides") or []
    emulation = record.get("emulation")
    per_tile = (", ".join(si(b, "B") for b in emulation["peak_cmx_bytes_per_tile"]) if emulation
                else "layer-serial: live tensors plus the running op's footprint, on the fullest tile")
    shapes = "; ".join(f"{k}={'x'.join(map(str, v))}" for k, v in prov.get("input_shapes", {}).items())
    forced = ", ".join(f"{k}={v}" for k, v in prov.get("strategies", {}).items())
    cards = [
        ("latency", f"{record['latency_ms']:.3f} ms", f"{record['fps']:,.1f} FPS, one synchronous request "
                                                       f"(host {record['host_us']:,.1f} us)"),
        ("throughput mode", f"{record['throughput_fps']:,.1f} FPS",
         f"{th['requests']} requests on {th['tiles_per_request']}-tile compiles, {th['concurrent']} at "
         f"once ({th['bound']}-bound)"),
        ("achieved TOPS", f"{achieved:.2f} of {peak:.1f}",
         f"{100 * achieved / peak if peak else 0.0:.1f}% of peak, {si(record['macs'])} MACs"),
        ("DDR traffic", si(record["ddr_bytes"], "B"),
         f"weights {si(record['weight_ddr_bytes'], 'B')}, activations "
         f"{si(record['activation_ddr_bytes'], 'B')}; spilled {si(record['spilled_bytes'], 'B')}"),
        ("peak CMX per tile", si(record["peak_cmx_bytes"], "B"),
         f"of {si(cmx_capacity, 'B')} per tile; per tile: {per_tile}"),
        ("arch", record["arch"], f"{record['tiles']} tiles; "
                                 + ("overrides: " + ", ".join(overrides) if overrides else "no overrides")),
        ("precision", record["precision"], f"requested: {prov.get('precision_requested') or 'as the model'}"),
        ("schedule", record["schedule"]["kind"], record["schedule"]["description"]),
        ("strategy policy", record["strategy_policy"],
         ("exact search" if record["strategy_search_exact"] else "pruned search")
         + (f"; forced {forced}" if forced else "")),
        ("cost model", record["cost_model"], f"model {record['model']}" + (f", inputs {shapes}" if shapes
                                                                           else "")),
        ("nbperf", record["nbperf_version"], f"report schema {record['schema_version']}"),
    ]
    items = "".join(f'<div class="nb-card"><div class="nb-label">{_esc(label)}</div>'
                    f'<div class="nb-value">{_esc(value)}</div>'
                    f'<div class="nb-detail">{_esc(detail)}</div></div>' for label, value, detail in cards)
    return f'<div class="nb-cards">{items}</div>'


def _notes(record: dict[str, Any], plan_notes: Sequence[str]) -> str:
    """Uncosted ops first (their time is a guess), then every note the estimate carries."""
    warnings = []
    unknown = record["unknown_ops"]
    if unknown:
        warnings.append(f"{len(unknown)} uncosted op(s), given a generic SHAVE cost: {', '.join(unknown)}")
    notes = [f"strategy: {n}" for n in plan_notes]
    if record["throughput"]["note"]:
        notes.append(f"throughput mode: {record['throughput']['note']}")
    if record["latency_hint"]["note"]:
        notes.append(f"latency hint: {record['latency_hint']['note']}")
    if not record["strategy_search_exact"]:
        notes.append("the strategy search pruned its frontier (a very wide graph): the strategies may not "
                     "be optimal")
    if record["spilled_bytes"]:
        notes.append(f"{si(record['spilled_bytes'], 'B')} of activations spilled to DDR for lack of CMX")
    items = ([f'<li class="nb-warn">{_esc(w)}</li>' for w in warnings]
             + [f"<li>{_esc(n)}</li>" for n in notes])
    if not items:
        items = ["<li>none: every op was costed and the estimate carries no notes</li>"]
    return f'<ul class="nb-notes">{"".join(items)}</ul>'


# Plots -------------------------------------------------------------------------------------------


def _layer_time_figure(layers: list[dict[str, Any]]) -> go.Figure:
    """One bar per layer in execution order; a trace per bound, so the legend names the colours."""
    go, _ = _plotly()
    fig = go.Figure()
    for bound, idx in _group(range(len(layers)), lambda i: layers[i]["bound"]):
        fig.add_trace(go.Bar(
            name=bound, x=idx, y=[round(_time_us(layers[i]), 4) for i in idx],
            marker_color=_colour(BOUND_COLOURS, bound),
            customdata=[[layers[i]["name"], layers[i]["op_type"], layers[i]["why"]] for i in idx],
            hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>%{y:.2f} us<br>%{customdata[2]}"
                          f"<extra>{_esc(bound)}</extra>"))
    fig.update_layout(_layout(height=380, barmode="overlay", bargap=0.1, legend_title_text="bound"))
    fig.update_xaxes(title_text="layer, in execution order", range=[-0.5, max(len(layers), 1) - 0.5])
    fig.update_yaxes(title_text="time (us)")
    return fig


def _timeline_subtitle(record: dict[str, Any]) -> str:
    if "emulation" in record:
        return ("emulated: every task on the engine it ran on, one row per DPU / SHAVE tile and DMA "
                "channel (a task on several tiles is one bar across their rows); colour: the task's role")
    return ("layer-serial schedule: every layer on one row per engine, from its start to its end; "
            "colour: what bounds it")


def _timeline_figure(record: dict[str, Any]) -> go.Figure:
    """The emulator's tasks per engine/tile, or the layer-serial schedule per engine: horizontal
    bars with ``base`` (a trace per colour, not per task: thousands of tasks stay fast). Rows are
    numbered so that a task on a gang of tiles is one bar as tall as its rows, not one per tile."""
    go, _ = _plotly()
    emulated = "emulation" in record
    bars = _emulated_bars(record["emulation"]["tasks"]) if emulated else _serial_bars(record["layers"])
    rows = sorted({row for bar in bars for row in bar.rows}, key=_row_key)
    index = {row: i for i, row in enumerate(rows)}
    palette = ROLE_COLOURS if emulated else BOUND_COLOURS
    fig = go.Figure()
    for colour_key, group in _group(bars, lambda bar: bar.colour_key):
        spans = [(index[b.rows[0]], index[b.rows[-1]]) for b in group]
        fig.add_trace(go.Bar(
            name=colour_key, orientation="h", y=[(lo + hi) / 2 for lo, hi in spans],
            width=[hi - lo + 0.8 for lo, hi in spans], base=[b.start_us for b in group],
            x=[round(b.end_us - b.start_us, 4) for b in group], marker_color=_colour(palette, colour_key),
            marker_line_width=0, customdata=[[b.name, b.detail, _span_label(b.rows)] for b in group],
            hovertemplate="<b>%{customdata[0]}</b> on %{customdata[2]}<br>%{customdata[1]}<br>"
                          f"start %{{base:.2f}} us, %{{x:.2f}} us<extra>{_esc(colour_key)}</extra>"))
    fig.update_layout(_layout(height=140 + 26 * len(rows), barmode="overlay",
                              legend_title_text="role" if emulated else "bound"))
    fig.update_xaxes(title_text="time (us)")
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(rows))), ticktext=rows,
                     range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False)
    return fig


@dataclass(frozen=True)
class _Bar:
    """One bar of the timeline: the rows it covers (consecutive), its time and its hover text."""

    rows: tuple[str, ...]
    start_us: float
    end_us: float
    name: str
    colour_key: str
    detail: str


def _emulated_bars(tasks: list[dict[str, Any]]) -> list[_Bar]:
    """A bar per task: DMA tasks on their channel, DPU and SHAVE tasks on the tiles of their gang
    (``tile`` .. ``tile + tiles - 1``)."""
    bars = []
    for t in tasks:
        if t["tile"] is None:
            rows: tuple[str, ...] = (t["engine"],)
        else:
            rows = tuple(f"{t['kind']}{k}" for k in range(t["tile"], t["tile"] + max(t["tiles"], 1)))
        bars.append(_Bar(rows, t["start_us"], t["end_us"], t["name"], t["role"], f"layer {t['layer']}"))
    return bars


def _serial_bars(layers: list[dict[str, Any]]) -> list[_Bar]:
    return [_Bar((layer["engine"],), layer["start_us"], layer["end_us"], layer["name"], layer["bound"],
                 layer["why"]) for layer in layers]


def _span_label(rows: tuple[str, ...]) -> str:
    """``DPU0`` or ``DPU0-5``: the rows a bar covers, as the emulator names a gang."""
    if len(rows) == 1:
        return rows[0]
    kind = rows[0].rstrip("0123456789")
    return f"{rows[0]}-{rows[-1][len(kind):]}"


def _row_key(row: str) -> tuple[int, str, int]:
    """DPU rows, then SHAVE, then DMA; numbered rows in number order (DPU2 before DPU10)."""
    kind = row.rstrip("0123456789")
    number = row[len(kind):]
    order = _ENGINE_ORDER.index(kind) if kind in _ENGINE_ORDER else len(_ENGINE_ORDER)
    return order, kind, int(number) if number else -1


def _cmx_figure(layers: list[dict[str, Any]], tiles: int, capacity: int) -> go.Figure:
    """A step line of CMX bytes over time per tile; tiles with the same curve share one line."""
    go, _ = _plotly()
    curves: dict[tuple[tuple[float, ...], tuple[int, ...]], list[int]] = {}
    for tile in range(tiles):
        xs, ys = _cmx_steps(layers, tile)
        curves.setdefault((xs, ys), []).append(tile)
    fig = go.Figure()
    for (xs, ys), on in curves.items():
        name = _tiles_name(on)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines", line_shape="hv", name=name,
                                 hovertemplate=f"%{{x:.2f}} us: %{{y:.4s}}B<extra>{name}</extra>"))
    end = max((layer["end_us"] for layer in layers), default=0.0)
    fig.add_trace(go.Scatter(x=[0.0, end], y=[capacity, capacity], mode="lines", name="CMX per tile",
                             line={"dash": "dash", "color": "#d62728"}, hoverinfo="skip"))
    fig.update_layout(_layout(height=360))
    fig.update_xaxes(title_text="time (us)")
    fig.update_yaxes(title_text="CMX bytes per tile", tickformat=".3s", rangemode="tozero")
    return fig


def _cmx_steps(layers: list[dict[str, Any]], tile: int) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """The bytes a tile holds after each change: +footprint at a layer's start, - at its end."""
    delta: dict[float, int] = defaultdict(int)
    for layer in layers:
        if layer["tiles_used"] > tile and layer["cmx_bytes_per_tile"]:
            delta[layer["start_us"]] += layer["cmx_bytes_per_tile"]
            delta[layer["end_us"]] -= layer["cmx_bytes_per_tile"]
    xs, ys, held = [0.0], [0], 0
    for at in sorted(delta):
        held += delta[at]
        xs.append(at)
        ys.append(held)
    return tuple(xs), tuple(ys)


def _tiles_name(tiles: list[int]) -> str:
    if len(tiles) == 1:
        return f"tile {tiles[0]}"
    if tiles == list(range(tiles[0], tiles[-1] + 1)):
        return f"tiles {tiles[0]}-{tiles[-1]}"
    return "tiles " + ", ".join(map(str, tiles))


def _strategy_figure(layers: list[dict[str, Any]]) -> go.Figure:
    """Layers per strategy, most used first; the hover adds their summed time."""
    go, _ = _plotly()
    counts = Counter(layer["strategy"] for layer in layers)
    time_us: dict[str, float] = defaultdict(float)
    for layer in layers:
        time_us[layer["strategy"]] += _time_us(layer)
    names = sorted(counts, key=lambda s: (-counts[s], s))
    fig = go.Figure(go.Bar(
        orientation="h", y=names, x=[counts[s] for s in names],
        marker_color=[_colour(STRATEGY_COLOURS, s) for s in names],
        customdata=[round(time_us[s], 4) for s in names],
        hovertemplate="<b>%{y}</b><br>%{x} layers, %{customdata:,.1f} us<extra></extra>"))
    fig.update_layout(_layout(height=120 + 40 * len(names), showlegend=False))
    fig.update_xaxes(title_text="layers")
    fig.update_yaxes(autorange="reversed")
    return fig


def _roofline_figure(layers: list[dict[str, Any]], peak_tops: float, ddr_gbps: float) -> go.Figure:
    """Achieved TOPS against operational intensity per layer (log-log), under the compute roof and
    the DDR-bandwidth roof (TOPS = GB/s * ops/byte / 1000); a point per layer, a trace per bound."""
    go, _ = _plotly()
    points = [(layer, _intensity(layer), 2 * layer["macs"] / _time_us(layer) / 1e6) for layer in layers
              if layer["macs"] and _time_us(layer) > 0 and _moved(layer)]
    fig = go.Figure()
    for bound, group in _group(points, lambda p: p[0]["bound"]):
        fig.add_trace(go.Scatter(
            name=bound, mode="markers", x=[_sig(p[1]) for p in group], y=[_sig(p[2]) for p in group],
            marker={"color": _colour(BOUND_COLOURS, bound), "size": 8, "opacity": 0.8},
            customdata=[[p[0]["name"], p[0]["why"]] for p in group],
            hovertemplate="<b>%{customdata[0]}</b><br>%{x:.3g} ops/byte, %{y:.3g} TOPS<br>%{customdata[1]}"
                          f"<extra>{_esc(bound)}</extra>"))
    ridge = peak_tops * 1000 / ddr_gbps if ddr_gbps else 1.0
    xs = [p[1] for p in points] + [ridge]
    lo, hi = min(xs) / 4, max(xs) * 4
    fig.add_trace(go.Scatter(x=[_sig(lo), _sig(ridge)], y=[_sig(ddr_gbps * lo / 1000), _sig(peak_tops)],
                             mode="lines", name=f"DDR roof ({ddr_gbps:g} GB/s)",
                             line={"dash": "dash", "color": "#444"}, hoverinfo="name"))
    fig.add_trace(go.Scatter(x=[_sig(ridge), _sig(hi)], y=[_sig(peak_tops)] * 2, mode="lines",
                             name=f"compute roof ({peak_tops:.1f} TOPS)",
                             line={"dash": "dot", "color": "#000"}, hoverinfo="name"))
    fig.update_layout(_layout(height=460))
    # labels at powers of ten only: plotly's 2 and 5 in between crowd a short log axis
    fig.update_xaxes(type="log", dtick=1,
                     title_text="operational intensity (ops per DDR byte)")
    fig.update_yaxes(type="log", dtick=1, title_text="achieved TOPS")
    return fig


# Table -------------------------------------------------------------------------------------------

_LAYER_COLUMNS = (
    Column("#", True, "execution order"), Column("name", wrap=True), Column("op"), Column("engine"),
    Column("strategy", tooltip="xN: tiled into N sub-tiles"), Column("MACs", True),
    Column("time us", True, "the layer's whole time: end - start, microseconds"),
    Column("share %", True, "of the device time"),
    Column("util %", True, "useful MACs over the DPU's peak during the compute"),
    Column("bound", tooltip="what limits the layer"), Column("why", wrap=True),
)


def _layer_table(layers: list[dict[str, Any]], device_us: float) -> str:
    total = device_us or 1.0
    rows = []
    for i, layer in enumerate(layers):
        t, util = _time_us(layer), layer["mac_utilisation"]
        subtiles = layer.get("subtiles", 1)
        strategy = layer["strategy_label"] + (f" x{subtiles}" if subtiles > 1 else "")
        rows.append([
            (str(i), i), layer["name"], layer["op_type"] + ("*" if layer.get("unknown") else ""),
            layer["engine"], strategy, (si(layer["macs"]) if layer["macs"] else "-", layer["macs"]),
            (f"{t:,.2f}", round(t, 4)), (f"{100 * t / total:.1f}", round(100 * t / total, 4)),
            ("-", None) if util is None else (f"{100 * util:.0f}", round(100 * util, 4)),
            layer["bound"], layer["why"],
        ])
    return sortable_table("nbperf-layers", _LAYER_COLUMNS, rows, what="layers")


# Small helpers -----------------------------------------------------------------------------------


# plotly_white's look in a few fields: a template is copied into every plot and costs each one
# tens of milliseconds to draw in the browser, which adds up on a large report.
_AXIS = {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "zerolinecolor": "#ebf0f8", "automargin": True}


def _layout(**extra: Any) -> dict[str, Any]:
    """The layout every plot shares: plain white, tight margins, legend on the right."""
    return {"template": "none", "paper_bgcolor": "white", "plot_bgcolor": "white",
            "font": {"color": "#2a3f5f"}, "hoverlabel": {"align": "left"}, "xaxis": _AXIS, "yaxis": _AXIS,
            "margin": {"l": 70, "r": 20, "t": 20, "b": 50}, "hovermode": "closest", **extra}


def _group(items: Iterable[Any], key: Callable[[Any], str]) -> list[tuple[str, list[Any]]]:
    """Items by key, keys in order of first appearance, items in their order: stable traces."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.items())


def _colour(palette: dict[str, str], key: str) -> str:
    """The key's fixed colour; an unknown key gets a spare one chosen by its name (deterministic)."""
    if key in palette:
        return palette[key]
    return _SPARE_COLOURS[sum(key.encode()) % len(_SPARE_COLOURS)]


def _time_us(layer: dict[str, Any]) -> float:
    return float(layer["end_us"]) - float(layer["start_us"])


def _moved(layer: dict[str, Any]) -> int:
    """The layer's DDR traffic (weights, streamed or spilled activations, layout moves): what the
    DDR roof bounds. A layer whose operands all stay in CMX moves none and has no point."""
    return int(layer["weight_ddr_bytes"] + layer["activation_ddr_bytes"] + layer["transition_ddr_bytes"])


def _intensity(layer: dict[str, Any]) -> float:
    return 2 * layer["macs"] / _moved(layer)


def _sig(value: float) -> float:
    """Six significant digits: plenty for a plot, and a smaller file."""
    return float(f"{value:.6g}")



_CSS = """
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#e3e3e3;--accent:#1f77b4;--warn:#b3261e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:#fafafa}
header{padding:18px 28px 8px;background:#fff;border-bottom:1px solid var(--line)}
h1{margin:0;font-size:22px}
h2{margin:0 0 4px;font-size:17px}
main{padding:8px 28px 40px;max-width:1600px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:14px 0}
.nb-sub{margin:2px 0 10px;color:var(--muted)}
.nb-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px}
.nb-card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:#fcfcfd}
.nb-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.nb-value{font-size:20px;font-weight:600;margin:2px 0;overflow-wrap:anywhere}
.nb-detail{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.nb-notes{margin:0;padding:8px 10px 8px 30px;background:#fff8e1;border-left:4px solid #f0b400;
border-radius:4px}
.nb-notes li{margin:3px 0}
.nb-warn{color:var(--warn);font-weight:600}
.nb-filter{margin:6px 0 8px}
.nb-filter input{width:min(420px,100%);padding:5px 8px;border:1px solid #bbb;border-radius:4px;font:inherit}
.nb-count{color:var(--muted);margin-left:8px}
.nb-scroll{overflow:auto;max-height:70vh;border:1px solid var(--line)}
table.nb-sortable{border-collapse:collapse;width:100%;font-size:13px}
table.nb-sortable th{position:sticky;top:0;background:#f3f4f6;text-align:left;padding:5px 8px;cursor:pointer;
white-space:nowrap;user-select:none;border-bottom:1px solid #ccc}
table.nb-sortable th[data-type=num]{text-align:right}
table.nb-sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.nb-sortable th[aria-sort=descending]::after{content:" \\25BC"}
table.nb-sortable td{padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top;white-space:nowrap}
table.nb-sortable td.nb-wrap{white-space:normal;min-width:14em;max-width:40em;overflow-wrap:anywhere}
table.nb-sortable td[data-v]{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.nb-sortable tbody tr:hover{background:#f5f9ff}
"""

# Sorts every table.nb-sortable by a clicked header (numbers by data-v, text case-insensitively;
# ties keep the original order) and filters its rows by the text box naming it.
_TABLE_JS = """
(function () {
  "use strict";
  function keyOf(row, col, numeric) {
    var cell = row.cells[col];
    if (!numeric) { return cell.textContent.toLowerCase(); }
    var v = parseFloat(cell.getAttribute("data-v"));
    return isNaN(v) ? -Infinity : v;
  }
  function sortTable(table, th) {
    var col = th.cellIndex, numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (row) {
      return {row: row, key: keyOf(row, col, numeric), i: +row.getAttribute("data-i")};
    });
    keyed.sort(function (a, b) {
      if (a.key < b.key) { return -dir; }
      if (a.key > b.key) { return dir; }
      return a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k.row); });
    body.appendChild(frag);
  }
  function filterTable(table, input) {
    var query = input.value.trim().toLowerCase(), rows = table.tBodies[0].rows, shown = 0;
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      if (row._text === undefined) { row._text = row.textContent.toLowerCase(); }
      row.hidden = query !== "" && row._text.indexOf(query) < 0;
      if (!row.hidden) { shown++; }
    }
    var count = document.getElementById(table.id + "-count");
    if (count) { count.textContent = count.textContent.replace(/^\\d+ of/, shown + " of"); }
  }
  document.querySelectorAll("table.nb-sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, th); }
      });
    });
  });
  document.querySelectorAll("input[data-filter-for]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter-for"));
    if (table) { input.addEventListener("input", function () { filterTable(table, input); }); }
  });
})();
"""
