"""The terminal report: a per-layer table and the totals, rendered with rich."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from nbperf.report.records import layer_record
from nbperf.report.units import si
from nbperf.result import Estimate
from nbperf.schedule.timeline import TimedTask


def _forced(estimate: Estimate) -> str:
    forced = estimate.provenance.strategies if estimate.provenance is not None else ()
    return "; forced " + ", ".join(f"{k}={v}" for k, v in forced) if forced else ""


# Columns of the per-layer table: (record key, header, justify). DROP_ORDER lists the ones a narrow
# terminal loses first; the layer, its time and its bound are never dropped.
_COLUMNS = {
    "name": ("layer", "left"), "op": ("op", "left"), "engine": ("engine", "left"),
    "strategy": ("strategy", "left"), "macs": ("MACs", "right"), "bytes": ("bytes", "right"),
    "cycles": ("cycles", "right"), "time": ("time us", "right"), "share": ("share", "right"),
    "util": ("util", "right"), "bound": ("bound", "left"), "cost": ("costed by", "left"),
    "why": ("why", "left"),
}
DROP_ORDER = ("why", "cycles", "engine", "bytes", "macs", "op", "share", "strategy", "cost", "util")
_LAYER_MAX = 44  # a long layer name folds onto a second line rather than pushing columns out
_WHY_MAX = 64
_LEGEND = {
    "time": "time us: the layer's whole time (its compute or its DMA, whichever is longer, plus the "
            "moves and spills before it), microseconds",
    "share": "share: of the device time",
    "cycles": "cycles: compute only, at the engine's clock (DMA not included)",
    "util": "util: useful MACs the DPU performs (not the zeros of compressed weights or skipped inputs) "
            "over its peak during the compute",
    "macs": "MACs and bytes: decimal prefixes (k = 1e3, M = 1e6, G = 1e9), as everywhere in nbperf",
    "strategy": "strategy: SOH/SOW/SOK = SplitOverHeight/Width/Kernel (>dup: output broadcast to every "
                "tile), HKSwitch, Clustering; xN: tiled into N sub-tiles",
    "bound": "bound: what limits the layer (compute, overhead, dma-weights, dma-activations, dma-copy, "
             "transition)" ,
    "cost": "costed by: who priced the layer's DPU workloads (NAME k/n: k of n runs; the rest fell back to "
            "the math model); SHAVE and DMA work is the math model's",
}


def _cells(layer: dict[str, Any], total_ns: float) -> dict[str, str]:
    util = layer["mac_utilisation"]
    time_us = layer["end_us"] - layer["start_us"]
    subtiles = layer["subtiles"]
    moved = layer["input_bytes"] + layer["output_bytes"] + layer["weight_bytes"]
    return {
        "name": layer["name"], "op": layer["op_type"] + ("*" if layer["unknown"] else ""),
        "engine": layer["engine"],
        "strategy": layer["strategy_label"] + (f" x{subtiles}" if subtiles > 1 else ""),
        "macs": si(layer["macs"]) if layer["macs"] else "-", "bytes": si(moved, "B"),
        "cycles": f"{layer['compute_cycles']:,}", "time": f"{time_us:,.2f}",
        "share": f"{100 * time_us * 1e3 / total_ns:.1f}%",
        "util": f"{100 * util:.0f}%" if util is not None else "-", "bound": layer["bound"],
        "cost": layer["cost_source"], "why": layer["why"],
    }


def _table(columns: list[str], rows: list[dict[str, str]]) -> Table:
    table = Table(header_style="bold")
    for key in columns:
        header, justify = _COLUMNS[key]
        limit = {"name": _LAYER_MAX, "why": _WHY_MAX}.get(key)
        table.add_column(header, justify=justify, no_wrap=limit is None, overflow="fold", max_width=limit,
                         min_width=16 if key == "name" else None)
    for row in rows:
        table.add_row(*(row[key] for key in columns))
    return table


def fitting_columns(rows: list[dict[str, str]], width: int, verbose: bool = False,
                    columns: list[str] | None = None) -> list[str]:
    """The ``columns`` (default: all) that fit ``width``: drop the least useful first
    (``DROP_ORDER``), never the layer, its time or its bound; ``verbose`` keeps the why column
    however narrow."""
    columns = list(columns or _COLUMNS)
    console = Console(width=10_000, file=io.StringIO())  # measure the natural width, unclamped
    # Each column is measured once, by rich, in a table of its own: its width with padding is that
    # table's less its two outer borders; a table of n columns adds n + 1 borders to their sum.
    padded = {key: Measurement.get(console, console.options, _table([key], rows)).maximum - 2
              for key in columns}
    for victim in DROP_ORDER:
        if sum(padded[key] for key in columns) + len(columns) + 1 <= width:
            break
        if (victim == "why" and verbose) or victim not in columns:
            continue
        columns.remove(victim)
    return columns


def layer_table(estimate: Estimate, top: int | None = None, width: int = 200,
                verbose: bool = False) -> tuple[Text, Table, Text]:
    """Title, per-layer rows (execution order; with ``top``, the ``top`` slowest, slowest first)
    and a legend of the columns shown, for a terminal ``width`` columns wide."""
    tasks = list(estimate.schedule.tasks)
    if top is not None:  # by the exact times: the records' are rounded
        tasks = sorted(tasks, key=lambda t: -t.duration_ns)[:top]
    layers = [layer_record(t, estimate) for t in tasks]
    total_ns = estimate.schedule.makespan_ns or 1.0
    rows = [_cells(layer, total_ns) for layer in layers]
    # Under the math model every layer is its own: the column would only repeat the title.
    offered = [key for key in _COLUMNS if key != "cost" or estimate.cost_model != "math"]
    columns = fitting_columns(rows, width, verbose, offered)
    title = (f"{estimate.model} on {estimate.arch_label} ({estimate.precision}, {estimate.cost_model} costs, "
             f"{estimate.schedule.kind.value} schedule, {estimate.plan.policy} strategies"
             f"{_forced(estimate)})")
    count = len(estimate.schedule.tasks)
    if top is not None and top < count:
        title += f": the {top} slowest of {count} layers, slowest first"
    legend = [_LEGEND[key] for key in ("time", "share", "cycles", "util", "macs", "strategy", "bound", "cost")
              if key in columns or (key == "macs" and "bytes" in columns)]
    hidden = [_COLUMNS[key][0] for key in offered if key not in columns]
    if hidden:
        legend.append(f"not shown at this width: {', '.join(hidden)} (a wider terminal, --verbose, --csv or "
                      "--json show them)")
    return Text(title, style="bold"), _table(columns, rows), Text("\n".join(legend), style="dim")


def totals_table(estimate: Estimate) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    arch, tasks = estimate.arch, estimate.schedule.tasks
    peak = estimate.arch.peak_tops("int8" if estimate.precision == "int8" else "fp16")
    rows = [
        ("arch", f"{estimate.arch_label}: {arch.tiles} tiles x {arch.dpu.macs_per_tile} int8 MACs "
                 f"at {arch.dpu.frequency_mhz:g} MHz"),
        *_mode_rows(estimate),
        ("MACs", si(estimate.macs)),
        ("achieved", f"{estimate.achieved_tops:.2f} TOPS of {peak:.1f} peak"),
        ("DDR traffic", f"{si(estimate.ddr_bytes, 'B')} (weights {si(estimate.weight_ddr_bytes, 'B')}"
                        f"{_compressed_note(estimate)}, "
                        f"activations {si(estimate.activation_ddr_bytes, 'B')})"),
        ("spilled to DDR", si(estimate.schedule.spilled_bytes, "B")),
        *_extra_tiling_rows(tasks),
        ("strategy transitions", f"{si(sum(t.transition_dma_bytes for t in tasks), 'B')} moved, "
                                 f"{sum(t.transition_ns for t in tasks) / 1e3:,.1f} us"),
        ("schedule", estimate.schedule.description),
    ]
    em = estimate.emulation
    if em is not None:
        peak = ", ".join(si(b, "B") for b in em.graph.peak_cmx_bytes)
        rows.append(("peak CMX per tile", peak))
        rows.append(("barriers", f"{em.barriers_in_flight_max} of {em.barriers_available} in flight at most, "
                                 f"{em.virtual_barriers} virtual, "
                                 f"stalls {em.barrier_stall_ns / 1e3:,.1f} us"))
        busy = sorted(em.engine_busy_ns.items(), key=lambda kv: -kv[1])[:4]
        span = em.makespan_ns or 1.0
        rows.append(("busiest engines", ", ".join(f"{e} {100 * b / span:.0f}%" for e, b in busy)))
    for note in estimate.plan.notes:
        rows.append(("strategy note", note))
    rows.extend(cost_rows(estimate))
    if estimate.unknown_ops:
        rows.append(("[red]unknown ops (generic SHAVE cost)[/red]", ", ".join(estimate.unknown_ops)))
    for key, value in rows:
        table.add_row(key, value)
    return table


def cost_rows(estimate: Estimate, shown: int = 4) -> list[tuple[str, str]]:
    """What the cost model priced, and the layers some of whose workloads fell back to math."""
    if estimate.cost_model == "math":
        return []
    fell, total = estimate.cost_fallbacks
    name = estimate.cost_model.partition(":")[0]
    dma = "DMA: the DMA model" if estimate.dma_sources is None else "DMA: its own figures where it has them"
    rows = [("cost model", f"{estimate.cost_model}: priced {total - fell:,} of {total:,} DPU workload runs; "
                           f"{fell:,} fell back to the math model; SHAVE: math model; {dma}")]
    dma_fell, dma_total = estimate.dma_fallbacks
    if dma_total:
        reasons = estimate.dma_sources.reasons if estimate.dma_sources else ()
        more = f"; +{len(reasons) - 1} more reasons" if len(reasons) > 1 else ""
        why = f" ({reasons[0]}{more})" if reasons else ""
        rows.append(("cost model DMA", f"priced {dma_total - dma_fell:,} of {dma_total:,} DMA transfers; "
                                       f"{dma_fell:,} by the DMA model{why}"))
    noted = [(layer, s.reasons) for layer, s in estimate.cost_sources.items() if s.reasons]
    for layer, reasons in noted[:shown]:
        rows.append((f"{name} fallback", f"{layer}: {reasons[0]}" + (f" (+{len(reasons) - 1} more)"
                                                                      if len(reasons) > 1 else "")))
    if len(noted) > shown:
        rows.append((f"{name} fallback", f"and {len(noted) - shown} more layers (see --json cost_notes)"))
    return rows


def _mode_rows(estimate: Estimate) -> list[tuple[str, str]]:
    """Latency and throughput mode, the chosen one first."""
    th = estimate.throughput
    latency = [("latency mode", f"{estimate.latency_ms:.3f} ms per synchronous request "
                                f"({estimate.fps:,.1f} FPS)"),
               ("of which host", f"{estimate.host_ns / 1e3:,.1f} us (fixed runtime cost and I/O copies)")]
    hint = estimate.latency_hint
    if hint.tiles != estimate.arch.tiles or hint.note:
        why = hint.note or ("the LATENCY hint's default compile; all tiles with "
                            "NPU_COMPILATION_MODE_PARAMS performance-hint-override=latency")
        latency.append(("-hint latency default", f"{hint.latency_ms:.3f} ms on {hint.tiles} of "
                                                 f"{estimate.arch.tiles} tiles ({why})"))
    device_ms = th.request_device_ns / 1e6
    throughput = [("throughput mode", f"{th.fps:,.1f} FPS: {th.requests} requests in flight on "
                                      f"{th.tiles_per_request}-tile compiles, {th.concurrent} at once, each "
                                      f"{device_ms:.3f} ms on the device ({th.bound}-bound)")]
    return throughput + latency if estimate.mode == "throughput" else latency + throughput


def print_report(estimate: Estimate, console: Console, top: int | None = None, verbose: bool = False) -> None:
    for part in layer_table(estimate, top, console.width, verbose):
        console.print(part)
    console.print(totals_table(estimate))


def _compressed_note(estimate: Estimate) -> str:
    """`` stored, N raw`` when some weights are compressed, else nothing."""
    raw = estimate.weight_ddr_dense_bytes
    return f" stored, {si(raw, 'B')} raw" if raw != estimate.weight_ddr_bytes else ""


def _extra_tiling_rows(tasks: Sequence[TimedTask], shown: int = 4) -> list[tuple[str, str]]:
    """Ops tiled beyond output rows and channels (batch groups, partial sums), and how."""
    extra = [(t.op.name, t.candidate.tiling.extra) for t in tasks
             if t.candidate.tiling is not None and t.candidate.tiling.extra]
    if not extra:
        return []
    listed = "; ".join(f"{name} ({how})" for name, how in extra[:shown])
    more = f"; and {len(extra) - shown} more (see --json tiled_over)" if len(extra) > shown else ""
    return [("tiled further", f"{len(extra)} ops: {listed}{more}")]
