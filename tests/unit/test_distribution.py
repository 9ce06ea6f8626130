"""Moving a tensor between distributions: what each transition moves, over which path, and its DMA time."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbperf.arch import load_arch
from nbperf.cost.dma import Path, transfer_ns
from nbperf.strategy.distribution import (
    DIST_OF_NEED,
    FREE,
    SEGMENTED,
    Dist,
    Move,
    MoveKind,
    Need,
    move,
    per_tile_bytes,
    segments,
)

NPU3720 = load_arch("npu3720")  # 2 tiles, SOH halo read from the neighbour's CMX
NPU4000 = load_arch("npu4000")  # 6 tiles, SOH halo written into each tile by DMA (overlapped)
ARCHS = [NPU3720, NPU4000]
NBYTES = 64 * 56 * 56 * 2  # a 64-channel 56x56 fp16 activation: 401408 B
ROWS = 56
SEG_NEEDS = [Need.SEG_H, Need.SEG_W, Need.SEG_K]


def _move(have: Dist, need: Need, arch=NPU4000, nbytes: int = NBYTES, halo_rows: int = 0,
          tiles: int | None = None) -> Move:
    return move(have, need, nbytes, arch.tiles if tiles is None else tiles, halo_rows, ROWS, arch)


def test_dist_of_need_is_the_layout_each_need_leaves():
    assert DIST_OF_NEED == {Need.FULL: Dist.SINGLE, Need.DUPLICATED: Dist.DUPLICATED, Need.SEG_H: Dist.SEG_H,
                            Need.SEG_W: Dist.SEG_W, Need.SEG_K: Dist.SEG_K, Need.DDR: Dist.DDR}
    assert Need.ANY not in DIST_OF_NEED  # a DMA-only reader leaves the tensor where it was


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("need", list(DIST_OF_NEED))
def test_a_second_consumer_with_the_same_need_moves_nothing(arch, need):
    """Once a tensor was brought into what a consumer needs, the same need again is free (no halo)."""
    assert _move(DIST_OF_NEED[need], need, arch) == FREE


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("have", list(Dist))
def test_already_there_moves_nothing(arch, have):
    """A DMA-only reader takes the tensor from wherever it is; a duplicated tensor is on every tile."""
    assert _move(have, Need.ANY, arch, halo_rows=2) == FREE
    if have is Dist.DUPLICATED:
        for need in set(Need) - {Need.DDR}:
            assert _move(have, need, arch, halo_rows=2) == FREE


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
def test_a_whole_tensor_on_the_computing_tile_moves_nothing(arch):
    m = _move(Dist.SINGLE, Need.FULL, arch)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes, m.ns, m.total_bytes) == (MoveKind.NONE, 0, 0, 0.0, 0)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("need", [Need.FULL, Need.DUPLICATED, *SEG_NEEDS])
def test_ddr_to_cmx_is_a_load_of_the_whole_tensor(arch, need):
    m = _move(Dist.DDR, need, arch, halo_rows=2)
    assert m.kind is MoveKind.LOAD and m.ddr_bytes == NBYTES and m.cmx_bytes == 0
    # one task per segment, one multicast task for a whole or duplicated copy
    assert m.ns == pytest.approx(transfer_ns(arch, NBYTES, Path.DDR, segments(need, arch.tiles)))


def test_load_into_six_segments_by_hand():
    """npu4000: six segment tasks on two channels, three rounds of set-up + DDR latency, then 45 B/ns
    (DDR binds: the two channels together move 62.4 B/ns)."""
    m = _move(Dist.DDR, Need.SEG_H, NPU4000)
    assert m.ns == pytest.approx(3 * (100 + 956) + NBYTES / 45)
    broadcast = _move(Dist.DDR, Need.DUPLICATED, NPU4000)
    # one multicast task, split over both ports as the NPU40XX compiler splits a lone DMA: DDR binds
    assert broadcast.ns == pytest.approx(100 + 956 + NBYTES / 45)


def test_soh_to_soh_with_overlapped_halo_copies_the_halo_rows_only():
    """npu4000 writes each tile's halo rows by DMA: 5 tile boundaries x 2 rows of a 56-row tensor."""
    m = _move(Dist.SEG_H, Need.SEG_H, NPU4000, halo_rows=2)
    halo = 5 * 2 * NBYTES // ROWS
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.HALO, 0, halo)
    assert halo == 71_680 and halo < NBYTES
    assert m.ns == pytest.approx(transfer_ns(NPU4000, halo, Path.CMX, 5))
    assert _move(Dist.SEG_W, Need.SEG_W, NPU4000, halo_rows=2).cmx_bytes == halo  # columns alike


