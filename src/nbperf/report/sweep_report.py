"""The analysis behind ``nbperf sweep-report``: Pareto fronts of a sweep's results file.

``nbperf sweep`` writes one row per (model, design point). This module reads that file, keeps the
rows whose estimate succeeded, and finds per model the design points that no other point beats on
both of two metrics (by default: lower area proxy, ``tiles x macs_per_tile``, and lower latency).
Over several models it also takes the geometric mean per design point, over the points that
succeeded on every model, and finds that front too. The results are rich tables for the terminal
and, on request, a PNG (matplotlib) and a self-contained HTML page (plotly).

pandas, pyarrow, matplotlib and plotly are optional: each is imported only where it is needed,
and its absence is one clear ``UsageError`` naming what to install.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from nbperf.errors import UsageError
from nbperf.report.atomic import write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GEOMEAN",
    "REQUIRED_COLUMNS",
    "Axis",
    "Front",
    "FrontPoint",
    "SweepReport",
    "axis",
    "geomean_front",
    "model_fronts",
    "pareto_mask",
    "read_results",
    "render",
    "sweep_report",
    "write_html",
    "write_png",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("model", "point", "error")
"""Columns every results file must have; the two plotted metrics are required on top of these."""

GEOMEAN = "geomean"
"""The name of the front over all models (a model file is never named this: it has a suffix)."""

_SWEEP_EXTRA = "pip install 'nbperf[sweep]'"
_STRING_COLUMNS = ("model", "model_path", "point", "arch", "error")
_FRONT_MARK = "*"
_MAX_LISTED = 5  # dropped points / error reasons named in a note; the rest are counted

# Known metrics: (axis label with unit, maximise). Any other numeric column can be plotted too,
# but its direction must be given ("column:min" / "column:max"): guessing it would silently
# draw the wrong front.
_METRICS: dict[str, tuple[str, bool]] = {
    "latency_ms": ("latency (ms)", False),
    "device_ms": ("device time (ms)", False),
    "host_us": ("host time (us)", False),
    "latency_hint_ms": ("latency, LATENCY hint (ms)", False),
    "fps": ("frames per second", True),
    "throughput_fps": ("throughput (frames/s)", True),
    "achieved_tops": ("achieved TOPS", True),
    "mac_utilisation": ("MAC utilisation (fraction of peak)", True),
    "area_proxy_macs": ("area proxy (tiles x MACs per tile)", False),
    "tiles": ("tiles", False),
    "macs_per_tile": ("MACs per tile", False),
    "ddr_bytes": ("DDR traffic (bytes)", False),
    "weight_ddr_bytes": ("weight DDR traffic (bytes)", False),
    "activation_ddr_bytes": ("activation DDR traffic (bytes)", False),
    "spilled_bytes": ("spilled to DDR (bytes)", False),
    "peak_cmx_bytes": ("peak CMX (bytes)", False),
}


@dataclass(frozen=True)
class Axis:
    """One metric of the front: a numeric column and whether larger values are better."""

    column: str
    label: str
    maximise: bool

    @property
    def direction(self) -> str:
        return "higher is better" if self.maximise else "lower is better"


@dataclass(frozen=True)
class FrontPoint:
    """One design point of one front (a model, or the geomean over models)."""

    point: str
    grid: tuple[tuple[str, Any], ...]  # (swept parameter, value), in the file's column order
    x: float
    y: float
    on_front: bool
    speedup: float | None  # y of the worst point over this y (or this over it, when y is maximised)


@dataclass(frozen=True)
class Front:
    """All successful points of one model (or of the geomean) and which of them are on the front."""

    name: str
    x: Axis
    y: Axis
    points: tuple[FrontPoint, ...]  # sorted by x, then best y first, then point label
    notes: tuple[str, ...] = ()

    @property
    def front(self) -> tuple[FrontPoint, ...]:
        """The non-dominated points, sorted by x."""
        return tuple(p for p in self.points if p.on_front)

    @property
    def is_geomean(self) -> bool:
        return self.name == GEOMEAN


@dataclass(frozen=True)
class SweepReport:
    """What ``nbperf sweep-report`` shows: one front per model, then the geomean front."""

    path: str
    x: Axis
    y: Axis
    grid_keys: tuple[str, ...]  # swept parameters, without the ``grid.`` prefix
    models: tuple[str, ...]
    fronts: tuple[Front, ...]  # one per model, sorted by name, then the geomean (if any)
    rows: int  # in the file
    error_rows: int  # excluded: the estimate failed
    error_reasons: tuple[tuple[str, int], ...]  # most common first
    dropped_from_geomean: tuple[str, ...]  # points not successful on every model
    notes: tuple[str, ...] = ()
    png: str | None = None
    html: str | None = None

    @property
    def geomean(self) -> Front | None:
        return next((f for f in self.fronts if f.is_geomean), None)


# ---------------------------------------------------------------------------------------------
# Reading


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise UsageError(f"reading sweep results needs pandas: {_SWEEP_EXTRA}") from None
    return pandas


def read_results(path: str | Path, *, required: Iterable[str] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read a results file of ``nbperf sweep``: Parquet (``.parquet``, ``.pq``) or CSV (``.csv``).

    Every problem is one ``UsageError``: no such file, an unknown suffix, a file pandas/pyarrow
    cannot read, or columns of ``required`` that are missing (all of them are named). ``error`` is
    an empty string, never null, on the rows that succeeded.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise UsageError(f"cannot read {path}: expected a .parquet or .csv file written by nbperf sweep")
    if not path.exists():
        raise UsageError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise UsageError(f"cannot read {path}: not a file")
    pd = _pandas()
    try:
        if suffix == ".csv":
            # Only empty cells are null: a label such as "NA" stays a string. Labels are strings
            # even when they look like numbers; floats read back bit for bit as written.
            frame = pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"],
                                dtype={c: str for c in _STRING_COLUMNS}, float_precision="round_trip")
        else:
            try:
                import pyarrow  # noqa: F401  (pandas' own message does not name the extra)
            except ImportError:
                raise UsageError(f"reading Parquet needs pyarrow: {_SWEEP_EXTRA}") from None
            frame = pd.read_parquet(path, engine="pyarrow")
    except UsageError:
        raise
    except (OSError, ValueError, ImportError) as exc:  # ArrowInvalid, ParserError, decoding errors
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"cannot read {path}: {reason[:300]}") from None
    except Exception as exc:  # pyarrow's other ArrowException types are not ValueErrors
        if type(exc).__module__.startswith("pyarrow"):
            raise UsageError(f"cannot read {path}: {' '.join(str(exc).split())[:300]}") from None
        raise
    missing = [c for c in dict.fromkeys(required) if c not in frame.columns]
    if missing:
        raise UsageError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                         f"(is it a results file of nbperf sweep?)")
    if "error" in frame.columns:
        frame["error"] = frame["error"].fillna("").astype(str).str.strip()
    return frame


def axis(spec: str) -> Axis:
    """An ``Axis`` from ``column`` or ``column:min`` / ``column:max``.

    Known metrics (latency_ms, throughput_fps, area_proxy_macs, ...) have a direction; any other
    column needs an explicit ``:min`` or ``:max``.
    """
    column, _, direction = spec.rpartition(":")
    if not column or direction not in ("min", "max"):
        column, direction = spec, ""
    column = column.strip()
    label, maximise = _METRICS.get(column, (column, None))
    if direction:
        maximise = direction == "max"
    if maximise is None:
        known = ", ".join(_METRICS)
        raise UsageError(f"say whether {column} is better low or high: {column}:min or {column}:max "
                         f"(known metrics: {known})")
    return Axis(column, label, maximise)


# ---------------------------------------------------------------------------------------------
# Fronts


def pareto_mask(xs: Sequence[float], ys: Sequence[float], *, maximise_x: bool = False,
                maximise_y: bool = False) -> list[bool]:
    """Which points are not dominated. A point dominates another when it is at least as good on
    both metrics and better on one; so equal points (duplicates) never dominate each other and are
    all on the front, and of points with the same x only those with the best y can be."""
    ox = [-v if maximise_x else v for v in xs]
    oy = [-v if maximise_y else v for v in ys]
    order = sorted(range(len(ox)), key=lambda i: (ox[i], oy[i], i))
    mask = [False] * len(ox)
    best_before = math.inf  # the best y of all points with a strictly better x
    i = 0
    while i < len(order):  # one group of equal x at a time: O(n log n)
        j = i
        while j < len(order) and ox[order[j]] == ox[order[i]]:
            j += 1
        group_best = oy[order[i]]  # sorted: the group's first y is its best
        if group_best < best_before:
            for k in order[i:j]:
                mask[k] = oy[k] == group_best
        best_before = min(best_before, group_best)
        i = j
    return mask


def _speedups(ys: Sequence[float], maximise: bool) -> list[float | None]:
    """Each y relative to the worst y: >= 1, higher is better, ``None`` where undefined."""
    if not ys:
        return []
    worst = min(ys) if maximise else max(ys)
    out: list[float | None] = []
    for y in ys:
        num, den = (y, worst) if maximise else (worst, y)
        out.append(num / den if den > 0 and num >= 0 else None)
    return out


def _build_front(name: str, x: Axis, y: Axis, rows: Sequence[tuple[str, tuple, float, float]],
                 notes: Sequence[str] = ()) -> Front:
    """A Front from (point, grid, x, y) rows: marks the front, the speedups, sorts by x."""
    mask = pareto_mask([r[2] for r in rows], [r[3] for r in rows], maximise_x=x.maximise,
                       maximise_y=y.maximise)
    speed = _speedups([r[3] for r in rows], y.maximise)
    points = [FrontPoint(point, grid, xv, yv, on, sp)
              for (point, grid, xv, yv), on, sp in zip(rows, mask, speed, strict=True)]
    # Sorted by x as a number; equal x: best y first; then the label, so ties are deterministic.
    points.sort(key=lambda p: (p.x, -p.y if y.maximise else p.y, p.point))
    return Front(name, x, y, tuple(points), tuple(notes))


def _grid_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if isinstance(c, str) and c.startswith("grid.")]


def _model_keys(frame: pd.DataFrame) -> tuple[pd.Series, dict[str, str]]:
    """Rows are grouped by model file: by ``model_path`` when there is one, so two files with the
    same name in different folders stay apart; such a pair is shown by its path."""
    names = frame["model"].fillna("").astype(str)
    if "model_path" not in frame.columns:
        return names, {n: n for n in names.unique()}
    paths = frame["model_path"].fillna("").astype(str)
    keys = paths.where(paths != "", names)
    labels: dict[str, str] = {}
    by_name: dict[str, set[str]] = {}
    for key, name in zip(keys, names, strict=True):
        by_name.setdefault(name, set()).add(key)
        labels.setdefault(key, name)
    for ks in by_name.values():
        if len(ks) > 1:
            labels.update({k: k for k in ks})
    return keys, labels


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    pd = _pandas()
    series = frame[column]
    if series.dtype == bool or not (pd.api.types.is_numeric_dtype(series) or series.isna().all()):
        raise UsageError(f"column {column} is not numeric (dtype {series.dtype}): it cannot be an axis")
    return series.astype(float)


def _prepare(frame: pd.DataFrame, x: Axis, y: Axis) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """The successful rows with their model key, x and y; model labels; notes on what was dropped."""
    notes: list[str] = []
    frame = frame.copy()
    keys, labels = _model_keys(frame)
    frame["_model"] = keys
    frame["point"] = frame["point"].fillna("").astype(str)
    dup = frame.duplicated(["_model", "point"], keep="first")
    if dup.any():
        # Two rows for one (model, point), e.g. two results files concatenated: keep the first.
        notes.append(f"{int(dup.sum())} repeated (model, point) rows ignored; the first of each was kept")
        frame = frame[~dup]
    frame["_x"] = _numeric(frame, x.column)
    frame["_y"] = _numeric(frame, y.column)
    return frame, labels, notes


def model_fronts(frame: pd.DataFrame, x: Axis, y: Axis) -> tuple[list[Front], list[str]]:
    """One front per model of a results frame (successful rows only), sorted by model name, and
    the notes on what was left out."""
    frame, labels, notes = _prepare(frame, x, y)
    grid_cols = _grid_columns(frame)
    ok = frame["error"] == ""
    no_value = ok & (frame["_x"].isna() | frame["_y"].isna())
    fronts = []
    for key in sorted(labels, key=lambda k: (labels[k], k)):
        rows = frame[frame["_model"] == key]
        mnotes = []
        failed = int((rows["error"] != "").sum())
        if failed:
            mnotes.append(f"{_count(failed, 'point')} failed, excluded")
        blank = int(no_value[rows.index].sum())
        if blank:
            mnotes.append(f"{_count(blank, 'successful point')} without {x.column} or {y.column}, excluded")
        good = rows[ok[rows.index] & ~no_value[rows.index]]
        data = [(str(point), tuple((c.removeprefix("grid."), _plain(v)) for c, v in zip(grid_cols, grid,
                                                                                       strict=True)),
                 float(xv), float(yv))
                for point, xv, yv, *grid in good[["point", "_x", "_y", *grid_cols]].itertuples(
                    index=False, name=None)]
        fronts.append(_build_front(labels[key], x, y, data, mnotes))
    return fronts, notes


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, any null (None, NaN, pd.NA) as None: for equality and printing."""
    try:
        if _pandas().isna(value):
            return None
    except (TypeError, ValueError):  # a list or an array: not a scalar null
        return value
    return value.item() if hasattr(value, "item") else value


