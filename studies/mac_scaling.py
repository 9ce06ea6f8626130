"""What does doubling the MACs per tile buy on NPU 4000, and how do accumulator contexts change it?

    python3 studies/mac_scaling.py [MODELS ...] [--precision fp16 --precision int8]
                                   [--img-dir docs/studies/img] [--focus resnet50]

MODELS are ONNX files or folders of them (default: /work/shared/models, the shared models; the
repository's examples/models works too). Every model is estimated with ``nbperf.compare`` on four
arch points, layer-serial schedule, default (optimal) strategy policy, math cost model:

    2K/64  npu4000                                   2048 MACs per tile, 64 accumulator contexts
    4K/64  npu4000-4k                                4096 MACs per tile (a what-if), 64 contexts
    2K/16  npu4000+dpu.accumulator_contexts=16       2048 MACs, 16 contexts
    4K/16  npu4000-4k+dpu.accumulator_contexts=16    4096 MACs, 16 contexts

in fp16 and int8 (``precision="fp16"`` / ``"int8"``: int8 quantized as NNCF does). It prints
markdown tables: the mechanism on single workloads (read grids, MAC and CMX-read cycles), latency
and the 4K/2K speedup per model (with geometric means), the share of device time in layers by
what bounds them, the per-layer speedup distribution, the ResNet-50 (``--focus``) layers that
gain most and the largest that do not, every anomaly (a model or layer slower on 4K than on 2K
or over 2x faster, or faster with 16 contexts than with 64) with what its plans say about it, and
the 4K point held to the 2K point's strategies. It writes two PNGs (matplotlib): the speedup per
model at both context settings, and per-layer speedup against MACs per DDR byte for the focus
model.
Written for docs/studies/mac-scaling.md; ``main(argv)`` is what its test runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbperf import compare, estimate
from nbperf.compare import split_arch_point

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = Path("/work/shared/models")
DEFAULT_IMG_DIR = REPO / "docs" / "studies" / "img"

# The four arch points, in the order compare() gets them (the first is its baseline).
POINTS = ("2K/64", "4K/64", "2K/16", "4K/16")
ARCHS = ("npu4000", "npu4000-4k", "npu4000+dpu.accumulator_contexts=16",
         "npu4000-4k+dpu.accumulator_contexts=16")
CONTEXTS = (64, 16)
# (2K side, 4K side) indices into POINTS for each context setting
PAIRS = {64: (0, 1), 16: (2, 3)}
# (64-context side, 16-context side) indices for each MAC count
CONTEXT_PAIRS = {"2K": (0, 2), "4K": (1, 3)}

BOUNDS = ("MAC", "CMX-read", "PPE", "DMA", "SHAVE", "overhead", "transition")
GAIN_BUCKETS = (">1.8x", "1.2-1.8x", "<1.2x")
EPS = 1e-9  # relative tolerance when calling a ratio "slower" or "faster"


def bound_class(task: Any) -> str:
    """What holds a task back, in the study's terms: the DPU's MAC / CMX-read / PPE bound
    (``task.compute.limit``) when the task is compute bound, else its schedule bound
    (``task.bound``: DMA of any kind, task set-up overhead, layout transitions); SHAVE compute
    is its own class. Mirrors the ``bound`` and ``compute_limit`` of the JSON layer record."""
    bound = task.bound.value
    if bound == "compute":
        limit = task.compute.limit
        if limit == "mac":
            return "MAC"
        if limit == "cmx-read":
            return "CMX-read"
        if limit == "ppe":
            return "PPE"
        return "SHAVE" if task.op.engine.value == "SHAVE" else f"compute ({limit})"
    if bound.startswith("dma"):
        return "DMA"
    return bound


@dataclass(frozen=True)
class Layer:
    """One layer on the four points (``None`` where a point has no layer of that name)."""

    name: str
    op_type: str
    macs: int
    ddr_bytes: int  # on the 2K/64 point
    times_ns: tuple[float | None, ...]
    bounds: tuple[str | None, ...]
    strategies: tuple[str | None, ...]
    subtiles: tuple[int | None, ...]
    moved_bytes: tuple[int | None, ...]  # DDR and CMX-to-CMX bytes its DMAs move (transitions included)

    def speedup(self, slow: int, fast: int) -> float | None:
        """times[slow] / times[fast]; None when either is missing or the faster side takes no time."""
        a, b = self.times_ns[slow], self.times_ns[fast]
        if a is None or b is None or b <= 0:
            return None
        return a / b


@dataclass(frozen=True)
class Run:
    """One model in one precision on the four points."""

    model: str
    precision: str
    latency_ms: tuple[float, ...]
    device_ns: tuple[float, ...]
    bound_ns: tuple[dict[str, float], ...]  # per point: device time per bound class
    layers: tuple[Layer, ...]
    exact: tuple[bool, ...]  # per point: the strategy search stayed exact
    replan_ms: dict[int, float]  # contexts -> latency on 4K with the 2K plan's strategies forced

    def speedup(self, contexts: int) -> float:
        """Latency on 2K over latency on 4K at ``contexts``."""
        lo, hi = PAIRS[contexts]
        return self.latency_ms[lo] / self.latency_ms[hi]

    def context_cost(self, macs: str) -> float:
        """Latency with 16 contexts over latency with 64 (1.05: 5% slower with 16)."""
        c64, c16 = CONTEXT_PAIRS[macs]
        return self.latency_ms[c16] / self.latency_ms[c64]


def run_model(path: Path, precision: str) -> Run:
    """Estimate one model on the four points with nbperf.compare and keep what the tables need."""
    comparison = compare([str(path)], list(ARCHS), precision=precision, schedule="serial")
    base_tasks = {t.op.name: t for t in comparison.estimates[0].schedule.tasks}
    per_point = [{t.op.name: t for t in e.schedule.tasks} for e in comparison.estimates]
    layers = []
    for row in comparison.layers:
        base = base_tasks.get(row.name)
        layers.append(Layer(
            name=row.name, op_type=row.op_type,
            macs=base.op.macs if base else 0, ddr_bytes=base.ddr_bytes if base else 0,
            times_ns=tuple(None if s is None else s.time_ns for s in row.sides),
            bounds=tuple(bound_class(tasks[row.name]) if row.name in tasks else None for tasks in per_point),
            strategies=tuple(None if side is None else side.strategy for side in row.sides),
            subtiles=tuple(tasks[row.name].subtiles if row.name in tasks else None for tasks in per_point),
            moved_bytes=tuple(tasks[row.name].ddr_bytes + tasks[row.name].transition_cmx_bytes
                              if row.name in tasks else None for tasks in per_point)))
    bound_ns = []
    for e in comparison.estimates:
        shares: dict[str, float] = Counter()
        for t in e.schedule.tasks:
            shares[bound_class(t)] += t.duration_ns
        bound_ns.append(dict(shares))
    replan_ms = {}
    for contexts, (lo, hi) in PAIRS.items():  # the 4K point, held to the strategies the 2K point chose
        forced = {t.op.name: t.candidate.strategy.value for t in comparison.estimates[lo].schedule.tasks}
        arch, overrides = split_arch_point(ARCHS[hi])
        replan_ms[contexts] = estimate(str(path), arch, arch_overrides=overrides, precision=precision,
                                       schedule="serial", strategies=forced).latency_ms
    return Run(model=path.stem, precision=precision,
               latency_ms=tuple(e.latency_ms for e in comparison.estimates),
               device_ns=tuple(e.schedule.makespan_ns for e in comparison.estimates),
               bound_ns=tuple(bound_ns), layers=tuple(layers),
               exact=tuple(e.plan.exact for e in comparison.estimates), replan_ms=replan_ms)


# ---------------------------------------------------------------------------------------------
# tables


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; numeric columns right-aligned."""
    align = ["---:" if rows and all(_is_number(r[i]) for r in rows) else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _is_number(v: Any) -> bool:
    if isinstance(v, int | float):
        return True
    try:
        float(str(v).rstrip("x%"))
    except ValueError:
        return False
    return True


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def latency_table(runs: Sequence[Run]) -> str:
    rows = []
    for r in runs:
        rows.append([r.model, r.precision, *(f"{v:.3f}" for v in r.latency_ms),
                     f"{r.speedup(64):.3f}", f"{r.speedup(16):.3f}",
                     f"{r.context_cost('2K'):.3f}", f"{r.context_cost('4K'):.3f}"])
    for precision in dict.fromkeys(r.precision for r in runs):
        sel = [r for r in runs if r.precision == precision]
        rows.append([f"**geomean, {len(sel)} models**", precision, "", "", "", "",
                     f"{geomean([r.speedup(64) for r in sel]):.3f}",
                     f"{geomean([r.speedup(16) for r in sel]):.3f}",
                     f"{geomean([r.context_cost('2K') for r in sel]):.3f}",
                     f"{geomean([r.context_cost('4K') for r in sel]):.3f}"])
    header = ["model", "precision", *(f"{p} ms" for p in POINTS), "4K/2K @64", "4K/2K @16",
              "16/64 @2K", "16/64 @4K"]
    return table(header, rows)


def bound_table(runs: Sequence[Run]) -> str:
    present = [b for b in BOUNDS if any(b in shares for r in runs for shares in r.bound_ns)]
    extra = sorted({b for r in runs for shares in r.bound_ns for b in shares} - set(BOUNDS))
    columns = present + extra
    rows = []
    for r in runs:
        for i, point in enumerate(POINTS):
            total = sum(r.bound_ns[i].values()) or 1.0
            rows.append([r.model, r.precision, point, f"{r.device_ns[i] / 1e6:.3f}",
                         *(f"{100 * r.bound_ns[i].get(b, 0.0) / total:.1f}%" for b in columns)])
    return table(["model", "precision", "point", "device ms", *columns], rows)


def bucket(speedup: float) -> str:
    if speedup > 1.8:
        return GAIN_BUCKETS[0]
    if speedup >= 1.2:
        return GAIN_BUCKETS[1]
    return GAIN_BUCKETS[2]


def _timed(run: Run, lo: int, hi: int) -> list[tuple[Layer, float]]:
    """Layers that take time on both sides, with their speedup lo -> hi."""
    out = []
    for layer in run.layers:
        s = layer.speedup(lo, hi)
        if s is not None and (layer.times_ns[lo] or 0) > 0:
            out.append((layer, s))
    return out


def _bound_mix(layers: Sequence[tuple[Layer, float]], side: int) -> str:
    mix = Counter(layer.bounds[side] or "-" for layer, _ in layers)
    return ", ".join(f"{b} {n}" for b, n in mix.most_common()) or "-"


def distribution_table(runs: Sequence[Run]) -> str:
    rows = []
    totals: dict[tuple[str, int], list[tuple[Layer, float]]] = {}
    for r in runs:
        for contexts in CONTEXTS:
            lo, hi = PAIRS[contexts]
            timed = _timed(r, lo, hi)
            totals.setdefault((r.precision, contexts), []).extend(timed)
            rows.append(_distribution_row(r.model, r.precision, contexts, timed, lo, hi))
    for (precision, contexts), timed in totals.items():
        lo, hi = PAIRS[contexts]
        rows.append(_distribution_row("**all models**", precision, contexts, timed, lo, hi))
    header = ["model", "precision", "contexts", "layers", *(f"{b} (share of 2K time)" for b in GAIN_BUCKETS),
              "<1.2x: bound on 4K"]
    return table(header, rows)


def _distribution_row(model: str, precision: str, contexts: int, timed: list[tuple[Layer, float]],
                      lo: int, hi: int) -> list[Any]:
    total = sum(layer.times_ns[lo] or 0.0 for layer, _ in timed) or 1.0
    cells = []
    for b in GAIN_BUCKETS:
        sel = [(layer, s) for layer, s in timed if bucket(s) == b]
        share = sum(layer.times_ns[lo] or 0.0 for layer, _ in sel) / total
        cells.append(f"{len(sel)} ({100 * share:.1f}%)")
    slow = [(layer, s) for layer, s in timed if bucket(s) == GAIN_BUCKETS[2]]
    return [model, precision, contexts, len(timed), *cells, _bound_mix(slow, hi)]


def focus_tables(run: Run, top: int) -> str:
    """The focus model's layers that gain most (time saved at 64 contexts) and its largest layers
    that gain under 1.2x, with their bounds on every point."""
    lo, hi = PAIRS[64]
    timed = _timed(run, lo, hi)

    def row(layer: Layer, s: float) -> list[Any]:
        s16 = layer.speedup(*PAIRS[16])
        return [layer.name, layer.op_type, f"{(layer.times_ns[lo] or 0) / 1e3:.1f}",
                f"{(layer.times_ns[hi] or 0) / 1e3:.1f}", f"{s:.3f}",
                "-" if s16 is None else f"{s16:.3f}", " / ".join(b or "-" for b in layer.bounds),
                " / ".join(st or "-" for st in layer.strategies)]

    gain = sorted(timed, key=lambda p: -((p[0].times_ns[lo] or 0) - (p[0].times_ns[hi] or 0)))[:top]
    flat = sorted([p for p in timed if p[1] < 1.2], key=lambda p: -(p[0].times_ns[lo] or 0))[:top]
    header = ["layer", "op", "2K/64 us", "4K/64 us", "4K/2K @64", "4K/2K @16",
              "bound " + " / ".join(POINTS), "strategy, same order"]
    return (f"Top {top} by time saved (2K/64 -> 4K/64):\n\n" + table(header, [row(*p) for p in gain])
            + f"\n\nLargest {top} that gain under 1.2x at 64 contexts (by 2K/64 time):\n\n"
            + table(header, [row(*p) for p in flat]))


@dataclass(frozen=True)
class Anomaly:
    """A whole model or a layer that moves further, or the other way, from one point to another than
    the change alone can explain: slower on 4K MACs than on 2K, more than twice as fast, or faster
    with 16 contexts than with 64."""

    model: str
    precision: str
    layer: str
    what: str
    from_point: str  # 2K (for a MAC anomaly) or 64 contexts (for a context anomaly)
    from_ns: float
    to_point: str
    to_ns: float
    why: str

    @property
    def moved_ns(self) -> float:
        """How far it moved (a positive number of ns)."""
        return abs(self.to_ns - self.from_ns)


def anomalies(runs: Sequence[Run]) -> list[Anomaly]:
    """Every whole model or layer outside what more MACs or fewer contexts alone can do: 4K slower
    than 2K, 4K more than twice as fast as 2K, or 16 contexts faster than 64."""
    found = []
    for r in runs:
        model_ns = [ms * 1e6 for ms in r.latency_ms]
        cases = [(f"4K slower than 2K @{c}", lo, hi, _slower) for c, (lo, hi) in PAIRS.items()]
        cases += [(f"4K over 2x faster than 2K @{c}", lo, hi, _over_twice) for c, (lo, hi) in PAIRS.items()]
        cases += [(f"16 faster than 64 contexts @{m}", c64, c16, _faster)
                  for m, (c64, c16) in CONTEXT_PAIRS.items()]
        for what, a, b, odd in cases:
            if odd(model_ns[a], model_ns[b]):
                found.append(Anomaly(r.model, r.precision, "(whole model)", what, POINTS[a], model_ns[a],
                                     POINTS[b], model_ns[b], ""))
            for layer in r.layers:
                ta, tb = layer.times_ns[a], layer.times_ns[b]
                if ta is not None and tb is not None and odd(ta, tb):
                    found.append(Anomaly(r.model, r.precision, layer.name, what, POINTS[a], ta, POINTS[b], tb,
                                         _why(layer, a, b)))
    return found


def _slower(before: float, after: float) -> bool:
    return after > before * (1 + EPS)


def _faster(before: float, after: float) -> bool:
    return after < before * (1 - EPS)


def _over_twice(before: float, after: float) -> bool:
    return before > 2 * after * (1 + EPS)


def _why(layer: Layer, a: int, b: int) -> str:
    """Why a layer moved unexpectedly between points a and b, from what the plans say: its strategy
    or tiling changed (the whole-graph search traded it for other layers), the bytes its DMAs move
    changed (which tensors stay in CMX, which layouts its inputs arrive in), or neither: then the
    layer-serial model hid less (or more) of its first loads (weights, first sub-tile) under the op
    before, which left less (more) idle DMA time or CMX room for the prefetch: with the same
    strategy and bytes, more MACs never raise and fewer contexts never lower a layer's compute."""
    bounds = f"{layer.bounds[a]} -> {layer.bounds[b]}"
    if layer.strategies[a] != layer.strategies[b]:
        return f"{bounds}; strategy {layer.strategies[a]} -> {layer.strategies[b]}"
    if layer.subtiles[a] != layer.subtiles[b]:
        return f"{bounds}; same strategy, sub-tiles {layer.subtiles[a]} -> {layer.subtiles[b]}"
    if layer.moved_bytes[a] != layer.moved_bytes[b]:
        return (f"{bounds}; same strategy, DMA bytes {_kb(layer.moved_bytes[a])} -> "
                f"{_kb(layer.moved_bytes[b])} KB")
    more_or_less = "less" if (layer.times_ns[b] or 0) > (layer.times_ns[a] or 0) else "more"
    return f"{bounds}; same strategy and DMA bytes, {more_or_less} of its loads hidden under the op before"


def _kb(nbytes: int | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 1024:.0f}"


def replan_table(runs: Sequence[Run]) -> str:
    """The 4K point's own plan against the 2K plan's strategies on the 4K point: the per-layer
    losses above are trades the whole-graph search makes when they pay overall."""
    rows = []
    for r in runs:
        cells = []
        for contexts, (_, hi) in PAIRS.items():
            own, held = r.latency_ms[hi], r.replan_ms[contexts]
            cells += [f"{own:.4f}", f"{held:.4f}", f"{held / own:.4f}"]
        rows.append([r.model, r.precision, *cells, "yes" if all(r.exact) else "no"])
    header = ["model", "precision"]
    for contexts in CONTEXTS:
        header += [f"4K/{contexts} ms", f"4K/{contexts}, 2K plan ms", "ratio"]
    return table([*header, "search exact on all points"], rows)


def anomaly_tables(found: Sequence[Anomaly], every: bool) -> str:
    """Per model, precision and kind: how many cases, the time they moved, and the worst with its
    figures and why; with ``every``, then every case, the most time moved first."""
    if not found:
        return ("None: no model or layer is slower on 4K MACs than on 2K or more than twice as fast, and "
                "none is faster with 16 accumulator contexts than with 64.")
    groups: dict[tuple[str, str, str], list[Anomaly]] = {}
    for a in found:
        kind = a.what if a.layer == "(whole model)" else f"layer: {a.what}"
        groups.setdefault((a.model, a.precision, kind), []).append(a)
    summary = []
    for (model, precision, kind), items in groups.items():
        worst = max(items, key=lambda a: a.moved_ns)
        summary.append([model, precision, kind, len(items), f"{sum(a.moved_ns for a in items) / 1e3:.2f}",
                        worst.layer, f"{worst.from_point}: {worst.from_ns / 1e3:.2f} us",
                        f"{worst.to_point}: {worst.to_ns / 1e3:.2f} us", worst.why])
    text = (f"{len(found)} cases. Per model, precision and kind, the worst case (`--all-anomalies` lists "
            "every one):\n\n")
    text += table(["model", "precision", "what", "cases", "time moved us (sum)", "worst layer", "from", "to",
                   "bound from -> to; why"], summary)
    if every:
        ranked = sorted(found, key=lambda a: -a.moved_ns)
        text += "\n\nEvery case, the most time moved first:\n\n"
        rows = [[a.model, a.precision, a.layer, a.what, f"{a.from_point}: {a.from_ns / 1e3:.2f} us",
                 f"{a.to_point}: {a.to_ns / 1e3:.2f} us", f"{a.moved_ns / 1e3:.2f}", a.why] for a in ranked]
        header = ["model", "precision", "layer", "what", "from", "to", "moved us", "bound from -> to; why"]
        text += table(header, rows)
    return text


# ---------------------------------------------------------------------------------------------
# the mechanism, on single workloads

WORKLOADS = {  # illustrative whole-layer cubes, priced as one workload on one DPU
    "3x3 conv 56x56, 64->64": dict(kind="conv", out_w=56, out_h=56, out_k=64, in_k=64, kernel_h=3,
                                    kernel_w=3),
    "3x3 conv 14x14, 256->256": dict(kind="conv", out_w=14, out_h=14, out_k=256, in_k=256, kernel_h=3,
                                      kernel_w=3),
    "1x1 conv 7x7, 512->2048": dict(kind="conv", out_w=7, out_h=7, out_k=2048, in_k=512),
    "3x3 depthwise 28x28x192": dict(kind="dwconv", out_w=28, out_h=28, out_k=192, in_k=1, kernel_h=3,
                                     kernel_w=3),
    "matmul 128x768 @ 768x768": dict(kind="matmul", out_w=128, out_h=1, out_k=768, in_k=768,
                                     flat_spatial=True),
}


def point_archs() -> list[Any]:
    from nbperf.arch import load_arch

    return [load_arch(*split_arch_point(a)) for a in ARCHS]


def grid_table() -> str:
    archs = point_archs()
    rows = []
    for mode in archs[0].dpu.mpe_modes:
        cells = []
        for side in (0, 2):  # 2K/64 and 2K/16: the grid does not depend on the MACs
            grid = archs[side].dpu.read_grid(mode)
            cells.append("-" if grid is None else " x ".join(str(g) for g in grid))
        rows.append([mode.name, f"{mode.block_w} x {mode.block_h} x {mode.block_k}", *cells])
    return table(["mode", "block", "read grid, 64 contexts", "read grid, 16 contexts"], rows)


def workload_table(precisions: Sequence[str]) -> str:
    from nbperf.cost.math_model import best_mode, cmx_read_cycles, dpu_mac_cycles, ppe_cycles
    from nbperf.lower.npu_ops import DpuKind, DpuWork

    archs = point_archs()
    rows = []
    for name, spec in WORKLOADS.items():
        work = DpuWork(**{**spec, "kind": DpuKind(spec["kind"])})
        for precision in precisions:
            cycles = []
            cells = []
            for arch in archs:
                mode, best, limit = best_mode(work, arch, precision)
                ppe = ppe_cycles(work, arch, 1, precision)
                if ppe > best:
                    best, limit = ppe, "ppe"
                cycles.append(best)
                cells.append(f"{best:,} {limit} {mode.name.removeprefix('CUBOID_')} "
                             f"(MAC {dpu_mac_cycles(work, mode, arch, precision):,}, "
                             f"read {cmx_read_cycles(work, mode, arch, precision):,})")
            rows.append([name, precision, *cells, f"{cycles[0] / cycles[1]:.3f}",
                         f"{cycles[2] / cycles[3]:.3f}"])
    return table(["workload", "precision", *POINTS, "4K/2K @64", "4K/2K @16"], rows)


# ---------------------------------------------------------------------------------------------
# plots


def plot_speedups(runs: Sequence[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    precisions = list(dict.fromkeys(r.precision for r in runs))
    fig, axes = plt.subplots(1, len(precisions), figsize=(6.5 * len(precisions), 4.2), squeeze=False,
                             sharey=True)
    for ax, precision in zip(axes[0], precisions, strict=True):
        sel = [r for r in runs if r.precision == precision]
        x = range(len(sel))
        width = 0.38
        for k, (contexts, colour) in enumerate(zip(CONTEXTS, ("#1f77b4", "#ff7f0e"), strict=True)):
            values = [r.speedup(contexts) for r in sel]
            bars = ax.bar([i + (k - 0.5) * width for i in x], values, width, color=colour,
                          label=f"{contexts} accumulator contexts")
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        ax.axhline(1.0, color="#444", lw=0.8)
        ax.axhline(2.0, color="#444", lw=0.8, ls="--")
        ax.set_xticks(list(x), [r.model for r in sel], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{precision}: latency 2K MACs / 4K MACs per tile")
        ax.set_ylim(0.9, 2.1)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("speedup (4K over 2K)")
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


BOUND_COLOURS = {"MAC": "#2ca02c", "CMX-read": "#d62728", "PPE": "#9467bd", "DMA": "#1f77b4",
                 "SHAVE": "#8c564b", "overhead": "#7f7f7f", "transition": "#e377c2"}


def plot_intensity(focus: Sequence[Run], path: Path) -> None:
    """Per-layer speedup (4K/2K) against MACs per DDR byte (on the 2K point) for the focus model's
    layers with MACs: a column per precision, a row per context setting, colour = bound on the 4K
    point. Layers that move no DDR bytes (if any) sit in a strip at the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(CONTEXTS), len(focus), figsize=(6.2 * len(focus), 4.0 * len(CONTEXTS)),
                             squeeze=False, sharey=True)
    # low enough to show a layer that slows down on 4K (the axes are shared)
    lowest = min((s for run in focus for layer in run.layers if layer.macs > 0 for c in CONTEXTS
                  if (s := layer.speedup(*PAIRS[c])) is not None), default=1.0)
    y_lo = min(0.9, math.floor((lowest - 0.05) * 20) / 20)
    for col, run in enumerate(focus):
        mac_layers = [layer for layer in run.layers if layer.macs > 0]
        with_ddr = [layer.macs / layer.ddr_bytes for layer in mac_layers if layer.ddr_bytes]
        strip_x = max(with_ddr) * 4 if with_ddr else 1.0
        for row, contexts in enumerate(CONTEXTS):
            ax = axes[row][col]
            lo, hi = PAIRS[contexts]
            seen = set()
            for layer in mac_layers:
                s = layer.speedup(lo, hi)
                if s is None:
                    continue
                x = layer.macs / layer.ddr_bytes if layer.ddr_bytes else strip_x
                b = layer.bounds[hi] or "-"
                ax.scatter([x], [s], s=22, color=BOUND_COLOURS.get(b, "#000"),
                           marker="o" if layer.ddr_bytes else "s", alpha=0.8,
                           label=None if b in seen else b)
                seen.add(b)
            ax.set_xscale("log")
            ax.axhline(2.0, color="#444", lw=0.8, ls="--")
            ax.axhline(1.0, color="#444", lw=0.8)
            if any(not layer.ddr_bytes for layer in mac_layers):
                ax.axvline(strip_x / 2, color="#bbb", lw=0.8, ls=":")
                ax.text(strip_x, y_lo + 0.03, "no DDR\nbytes", ha="center", va="bottom", fontsize=7)
            ax.set_title(f"{run.model} {run.precision}, {contexts} contexts (colour: bound on 4K)",
                         fontsize=9)
            ax.set_xlabel("MACs per DDR byte (2K point)")
            ax.set_ylim(y_lo, 2.1)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
            if col == 0:
                ax.set_ylabel("layer speedup 4K/2K")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------


def model_paths(items: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(p.glob("*.onnx")))
        elif p.is_file():
            paths.append(p)
        else:
            raise SystemExit(f"mac_scaling: no model or folder at {item}")
    if not paths:
        raise SystemExit(f"mac_scaling: no .onnx models in {', '.join(items)}")
    return paths


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=[str(DEFAULT_MODELS)],
                        help="ONNX files or folders of them (default: %(default)s)")
    parser.add_argument("--precision", action="append", choices=("fp16", "int8"),
                        help="repeatable (default: fp16 and int8)")
    parser.add_argument("--img-dir", type=Path, default=DEFAULT_IMG_DIR, help="where the PNGs go")
    parser.add_argument("--focus", default="resnet50", help="model (file stem) for the per-layer tables")
    parser.add_argument("--top", type=int, default=10, help="rows of each focus table")
    parser.add_argument("--all-anomalies", action="store_true", help="list every anomaly")
    args = parser.parse_args(argv)
    precisions = args.precision or ["fp16", "int8"]
    paths = model_paths(args.models)

    runs = [run_model(p, precision) for precision in precisions for p in paths]

    print("### The mechanism on single workloads\n")
    print("Read grid (W x H x K outputs) of each MPE mode with 64 and with 16 accumulator contexts "
          "(`DpuSpec.read_grid`):\n")
    print(grid_table())
    print("\nDPU cycles of one workload on one DPU (math model, no overheads): the best mode's cycles, "
          "its bound and mode; `MAC` and `read` are that mode's MAC-array and CMX-read cycles.\n")
    print(workload_table(precisions))
    print()
    print("### Latency and the 4K/2K speedup\n")
    print("Latency (ms, host share included) on each point; `4K/2K @N` = latency on 2K MACs / latency on "
          "4K MACs with N accumulator contexts; `16/64 @M` = latency with 16 contexts / with 64 on M MACs "
          "(above 1: 16 contexts are slower).\n")
    print(latency_table(runs))
    print("\n### Share of device time by bound\n")
    print("Per point, each layer's time goes to what bounds it: the DPU's MAC / CMX-read / PPE bound when "
          "compute bound, else DMA (weights, activations, copies), SHAVE compute, task overhead or "
          "layout transitions. Device ms = the schedule's makespan (no host share).\n")
    print(bound_table(runs))
    print("\n### Per-layer speedup 4K/2K\n")
    print("Layers that take time on both points; in brackets their share of the 2K point's device time. "
          "Last column: what bounds the layers under 1.2x on the 4K point.\n")
    print(distribution_table(runs))
    focus = [r for r in runs if r.model == args.focus]
    for run in focus:
        print(f"\n### {run.model}, {run.precision}: layers that gain and layers that do not\n")
        print(focus_tables(run, args.top))
    print("\n### Anomalies (4K slower than 2K or over 2x faster, 16 contexts faster than 64)\n")
    print(anomaly_tables(anomalies(runs), args.all_anomalies))
    print("\nThe 4K point with its own plan, and held to the strategies the 2K point chose (same "
          "contexts; ratio above 1: the 2K plan is slower on 4K MACs):\n")
    print(replan_table(runs))

    args.img_dir.mkdir(parents=True, exist_ok=True)
    written = [args.img_dir / "mac-scaling-speedup.png"]
    plot_speedups(runs, written[0])
    if focus:
        written.append(args.img_dir / f"mac-scaling-{args.focus}-intensity.png")
        plot_intensity(focus, written[1])
    print()
    for p in written:
        print(f"wrote {_shown(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
