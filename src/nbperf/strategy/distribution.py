"""Where a tensor lives across tiles, and what moving it between distributions costs.

A producer's strategy fixes its output's distribution; a consumer's strategy needs each input in
a certain distribution. When they differ the tensor moves: a halo exchange, a split or broadcast
copy CMX -> CMX, or a spill to DDR and a reload. Each move is DMA time in the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import Path, transfer_ns


class Dist(StrEnum):
    SINGLE = "single"  # whole tensor in one tile's CMX (Clustering output)
    DUPLICATED = "duplicated"  # whole tensor in every tile's CMX (SOK / HKSwitch broadcast output)
    SEG_H = "seg_h"  # rows split over the tiles (SOH output)
    SEG_W = "seg_w"  # columns split over the tiles (SOW output)
    DDR = "ddr"  # in DDR: graph inputs, outputs of tasks tiled through DDR


class Need(StrEnum):
    """What a consumer needs of one input."""

    FULL = "full"  # the whole tensor on the tile(s) that compute (Clustering)
    DUPLICATED = "duplicated"  # the whole tensor on every tile (SOK)
    SEG_H = "seg_h"  # its rows, plus halo (SOH, HKSwitch)
    SEG_W = "seg_w"  # its columns, plus halo (SOW)
    DDR = "ddr"  # streamed from DDR by a tiled task
    ANY = "any"  # DMA-only tasks read from wherever the tensor is


def per_tile_bytes(nbytes: int, dist: Dist, tiles: int) -> int:
    """CMX bytes one tile holds of a tensor in ``dist``."""
    if dist is Dist.DDR:
        return 0
    if dist in (Dist.SEG_H, Dist.SEG_W):
        return math.ceil(nbytes / tiles)
    return nbytes


@dataclass(frozen=True)
class Move:
    """The DMA a transition costs: bytes over DDR (spill + reload, loads) and CMX -> CMX."""

    kind: str  # "", "load", "halo", "split-copy", "broadcast", "spill-reload", "spill"
    ddr_bytes: int = 0
    cmx_bytes: int = 0

    def ns(self, arch: ArchSpec) -> float:
        return transfer_ns(arch, self.ddr_bytes, Path.DDR) + transfer_ns(arch, self.cmx_bytes, Path.CMX)

    @property
    def total_bytes(self) -> int:
        return self.ddr_bytes + self.cmx_bytes


FREE = Move("")


def move(have: Dist, need: Need, nbytes: int, tiles: int, halo_rows: int, rows: int,
         arch: ArchSpec) -> Move:
    """The data movement that turns a tensor in ``have`` into what a consumer ``need``s.

    ``halo_rows`` is how many extra rows (or columns) a consumer tile reads beyond its own share
    (kernel - stride); ``rows`` is the tensor's extent along the split axis.
    """
    if need is Need.ANY:
        return Move("load", ddr_bytes=nbytes) if have is Dist.DDR else FREE
    if need is Need.DDR:
        return FREE if have is Dist.DDR else Move("spill", ddr_bytes=nbytes)
    if have is Dist.DDR:
        return Move("load", ddr_bytes=nbytes)
    if have is Dist.DUPLICATED:
        return FREE  # every tile already holds all of it
    if need is Need.FULL:
        return FREE if have is Dist.SINGLE else Move("spill-reload", ddr_bytes=2 * nbytes)
    if need is Need.DUPLICATED:
        if have is Dist.SINGLE:
            return Move("broadcast", cmx_bytes=nbytes)
        return Move("spill-reload", ddr_bytes=2 * nbytes)
    same_axis = (need is Need.SEG_H and have is Dist.SEG_H) or (need is Need.SEG_W and have is Dist.SEG_W)
    if same_axis:
        if halo_rows <= 0 or tiles == 1 or arch.compiler.halo_mode == "neighbour_read":
            return FREE
        row_bytes = nbytes / max(1, rows)
        return Move("halo", cmx_bytes=math.ceil((tiles - 1) * halo_rows * row_bytes))
    if have is Dist.SINGLE:
        return Move("split-copy", cmx_bytes=math.ceil(nbytes * (tiles - 1) / tiles))
    return Move("spill-reload", ddr_bytes=2 * nbytes)  # split along the other axis