def _geomean(values: Sequence[float]) -> float | None:
    """The geometric mean; exact when all values are equal (an arch metric such as the area proxy
    is the same for every model, and exp(mean(log)) would round it). None for non-positive values."""
    if all(v == values[0] for v in values):
        return values[0]
    if any(v <= 0 for v in values):
        return None
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def geomean_front(fronts: Sequence[Front]) -> tuple[Front | None, list[str]]:
    """The front of the geometric mean over models, per design point, of the points that succeeded
    on every model; the notes say which were dropped. ``None`` with fewer than two models."""
    models = [f for f in fronts if not f.is_geomean]
    if len(models) < 2:
        return None, []
    x, y = models[0].x, models[0].y
    by_model = [{p.point: p for p in f.points} for f in models]
    every = sorted(set().union(*by_model))
    rows, dropped, nonpositive = [], [], []
    for point in every:
        found = [m.get(point) for m in by_model]
        if any(p is None for p in found):
            missing = [f.name for f, p in zip(models, found, strict=True) if p is None]
            dropped.append(f"{point} (not on {', '.join(missing)})")
            continue
        ps = [p for p in found if p is not None]
        gx, gy = _geomean([p.x for p in ps]), _geomean([p.y for p in ps])
        if gx is None or gy is None:
            nonpositive.append(point)
            continue
        # The grid values name the design point, so they are the same on every model.
        rows.append((point, ps[0].grid, gx, gy))
    notes = [f"geometric mean over {len(models)} models of {_count(len(rows), 'point')} "
             f"that succeeded on every model"]
    if dropped:
        listed = "; ".join(dropped[:_MAX_LISTED]) + (f"; and {len(dropped) - _MAX_LISTED} more"
                                                    if len(dropped) > _MAX_LISTED else "")
        notes.append(f"{_count(len(dropped), 'point')} dropped, not successful on "
                     f"every model: {listed}")
    if nonpositive:
        notes.append(f"{_count(len(nonpositive), 'point')} dropped, a value <= 0 "
                     f"has no geometric mean: {', '.join(nonpositive[:_MAX_LISTED])}")
    return _build_front(GEOMEAN, x, y, rows, notes), [*dropped, *nonpositive]


