"""Candidate split strategies of one NPU op: legality, per-tile work, CMX footprint, cost.

Footprints follow the compiler's formulas generalised to T tiles (DESIGN.md section 3), each
buffer aligned: SOH = input/T (+halo rows) + output/T + weights; SOK = input + weights/T
(16-channel blocks) + output; HKSwitch = input/T + weights + output; Clustering = all of it.
The per-tile cost is the slowest tile's: uneven splits cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import ZERO_COST, ComputeCost, CostBackend
from nbperf.cost.dma import Path, transfer_ns
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuOp
from nbperf.strategy.distribution import Dist, Need


class Strategy(StrEnum):
    CLUSTERING = "Clustering"
    SOH = "SplitOverHeight"
    SOW = "SplitOverWidth"
    SOK = "SplitOverKernel"
    HKSWITCH = "HKSwitch"


SHORT_NAMES = {Strategy.SOH: "SOH", Strategy.SOW: "SOW", Strategy.SOK: "SOK"}


def short_name(strategy: str) -> str:
    """SOH / SOW / SOK for the split strategies, the compiler's name for the others."""
    return SHORT_NAMES.get(Strategy(strategy), strategy)


ALIASES = {"soh": Strategy.SOH, "sow": Strategy.SOW, "sok": Strategy.SOK, "hk": Strategy.HKSWITCH,
           "hkswitch": Strategy.HKSWITCH, "clustering": Strategy.CLUSTERING, "cl": Strategy.CLUSTERING}
ALIASES.update({s.value.lower(): s for s in Strategy})

# What each strategy needs of a data input, what it makes of its output.
_DATA_NEED = {Strategy.CLUSTERING: Need.FULL, Strategy.SOH: Need.SEG_H, Strategy.SOW: Need.SEG_W,
              Strategy.SOK: Need.DUPLICATED, Strategy.HKSWITCH: Need.SEG_H}
_OUT_DIST = {Strategy.CLUSTERING: Dist.SINGLE, Strategy.SOH: Dist.SEG_H, Strategy.SOW: Dist.SEG_W,
             Strategy.SOK: Dist.DUPLICATED, Strategy.HKSWITCH: Dist.DUPLICATED}


@dataclass(frozen=True)
class Candidate:
    """One way to run an op. Illegal candidates keep the rule they break in ``reason``."""

    strategy: Strategy
    legal: bool
    reason: str
    tiles_used: int = 1
    tile_op: NpuOp | None = None  # the slowest tile's share of the op
    needs: tuple[Need, ...] = ()  # per op input
    out_dist: Dist = Dist.SINGLE
    cmx_bytes_per_tile: int = 0
    fits: bool = False
    subtiles: int = 1
    tiled_over: str = ""  # "", "H" or "K": tiled further through DDR because it did not fit
    compute: ComputeCost = ZERO_COST  # the slowest tile's compute, all sub-tiles included
    dma_ns: float = 0.0  # the op's own DMA: weights, streamed activations when tiled, DMA-op copies
    weight_ddr_bytes: int = 0
    stream_ddr_bytes: int = 0  # activations a tiled op streams through DDR
    copy_cmx_bytes: int = 0  # bytes a DMA-only op copies CMX -> CMX

    @property
    def compute_ns(self) -> float:
        return self.compute.ns

    @property
    def cost_ns(self) -> float:
        """Time of the op alone: compute and its own DMA overlap (double-buffered)."""
        return max(self.compute.ns, self.dma_ns)


