"""The terminal report: a per-layer table and the totals, rendered with rich."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from nbperf.result import Estimate
from nbperf.schedule.timeline import TimedTask


def _si(value: float, unit: str = "") -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def _strategy_label(task: TimedTask) -> str:
    label = task.candidate.label
    return f"{label} x{task.subtiles}" if task.subtiles > 1 else label


def _forced(estimate: Estimate) -> str:
    forced = estimate.provenance.strategies if estimate.provenance is not None else ()
    return "; forced " + ", ".join(f"{k}={v}" for k, v in forced) if forced else ""


def layer_table(estimate: Estimate, top: int | None = None) -> Table:
    """Per-layer rows in execution order; with ``top``, the ``top`` slowest layers, slowest first."""
    tasks = list(estimate.schedule.tasks)
    total_ns = estimate.schedule.makespan_ns or 1.0
    if top is not None:
        tasks = sorted(tasks, key=lambda t: -t.duration_ns)[:top]
    title = (f"{estimate.model} on {estimate.arch_label} ({estimate.precision}, {estimate.cost_model} costs, "
             f"{estimate.schedule.kind.value} schedule, {estimate.plan.policy} strategies"
             f"{_forced(estimate)})")
    if top is not None and top < len(estimate.schedule.tasks):
        title += f": {top} slowest of {len(estimate.schedule.tasks)} layers"
    table = Table(title=title, title_justify="left", header_style="bold")
    for col, justify in (("layer", "left"), ("op", "left"), ("engine", "left"), ("strategy", "left"),
                         ("MACs", "right"),
                         ("bytes", "right"), ("cycles", "right"), ("time us", "right"), ("share", "right"),
                         ("util", "right"), ("bound", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "layer", overflow="fold",
                         min_width=16 if col == "layer" else None)
    for t in tasks:
        moved = t.op.input_bytes + t.op.output_bytes + t.op.weight_bytes
        util = t.compute.mac_utilisation
        op_label = t.op.op_type + ("*" if t.op.unknown else "")
        table.add_row(
            t.op.name, op_label, t.op.engine.value, _strategy_label(t), _si(t.op.macs) if t.op.macs else "-",
            _si(moved, "B"), f"{t.compute.cycles:,}", f"{t.duration_ns / 1e3:,.2f}",
            f"{100 * t.duration_ns / total_ns:.1f}%", f"{100 * util:.0f}%" if util is not None else "-",
            t.bound.value,
        )
    return table


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
        ("MACs", _si(estimate.macs)),
        ("achieved", f"{estimate.achieved_tops:.2f} TOPS of {peak:.1f} peak"),
        ("DDR traffic", f"{_si(estimate.ddr_bytes, 'B')} (weights {_si(estimate.weight_ddr_bytes, 'B')}, "
                        f"activations {_si(estimate.activation_ddr_bytes, 'B')})"),
        ("spilled to DDR", _si(estimate.schedule.spilled_bytes, "B")),
        *_extra_tiling_rows(tasks),
        ("strategy transitions", f"{_si(sum(t.transition_dma_bytes for t in tasks), 'B')} moved, "
                                 f"{sum(t.transition_ns for t in tasks) / 1e3:,.1f} us"),
        ("schedule", estimate.schedule.description),
    ]
    em = estimate.emulation
    if em is not None:
        peak = ", ".join(f"{b / 1024:,.0f} KB" for b in em.graph.peak_cmx_bytes)
        rows.append(("peak CMX per tile", peak))
        rows.append(("barriers", f"{em.barriers_in_flight_max} of {em.barriers_available} in flight at most, "
                                 f"{em.virtual_barriers} virtual, "
                                 f"stalls {em.barrier_stall_ns / 1e3:,.1f} us"))
        busy = sorted(em.engine_busy_ns.items(), key=lambda kv: -kv[1])[:4]
        span = em.makespan_ns or 1.0
        rows.append(("busiest engines", ", ".join(f"{e} {100 * b / span:.0f}%" for e, b in busy)))
    for note in estimate.plan.notes:
        rows.append(("strategy note", note))
    if estimate.unknown_ops:
        rows.append(("[red]unknown ops (generic SHAVE cost)[/red]", ", ".join(estimate.unknown_ops)))
    for key, value in rows:
        table.add_row(key, value)
    return table


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


def print_report(estimate: Estimate, console: Console, top: int | None = None) -> None:
    console.print(layer_table(estimate, top))
    console.print(totals_table(estimate))


def _extra_tiling_rows(tasks: Sequence[TimedTask], shown: int = 4) -> list[tuple[str, str]]:
    """Ops tiled beyond output rows and channels (batch groups, partial sums), and how."""
    extra = [(t.op.name, t.candidate.tiling.extra) for t in tasks
             if t.candidate.tiling is not None and t.candidate.tiling.extra]
    if not extra:
        return []
    listed = "; ".join(f"{name} ({how})" for name, how in extra[:shown])
    more = f"; and {len(extra) - shown} more (see --json tiled_over)" if len(extra) > shown else ""
    return [("tiled further", f"{len(extra)} ops: {listed}{more}")]