# ---------------------------------------------------------------------------------------------
# The report


def sweep_report(path: str | Path, png: str | Path | None = None, html: str | Path | None = None,
                 x: str = "area_proxy_macs", y: str = "latency_ms") -> SweepReport:
    """Read a results file of ``nbperf sweep``, find its Pareto fronts and write the requested
    PNG and HTML files. ``x`` and ``y`` are column names, optionally with ``:min`` or ``:max``."""
    x_axis, y_axis = axis(x), axis(y)
    if x_axis.column == y_axis.column:
        raise UsageError(f"x and y are both {x_axis.column}: a front needs two different metrics")
    frame = read_results(path, required=(*REQUIRED_COLUMNS, x_axis.column, y_axis.column))
    fronts, notes = model_fronts(frame, x_axis, y_axis)
    geo, dropped = geomean_front(fronts)
    if geo is not None:
        fronts.append(geo)
    errors = frame.loc[frame["error"] != "", "error"]
    # Most common reason first; equal counts by reason, so the order never depends on the file's.
    reasons = sorted(Counter(errors).items(), key=lambda kv: (-kv[1], kv[0]))
    report = SweepReport(
        path=str(path), x=x_axis, y=y_axis,
        grid_keys=tuple(c.removeprefix("grid.") for c in _grid_columns(frame)),
        models=tuple(f.name for f in fronts if not f.is_geomean), fronts=tuple(fronts),
        rows=len(frame), error_rows=len(errors), error_reasons=tuple(reasons),
        dropped_from_geomean=tuple(dropped), notes=tuple(notes),
        png=str(png) if png is not None else None, html=str(html) if html is not None else None)
    if png is not None:
        write_png(report.fronts, png)
    if html is not None:
        write_html(report.fronts, html)
    return report


