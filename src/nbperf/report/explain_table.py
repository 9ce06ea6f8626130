"""Terminal tables for ``nbperf explain``: one layer's candidates, or every layer's choice."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from nbperf.result import Estimate
from nbperf.strategy.explain import LayerExplanation


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e3:,.2f}"


def _kb(nbytes: int) -> str:
    return f"{nbytes / 1e3:,.1f} kB"  # decimal, as every nbperf report


REASONS_INLINE_WIDTH = 150  # narrower terminals get the reasons as lines under the table


def candidates_table(ex: LayerExplanation, arch_label: str | None = None, width: int = 200) -> Table:
    """Every candidate of one layer; ``arch_label`` names the arch with its overrides. Under
    ``REASONS_INLINE_WIDTH`` columns the reasons (long sentences) go under the table, one per
    strategy, so no column is squeezed into breaking words."""
    op = ex.op
    title = (f"{op.name} ({op.op_type}, {op.engine.value}, {op.precision}) on {arch_label or ex.arch.name}, "
             f"{ex.arch.tiles} tiles, CMX budget {_kb(ex.budget_bytes)} per tile, {ex.policy} policy, "
             f"whole graph {ex.total_ns / 1e3:,.2f} us ({ex.priced_by})")
    legend = ("tiles: sub-tiles; cycles: compute cycles; compute, DMA (its own), in and out (layout "
              "moves into the layer and from it to its consumers): microseconds; sizes in decimal kB")
    inline = width >= REASONS_INLINE_WIDTH
    below = [] if inline else [f"{row.candidate.label}: {row.reason}" for row in ex.rows]
    lowering = f"lowered as: {op.lowering}" if op.lowering else ""
    table = Table(title=title, title_justify="left", header_style="bold", caption_justify="left",
                  caption="\n".join(filter(None, (lowering, ex.pricing, legend, *below))))
    # short headers (the caption explains them)
    for col in ("strategy", "legal", "CMX/tile", "fits", "tiles", "cycles", "compute", "DMA", "in",
                "out", "chosen", *(("reason",) if inline else ())):
        table.add_column(col, overflow="fold", min_width=None if col == "reason" else len(col))
    for row in ex.rows:
        c = row.candidate
        legal = c.legal
        table.add_row(
            c.label, "yes" if legal else "no",
            _kb(c.cmx_bytes_per_tile) if legal else "-", ("yes" if c.fits else "no") if legal else "-",
            str(c.subtiles) if legal else "-", f"{row.compute.cycles:,}" if row.compute else "-",
            _us(row.compute.ns if row.compute else None), _us(row.own_dma_ns), _us(row.transition_in_ns),
            _us(row.transition_out_ns), "[bold green]yes[/]" if row.chosen else "",
            *((row.reason,) if inline else ()),
        )
    return table


def plan_table(estimate: Estimate) -> Table:
    """Every layer's chosen strategy with the candidates it beat."""
    plan = estimate.plan
    lowered = [f"{t.op.name}: {t.op.lowering}" for t in estimate.schedule.tasks if t.op.lowering]
    caption = "\n".join(["lowered as the part's compiler chooses:", *lowered]) if lowered else None
    table = Table(title=f"{estimate.model} on {estimate.arch_label}: strategies ({plan.policy} policy)",
                  title_justify="left", header_style="bold", caption_justify="left", caption=caption)
    for col in ("layer", "op", "strategy", "tiles", "CMX/tile", "sub-tiles", "transition in",
                "legal alternatives"):
        table.add_column(col, overflow="fold")
    for task in estimate.schedule.tasks:
        placement = plan.placements[task.op.name]
        others = [c.label for c in placement.considered if c.legal and c is not placement.chosen]
        moves = [m.kind.value for m in placement.moves_in if m.total_bytes]
        table.add_row(task.op.name, task.op.op_type, placement.chosen.label,
                      str(task.tiles_used), _kb(task.cmx_bytes), str(task.subtiles),
                      f"{', '.join(moves)} {task.transition_ns / 1e3:,.2f} us" if moves else "-",
                      ", ".join(others) or "-")
    return table


def candidates_record(ex: LayerExplanation, arch_label: str | None = None) -> dict[str, Any]:
    """``candidates_table`` as plain data (``nbperf explain --layer L --json``)."""
    op = ex.op
    return {
        "layer": op.name, "op_type": op.op_type, "engine": op.engine.value, "precision": op.precision,
        "arch": arch_label or ex.arch.name, "tiles": ex.arch.tiles, "cmx_budget_bytes": ex.budget_bytes,
        "policy": ex.policy, "whole_graph_us": round(ex.total_ns / 1e3, 4), "priced_by": ex.priced_by,
        "lowering": op.lowering, "se_table_bytes": op.se_table_bytes,
        "candidates": [
            {"strategy": str(row.candidate.label), "legal": row.candidate.legal,
             "cmx_bytes_per_tile": row.candidate.cmx_bytes_per_tile if row.candidate.legal else None,
             "fits": row.candidate.fits if row.candidate.legal else None,
             "subtiles": row.candidate.subtiles if row.candidate.legal else None,
             "compute_cycles": row.compute.cycles if row.compute else None,
             "compute_us": _round_us(row.compute.ns if row.compute else None),
             "own_dma_us": _round_us(row.own_dma_ns), "transition_in_us": _round_us(row.transition_in_ns),
             "transition_out_us": _round_us(row.transition_out_ns), "chosen": row.chosen,
             "reason": row.reason}
            for row in ex.rows],
    }


def plan_record(estimate: Estimate) -> dict[str, Any]:
    """``plan_table`` as plain data (``nbperf explain --json``)."""
    plan = estimate.plan
    layers = []
    for task in estimate.schedule.tasks:
        placement = plan.placements[task.op.name]
        layers.append({
            "layer": task.op.name, "op_type": task.op.op_type, "strategy": str(placement.chosen.label),
            "tiles_used": task.tiles_used, "cmx_bytes_per_tile": task.cmx_bytes, "subtiles": task.subtiles,
            "transition_in": [m.kind.value for m in placement.moves_in if m.total_bytes],
            "transition_in_us": round(task.transition_ns / 1e3, 4), "lowering": task.op.lowering,
            "legal_alternatives": [str(c.label) for c in placement.considered
                                   if c.legal and c is not placement.chosen]})
    return {"model": estimate.model, "arch": estimate.arch_label, "policy": plan.policy, "layers": layers}


def _round_us(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e3, 4)
