"""Candidate split strategies of one NPU op: legality, per-tile work, CMX footprint and tiling.

Candidates describe; they do not price. Compute time comes from the one cost path
(``nbperf.cost.tasks``) and data movement from the one DMA model (``nbperf.cost.dma``) when the
search or a schedule asks, so every consumer prices a candidate the same way.

Footprints follow the compiler's formulas generalised to T tiles (DESIGN.md section 3), each
buffer aligned: SOH = input/T (+halo rows) + output/T + weights; SOK = input + weights/T
(16-channel blocks) + output (whole when broadcast to every tile, its channel share when kept
segmented); HKSwitch = input/T + weights + output; Clustering = all of it. The slowest tile's
share is what is kept: uneven splits cost. A candidate that does not fit the compiler's tiling
budget is tiled into sub-tiles streamed through DDR, pipelined when the next sub-tile's streamed
operand fits beside the current sub-tile (the compiler's ``verifyPipeliningCMX``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuOp
from nbperf.strategy.distribution import DIST_OF_NEED, Dist, Need
from nbperf.strategy.swizzling import align, fit_bytes, stored_bytes, stored_weight_bytes, swizzles_weights

MAX_PIPELINE_TILING_FACTOR = 3  # tiling.hpp MAX_PREFETCH_TILING_TIME: sub-tiles grow at most 3x to pipeline
LARGE_CONST_RATIO = 0.25  # tiling.hpp LARGE_CONST_THRESHOLD_RATIO: weights over this CMX share are pipelined


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


class TiledOver(StrEnum):
    NONE = "none"  # fits CMX: no sub-tiles
    H = "H"  # output rows (matmul: rows of the left operand)
    K = "K"  # output channels
    HK = "HK"  # both
    C = "C"  # input channels (the inner dimension) in partial sums, with rows or channels as needed
    HKC = "HKC"  # rows, output channels and input channels
    DDR = "DDR"  # a data-movement op too big for CMX copies straight to DDR


@dataclass(frozen=True)
class Tiling:
    """How a candidate too big for CMX runs: ``rows`` x ``channels`` sub-tiles streamed through DDR.

    ``pipelined``: the next sub-tile's streamed operand fits beside the current sub-tile, so it
    loads while the current one computes; otherwise load, compute and store run in series.
    ``streams_inputs``: data inputs come from DDR in row (or channel) blocks; without it (tiled over
    channels only) the inputs stay in CMX whole and only weights and outputs stream.
    """

    over: TiledOver
    rows: int
    channels: int
    pipelined: bool
    streams_inputs: bool
    next_operand_bytes: int  # per tile: the next sub-tile's streamed operand (pipelined only)
    rows_outer: bool = True  # over both axes: row blocks in the outer loop (weights re-read per row block)
    keeps_output: bool = False  # the output stays in CMX in the candidate's layout (weights-only pipelining)
    output_slots: int = 1  # 2 when a second output buffer fits too: a sub-tile computes while the last stores
    inner: int = 1  # input-channel chunks per sub-tile, summed as partial sums (matmuls and convs)
    # Weights (and activations used as weights) stream in blocks, one per sub-tile, rather than
    # loading once for every row block: tiled over channels, over the inner dimension, or over
    # the batch items of a batched matmul whose right operand is an activation.
    blocks_weights: bool = False
    items: int = 1  # a batched matmul's row blocks: how many groups its batch items (heads) split into
    passes: int = 1  # 2: a row longer than CMX is cut into chunks, read once for its statistics, once more

    @property
    def count(self) -> int:
        return self.rows * self.channels * self.inner

    @property
    def extra(self) -> str:
        """The tiling beyond output rows and channels, in words ("" when none): batch items split
        apart, the inner dimension cut into partial sums."""
        parts = []
        if self.items > 1:
            parts.append(f"batch items in {self.items} groups")
        if self.inner > 1:
            parts.append(f"{self.inner} input-channel chunks summed as partial sums")
        if self.passes > 1:
            parts.append("rows longer than CMX cut into chunks, read twice (statistics, then normalize)")
        return ", ".join(parts)


@dataclass(frozen=True)
class Candidate:
    """One way to run an op. Illegal candidates keep the rule they break in ``reason``.

    Byte fields are per tile where named so, else totals over the tiles. ``work`` and ``elements``
    are the slowest tile's share (the whole op under Clustering).
    """

    strategy: Strategy
    legal: bool
    reason: str
    tiles_used: int = 1
    work: DpuWork | None = None  # DPU ops: the slowest tile's output cube
    elements: int = 0  # SHAVE: the slowest tile's elements; DMA: elements moved
    useful_macs: int = 0  # the slowest tile's useful MACs
    needs: tuple[Need, ...] = ()  # per op input
    out_dist: Dist = Dist.SINGLE
    write_tiles: int = 1  # tiles the PPE/ODU writes every output element to (broadcast: all of them)
    in_tile_bytes: tuple[int, ...] = ()  # per input: its CMX bytes per tile in the needed layout
    weight_tile_bytes: int = 0
    fit_bytes_per_tile: int = 0  # CMX the compiler's fit check asks for (buffers at swizzling addresses)
    swizzled: tuple[str, ...] = ()  # which of its CMX buffers are swizzled: "input", "weights", "output"
    out_tile_bytes: int = 0  # 0 when the output overwrites an input in place
    cmx_bytes_per_tile: int = 0  # the op's own footprint (a sub-tile's, with the next operand, when tiled)
    fits: bool = False
    tiling: Tiling | None = None
    weight_ddr_bytes: int = 0  # constant weights read from DDR (re-reads of a tiled op included)
    weight_segments: int = 1  # DMA tasks the weights move in: one per tile when split (SOK)
    stream_in_bytes: int = 0  # data activations a tiled op reads from DDR (re-reads included)
    stream_like_bytes: int = 0  # activations used as weights a tiled op reads from DDR (attention K, V)
    stream_out_bytes: int = 0  # activations a tiled op writes to DDR
    copy_bytes: int = 0  # data-movement ops: bytes the copy writes
    finer: bool = False  # more sub-tiles than the compiler's count: offered to the optimal search only

    @property
    def weight_parts(self) -> int:
        """The pieces its weights are stored and moved in (each padded on its own when swizzled):
        one per tile's segment when split over the tiles, per channel block and per input-channel
        chunk when tiled."""
        t = self.tiling
        return self.weight_segments * (t.channels * t.inner if t is not None else 1)

    @property
    def subtiles(self) -> int:
        return self.tiling.count if self.tiling else 1

    @property
    def split(self) -> tuple[int, int, int]:
        """Sub-tiles over output rows, over output channels, and input-channel chunks per sub-tile."""
        return (self.tiling.rows, self.tiling.channels, self.tiling.inner) if self.tiling else (1, 1, 1)

    @property
    def tiled_over(self) -> TiledOver:
        return self.tiling.over if self.tiling else TiledOver.NONE

    @property
    def label(self) -> str:
        """Short strategy name; a broadcast SOK output says so."""
        name = short_name(self.strategy)
        return f"{name}>dup" if self.strategy is Strategy.SOK and self.out_dist is Dist.DUPLICATED else name


def _split(extent: int, tiles: int) -> int:
    """The largest share of ``extent`` when split over ``tiles`` as evenly as possible."""
    return math.ceil(extent / tiles)


def _soh_row_alignment(width: int, multiple: int) -> int:
    """Rows per tile are aligned up so width x rows is a multiple of ``multiple`` (the compiler's
    ``getSOHPerClusterHeightAlignment`` with VPU_SEGMENT_SIZE_DENSE = 4 on NPU37XX, 1 elsewhere)."""
    part = multiple
    while part > 1 and width % part:
        part //= 2
    return multiple // part


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


def per_channel(op: NpuOp) -> bool:
    """Element-wise, depthwise, pooling and SHAVE ops read only their own channels."""
    return op.engine is Engine.SHAVE or (op.dpu is not None and op.dpu.kind in
                                         (DpuKind.ELTWISE, DpuKind.DWCONV, DpuKind.POOL))


@dataclass(frozen=True)
class _Fractions:
    """What one tile holds of an op's tensors under a candidate."""

    data: float  # of each data input
    weights: float  # of the constant weights
    out: float  # of each output
    like: float = 1.0  # of activations used as weights (attention K, V)