def _fmt(value: float | None, decimals: int | None = None) -> str:
    """A number for a table cell: integers with thousands separators, others with ``decimals``
    places (4 significant digits when not given)."""
    if value is None or math.isnan(value):
        return "-"
    if decimals is None:
        return f"{int(value):,}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return f"{value:,.{decimals}f}"


def _decimals(values: Sequence[float]) -> int | None:
    """One number of decimals for a whole column, so its figures line up: enough for 4 significant
    digits of its smallest value; None (integers) when every value is whole."""
    finite = [abs(v) for v in values if not math.isnan(v)]
    if all(float(v).is_integer() for v in finite):
        return None
    smallest = min((v for v in finite if v > 0), default=1.0)
    return max(0, min(6, 3 - math.floor(math.log10(smallest))))


def front_table(front: Front, grid_keys: Sequence[str] = ()) -> Table:
    """The points of one front, sorted by x: label, swept values, x, y, speedup, front marker."""
    title = ("geometric mean over models" if front.is_geomean else front.name)
    title += f": {len(front.front)} of {len(front.points)} points on the front"
    caption = (f"{_FRONT_MARK} on the Pareto front ({front.x.column}: {front.x.direction}; "
               f"{front.y.column}: {front.y.direction}); speedup: {front.y.column} against the worst point")
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                  header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("point", overflow="fold")
    keys = list(grid_keys) or [k for k, _ in (front.points[0].grid if front.points else ())]
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True)
    # Headers are the file's column names: short, and what a query of the file would use.
    table.add_column(front.x.column, justify="right")
    table.add_column(front.y.column, justify="right")
    table.add_column("speedup", justify="right", no_wrap=True)
    x_dec, y_dec = _decimals([p.x for p in front.points]), _decimals([p.y for p in front.points])
    for p in front.points:
        grid = dict(p.grid)
        table.add_row(_FRONT_MARK if p.on_front else "", p.point,
                      *(("-" if grid.get(k) is None else str(grid.get(k))) for k in keys),
                      _fmt(p.x, x_dec), _fmt(p.y, y_dec),
                      f"{p.speedup:.2f}x" if p.speedup is not None else "-",
                      style="bold" if p.on_front else None)
    return table


