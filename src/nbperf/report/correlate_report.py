"""Reports of ``nbperf correlate`` and ``nbperf calibrate``: plain records (JSON, CSV) and the
terminal tables, all from the same records so they agree."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from nbperf.calibration.correlate import Correlation
from nbperf.calibration.fit import FitResult
from nbperf.calibration.stats import ErrorStats
from nbperf.report.records import provenance_record

_SHOWN_NAMES = 8  # unmatched names listed in the terminal (JSON has them all)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def stats_record(stats: ErrorStats) -> dict[str, Any]:
    return {"layers": stats.count, "mape_pct": _r(stats.mape_pct, 2),
            "within_10_pct": _r(stats.within_10_pct, 2),
            "within_20_pct": _r(stats.within_20_pct, 2), "geomean_ratio": _r(stats.geomean_ratio),
            "estimated_us": _r(stats.estimated_us, 3), "measured_us": _r(stats.measured_us, 3),
            "total_error_pct": _r(stats.total_error_pct, 2)}


def layer_rows(corr: Correlation) -> list[dict[str, Any]]:
    """One row per compared layer: the CSV, and the JSON's ``layers``."""
    return [{"layer": c.name, "op_type": c.op_type, "op_class": c.op_class, "engine": c.engine,
             "bound": c.bound, "estimated_us": _r(c.estimated_us, 3), "measured_us": _r(c.measured_us, 3),
             "ratio": _r(c.ratio), "measured_engine": "/".join(c.measured_engines),
             "measured_rows": ";".join(c.measured_rows), "matched_by": c.via} for c in corr.layers]


def correlation_record(corr: Correlation) -> dict[str, Any]:
    est, m = corr.estimate, corr.matching
    return {
        "model": est.model, "arch": est.arch_label, "provenance": provenance_record(est),
        "measured": {"source": corr.measured.source, "format": corr.measured.format,
                     "requests": corr.measured.requests, "total_us": _r(corr.measured.total_us, 3)},
        "estimated_device_us": _r(est.schedule.makespan_ns / 1e3, 3),
        "overall": stats_record(corr.overall),
        "by_op_class": {k: stats_record(v) for k, v in corr.grouped("op_class").items()},
        "by_engine": {k: stats_record(v) for k, v in corr.grouped("engine").items()},
        "zero_measured_layers": [c.name for c in corr.layers if c.measured_us <= 0],
        "engine_differs": [c.name for c in corr.layers if c.engine_differs],
        "unmatched_measured": [{"name": n, "measured_us": _r(t, 3)} for n, t in m.unmatched_measured],
        "not_executed": list(m.not_executed),
        "unmeasured_layers": list(m.unmeasured_layers),
        "unmeasured_estimated_us": _r(corr.unmeasured_us, 3),
        "layers": layer_rows(corr),
    }


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(corr: Correlation) -> Table:
    """Overall, per op class and per engine: the field's metrics."""
    est = corr.estimate
    table = Table(title=f"{est.model} on {est.arch_label} vs {corr.measured.source} ({corr.measured.format})",
                  header_style="bold", title_justify="left")
    for col in ("group", "layers", "estimated us", "measured us", "total error", "MAPE", "within 10%",
                "within 20%", "geomean est/meas"):
        table.add_column(col, justify="left" if col == "group" else "right")

    def row(label: str, s: ErrorStats, style: str | None = None) -> None:
        table.add_row(label, str(s.count), f"{s.estimated_us:,.1f}", f"{s.measured_us:,.1f}",
                      f"{s.total_error_pct:+.1f}%", _pct(s.mape_pct), _pct(s.within_10_pct),
                      _pct(s.within_20_pct), _ratio(s.geomean_ratio), style=style)

    row("all layers", corr.overall, "bold")
    for name, s in corr.grouped("op_class").items():
        row(name, s)
    for name, s in corr.grouped("engine").items():
        row(f"engine {name}", s)
    return table


def layers_table(corr: Correlation, top: int | None) -> Table:
    """The layers that miss most (by measured time lost or gained), largest first."""
    rows = sorted(corr.layers, key=lambda c: (-abs(c.estimated_us - c.measured_us), c.name))
    shown = rows if top is None else rows[:top]
    title = "layers, largest absolute miss first" + ("" if top is None or top >= len(rows) else
                                                    f" ({len(shown)} of {len(rows)}; --top 0 for all)")
    table = Table(title=title, header_style="bold", title_justify="left")
    for col in ("layer", "class", "bound", "estimated us", "measured us", "est/meas"):
        table.add_column(col, justify="left" if col in ("layer", "class", "bound") else "right")
    for c in shown:
        table.add_row(c.name, c.op_class, c.bound, f"{c.estimated_us:,.2f}", f"{c.measured_us:,.2f}",
                      _ratio(c.ratio), style="yellow" if c.ratio is None or abs(c.ratio - 1) > 0.2 else None)
    return table


