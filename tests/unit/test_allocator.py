"""CMX placement with known lifetimes: addresses inside the tile, no two live buffers share bytes,
the peaks it reports, the fallback orders, and the address-reuse dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbperf.schedule.allocator import (
    _PLACEMENT_ORDERS,
    Buffer,
    Unplaceable,
    _place_in_order,
    place,
    reuse_dependencies,
)


@dataclass
class _Task:
    deps: set[int] = field(default_factory=set)


def _buf(id: int, size: int, first: int, last: int, tile: int = 0, writers=None, readers=None,
         start: int = -1) -> Buffer:
    """A buffer written by its own task id unless told otherwise (``place`` skips unused buffers)."""
    return Buffer(id, tile, size, f"b{id}", first, last, start=start,
                  writers=[id] if writers is None else writers, readers=readers or [])


def _live(a: Buffer, b: Buffer) -> bool:
    """Alive at a common step (lifetimes are inclusive at both ends)."""
    return a.first <= b.last and b.first <= a.last


def _overlap(a: Buffer, b: Buffer) -> bool:
    return a.start < b.start + b.size and b.start < a.start + a.size


def _peak(buffers: list[Buffer], tile: int) -> int:
    mine = [b for b in buffers if b.tile == tile]
    steps = {s for b in mine for s in range(b.first, b.last + 1)}
    return max((sum(b.size for b in mine if b.first <= s <= b.last) for s in steps), default=0)


def _check_layout(buffers: list[Buffer], capacity: int) -> None:
    for b in buffers:
        assert b.start >= 0 and b.start + b.size <= capacity, f"{b.label} at {b.start} outside the tile"
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.tile == b.tile and _live(a, b):
                assert not _overlap(a, b), f"{a.label} and {b.label} live together at shared bytes"


# --- placement --------------------------------------------------------------------------------


def test_buffers_alive_together_get_disjoint_addresses_inside_the_tile():
    bufs = [_buf(0, 40, 0, 3), _buf(1, 30, 1, 2), _buf(2, 30, 2, 5)]
    peaks, highs = place(bufs, tiles=1, capacity=100)
    _check_layout(bufs, 100)
    assert peaks == [100]  # at step 2 all three are alive: exactly the capacity
    assert highs == [100]


def test_buffers_alive_at_disjoint_steps_share_addresses():
    """A buffer whose lifetime ended frees its bytes: two tile-sized buffers fit one after the other."""
    bufs = [_buf(0, 100, 0, 1), _buf(1, 100, 2, 3)]
    peaks, highs = place(bufs, tiles=1, capacity=100)
    assert bufs[0].start == bufs[1].start == 0
    assert peaks == [100] and highs == [100]


def test_lifetimes_include_their_last_step():
    """Ending at the step another starts is still alive together: no room for both in one tile."""
    bufs = [_buf(0, 100, 0, 2), _buf(1, 100, 2, 3)]
    with pytest.raises(Unplaceable):
        place(bufs, tiles=1, capacity=100)


def test_tiles_are_placed_independently():
    """Each tile has its own CMX: the same addresses are reused on another tile at the same step."""
    bufs = [_buf(0, 60, 0, 3, tile=0), _buf(1, 60, 0, 3, tile=1), _buf(2, 40, 1, 2, tile=1)]
    peaks, highs = place(bufs, tiles=2, capacity=100)
    _check_layout(bufs, 100)
    assert bufs[0].start == bufs[1].start == 0
    assert peaks == [60, 100] and highs == [60, 100]


def test_more_live_bytes_than_capacity_is_unplaceable_and_names_the_buffers():
    bufs = [_buf(0, 60, 0, 3), _buf(1, 50, 1, 2), _buf(2, 10, 5, 6)]
    with pytest.raises(Unplaceable) as err:
        place(bufs, tiles=1, capacity=100)  # 110 B alive at steps 1 and 2
    assert err.value.buffers, "the buffers that found no room are listed"
    assert {b.id for b in err.value.buffers} <= {0, 1}  # the late small buffer always fits
    for b in err.value.buffers:
        assert b.label in str(err.value)


def test_unplaceable_reports_the_failures_of_every_tile_at_once():
    """So the schedule can be repaired on all tiles in one go."""
    bufs = [_buf(0, 80, 0, 1, tile=0), _buf(1, 80, 1, 2, tile=0),
            _buf(2, 10, 0, 1, tile=1),
            _buf(3, 80, 0, 1, tile=2), _buf(4, 80, 1, 2, tile=2)]
    with pytest.raises(Unplaceable) as err:
        place(bufs, tiles=3, capacity=100)
    assert {b.tile for b in err.value.buffers} == {0, 2}


def test_a_buffer_larger_than_the_tile_is_unplaceable():
    with pytest.raises(Unplaceable) as err:
        place([_buf(0, 101, 0, 0)], tiles=1, capacity=100)
    assert [b.id for b in err.value.buffers] == [0]


def test_peaks_are_the_most_live_bytes_and_highs_the_top_address():
    bufs = [_buf(0, 10, 0, 9), _buf(1, 20, 1, 2), _buf(2, 30, 2, 4), _buf(3, 25, 5, 6),
            _buf(4, 5, 0, 0, tile=1), _buf(5, 7, 3, 3, tile=1)]
    peaks, highs = place(bufs, tiles=3, capacity=1000)
    assert peaks == [60, 7, 0]  # step 2 on tile 0: 10 + 20 + 30; tile 1 never holds both; tile 2 empty
    assert highs == [max(b.start + b.size for b in bufs if b.tile == t) if t < 2 else 0 for t in range(3)]
    assert all(h >= p for h, p in zip(highs, peaks, strict=True))  # addresses can only waste, not save


def test_longest_lived_first_would_strand_the_big_buffer_yet_the_chain_is_placed():
    """Skip tensors of decreasing size, each overlapping the next in time: stacking the longest-lived
    first leaves the big early one no room below the capacity; another order fits them exactly."""
    chain = [_buf(0, 7, 0, 1), _buf(1, 6, 1, 3), _buf(2, 2, 3, 6)]
    longest_first = _PLACEMENT_ORDERS[1]
    assert _place_in_order(sorted(chain, key=longest_first), 13)[1], "premise: longest-lived first fails"
    peaks, _ = place(chain, tiles=1, capacity=13)
    _check_layout(chain, 13)
    assert peaks == [13]


def test_a_chain_that_only_start_order_places_is_placed():
    """A long-lived skip tensor (7 B), a smaller one (2 B) across it and a 1 B one, then a big
    short-lived output (7 B): largest first and longest-lived first both fragment the 9 B tile; the
    linear-scan (start) order fits. ``place`` must not give up after its first orders."""
    bufs = [_buf(0, 7, 0, 3), _buf(1, 2, 1, 6), _buf(2, 1, 6, 9), _buf(3, 7, 7, 8)]
    for order in _PLACEMENT_ORDERS[:2]:
        assert _place_in_order(sorted(bufs, key=order), 9)[1], "premise: this order fragments"
    peaks, highs = place(bufs, tiles=1, capacity=9)
    _check_layout(bufs, 9)
    assert peaks == [9] and highs == [9]


def test_best_fit_places_what_every_first_fit_order_fragments():
    """Five buffers whose peak is exactly the 13 B tile: each first-fit order (and first fit with
    the failed buffers moved to the front) leaves the last one a hole too small; putting each
    buffer in the smallest hole that holds it keeps the large hole whole, and everything fits."""
    bufs = [_buf(0, 6, 0, 4), _buf(1, 3, 5, 6), _buf(2, 1, 4, 6), _buf(3, 5, 6, 8), _buf(4, 4, 4, 6)]
    for order in _PLACEMENT_ORDERS:
        assert _place_in_order(sorted(bufs, key=order), 13)[1], "premise: first fit fragments"
    urgent: set[int] = set()
    largest = _PLACEMENT_ORDERS[0]
    for _ in range(4):
        ordered = sorted(bufs, key=lambda b: (b.id not in urgent, largest(b)))
        failed = _place_in_order(ordered, 13, every=True)[1]
        assert failed, "premise: the priority rounds with first fit fragment too"
        urgent |= {b.id for b in failed}
    peaks, highs = place(bufs, tiles=1, capacity=13)
    _check_layout(bufs, 13)
    assert peaks == [13] and highs == [13]


def test_best_fit_takes_the_smallest_hole_that_holds_the_buffer():
    """Around a reserved 2 B buffer at 5..7 of a 10 B tile: holes of 5 B (at 0) and 3 B (at 7). A 3 B
    buffer goes to the 3 B hole under best fit, leaving the 5 B buffer its room; first fit takes
    the lowest address and strands it."""
    reserved = [_buf(9, 2, 0, 1, start=5)]
    first = _place_in_order([_buf(0, 3, 0, 1), _buf(1, 5, 0, 1)], 10, reserved=reserved)
    assert first[0] == {0: 0} and [b.id for b in first[1]] == [1]
    best = _place_in_order([_buf(0, 3, 0, 1), _buf(1, 5, 0, 1)], 10, reserved=reserved, fit="best")
    assert best == ({0: 7, 1: 0}, [])


def test_placement_is_deterministic():
    def layout():
        bufs = [_buf(i, 10 + 7 * (i % 4), i % 5, i % 5 + i % 3, tile=i % 2) for i in range(12)]
        place(bufs, tiles=2, capacity=200)
        return [b.start for b in bufs]

    assert layout() == layout()


@st.composite
def buffer_sets(draw, equal_sizes: bool = False):
    tiles = draw(st.integers(1, 3))
    capacity = draw(st.integers(16, 128))
    n = draw(st.integers(0, 14))
    size = draw(st.integers(1, capacity))
    bufs = []
    for i in range(n):
        first = draw(st.integers(0, 10))
        last = first + draw(st.integers(0, 6))
        bufs.append(_buf(i, size if equal_sizes else draw(st.integers(1, capacity)), first, last,
                         tile=draw(st.integers(0, tiles - 1))))
    return bufs, tiles, capacity


@settings(max_examples=200, deadline=None)
@given(buffer_sets())
def test_any_successful_placement_keeps_live_buffers_apart_and_inside_the_tile(case):
    bufs, tiles, capacity = case
    try:
        peaks, highs = place(bufs, tiles, capacity)
    except Unplaceable as err:
        assert err.buffers and all(b in bufs for b in err.buffers)
        return
    _check_layout(bufs, capacity)
    assert peaks == [_peak(bufs, t) for t in range(tiles)]
    assert highs == [max((b.start + b.size for b in bufs if b.tile == t), default=0) for t in range(tiles)]
    assert all(p <= capacity for p in peaks)


@settings(max_examples=150, deadline=None)
@given(buffer_sets())
def test_more_live_bytes_than_capacity_never_places(case):
    bufs, tiles, capacity = case
    if all(_peak(bufs, t) <= capacity for t in range(tiles)):
        return
    with pytest.raises(Unplaceable):
        place(bufs, tiles, capacity)


@settings(max_examples=150, deadline=None)
@given(buffer_sets(equal_sizes=True))
def test_equal_sized_buffers_always_place_when_the_peak_fits(case):
    """Equal sizes are interval colouring: start order (linear scan) needs only as many slots as the
    most buffers alive at once, so nothing may be reported unplaceable."""
    bufs, tiles, capacity = case
    if any(_peak(bufs, t) > capacity for t in range(tiles)):
        return
    place(bufs, tiles, capacity)
    _check_layout(bufs, capacity)


# --- address reuse dependencies ----------------------------------------------------------------


def test_reusing_writer_waits_for_the_last_user_on_each_engine():
    """Task 4 writes where A lived: it waits for A's last DPU reader (2) and its SHAVE reader (3);
    the earlier DPU reader (1) is implied by the in-order DPU queue, and A's writer by its readers."""
    engines = ["DMA0", "DPU0", "DPU0", "SHAVE0", "DMA1"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 100, 0, 2, writers=[0], readers=[2, 3, 1], start=0)  # readers in any order
    b = _buf(1, 100, 3, 5, writers=[4], start=0)
    reuse_dependencies([a, b], tasks, engines, tiles=1)
    assert tasks[4].deps == {2, 3}
    assert all(not t.deps for t in tasks[:4])