def render(report: SweepReport) -> list[RenderableType]:
    """The terminal report: a summary, one table per model, the geomean table and the notes."""
    out: list[RenderableType] = []
    summary = (f"{report.path}: {report.rows} rows, {_count(len(report.models), 'model')}; "
               f"front of {report.x.column} "
               f"({report.x.direction}) against {report.y.column} ({report.y.direction})")
    out.append(Text(summary))
    if report.error_rows:
        listed = "; ".join(f"{n} x {r}" for r, n in report.error_reasons[:_MAX_LISTED])
        more = len(report.error_reasons) - _MAX_LISTED
        out.append(Text(f"{_count(report.error_rows, 'failed row')} excluded: "
                        f"{listed}{f'; and {more} other reasons' if more > 0 else ''}"))
    out.extend(Text(n) for n in report.notes)
    for front in report.fronts:
        if front.points:
            out.append(front_table(front, report.grid_keys))
        else:
            out.append(Text(f"{front.name}: no successful points", style="bold"))
        out.extend(Text(f"  {n}", style="dim") for n in front.notes)
    if len(report.models) == 1:
        out.append(Text("one model: no geometric mean over models", style="dim"))
    written = [p for p in (report.png, report.html) if p is not None]
    if written:
        out.append(Text(f"wrote {', '.join(written)}"))
    return out