def total_line(corr: Correlation) -> str:
    """The whole model: the estimate's device time against the report's total (or its layers' sum)."""
    device_us = corr.estimate.schedule.makespan_ns / 1e3
    total, what = corr.measured.total_us, "the report's total"
    if total is None:
        executed = [m.measured_us for m in corr.matching.matches.values()]
        total = sum(executed) + sum(t for _, t in corr.matching.unmatched_measured)
        what = "the sum of its layers"
    error = f": {100 * (device_us - total) / total:+.1f}%" if total else ""
    return (f"whole model: estimated {device_us:,.1f} us on the device vs {total:,.1f} us measured "
            f"({what}){error}")


def matching_lines(corr: Correlation) -> list[str]:
    """What did not pair up, said plainly (never dropped silently)."""
    m, lines = corr.matching, []
    if m.unmatched_measured:
        total = sum(t for _, t in m.unmatched_measured)
        names = ", ".join(n for n, _ in m.unmatched_measured[:_SHOWN_NAMES])
        lines.append(f"{len(m.unmatched_measured)} measured layers ({total:,.1f} us) match no nbperf layer: "
                     f"{names}" + (" ..." if len(m.unmatched_measured) > _SHOWN_NAMES else ""))
    if m.unmeasured_layers:
        names = ", ".join(m.unmeasured_layers[:_SHOWN_NAMES])
        more = " ..." if len(m.unmeasured_layers) > _SHOWN_NAMES else ""
        lines.append(f"{len(m.unmeasured_layers)} nbperf layers ({corr.unmeasured_us:,.1f} us estimated) "
                     f"have no measurement: {names}{more}")
    zero = [c.name for c in corr.layers if c.measured_us <= 0]
    if zero:
        lines.append(f"{len(zero)} layers measured as 0 (below the report's resolution) are left out of the "
                     "statistics")
    free = [c.name for c in corr.layers if c.bound == "free"]
    if free:
        lines.append(f"{len(free)} layers nbperf prices at zero (views, folded Q/DQ) took time on the part: "
                     + ", ".join(free[:_SHOWN_NAMES]))
    differ = [c for c in corr.layers if c.engine_differs]
    if differ:
        lines.append(f"{len(differ)} layers ran on another engine than nbperf lowers them to: "
                     + ", ".join(f"{c.name} (nbperf {c.engine}, measured {c.measured_engines[0]})"
                                 for c in differ[:_SHOWN_NAMES]))
    if m.not_executed:
        lines.append(f"{len(m.not_executed)} measured rows were not run or optimized out")
    return lines


def fit_record(result: FitResult, arch: str, out: str | None) -> dict[str, Any]:
    return {
        "arch": arch, "overlay": out, "held_out_share": result.held_out_share,
        "classes": [{"op_class": c.op_class, "factor": c.factor, "rel_stderr": _r(c.rel_stderr),
                     "start": c.start, "training_layers": c.layers, "status": c.status}
                    for c in result.classes],
        "training": {"before": stats_record(result.train_before), "after": stats_record(result.train_after)},
        "held_out": {"before": stats_record(result.held_before), "after": stats_record(result.held_after)},
    }


def fit_tables(result: FitResult) -> list[Table]:
    factors = Table(title="fitted compute time factors (silicon / model)", header_style="bold",
                    title_justify="left")
    for col in ("op class", "factor", "+- std err", "was", "training layers", "status"):
        numeric = col in ("factor", "+- std err", "was", "training layers")
        factors.add_column(col, justify="right" if numeric else "left")
    for c in result.classes:
        spread = "-" if c.rel_stderr is None else f"{100 * c.rel_stderr:.1f}%"
        factors.add_row(c.op_class, f"{c.factor:.4f}", spread, f"{c.start:.4f}", str(c.layers), c.status)
    errors = Table(title=f"error before -> after (plan fixed; held-out share {result.held_out_share:.0%})",
                   header_style="bold", title_justify="left")
    for col in ("set", "layers", "MAPE", "within 10%", "within 20%", "geomean est/meas"):
        errors.add_column(col, justify="left" if col == "set" else "right")
    for label, before, after in (("training", result.train_before, result.train_after),
                                 ("held out", result.held_before, result.held_after)):
        errors.add_row(label, str(before.count), f"{before.mape_pct:.1f}% -> {after.mape_pct:.1f}%",
                       f"{before.within_10_pct:.1f}% -> {after.within_10_pct:.1f}%",
                       f"{before.within_20_pct:.1f}% -> {after.within_20_pct:.1f}%",
                       f"{_ratio(before.geomean_ratio)} -> {_ratio(after.geomean_ratio)}")
    return [factors, errors]