class _Sizer:
    """Per-tile buffer sizes of one op, aligned like the compiler aligns them (swizzled buffers to
    the swizzling size alignment), and the CMX its fit check asks for."""

    def __init__(self, op: NpuOp, tensor_bytes: dict[str, int], arch: ArchSpec,
                 swizzled: frozenset[str] = frozenset()) -> None:
        self.op, self.arch = op, arch
        self.data = [i for i in op.inputs if i not in op.weight_inputs]
        self.data_bytes = [tensor_bytes.get(i, 0) for i in self.data]
        self.like_bytes = [tensor_bytes.get(i, 0) for i in op.weight_inputs]
        self.in_bytes = [tensor_bytes.get(i, 0) for i in op.inputs]
        self.out_bytes = [tensor_bytes.get(o, 0) for o in op.outputs]
        self.in_swizzled = [i in swizzled for i in op.inputs]
        self.out_swizzled = [o in swizzled for o in op.outputs]
        self.weights_swizzled = swizzles_weights(op, arch)
        self.dpu = op.engine is Engine.DPU

    def _a(self, nbytes: float, swizzled: bool = False) -> int:
        return stored_bytes(math.ceil(nbytes), self.arch, swizzled)

    def inputs(self, f: _Fractions) -> tuple[int, ...]:
        return tuple(self._a(b * (f.like if i in self.op.weight_inputs else f.data), s)
                     for i, b, s in zip(self.op.inputs, self.in_bytes, self.in_swizzled, strict=True))

    def stored_weights(self, parts: int) -> int:
        """DDR bytes of the op's weights stored in ``parts`` pieces (``Candidate.weight_parts``)."""
        return stored_weight_bytes(self.op.weight_bytes, parts, self.arch, self.weights_swizzled)

    def weights(self, f: _Fractions) -> int:
        return self._a(self.op.weight_bytes * f.weights, self.weights_swizzled)

    def output_buffers(self, f: _Fractions) -> tuple[int, ...]:
        return tuple(self._a(b * f.out, s) for b, s in zip(self.out_bytes, self.out_swizzled, strict=True))

    def outputs(self, f: _Fractions) -> int:
        return sum(self.output_buffers(f))

    def footprint(self, f: _Fractions) -> int:
        return sum(self.inputs(f)) + self.weights(f) + self.outputs(f)

    def swizzled_buffers(self) -> tuple[str, ...]:
        flags = (("input", any(self.in_swizzled)), ("weights", self.weights_swizzled),
                 ("output", any(self.out_swizzled)))
        return tuple(name for name, on in flags if on)

    def fit(self, f: _Fractions, extra: tuple[int, ...] = (), with_outputs: bool = True) -> int:
        """CMX the compiler's fit check asks for: a DPU op's buffers each at a swizzling address
        (``fit_bytes``), plus ``extra`` buffers (the next sub-tile's operand); else their sum."""
        outputs = self.output_buffers(f) if with_outputs else ()
        return self.need([*self.inputs(f), self.weights(f), *outputs, *extra])

    def need(self, buffers: list[int]) -> int:
        """CMX the fit check asks for these buffers of the op (``fit``)."""
        return fit_bytes(buffers, self.arch) if self.dpu else sum(buffers)