def test_halo_is_free_when_it_is_not_copied():
    """npu3720 reads halo rows from the neighbour's CMX; channels have no halo; one tile has no neighbour."""
    assert _move(Dist.SEG_H, Need.SEG_H, NPU3720, halo_rows=2) == FREE
    assert _move(Dist.SEG_K, Need.SEG_K, NPU4000, halo_rows=2) == FREE
    assert _move(Dist.SEG_H, Need.SEG_H, NPU4000, halo_rows=0) == FREE
    assert _move(Dist.SEG_H, Need.SEG_H, NPU4000, halo_rows=2, tiles=1) == FREE


def test_halo_grows_with_tiles_and_halo_rows():
    halos = [_move(Dist.SEG_H, Need.SEG_H, NPU4000, halo_rows=h, tiles=t).cmx_bytes
             for t, h in [(2, 1), (2, 2), (6, 2)]]
    assert halos == [math.ceil(NBYTES / ROWS), math.ceil(2 * NBYTES / ROWS), math.ceil(10 * NBYTES / ROWS)]


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
def test_single_to_duplicated_is_one_cmx_broadcast(arch):
    m = _move(Dist.SINGLE, Need.DUPLICATED, arch)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.BROADCAST, 0, NBYTES)
    assert m.ns == pytest.approx(transfer_ns(arch, NBYTES, Path.CMX))
    assert m.ns < _move(Dist.DDR, Need.DUPLICATED, arch).ns  # no DDR latency or DDR rate


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("need", SEG_NEEDS)
def test_single_to_segmented_copies_the_other_tiles_shares(arch, need):
    """The tile holding the tensor keeps its own segment and copies one to each other tile."""
    t = arch.tiles
    m = _move(Dist.SINGLE, need, arch)
    moved = math.ceil(NBYTES * (t - 1) / t)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.SPLIT_COPY, 0, moved)
    assert m.ns == pytest.approx(transfer_ns(arch, moved, Path.CMX, t - 1))


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("have", sorted(SEGMENTED))
def test_segmented_to_duplicated_goes_through_ddr(arch, have):
    """SOH (or SOW, SOK kept segmented) then SOK: the compiler spills the segments and reloads the whole
    tensor to every tile (DESIGN.md section 3; HKSwitch is the strategy that avoids this round trip)."""
    m = _move(have, Need.DUPLICATED, arch)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.SPILL_RELOAD, 2 * NBYTES, 0)
    t = arch.tiles
    assert m.ns == pytest.approx(transfer_ns(arch, NBYTES, Path.DDR, t) + transfer_ns(arch, NBYTES, Path.DDR))


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize(("have", "need"), [(Dist.SEG_K, Need.SEG_H), (Dist.SEG_H, Need.SEG_W),
                                            (Dist.SEG_W, Need.SEG_K), (Dist.SEG_H, Need.SEG_K),
                                            (Dist.SEG_K, Need.FULL), (Dist.SEG_H, Need.FULL)])
def test_incompatible_layouts_spill_and_reload(arch, have, need):
    m = _move(have, need, arch, halo_rows=2)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.SPILL_RELOAD, 2 * NBYTES, 0)
    spill = transfer_ns(arch, NBYTES, Path.DDR, arch.tiles)  # one task per segment out
    reload = transfer_ns(arch, NBYTES, Path.DDR, segments(need, arch.tiles))
    assert m.ns == pytest.approx(spill + reload)
    assert m.ns > 2 * (arch.dma.ddr_latency_ns + NBYTES / arch.dma.ddr_bandwidth_gbps)


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("have", [Dist.SINGLE, Dist.DUPLICATED, *sorted(SEGMENTED)])
def test_a_consumer_streaming_from_ddr_gets_one_spill(arch, have):
    m = _move(have, Need.DDR, arch)
    assert (m.kind, m.ddr_bytes, m.cmx_bytes) == (MoveKind.SPILL, NBYTES, 0)
    assert m.ns == pytest.approx(transfer_ns(arch, NBYTES, Path.DDR, segments(have, arch.tiles)))