def test_fresh_addresses_add_no_dependency():
    engines = ["DMA0", "DPU0", "DMA1"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 100, 0, 2, writers=[0], readers=[1], start=0)
    b = _buf(1, 100, 3, 5, writers=[2], start=100)  # after A's lifetime, but never on its bytes
    reuse_dependencies([a, b], tasks, engines, tiles=1)
    assert all(not t.deps for t in tasks)


def test_a_holder_without_readers_hands_over_through_its_writers():
    engines = ["DMA0", "DMA0", "DPU0"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 64, 0, 1, writers=[0, 1], start=0)
    b = _buf(1, 64, 2, 3, writers=[2], start=0)
    reuse_dependencies([a, b], tasks, engines, tiles=1)
    assert tasks[2].deps == {1}  # the last of A's writers on DMA0


def test_a_writer_spanning_two_old_holders_waits_for_both():
    engines = ["DMA0", "DPU0", "DMA1", "SHAVE0", "DMA0"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 50, 0, 1, writers=[0], readers=[1], start=0)
    b = _buf(1, 50, 0, 1, writers=[2], readers=[3], start=50)
    c = _buf(2, 60, 2, 3, writers=[4], start=20)  # bytes [20, 80): the top of A and the bottom of B
    reuse_dependencies([a, b, c], tasks, engines, tiles=1)
    assert tasks[4].deps == {1, 3}


