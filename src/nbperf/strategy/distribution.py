"""Where a tensor lives across tiles, and what moving it between distributions costs.

A producer's strategy fixes its output's distribution; a consumer's strategy needs each input in
a certain distribution. When they differ the tensor moves: a halo exchange, a split or broadcast
copy CMX -> CMX, or a spill to DDR and a reload (DESIGN.md section 3). Each move is DMA time,
priced by the one DMA model (``nbperf.cost.dma``) for the search and both schedules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import Direction, Path, transfer_ns


class Dist(StrEnum):
    SINGLE = "single"  # whole tensor in one tile's CMX (Clustering output)
    DUPLICATED = "duplicated"  # whole tensor in every tile's CMX (broadcast output: SOK, HKSwitch)
    SEG_H = "seg_h"  # rows split over the tiles (SOH output)
    SEG_W = "seg_w"  # columns split over the tiles (SOW output)
    SEG_K = "seg_k"  # channels split over the tiles (SOK output kept segmented)
    DDR = "ddr"  # in DDR only: graph inputs, outputs of tasks tiled through DDR, spilled tensors


SEGMENTED = frozenset({Dist.SEG_H, Dist.SEG_W, Dist.SEG_K})


class Need(StrEnum):
    """What a consumer needs of one input."""

    FULL = "full"  # the whole tensor on the tile that computes (Clustering)
    DUPLICATED = "duplicated"  # the whole tensor on every tile (SOK convolutions and matmuls)
    SEG_H = "seg_h"  # its rows, plus halo (SOH, HKSwitch)
    SEG_W = "seg_w"  # its columns, plus halo (SOW)
    SEG_K = "seg_k"  # its channels (SOK of per-channel ops: element-wise, depthwise, pooling, SHAVE)
    DDR = "ddr"  # streamed from DDR by a tiled task
    ANY = "any"  # DMA-only tasks read from wherever the tensor is


# The distribution a tensor has after it was brought into what a consumer needed.
DIST_OF_NEED = {Need.FULL: Dist.SINGLE, Need.DUPLICATED: Dist.DUPLICATED, Need.SEG_H: Dist.SEG_H,
                Need.SEG_W: Dist.SEG_W, Need.SEG_K: Dist.SEG_K, Need.DDR: Dist.DDR}
_SAME_AXIS = {Need.SEG_H: Dist.SEG_H, Need.SEG_W: Dist.SEG_W, Need.SEG_K: Dist.SEG_K}


class MoveKind(StrEnum):
    NONE = "none"  # already where it is needed
    LOAD = "load"  # DDR -> CMX: graph inputs, spilled or streamed tensors
    HALO = "halo"  # neighbour rows copied CMX -> CMX (overlapped halo parts)
    SPLIT_COPY = "split-copy"  # one tile's copy split over the tiles, CMX -> CMX
    BROADCAST = "broadcast"  # one tile's copy multicast to every tile, CMX -> CMX
    SPILL_RELOAD = "spill-reload"  # incompatible layouts: CMX -> DDR -> CMX
    SPILL = "spill"  # CMX -> DDR for a consumer that streams from DDR


def per_tile_bytes(nbytes: int, dist: Dist, tiles: int) -> int:
    """CMX bytes one tile holds of a tensor in ``dist``."""
    if dist is Dist.DDR:
        return 0
    if dist in SEGMENTED:
        return math.ceil(nbytes / tiles)
    return nbytes


def segments(dist: Dist | Need, tiles: int) -> int:
    """DMA tasks that move a tensor into or out of ``dist``: one per segment, one for a multicast."""
    return tiles if dist.value in ("seg_h", "seg_w", "seg_k") else 1


@dataclass(frozen=True)
class Move:
    """The DMA a transition costs: bytes over DDR and CMX -> CMX, and its time."""

    kind: MoveKind
    ddr_bytes: int = 0
    cmx_bytes: int = 0
    ns: float = 0.0

    @property
    def total_bytes(self) -> int:
        return self.ddr_bytes + self.cmx_bytes


FREE = Move(MoveKind.NONE)


def move(have: Dist, need: Need, nbytes: int, tiles: int, halo_rows: int, rows: int,
         arch: ArchSpec, dma_ns: Callable[..., float] | None = None) -> Move:
    """The data movement that turns a tensor in ``have`` into what a consumer ``need``s.

    ``halo_rows`` is how many extra rows (or columns) a consumer tile reads beyond its own share
    (kernel - stride); ``rows`` is the tensor's extent along the split axis. ``dma_ns`` prices the
    transfers (``TaskCoster.dma_ns``, the cost model's where it prices DMAs); default: the DMA model.
    """
    def ns_of(nbytes: int, path: Path, transfers: int = 1, direction: Direction | None = None) -> float:
        if dma_ns is None:
            return transfer_ns(arch, nbytes, path, transfers)
        return dma_ns(nbytes, path, transfers, direction=direction)

    if need is Need.ANY or (need is Need.DDR and have is Dist.DDR):
        return FREE  # a DMA-only op reads from wherever the tensor is; its own copy pays
    if need is Need.DDR:
        return Move(MoveKind.SPILL, ddr_bytes=nbytes,
                    ns=ns_of(nbytes, Path.DDR, segments(have, tiles), Direction.OUT))
    if have is Dist.DDR:
        ns = ns_of(nbytes, Path.DDR, segments(need, tiles))
        return Move(MoveKind.LOAD, ddr_bytes=nbytes, ns=ns)
    if have is Dist.DUPLICATED:
        return FREE  # every tile already holds all of it
    if _SAME_AXIS.get(need) is have:
        if need is Need.SEG_K or halo_rows <= 0 or tiles == 1 or arch.compiler.halo_mode == "neighbour_read":
            return FREE
        nbytes = math.ceil((tiles - 1) * halo_rows * nbytes / max(1, rows))
        return Move(MoveKind.HALO, cmx_bytes=nbytes, ns=ns_of(nbytes, Path.CMX, tiles - 1))
    if have is Dist.SINGLE:
        if need is Need.FULL:
            return FREE
        if need is Need.DUPLICATED:
            return Move(MoveKind.BROADCAST, cmx_bytes=nbytes, ns=ns_of(nbytes, Path.CMX))
        moved = math.ceil(nbytes * (tiles - 1) / tiles)
        return Move(MoveKind.SPLIT_COPY, cmx_bytes=moved, ns=ns_of(moved, Path.CMX, tiles - 1))
    # Segmented along another axis (or needed whole): through DDR and back.
    ns = ns_of(nbytes, Path.DDR, segments(have, tiles), Direction.OUT) \
        + ns_of(nbytes, Path.DDR, segments(need, tiles))
    return Move(MoveKind.SPILL_RELOAD, ddr_bytes=2 * nbytes, ns=ns)