def candidates(op: NpuOp, tensor_bytes: dict[str, int], arch: ArchSpec,
               swizzled: frozenset[str] = frozenset(), finer: bool = True) -> list[Candidate]:
    """Every strategy for ``op`` on ``arch``, legal or not, with footprint and tiling where legal;
    ``swizzled``: the activations the compiler swizzles (``strategy.swizzling``); ``finer``: also
    the tilings the compiler does not make, offered to the optimal search (``Candidate.finer``)."""
    sizer = _Sizer(op, tensor_bytes, arch, swizzled)
    if op.engine is Engine.DPU and op.dpu is not None:
        raw = _dpu_candidates(op, op.dpu, arch)
    elif op.engine is Engine.SHAVE:
        raw = _shave_candidates(op, arch)
    else:
        return _dma_candidates(op, sizer, arch)
    out: list[Candidate] = []
    for raw_cand, fracs in raw:
        for cand in _finish(raw_cand, fracs, op, sizer, arch, finer) if raw_cand.legal else [raw_cand]:
            if cand.legal and cand.tiling is not None and cand.strategy is Strategy.SOK \
                    and any(c.strategy is Strategy.SOK and c.tiling == cand.tiling for c in out):
                continue  # tiled through DDR, both SOK output layouts are the same candidate
            out.append(cand)
            if cand.legal and cand.fits:
                out.extend(c for c in _pipeline_weights(cand, fracs, op, sizer, arch) if finer or not c.finer)
                out.extend(_streamed(cand, fracs, op, sizer, arch) if finer else ())
    return out


def _streamed(c: Candidate, f: _Fractions, op: NpuOp, sizer: _Sizer, arch: ArchSpec) -> list[Candidate]:
    """A DPU op that fits, but in more than half the CMX, also offered tiled through DDR like it
    would be on a part with half the CMX (to the optimal search only): a resident input and output
    that large can cost more in spills around it than streaming costs, and a bigger CMX then never
    takes this choice away."""
    if c.work is None or c.strategy is Strategy.HKSWITCH \
            or 2 * c.cmx_bytes_per_tile <= arch.isolated_budget_bytes:
        return []
    return [replace(t, finer=True) for t in _tile_further(c, f, op, sizer, arch) if t.legal]


def _pipeline_weights(c: Candidate, f: _Fractions, op: NpuOp, sizer: _Sizer,
                      arch: ArchSpec) -> list[Candidate]:
    """The compiler's pipelining for large constant weights (``largeConstPipelineConditionSatisfied``):
    a DPU op whose weights per tile exceed a quarter of CMX is tiled over output channels even when
    it fits, so each weight block loads while the previous one computes; the inputs and the output
    stay where they are. Offered beside the whole op: the search takes whichever costs less. Below
    the compiler's threshold it is offered to the optimal search only (a bigger CMX then never takes
    the choice away)."""
    work = c.work
    if work is None or not op.weight_bytes or any(sizer.like_bytes):  # activations as weights stay whole
        return []
    finer = c.weight_tile_bytes <= LARGE_CONST_RATIO * arch.cmx.bytes_per_tile
    max_k = math.ceil(work.out_k / arch.compiler.sok_channel_block)
    counts = range(2, min(max_k, MAX_PIPELINE_TILING_FACTOR) + 1)

    def blocks(n: int, finer: bool) -> Candidate:
        block = sizer.weights(replace(f, weights=f.weights / n))
        tiling = Tiling(TiledOver.K, 1, n, True, False, block, keeps_output=True, blocks_weights=True)
        return replace(c, tiling=tiling, weight_tile_bytes=block, finer=finer,
                       cmx_bytes_per_tile=sum(c.in_tile_bytes) + c.out_tile_bytes + 2 * block,
                       weight_ddr_bytes=sizer.stored_weights(c.weight_segments * n))

    for n in counts:
        first = blocks(n, finer)
        block = first.weight_tile_bytes  # this block computes while the next one loads
        if sizer.need([*c.in_tile_bytes, c.out_tile_bytes, block, block]) <= arch.pipelined_budget_bytes:
            # The larger counts a smaller CMX would need stay on offer (to the optimal search
            # only), so a bigger CMX never takes away a split with a smaller first block.
            return [first, *(blocks(m, True) for m in counts if m > n)]
    return []