def test_only_the_latest_holder_of_each_byte_counts():
    """C reuses bytes B took over from A: it waits for B's user only (B's writer already waited for A),
    while the part of A that B left alone still hands over to a later writer there."""
    engines = ["DMA0", "DPU0", "DMA1", "SHAVE0", "DMA0", "DMA1"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 100, 0, 1, writers=[0], readers=[1], start=0)
    b = _buf(1, 50, 2, 3, writers=[2], readers=[3], start=0)
    c = _buf(2, 50, 4, 5, writers=[4], start=0)
    d = _buf(3, 50, 4, 5, writers=[5], start=50)
    reuse_dependencies([a, b, c, d], tasks, engines, tiles=1)
    assert tasks[2].deps == {1}
    assert tasks[4].deps == {3}
    assert tasks[5].deps == {1}


def test_the_part_of_an_old_holder_below_a_reuse_still_hands_over():
    """B takes the top half of A's bytes; C, later, on the bottom half still waits for A's reader."""
    engines = ["DMA0", "DPU0", "DMA1", "SHAVE0", "DMA0"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 100, 0, 1, writers=[0], readers=[1], start=0)
    b = _buf(1, 50, 2, 3, writers=[2], readers=[3], start=50)
    c = _buf(2, 50, 4, 5, writers=[4], start=0)
    reuse_dependencies([a, b, c], tasks, engines, tiles=1)
    assert tasks[2].deps == {1}
    assert tasks[4].deps == {1}