def align(nbytes: int, alignment: int) -> int:
    return -(-nbytes // alignment) * alignment


def _split(extent: int, tiles: int) -> int:
    """The largest share of ``extent`` when split over ``tiles`` as evenly as possible."""
    return math.ceil(extent / tiles)


def halo_rows(work: DpuWork, axis: str) -> int:
    """Rows (columns) a tile reads beyond its own share along ``axis``: kernel - stride."""
    kernel, stride = (work.kernel_h, work.stride_h) if axis == "H" else (work.kernel_w, work.stride_w)
    return max(0, kernel - stride)


def _input_share(work: DpuWork, axis: str, out_share: int) -> float:
    """Fraction of the input one tile reads when it computes ``out_share`` output rows/columns."""
    if work.flat_spatial:
        return out_share / max(1, work.out_w)
    out_extent = work.out_h if axis == "H" else work.out_w
    in_extent = (work.in_h if axis == "H" else work.in_w) or out_extent
    rows = min(in_extent, math.ceil(out_share * in_extent / max(1, out_extent)) + halo_rows(work, axis))
    return rows / in_extent


class _Sizer:
    """Per-tile buffer sizes of one op, aligned like the compiler aligns them."""

    def __init__(self, op: NpuOp, tensor_bytes: dict[str, int], arch: ArchSpec) -> None:
        self.op, self.arch = op, arch
        self.data = [i for i in op.inputs if i not in op.weight_inputs]
        self.data_bytes = [tensor_bytes.get(i, 0) for i in self.data]
        self.weight_like = [tensor_bytes.get(i, 0) for i in op.weight_inputs]
        self.weights = op.weight_bytes + sum(self.weight_like)
        self.out_bytes = [tensor_bytes.get(o, 0) for o in op.outputs]

    def footprint(self, in_frac: float, weight_frac: float, out_frac: float, like_frac: float = 1.0) -> int:
        """Per-tile bytes. Activations used as weights (attention K, V) stay whole in CMX
        (``like_frac`` 1) unless a tiled task streams them in channel blocks."""
        a = self.arch.cmx.alignment_bytes
        ins = sum(align(math.ceil(b * in_frac), a) for b in self.data_bytes)
        outs = sum(align(math.ceil(b * out_frac), a) for b in self.out_bytes)
        w = align(math.ceil(self.op.weight_bytes * weight_frac), a) if self.op.weight_bytes else 0
        w += sum(align(math.ceil(b * like_frac), a) for b in self.weight_like)
        return ins + w + outs


def candidates(op: NpuOp, tensor_bytes: dict[str, int], arch: ArchSpec,
               backend: CostBackend) -> list[Candidate]:
    """Every strategy for ``op`` on ``arch``, legal or not, costed where legal."""
    sizer = _Sizer(op, tensor_bytes, arch)
    if op.engine is Engine.DPU and op.dpu is not None:
        raw = _dpu_candidates(op, op.dpu, arch)
    elif op.engine is Engine.SHAVE:
        raw = _shave_candidates(op, arch)
    else:
        raw = _dma_candidates(op, arch)
    return [_finish(c, op, sizer, arch, backend) if c.legal else c for c in raw]


def _needs(op: NpuOp, strategy: Strategy) -> tuple[Need, ...]:
    weight_need = Need.FULL if strategy is Strategy.CLUSTERING else Need.DUPLICATED
    return tuple(weight_need if i in op.weight_inputs else _DATA_NEED[strategy] for i in op.inputs)


def _dpu_candidates(op: NpuOp, work: DpuWork, arch: ArchSpec) -> list[Candidate]:
    tiles, rules = arch.tiles, arch.compiler
    out: list[Candidate] = [Candidate(Strategy.CLUSTERING, True, "", 1, op, _needs(op, Strategy.CLUSTERING),
                                      Dist.SINGLE)]
    if tiles == 1:
        return out + [Candidate(s, False, "the arch has one tile") for s in list(Strategy)[1:]]
    # SplitOverHeight / HKSwitch: output rows (matmul: rows of the left operand) over the tiles.
    rows_total = work.out_w if work.flat_spatial else work.out_h
    rows = _split(rows_total, tiles)
    width = 1 if work.flat_spatial else work.out_w
    if rows_total < tiles:
        soh_reason = f"SOH needs output height >= {tiles} (tiles), has {rows_total}"
    elif (width * rows) % rules.soh_rows_width_multiple:
        soh_reason = (f"SOH on {arch.name} needs width x rows per tile to be a multiple of "
                      f"{rules.soh_rows_width_multiple}, has {width} x {rows}")
    else:
        soh_reason = ""
    soh_work = replace(work, out_w=rows) if work.flat_spatial else replace(work, out_h=rows)
    for strategy in (Strategy.SOH, Strategy.HKSWITCH):
        label = "HKSwitch" if strategy is Strategy.HKSWITCH else "SOH"
        out.append(Candidate(strategy, not soh_reason, soh_reason.replace("SOH", label), tiles,
                             _tile_op(op, soh_work, rows / max(1, rows_total)), _needs(op, strategy),
                             _OUT_DIST[strategy]))
    # SplitOverWidth: output columns over the tiles.
    if work.flat_spatial or work.out_w < tiles:
        sow_reason = f"SOW needs a 2-D output with width >= {tiles} (tiles), has {work.out_w}"
        out.append(Candidate(Strategy.SOW, False, sow_reason))
    else:
        cols = _split(work.out_w, tiles)
        out.append(Candidate(Strategy.SOW, True, "", tiles, _tile_op(op, replace(work, out_w=cols),
                                                                      cols / work.out_w),
                             _needs(op, Strategy.SOW), Dist.SEG_W))
    # SplitOverKernel: output channels in 16-aligned blocks over the tiles.
    block = rules.sok_channel_block
    if work.out_k < block * tiles:
        out.append(Candidate(Strategy.SOK, False, f"SOK needs output channels >= {block * tiles} "
                                                  f"({block} x {tiles} tiles), has {work.out_k}"))
    else:
        k_tile = min(work.out_k, _split(math.ceil(work.out_k / block), tiles) * block)
        out.append(Candidate(Strategy.SOK, True, "", tiles, _tile_op(op, replace(work, out_k=k_tile),
                                                                      k_tile / work.out_k),
                             _needs(op, Strategy.SOK), Dist.DUPLICATED))
    return out


def _tile_op(op: NpuOp, work: DpuWork, share: float) -> NpuOp:
    return replace(op, dpu=work, macs=math.ceil(op.macs * share), elements=math.ceil(op.elements * share))


def _shave_candidates(op: NpuOp, arch: ArchSpec) -> list[Candidate]:
    tiles = arch.tiles
    out = [Candidate(Strategy.CLUSTERING, True, "", 1, op, _needs(op, Strategy.CLUSTERING), Dist.SINGLE)]
    for strategy in (Strategy.SOH, Strategy.SOK):
        if tiles == 1 or op.elements < tiles:
            out.append(Candidate(strategy, False, f"needs at least {tiles} elements and more than one tile"))
            continue
        share = replace(op, elements=_split(op.elements, tiles))
        out.append(Candidate(strategy, True, "", tiles, share, _needs(op, strategy), _OUT_DIST[strategy]))
    return out


def _dma_candidates(op: NpuOp, arch: ArchSpec) -> list[Candidate]:
    """DMA engines read from any tile or DDR and write the result broadcast to every tile
    (Clustering), split over the tiles' rows (SOH), or to DDR when it fits neither."""
    needs = tuple(Need.ANY for _ in op.inputs)
    out = [Candidate(Strategy.CLUSTERING, True, "", 1, op, needs, Dist.DUPLICATED)]
    if arch.tiles > 1:
        out.append(Candidate(Strategy.SOH, True, "", arch.tiles, op, needs, Dist.SEG_H))
    return out


def _fractions(c: Candidate, op: NpuOp) -> tuple[float, float, float]:
    """(input, weight, output) fraction one tile holds under ``c``."""
    work = op.dpu
    if c.strategy in (Strategy.SOH, Strategy.HKSWITCH, Strategy.SOW) and work is not None and c.tile_op:
        axis = "W" if c.strategy is Strategy.SOW else "H"
        tile_work = c.tile_op.dpu
        assert tile_work is not None
        share = tile_work.out_w if (axis == "W" or work.flat_spatial) else tile_work.out_h
        extent = work.out_w if (axis == "W" or work.flat_spatial) else work.out_h
        in_frac = _input_share(work, axis, share)
        out_frac = 1.0 if c.strategy is Strategy.HKSWITCH else share / extent
        return in_frac, 1.0, out_frac
    if c.strategy is Strategy.SOK and work is not None and c.tile_op and c.tile_op.dpu:
        return 1.0, c.tile_op.dpu.out_k / work.out_k, 1.0
    if c.strategy is Strategy.SOH and c.tile_op:  # SHAVE split
        share = c.tile_op.elements / max(1, op.elements)
        return share, 1.0, share
    if c.strategy is Strategy.SOK and c.tile_op:  # SHAVE split over channels, broadcast out
        return 1.0, 1.0, 1.0
    return 1.0, 1.0, 1.0


def _finish(c: Candidate, op: NpuOp, sizer: _Sizer, arch: ArchSpec, backend: CostBackend) -> Candidate:
    """Footprint, fit, tiling and cost of a legal candidate."""
    tile_op = c.tile_op or op
    in_frac, w_frac, out_frac = _fractions(c, op)
    footprint = sizer.footprint(in_frac, w_frac, out_frac)
    if op.inplace_input and c.strategy is not Strategy.HKSWITCH:  # the output overwrites an input
        footprint -= sizer.footprint(0.0, 0.0, out_frac)
    budget = arch.cmx.bytes_per_tile * arch.cmx.tiling_budget
    compute = backend.compute(tile_op, arch)
    weight_ddr = op.weight_bytes  # weight-like activations (attention K, V) arrive by transitions
    if op.engine is Engine.DMA:
        # Only the output is this op's: its inputs stay wherever their producers put them.
        share = 1 / arch.tiles if c.out_dist is Dist.SEG_H else 1.0
        footprint = sizer.footprint(0.0, 0.0, share)
        if footprint <= budget:
            dma_ns = transfer_ns(arch, op.output_bytes, Path.CMX) \
                + transfer_ns(arch, op.weight_bytes, Path.DDR)
            return replace(c, cmx_bytes_per_tile=footprint, fits=True, dma_ns=dma_ns,
                           weight_ddr_bytes=op.weight_bytes, copy_cmx_bytes=op.output_bytes)
        # Too big for CMX: the copy goes straight to DDR.
        dma_ns = transfer_ns(arch, op.output_bytes + op.weight_bytes, Path.DDR)
        return replace(c, cmx_bytes_per_tile=0, fits=False, dma_ns=dma_ns, weight_ddr_bytes=op.weight_bytes,
                       stream_ddr_bytes=op.output_bytes, out_dist=Dist.DDR, tiled_over="DDR")
    if footprint <= budget:
        dma_ns = transfer_ns(arch, weight_ddr, Path.DDR)
        return replace(c, cmx_bytes_per_tile=footprint, fits=True, compute=compute, dma_ns=dma_ns,
                       weight_ddr_bytes=weight_ddr)
    if c.strategy is Strategy.HKSWITCH:
        # Its point is a broadcast output resident in CMX; tiled through DDR it is just SOH.
        return replace(c, legal=False, cmx_bytes_per_tile=footprint,
                       reason=f"HKSwitch needs input/{arch.tiles} + weights + output = {footprint} B "
                              f"per tile, over the CMX budget of {int(budget)} B")
    return _tile_further(c, op, tile_op, sizer, arch, backend, (in_frac, w_frac, out_frac))


def _tile_further(c: Candidate, op: NpuOp, tile_op: NpuOp, sizer: _Sizer, arch: ArchSpec,
                  backend: CostBackend, fracs: tuple[float, float, float]) -> Candidate:
    """Split the tile's share into sub-tiles that fit the pipelined budget, streaming via DDR.

    Like the compiler: over output channels first when weights outweigh activations, else over
    H; the sub-tile count grows until a sub-tile fits, over both axes when one is not enough.
    """
    in_frac, w_frac, out_frac = fracs
    budget = arch.cmx.bytes_per_tile * arch.compiler.pipelined_tiling_budget
    acts = sum(sizer.data_bytes) * in_frac + sum(sizer.out_bytes) * out_frac
    weights = sizer.weights * w_frac
    work = tile_op.dpu
    if work is not None:
        max_h = work.out_w if work.flat_spatial else work.out_h
        max_k = max(1, math.ceil(work.out_k / arch.compiler.sok_channel_block))
    else:  # SHAVE: split its elements over rows
        max_h, max_k = max(1, tile_op.elements // 256), 1
    k_first = weights > acts
    # Element-wise, depthwise and pooling read only their own channels: a channel block of the
    # output needs only that block of the input.
    per_channel = work is not None and work.kind in (DpuKind.ELTWISE, DpuKind.DWCONV, DpuKind.POOL)

    def sub_footprint(n_h: int, n_k: int) -> int:
        in_sub = in_frac / n_h / (n_k if per_channel else 1)
        return sizer.footprint(in_sub, w_frac / n_k, out_frac / (n_h * n_k), 1 / n_k)

    split = _smallest_split(lambda h, k: sub_footprint(h, k) <= budget, max_h, max_k, k_first)
    if split is not None:
        n_h, n_k = split
        sub = sub_footprint(n_h, n_k)
        n = n_h * n_k
        one = backend.compute(tile_op, arch)
        extra = one.overhead_cycles * (n - 1)  # every sub-tile is a task of its own
        compute = replace(one, cycles=one.cycles + extra, overhead_cycles=one.overhead_cycles + extra)
        # Channel sub-tiles re-read the whole input once per channel block.
        streamed = sum(sizer.data_bytes) * n_k + sum(sizer.out_bytes) + sizer.weights - op.weight_bytes
        dma_ns = transfer_ns(arch, streamed + op.weight_bytes, Path.DDR, n)
        axis = "H" if n_k == 1 else "K" if n_h == 1 else "HK"
        return replace(c, cmx_bytes_per_tile=sub, fits=False, subtiles=n, tiled_over=axis,
                       compute=compute, dma_ns=dma_ns, weight_ddr_bytes=op.weight_bytes,
                       stream_ddr_bytes=streamed, needs=tuple(Need.DDR for _ in op.inputs), out_dist=Dist.DDR)
    full, cap = sizer.footprint(in_frac, w_frac, out_frac), int(budget)
    return replace(c, legal=False, cmx_bytes_per_tile=full,
                   reason=f"does not fit CMX even tiled: needs {full} B per tile, the budget is {cap} B "
                          f"({full - cap} B over)")


def _first_fit(fits, low: int, high: int) -> int | None:
    """Smallest n in [low, high] with fits(n), for fits that stays true once true."""
    if high < low or not fits(high):
        return None
    while low < high:
        mid = (low + high) // 2
        if fits(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _smallest_split(fits, max_h: int, max_k: int, k_first: bool) -> tuple[int, int] | None:
    """(sub-tiles over H, over K) in the compiler's order: the preferred axis alone, the other
    alone, then both with the fewest sub-tiles. Binary searches: cost grows with log of the size."""
    axes = [("K", max_k), ("H", max_h)] if k_first else [("H", max_h), ("K", max_k)]
    for axis, limit in axes:
        n = _first_fit(lambda m, axis=axis: fits(1, m) if axis == "K" else fits(m, 1), 2, limit)
        if n is not None:
            return (1, n) if axis == "K" else (n, 1)
    best: tuple[int, int] | None = None
    for n_k in range(2, max_k + 1):
        if best is not None and 2 * n_k > best[0] * best[1]:
            break
        n_h = _first_fit(lambda m, n_k=n_k: fits(m, n_k), 2, max_h)
        if n_h is not None and (best is None or n_h * n_k < best[0] * best[1]):
            best = (n_h, n_k)
    return best