def _needs(op: NpuOp, strategy: Strategy, data_need: Need) -> tuple[Need, ...]:
    weight_need = Need.FULL if strategy is Strategy.CLUSTERING else Need.DUPLICATED
    return tuple(weight_need if i in op.weight_inputs else data_need for i in op.inputs)


def _tile_share(op: NpuOp, work: DpuWork, share: float) -> dict[str, object]:
    return {"work": work, "useful_macs": math.ceil(op.macs * share),
            "elements": math.ceil(op.elements * share)}


Raw = list[tuple[Candidate, _Fractions]]


def _dpu_candidates(op: NpuOp, work: DpuWork, arch: ArchSpec) -> Raw:
    tiles, rules = arch.tiles, arch.compiler
    whole = _Fractions(1.0, 1.0, 1.0)
    out: Raw = [(Candidate(Strategy.CLUSTERING, True, "", 1, needs=_needs(op, Strategy.CLUSTERING, Need.FULL),
                           out_dist=Dist.SINGLE, **_tile_share(op, work, 1.0)), whole)]  # type: ignore[arg-type]
    if tiles == 1:
        return out + [(Candidate(s, False, "the arch has one tile"), whole) for s in list(Strategy)[1:]]
    # SplitOverHeight / HKSwitch: output rows (matmul: rows of the left operand) over the tiles.
    rows_total = work.out_w if work.flat_spatial else work.out_h
    width = 1 if work.flat_spatial else work.out_w
    rows = align(_split(rows_total, tiles), _soh_row_alignment(width, rules.soh_rows_width_multiple))
    if rows_total < tiles:
        soh_reason = f"SOH needs output height >= {tiles} (tiles), has {rows_total}"
    elif rows_total - rows * (tiles - 1) <= 0:
        aligned = (f" (width x rows a multiple of {rules.soh_rows_width_multiple} on {arch.name})"
                   if rules.soh_rows_width_multiple > 1 else "")
        soh_reason = (f"SOH splits {rows_total} output rows {rows} per tile{aligned}: they leave none for "
                      f"the last of {tiles} tiles")
    else:
        soh_reason = ""
    soh_work = replace(work, out_w=rows) if work.flat_spatial else replace(work, out_h=rows)
    share = rows / max(1, rows_total)
    in_share = _input_share(work, "H", rows)
    out.append((Candidate(Strategy.SOH, not soh_reason, soh_reason, tiles,
                          needs=_needs(op, Strategy.SOH, Need.SEG_H), out_dist=Dist.SEG_H,
                          **_tile_share(op, soh_work, share)),  # type: ignore[arg-type]
                _Fractions(in_share, 1.0, share)))
    out.append((Candidate(Strategy.HKSWITCH, not soh_reason, soh_reason.replace("SOH", "HKSwitch"), tiles,
                          needs=_needs(op, Strategy.HKSWITCH, Need.SEG_H), out_dist=Dist.DUPLICATED,
                          write_tiles=tiles, **_tile_share(op, soh_work, share)),  # type: ignore[arg-type]
                _Fractions(in_share, 1.0, 1.0)))
    # SplitOverWidth: output columns over the tiles.
    if work.flat_spatial or work.out_w < tiles:
        out.append((Candidate(Strategy.SOW, False, f"SOW needs a 2-D output with width >= {tiles} (tiles), "
                                                   f"has {work.out_w}"), whole))
    else:
        cols = _split(work.out_w, tiles)
        out.append((Candidate(Strategy.SOW, True, "", tiles, needs=_needs(op, Strategy.SOW, Need.SEG_W),
                              out_dist=Dist.SEG_W,
                              **_tile_share(op, replace(work, out_w=cols), cols / work.out_w)),  # type: ignore[arg-type]
                    _Fractions(_input_share(work, "W", cols), 1.0, cols / work.out_w)))
    # SplitOverKernel: output channels in 16-aligned blocks over the tiles; the output is either
    # broadcast to every tile or kept segmented for consumers that take their channels only.
    block = rules.sok_channel_block
    if work.out_k < block * tiles:
        out.append((Candidate(Strategy.SOK, False, f"SOK needs output channels >= {block * tiles} "
                                                   f"({block} x {tiles} tiles), has {work.out_k}"), whole))
    else:
        k_tile = min(work.out_k, _split(math.ceil(work.out_k / block), tiles) * block)
        k_share = k_tile / work.out_k
        data_need, data_frac = (Need.SEG_K, k_share) if per_channel(op) else (Need.DUPLICATED, 1.0)
        weights_frac = k_share if op.weight_bytes else 1.0
        for dist, write, out_frac in ((Dist.SEG_K, 1, k_share), (Dist.DUPLICATED, tiles, 1.0)):
            out.append((Candidate(Strategy.SOK, True, "", tiles, needs=_needs(op, Strategy.SOK, data_need),
                                  out_dist=dist, write_tiles=write,
                                  **_tile_share(op, replace(work, out_k=k_tile), k_share)),  # type: ignore[arg-type]
                        _Fractions(data_frac, weights_frac, out_frac)))
    return out