@pytest.mark.parametrize("tiles", [1, 2, 6])
def test_segments_are_one_dma_per_tile_for_split_layouts_else_one(tiles):
    for dist in Dist:
        assert segments(dist, tiles) == (tiles if dist in SEGMENTED else 1)
    for need in Need:
        assert segments(need, tiles) == (tiles if need in SEG_NEEDS else 1)
    assert segments(Dist.DUPLICATED, tiles) == 1  # a broadcast is one multicast task


@pytest.mark.parametrize("tiles", [1, 2, 6])
def test_per_tile_bytes(tiles):
    n = 1001
    assert per_tile_bytes(n, Dist.DDR, tiles) == 0
    assert per_tile_bytes(n, Dist.SINGLE, tiles) == n
    assert per_tile_bytes(n, Dist.DUPLICATED, tiles) == n
    for dist in SEGMENTED:
        assert per_tile_bytes(n, dist, tiles) == math.ceil(n / tiles)
        assert per_tile_bytes(n, dist, tiles) * tiles >= n  # the segments hold the whole tensor


def _expected_ns(m: Move, have: Dist, need: Need, tiles: int, arch) -> float:
    """The DMA time of a move's bytes, by the one DMA model, from its kind."""
    if m.kind is MoveKind.NONE:
        return 0.0
    if m.kind is MoveKind.LOAD:
        return transfer_ns(arch, m.ddr_bytes, Path.DDR, segments(need, tiles))
    if m.kind is MoveKind.SPILL:
        return transfer_ns(arch, m.ddr_bytes, Path.DDR, segments(have, tiles))
    if m.kind is MoveKind.SPILL_RELOAD:
        half = m.ddr_bytes // 2
        return (transfer_ns(arch, half, Path.DDR, segments(have, tiles))
                + transfer_ns(arch, half, Path.DDR, segments(need, tiles)))
    if m.kind is MoveKind.BROADCAST:
        return transfer_ns(arch, m.cmx_bytes, Path.CMX)
    return transfer_ns(arch, m.cmx_bytes, Path.CMX, tiles - 1)  # HALO, SPLIT_COPY: to the other tiles


@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: a.name)
@pytest.mark.parametrize("tiles", [1, 2, 6])
def test_every_transition_is_well_formed_and_deterministic(arch, tiles):
    """All (have, need) pairs: nothing raises, bytes are non-negative, DDR kinds move DDR bytes and CMX
    kinds CMX bytes, the time is the DMA model's for those bytes, and a second call gives the same."""
    ddr_kinds = {MoveKind.LOAD, MoveKind.SPILL, MoveKind.SPILL_RELOAD}
    for have, need, halo in itertools.product(Dist, Need, [0, 1, 2]):
        m = move(have, need, NBYTES, tiles, halo, ROWS, arch)
        assert m == move(have, need, NBYTES, tiles, halo, ROWS, arch)
        assert m.ddr_bytes >= 0 and m.cmx_bytes >= 0 and m.ns >= 0
        assert m.total_bytes == m.ddr_bytes + m.cmx_bytes
        assert m.ns == pytest.approx(_expected_ns(m, have, need, tiles, arch)), (have, need, halo)
        if m.kind in ddr_kinds:
            assert m.cmx_bytes == 0 and m.ddr_bytes > 0
        else:
            assert m.ddr_bytes == 0
        if m.kind is MoveKind.NONE:
            assert m == FREE
        assert m.total_bytes <= 2 * NBYTES  # at most a spill and a reload of the whole tensor


@settings(max_examples=300, deadline=None)
@given(arch=st.sampled_from(ARCHS), have=st.sampled_from(list(Dist)), need=st.sampled_from(list(Need)),
       a=st.integers(0, 1 << 26), b=st.integers(0, 1 << 26), halo=st.integers(0, 3))
def test_a_bigger_tensor_never_moves_cheaper(arch, have, need, a, b, halo):
    small, big = sorted((a, b))
    m_small = move(have, need, small, arch.tiles, halo, ROWS, arch)
    m_big = move(have, need, big, arch.tiles, halo, ROWS, arch)
    assert m_small.ns <= m_big.ns and m_small.total_bytes <= m_big.total_bytes