def test_an_in_place_writer_does_not_wait_for_itself():
    """An element-wise op reads the old tensor and writes the new one at the same address: it waits
    for the old tensor's other reader (on SHAVE), not for itself."""
    engines = ["DMA0", "SHAVE0", "DPU0"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 64, 0, 1, writers=[0], readers=[1, 2], start=0)
    b = _buf(1, 64, 2, 3, writers=[2], start=0)
    reuse_dependencies([a, b], tasks, engines, tiles=1)
    assert tasks[2].deps == {1}


def test_reuse_is_per_tile_and_unplaced_buffers_are_ignored():
    engines = ["DMA0", "DPU0", "DMA1", "DMA0"]
    tasks = [_Task() for _ in engines]
    a = _buf(0, 64, 0, 1, tile=0, writers=[0], readers=[1], start=0)
    b = _buf(1, 64, 2, 3, tile=1, writers=[2], start=0)  # same address, other tile's CMX
    c = _buf(2, 64, 2, 3, tile=0, writers=[3])  # never placed (start -1)
    reuse_dependencies([a, b, c], tasks, engines, tiles=2)
    assert all(not t.deps for t in tasks)


def test_a_distributed_buffer_has_one_address_on_every_tile_it_spans():
    """Placed on its first tile, kept there on the others: a tile-1 buffer goes around it."""
    wide = Buffer(0, 0, 32, "wide", 0, 3, writers=[0], width=2)
    low = _buf(1, 16, 0, 3, tile=0)  # tile 0 only: takes the bottom first (largest first: wide)
    other = _buf(2, 48, 0, 3, tile=1)  # tile 1 only, beside the wide one
    peaks, highs = place([wide, low, other], tiles=2, capacity=96)
    assert wide.start == 0 and low.start == 32 and other.start == 32
    assert peaks == [48, 80] and highs == [48, 80]
    assert wide.on_tile(1) and not wide.on_tile(2) and wide.shares_tile(other)