def _shave_candidates(op: NpuOp, arch: ArchSpec) -> Raw:
    tiles = arch.tiles
    whole = _Fractions(1.0, 1.0, 1.0)
    out: Raw = [(Candidate(Strategy.CLUSTERING, True, "", 1, elements=op.elements,
                           needs=_needs(op, Strategy.CLUSTERING, Need.FULL), out_dist=Dist.SINGLE), whole)]
    splits = ((Strategy.SOH, Need.SEG_H, Dist.SEG_H), (Strategy.SOK, Need.SEG_K, Dist.SEG_K))
    rows = _rows_per_tile(op, tiles) if op.row_elements and tiles > 1 else None
    for strategy, need, dist in splits:
        if op.row_elements:
            if rows is None:
                why = "needs more than one tile" if tiles == 1 else \
                    f"no axis outside its rows of {op.row_elements:,} has {tiles} or more to split"
                out.append((Candidate(strategy, False, why), whole))
                continue
            share = rows * op.row_elements
        elif tiles == 1 or op.elements < tiles:
            out.append((Candidate(strategy, False, f"needs at least {tiles} elements and more than one tile"),
                        whole))
            continue
        else:
            share = _split(op.elements, tiles)
        frac = share / max(1, op.elements)
        out.append((Candidate(strategy, True, "", tiles, elements=share, needs=_needs(op, strategy, need),
                              out_dist=dist), _Fractions(frac, 1.0, frac)))
    return out