# ---------------------------------------------------------------------------------------------
# Files


def _panel_title(front: Front) -> str:
    return "geometric mean over models" if front.is_geomean else f"model: {front.name}"


def _axis_title(a: Axis) -> str:
    return f"{a.label}, {a.direction}"


def write_png(fronts: Sequence[Front], path: str | Path) -> None:
    """One panel per front: every point in grey, the front as a line with markers."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("a PNG needs matplotlib: pip install 'nbperf[sweep]'") from None
    import io

    panels = list(fronts) or []
    cols = max(1, min(3, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    # A Figure with its own Agg canvas, not pyplot: no global backend or figure state is touched.
    fig = Figure(figsize=(5.2 * cols, 4.2 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    if not panels:
        fig.text(0.5, 0.5, "no results", ha="center", va="center")
    for i, front in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_title(_panel_title(front), fontsize=10)
        ax.set_xlabel(_axis_title(front.x))
        ax.set_ylabel(_axis_title(front.y))
        ax.grid(True, alpha=0.3)
        if not front.points:
            ax.text(0.5, 0.5, "no successful points", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.scatter([p.x for p in front.points], [p.y for p in front.points], s=18, color="0.65",
                   label="all points", zorder=2)
        on = front.front
        ax.plot([p.x for p in on], [p.y for p in on], "-o", color="tab:blue", markersize=5,
                label="Pareto front", zorder=3)
        ax.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    # No timestamps in Agg PNGs; the Software key is dropped so the bytes do not depend on versions.
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    write_bytes_atomic(path, buffer.getvalue())


def _hover(front: Front, p: FrontPoint) -> str:
    mark = "on the front<br>" if p.on_front else ""
    return (f"{p.point}<br>{mark}{front.x.column} = {_fmt(p.x)}<br>{front.y.column} = {_fmt(p.y)}"
            + (f"<br>speedup {p.speedup:.2f}x" if p.speedup is not None else ""))


def write_html(fronts: Sequence[Front], path: str | Path) -> None:
    """A self-contained HTML page (plotly.js inlined, works offline): one panel per front; hovering
    a point names it."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise UsageError("an HTML plot needs plotly: pip install 'nbperf[html]'") from None
    panels = list(fronts)
    cols = max(1, min(2, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_panel_title(f) for f in panels] or None,
                        horizontal_spacing=0.12, vertical_spacing=min(0.12, 0.5 / rows))
    for i, front in enumerate(panels):
        r, c = divmod(i, cols)
        fig.add_trace(go.Scatter(
            x=[p.x for p in front.points], y=[p.y for p in front.points], mode="markers",
            marker={"color": "#a6a6a6", "size": 7}, name="all points", legendgroup="all",
            showlegend=i == 0, hovertext=[_hover(front, p) for p in front.points], hoverinfo="text"),
            row=r + 1, col=c + 1)
        on = front.front
        fig.add_trace(go.Scatter(
            x=[p.x for p in on], y=[p.y for p in on], mode="lines+markers",
            marker={"color": "#1f77b4", "size": 8}, line={"color": "#1f77b4"}, name="Pareto front",
            legendgroup="front", showlegend=i == 0, hovertext=[_hover(front, p) for p in on],
            hoverinfo="text"), row=r + 1, col=c + 1)
        fig.update_xaxes(title_text=_axis_title(front.x), row=r + 1, col=c + 1)
        fig.update_yaxes(title_text=_axis_title(front.y), row=r + 1, col=c + 1)
    fig.update_layout(height=420 * rows, width=620 * cols, template="plotly_white",
                      title="nbperf sweep: Pareto fronts", hovermode="closest")
    # The estimate report's page: plotly.js inlined once (offline, no server name in it); a fixed div
    # id keeps the file the same from run to run (plotly would draw a random one).
    from nbperf.report.html import Section, figure_html, page

    body = figure_html(fig, "nbperf-sweep-report")
    write_text_atomic(path, page("nbperf sweep: Pareto fronts", [Section("Pareto fronts", body)]))