def test_a_distributed_buffer_that_does_not_fit_beside_another_tiles_buffers_is_unplaceable():
    first = _buf(0, 40, 0, 3, tile=1)
    wide = Buffer(1, 0, 40, "wide", 0, 3, writers=[1], width=2)
    blocker = _buf(2, 40, 0, 3, tile=1)
    with pytest.raises(Unplaceable):
        place([first, wide, blocker], tiles=2, capacity=100)


def test_reuse_waits_for_users_on_every_tile_a_distributed_buffer_spans():
    engines = [("DMA0",), ("DPU1",), ("DMA1",)]
    tasks = [_Task() for _ in engines]
    old = _buf(0, 64, 0, 1, tile=1, writers=[0], readers=[1], start=0)  # tile 1 only
    new = Buffer(1, 0, 64, "new", 2, 3, start=0, writers=[2], width=2)  # tiles 0 and 1
    reuse_dependencies([old, new], tasks, engines, tiles=2)
    assert tasks[2].deps == {1}


@st.composite
def placed_programs(draw):
    """Buffers on one tile, each written by one task when it starts and read by one when it ends;
    task ids follow the steps, so engine queues run in time order."""
    n = draw(st.integers(1, 12))
    capacity = draw(st.integers(16, 64))
    bufs = []
    for i in range(n):
        first = draw(st.integers(0, 12))
        bufs.append(_buf(i, draw(st.integers(1, capacity)), first, first + draw(st.integers(0, 4)),
                         writers=[], readers=[]))
    events = sorted([(b.first, 0, b.id) for b in bufs] + [(b.last, 1, b.id) for b in bufs])
    engines, data_deps = [], []
    for task, (_, is_read, bid) in enumerate(events):
        (bufs[bid].readers if is_read else bufs[bid].writers).append(task)
        engines.append(draw(st.sampled_from(["DMA0", "DMA1", "DPU0", "SHAVE0"])))
        data_deps.append(set(bufs[bid].writers) if is_read else set())
    return bufs, capacity, engines, data_deps


@settings(max_examples=200, deadline=None)
@given(placed_programs())
def test_every_user_of_old_bytes_finishes_before_their_next_writer(program):
    """The safety rule: through dependencies and in-order engine queues, every reader and writer of a
    buffer happens before any writer of a later buffer on any of the same bytes."""
    bufs, capacity, engines, data_deps = program
    try:
        place(bufs, 1, capacity)
    except Unplaceable:
        return
    tasks = [_Task(set(d)) for d in data_deps]
    reuse_dependencies(bufs, tasks, engines, tiles=1)
    ancestors: list[set[int]] = []
    previous: dict[str, int] = {}
    for i, t in enumerate(tasks):
        assert all(d < i for d in t.deps)
        preds = set(t.deps) | ({previous[engines[i]]} if engines[i] in previous else set())
        ancestors.append(set().union(*(ancestors[p] | {p} for p in preds)) if preds else set())
        previous[engines[i]] = i
    for old in bufs:
        for new in bufs:
            if old.last < new.first and _overlap(old, new):
                for w in new.writers:
                    for u in old.writers + old.readers:
                        assert u in ancestors[w], f"task {w} may overwrite {old.label} before task {u} ran"