def _rows_per_tile(op: NpuOp, tiles: int) -> int | None:
    """Rows on the busiest tile of a SHAVE kernel priced per row when split over ``tiles``, or
    None when it cannot be. The split cuts the outermost axis of its (N, C, H, W) output that its
    rows do not span (a softmax or a norm is never cut inside what it normalizes) and that has a
    tile's worth, as the compiler splits a SHAVE op along one axis: 7 tiles over 12 heads of 128
    rows give the busiest tile 2 heads, 256 rows. Rows that are not a suffix of those axes are
    split evenly, whole."""
    n, c, h, w = op.cube or (1, op.elements // op.row_elements, 1, op.row_elements)
    row, rows = op.row_elements, op.elements // op.row_elements
    if row == w:
        cuts = [(c, n * _split(c, tiles) * h), (h, n * c * _split(h, tiles))]
    elif row == h * w:
        cuts = [(c, n * _split(c, tiles))]
    elif row == c * h * w:
        cuts = []
    else:
        cuts = [(rows, _split(rows, tiles))]
    return next((share for extent, share in cuts if extent >= tiles), None)


def _dma_candidates(op: NpuOp, sizer: _Sizer, arch: ArchSpec) -> list[Candidate]:
    """DMA engines read from any tile or DDR and write the result broadcast to every tile
    (Clustering), split over the tiles' rows (SOH), or to DDR when it fits neither."""
    needs = tuple(Need.ANY for _ in op.inputs)
    budget = arch.isolated_budget_bytes
    layouts = [(Strategy.CLUSTERING, Dist.DUPLICATED, 1.0)]
    if arch.tiles > 1:
        layouts.append((Strategy.SOH, Dist.SEG_H, 1 / arch.tiles))
    out = []
    for strategy, dist, share in layouts:
        footprint = sizer.outputs(_Fractions(0.0, 0.0, share))
        base = Candidate(strategy, True, "", 1 if dist is Dist.DUPLICATED else arch.tiles,
                         elements=op.elements, needs=needs, weight_ddr_bytes=op.weight_bytes,
                         copy_bytes=op.output_bytes)
        if footprint <= budget:
            out.append(replace(base, out_dist=dist, out_tile_bytes=footprint, cmx_bytes_per_tile=footprint,
                               fits=True))
        else:  # too big for CMX: the copy goes straight to DDR
            out.append(replace(base, out_dist=Dist.DDR, fits=False, stream_out_bytes=op.output_bytes,
                               tiling=Tiling(TiledOver.DDR, 1, 1, False, False, 0)))
    return out


def _finish(c: Candidate, f: _Fractions, op: NpuOp, sizer: _Sizer, arch: ArchSpec,
            finer: bool = True) -> list[Candidate]:
    """Footprint, fit and, when it does not fit, tilings of a legal candidate."""
    ins, weights, outs = sizer.inputs(f), sizer.weights(f), sizer.outputs(f)
    if op.inplace_input is not None and op.inplace_input in op.inputs \
            and DIST_OF_NEED.get(c.needs[op.inputs.index(op.inplace_input)]) is c.out_dist:
        outs = 0  # the output overwrites that input in its own layout
    footprint = sum(ins) + weights + outs
    need = sizer.fit(f, with_outputs=outs > 0)
    segments = c.tiles_used if c.strategy is Strategy.SOK and op.weight_bytes else 1
    base = replace(c, in_tile_bytes=ins, weight_tile_bytes=weights, out_tile_bytes=outs,
                   cmx_bytes_per_tile=footprint, weight_ddr_bytes=sizer.stored_weights(segments),
                   weight_segments=segments,
                   fit_bytes_per_tile=need, swizzled=sizer.swizzled_buffers())
    if need <= arch.isolated_budget_bytes:
        return [replace(base, fits=True)]
    if c.strategy is Strategy.HKSWITCH:
        # Its point is a broadcast output resident in CMX; tiled through DDR it is just SOH.
        return [replace(c, legal=False, cmx_bytes_per_tile=footprint,
                        reason=f"HKSwitch needs input/{arch.tiles} + weights + output = {need} B "
                               f"per tile, over the CMX budget of {arch.isolated_budget_bytes} B")]
    return _tile_further(base, f, op, sizer, arch, finer)


def _tile_further(c: Candidate, f: _Fractions, op: NpuOp, sizer: _Sizer, arch: ArchSpec,
                  finer: bool = True) -> list[Candidate]:
    """Split the tile's share into sub-tiles that fit, streaming through DDR.

    Like the compiler: over output channels first when weights outweigh activations, else over
    rows; the sub-tile count grows until a sub-tile fits the tiling budget, over both axes when
    one is not enough. A one-axis split then grows (at most 3x) until the sub-tile plus the next
    sub-tile's streamed operand fits the pipelined budget; if it never does, it runs unpipelined.
    """
    acts = sum(b * f.data for b in sizer.data_bytes) + sum(b * f.out for b in sizer.out_bytes)
    weights = (op.weight_bytes + sum(sizer.like_bytes)) * f.weights
    work = c.work
    batch = work.batch if work is not None and work.flat_spatial else 1
    if work is not None:
        # A batched matmul's rows run over its batch items (heads, frames) too.
        max_rows = (work.out_w if work.flat_spatial else work.out_h) * batch
        max_k = max(1, math.ceil(work.out_k / arch.compiler.sok_channel_block))
    elif op.row_elements:  # SHAVE kernel priced per row: split in whole rows
        max_rows, max_k = max(1, c.elements // op.row_elements), 1
    else:  # SHAVE: split its elements over rows
        max_rows, max_k = max(1, c.elements // 256), 1
    channel_wise = per_channel(op)

    def sub(n_rows: int, n_k: int, n_inner: int = 1) -> _Fractions:
        data = f.data / n_rows / (n_k if channel_wise else 1) / n_inner
        # Activations used as weights (attention K, V) and their weight tables belong to one
        # batch item each.
        items = min(n_rows, batch) if sizer.like_bytes else 1
        like = f.like / n_k / items / n_inner
        return _Fractions(data, f.weights / n_k / n_inner / items, f.out / (n_rows * n_k), like)

    def fits_isolated(n_rows: int, n_k: int) -> bool:
        return sizer.fit(sub(n_rows, n_k)) <= arch.isolated_budget_bytes

    split = _smallest_split(fits_isolated, max_rows, max_k, k_first=weights > acts)
    inner = _inner_splits(c, op, sizer, arch, sub, max_rows, max_k, needed=split is None, than=split) \
        if finer or split is None else []
    inner = [t for t in inner if finer or not t.finer]
    if split is None and op.row_elements and work is None:
        return _chunked_rows(c, op, sizer, arch, sub)
    if split is None:
        return inner or [_does_not_fit(c, arch)]
    n_rows, n_k = split
    pipelined, next_bytes = False, 0
    if n_rows == 1 or n_k == 1:  # the compiler pipelines one-axis tilings only
        over_k = n_k > 1

        def with_next(n: int) -> tuple[int, int]:
            """A sub-tile's footprint plus the next sub-tile's streamed operand, and that operand."""
            fr = sub(1, n) if over_k else sub(n, 1)
            ins = sizer.inputs(fr)
            like = sum(b for i, b in zip(op.inputs, ins, strict=True) if i in op.weight_inputs)
            data = sum(ins) - like
            if over_k:
                nxt = sizer.weights(fr) + like + (data if channel_wise else 0)
            else:  # row blocks over a batched matmul's items bring their own K / V as well
                nxt = data + (like + sizer.weights(fr) if like and min(n, batch) > 1 else 0)
            return sizer.fit(fr, (nxt,)), nxt

        count, limit = (n_k, max_k) if over_k else (n_rows, max_rows)
        n = _first_fit(lambda m: with_next(m)[0] <= arch.pipelined_budget_bytes, count,
                       min(limit, MAX_PIPELINE_TILING_FACTOR * count))
        if n is not None:
            pipelined, next_bytes = True, with_next(n)[1]
            n_rows, n_k = (1, n) if over_k else (n, 1)
            # Twice and four times the compiler's count: a smaller first load before the pipeline
            # fills. Offered to the optimal search, so a part with twice the CMX (whose compiler
            # count, or whose streamed offer on half its CMX, is half) keeps every split a smaller
            # part is offered, and never costs more.
            finer_counts = [m for m in (2 * n, 4 * n) if m <= limit] if finer else []
            if finer_counts:
                return [_tiled(c, op, sizer, work, sub, arch, n_rows, n_k, next_bytes),
                        *(replace(_tiled(c, op, sizer, work, sub, arch, *((1, m) if over_k else (m, 1)),
                                         with_next(m)[1]), finer=True) for m in finer_counts)]
    return [_tiled(c, op, sizer, work, sub, arch, n_rows, n_k, next_bytes if pipelined else None), *inner]


def _does_not_fit(c: Candidate, arch: ArchSpec) -> Candidate:
    """``c`` made illegal: no tiling brings it under the CMX budget."""
    full, cap = c.cmx_bytes_per_tile, arch.isolated_budget_bytes
    return replace(c, legal=False, reason=f"does not fit CMX even tiled: needs {full} B per tile, the budget "
                                          f"is {cap} B ({full - cap} B over)")


def _chunked_rows(c: Candidate, op: NpuOp, sizer: _Sizer, arch: ArchSpec,
                  sub: Callable[..., _Fractions]) -> list[Candidate]:
    """A SHAVE row kernel (softmax, a norm) one of whose rows does not fit CMX: its rows are cut
    into chunks and streamed twice, once to gather each row's statistics (max and sum, mean and
    variance) and once to normalize, the two-pass form of these kernels (assumed: the compiler
    has no documented tiling along a softmax's axis)."""
    max_chunks = max(1, c.elements // 256)
    n = _first_fit(lambda m: sizer.footprint(sub(m, 1)) <= arch.isolated_budget_bytes, 2, max_chunks)
    if n is None:
        return [_does_not_fit(c, arch)]
    tiled = _tiled(c, op, sizer, None, sub, arch, n, 1, None)
    assert tiled.tiling is not None
    return [replace(tiled, stream_in_bytes=2 * tiled.stream_in_bytes, tiling=replace(tiled.tiling, passes=2))]


def _inner_splits(c: Candidate, op: NpuOp, sizer: _Sizer, arch: ArchSpec, sub: Callable[..., _Fractions],
                  max_rows: int, max_k: int, needed: bool, than: tuple[int, int] | None) -> list[Candidate]:
    """Sub-tiles that also cut the inner dimension (a matmul's or conv's input channels) into
    partial sums, each sub-tile holding one chunk of the input rows and of the weights while its
    output block stays in CMX to accumulate (the compiler sums such chunks with Accumulate ops,
    IE/transforms/passes/unroll_fully_connected.cpp). Bigger row and channel blocks then fit, so
    a large matmul re-reads its operands far less, and the next chunk can load while one computes.

    Needed when no row x channel split fits (one row and one 16-channel block of a long inner
    dimension overflow CMX); otherwise offered, when the plain split cuts both rows and channels,
    to the optimal search, which takes it only where it costs less (``finer``). Per chunk count
    (powers of two) the row x channel split that moves the fewest DDR bytes and pipelines is
    offered: fewer chunks keep the DPU's tasks deep, more move fewer bytes; the search weighs the
    two."""
    work = c.work
    block = arch.compiler.sok_channel_block
    if work is None or work.in_k < 2 * block or per_channel(op) \
            or (not needed and (than is None or min(than) == 1)):
        return []
    max_inner = math.ceil(work.in_k / block)
    # (bytes, sub-tiles, rows, channels, pipelined, chunks) per chunk count
    options: list[tuple[int, int, int, int, bool, int]] = []
    n_inner = 2
    while n_inner <= max_inner:
        best = _least_traffic_split(op, sizer, arch, sub, work, max_rows, max_k, n_inner, c.weight_segments)
        if best is not None:
            options.append((*best, n_inner))
        n_inner *= 2
    found: list[Candidate] = []
    for _, _, n_rows, n_k, pipelined, n_inner in options:
        fr = sub(n_rows, n_k, n_inner)
        nxt = sum(sizer.inputs(fr)) + sizer.weights(fr)
        cand = _tiled(c, op, sizer, work, sub, arch, n_rows, n_k, nxt if pipelined else None, n_inner)
        found.append(replace(cand, finer=not needed or bool(found)))
    return found


def _least_traffic_split(op: NpuOp, sizer: _Sizer, arch: ArchSpec, sub: Callable[..., _Fractions],
                         work: DpuWork, max_rows: int, max_k: int, n_inner: int,
                         segments: int) -> tuple[int, int, int, int, bool] | None:
    """(DDR bytes, sub-tiles, rows, channels, pipelined) of the row x channel split with ``n_inner``
    chunks that moves the fewest bytes: pipelined (a sub-tile plus the next one's operands fit the
    pipelined budget) where any is, else fitting the tiling budget alone."""
    def footprint(n_rows: int, n_k: int, next_too: bool) -> int:
        fr = sub(n_rows, n_k, n_inner)
        return sizer.fit(fr, (*sizer.inputs(fr), sizer.weights(fr)) if next_too else ())

    for pipelined, budget in ((True, arch.pipelined_budget_bytes), (False, arch.isolated_budget_bytes)):
        best: tuple[int, int, int, int, bool] | None = None
        n_rows = 1
        while n_rows <= max_rows:
            n_k = _first_fit(lambda m, r=n_rows, p=pipelined, b=budget: footprint(r, m, p) <= b, 1, max_k)
            if n_k is not None:
                moved = sum(_stream_bytes(op, sizer, work, n_rows, n_k, True, n_inner, segments)[:3])
                option = (moved, n_rows * n_k * n_inner, n_rows, n_k, pipelined)
                best = option if best is None or option < best else best
                if n_k == 1:
                    break  # more row blocks only re-read the weights more
            n_rows *= 2
        if best is not None:
            return best
    return None


def _tiled(c: Candidate, op: NpuOp, sizer: _Sizer, work: DpuWork | None,
           sub: Callable[..., _Fractions], arch: ArchSpec, n_rows: int, n_k: int,
           next_bytes: int | None, n_inner: int = 1) -> Candidate:
    """``c`` tiled into ``n_rows`` x ``n_k`` (x ``n_inner`` partial-sum) sub-tiles; pipelined when
    ``next_bytes`` (the next sub-tile's streamed operand) is given."""
    pipelined = next_bytes is not None
    next_bytes = next_bytes or 0
    fr = sub(n_rows, n_k, n_inner)
    over = TiledOver.H if n_k == 1 else TiledOver.K if n_rows == 1 else TiledOver.HK
    if n_inner > 1:
        over = TiledOver.HKC if n_rows > 1 and n_k > 1 else TiledOver.C
    streams = per_channel(op) or n_rows > 1 or n_inner > 1
    stream_in, stream_like, weight_reads, rows_outer = _stream_bytes(op, sizer, work, n_rows, n_k, streams,
                                                                     n_inner, c.weight_segments)
    batch = work.batch if work is not None and work.flat_spatial else 1
    by_block = n_k > 1 or n_inner > 1 or (bool(stream_like) and min(n_rows, batch) > 1)
    two_outputs = pipelined and \
        sizer.fit(fr, (next_bytes, *sizer.output_buffers(fr))) <= arch.pipelined_budget_bytes
    tiling = Tiling(over, n_rows, n_k, pipelined, streams, next_bytes, rows_outer,
                    output_slots=2 if two_outputs else 1, inner=n_inner, blocks_weights=by_block,
                    items=min(n_rows, batch))
    needs = tuple(Need.DDR if streams or i in op.weight_inputs else n
                  for i, n in zip(op.inputs, c.needs, strict=True))
    return replace(c, fits=False, tiling=tiling, needs=needs, out_dist=Dist.DDR, write_tiles=1,
                   in_tile_bytes=sizer.inputs(fr), weight_tile_bytes=sizer.weights(fr),
                   out_tile_bytes=sizer.outputs(fr), cmx_bytes_per_tile=sizer.footprint(fr) + next_bytes,
                   fit_bytes_per_tile=sizer.fit(fr, (next_bytes,)),
                   weight_ddr_bytes=weight_reads, stream_in_bytes=stream_in, stream_like_bytes=stream_like,
                   stream_out_bytes=sum(sizer.out_bytes))


def _stream_bytes(op: NpuOp, sizer: _Sizer, work: DpuWork | None, n_rows: int, n_k: int,
                  streams: bool, n_inner: int = 1, segments: int = 1) -> tuple[int, int, int, bool]:
    """(data activation bytes, activation-as-weights bytes, weight bytes read from DDR, rows in the
    outer loop) of a tiled op.

    Row blocks re-read their halo rows; over both axes the cheaper loop order is taken: the input
    read once per row block and the weights re-read per row block, or the other way round.
    Activations used as weights (attention K, V) stream like weights but are activation bytes; in
    a batched matmul each belongs to one batch item, read again only by row blocks within it. Cut
    into partial sums, neither operand can stay: the input is read once per channel block and the
    weights once per row block. Swizzled weights move padded, each block of each tile's segment
    (``segments``) on its own.
    """
    overlap = 1.0
    if work is not None and n_rows > 1 and not work.flat_spatial:
        in_rows = work.in_h or work.out_h
        overlap = 1 + halo_rows(work, "H") * (n_rows - 1) / max(1, in_rows)
    data = sum(sizer.data_bytes) * overlap if streams else 0
    like = sum(sizer.like_bytes)
    w = sizer.stored_weights(segments * n_k * n_inner)
    batch = work.batch if work is not None and work.flat_spatial else 1
    if batch > 1 and like:  # K / V and weight tables per batch item
        reads = n_rows / min(n_rows, batch)
        data_reads = data * (n_k if n_inner > 1 else 1)
        return math.ceil(data_reads), math.ceil(like * reads), math.ceil(w * reads), True
    if n_inner > 1:
        return math.ceil(data * n_k), like * n_rows, w * n_rows, True
    if n_rows > 1 and n_k > 1:
        rows_outer = data + (w + like) * n_rows  # inputs once, weights per row block
        k_outer = data * (1 if per_channel(op) else n_k) + w + like
        if rows_outer < k_outer:
            return math.ceil(data), like * n_rows, w * n_rows, True
        return math.ceil(data * (1 if per_channel(op) else n_k)), like, w, False
    return math.ceil(data), like, w, True


def _first_fit(fits: Callable[[int], bool], low: int, high: int) -> int | None:
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


def _smallest_split(fits: Callable[[int, int], bool], max_h: int, max_k: int,
                    k_first: bool) -> tuple[int, int] | None:
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
