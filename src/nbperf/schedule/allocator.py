"""CMX placement with lifetimes known: every buffer of a tile gets an address free for its whole
lifetime, once, before anything runs; nothing moves afterwards (the compiler's feasible memory
scheduler never moves a live buffer either: it spills instead).

Lifetimes are in op steps (the task graph gives two per op: the spills before it, then the op).
Placement is greedy over a few orders and fits (``place``); a buffer none can place is reported as
``Unplaceable`` so the task graph can repair the schedule (start a prefetch later, spill a
tensor) and place again. ``reuse_dependencies`` then makes each writer of an address wait for
the last users of whatever held it before.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(slots=True)
class Buffer:
    """A CMX buffer of ``size`` bytes on each of ``width`` tiles from ``tile`` on (a tensor split or
    broadcast over tiles has one address in every tile's CMX, as the compiler allocates distributed
    buffers), alive from step ``first`` to step ``last`` (two steps per op: the spills before it,
    then the op), written by ``writers`` and read by ``readers``. ``start`` is its address once
    placed."""

    id: int
    tile: int
    size: int
    label: str
    first: int
    last: int
    holds: list[tuple[int, str]] = field(default_factory=list)  # (from step, live tensor): in place, several
    start: int = -1
    writers: list[int] = field(default_factory=list)
    readers: list[int] = field(default_factory=list)
    current: list[int] = field(default_factory=list)  # writers of what it holds now (a slot: its occupant)
    first_writers: int = -1  # how many writers its first occupant had (-1: it never changed occupant)
    prefetch_for: int = -1  # the op whose first load this buffer takes early (-1: none)
    width: int = 1  # tiles it spans from ``tile`` on, at the same address in each (a distributed buffer)

    def on_tile(self, tile: int) -> bool:
        return self.tile <= tile < self.tile + self.width

    def shares_tile(self, other: Buffer) -> bool:
        return self.tile < other.tile + other.width and other.tile < self.tile + self.width

    def tensor_at(self, step: int) -> str | None:
        """The live tensor the buffer holds at ``step`` (None: op-local data: weights, copies, slots)."""
        held = [t for since, t in self.holds if since <= step]
        return held[-1] if held else None



class Unplaceable(Exception):
    """Buffers that found no room below the CMX capacity for their whole lifetime."""

    def __init__(self, buffers: list[Buffer]) -> None:
        super().__init__(", ".join(b.label for b in buffers))
        self.buffers = buffers


# Orders tried when placing one tile's buffers. Largest first is the greedy-by-size planner of
# TensorFlow Lite's arena planner (simple_memory_arena / greedy_memory_planner): big buffers take
# the bottom and small ones fill the gaps. Longest-lived first stacks tensors that live across
# many ops; start order is the compiler's linear-scan allocator (linear_scan.hpp in
# openvinotoolkit/npu_compiler). The first order that places every buffer wins.
_PLACEMENT_ORDERS = (
    lambda b: (-b.size, b.first - b.last, b.first, b.id),
    lambda b: (b.first - b.last, -b.size, b.first, b.id),
    lambda b: (b.first, -b.size, b.id),
)


_PRIORITY_ROUNDS = 4  # placements with the failed buffers first before the schedule is repaired
# Where in the free space a buffer goes: the lowest address that fits (first fit), or the smallest
# gap that fits (best fit: the buffer fills a hole of its size and leaves the large ones whole;
# Knuth, TAOCP vol. 1, 2.5, and the best-fit variant of TensorFlow Lite's greedy planner).
_FITS = ("first", "best")
# Orders and fits the priority rounds use, after every single pass failed: largest first with
# first fit, then longest-lived first and start order with best fit.
_PRIORITY = ((0, "first"), (1, "best"), (2, "best"))


def place(buffers: list[Buffer], tiles: int, capacity: int) -> tuple[list[int], list[int]]:
    """Give every buffer an address, free over its whole lifetime on every tile it spans, trying the
    orders of ``_PLACEMENT_ORDERS``. Tiles are placed in order; a buffer is placed on its first
    tile and keeps that address on the others, where it is reserved before anything else is placed.
    Returns per tile the most bytes alive at one step and the highest address used. Raises
    ``Unplaceable`` with every buffer the first order could not place, on every tile (so the
    schedule can be repaired for all of them at once)."""
    peaks, highs = [], []
    failures: list[Buffer] = []
    # Tiles with alike buffers to place and alike reservations get the same addresses: placement
    # reads nothing else, so it runs once for them.
    placed: dict[tuple[object, ...], tuple[list[int], list[int]]] = {}
    measured: dict[tuple[int, ...], tuple[int, int]] = {}  # the same buffers: the same peak and top
    for tile in range(tiles):
        mine = [b for b in buffers if b.on_tile(tile) and (b.writers or b.readers)]
        fresh = [b for b in mine if b.tile == tile]
        reserved = [b for b in mine if b.tile < tile and b.start >= 0]
        key = (tuple((b.size, b.first, b.last) for b in fresh),
               tuple((b.size, b.first, b.last, b.start) for b in reserved))
        if key not in placed:
            starts, failed = _place_tile(fresh, capacity, reserved)
            position = {b.id: k for k, b in enumerate(fresh)}
            placed[key] = ([starts.get(b.id, -1) for b in fresh], [position[b.id] for b in failed])
        addresses, failed_at = placed[key]
        if failed_at or len(reserved) + len(fresh) < len(mine):
            failures += [fresh[k] for k in failed_at]
            continue
        for buf, start in zip(fresh, addresses, strict=True):
            buf.start = start
        ids = tuple(b.id for b in mine)
        if ids not in measured:
            alive: dict[int, int] = {}
            for b in mine:
                for step in range(b.first, b.last + 1):
                    alive[step] = alive.get(step, 0) + b.size
            measured[ids] = (max(alive.values(), default=0), max((b.start + b.size for b in mine), default=0))
        peak, high = measured[ids]
        peaks.append(peak)
        highs.append(high)
    if failures:
        raise Unplaceable(failures)
    return peaks, highs


def _place_tile(mine: list[Buffer], capacity: int,
                reserved: list[Buffer] = ()) -> tuple[dict[int, int], list[Buffer]]:
    """One tile: each order of ``_PLACEMENT_ORDERS`` in turn, around the ``reserved`` buffers
    (placed on an earlier tile); the first that places everything wins. When none does, the first
    order again with the buffers it could not place moved to the front (they get their room before
    the buffers that crowded them out), a few rounds."""
    if not mine:
        return {}, []
    for fit in _FITS:
        for order in _PLACEMENT_ORDERS:
            starts, failed = _place_in_order(sorted(mine, key=order), capacity, reserved=reserved, fit=fit)
            if not failed:
                return starts, []
    reported: tuple[dict[int, int], list[Buffer]] | None = None
    for k, fit in _PRIORITY:
        order = _PLACEMENT_ORDERS[k]
        urgent: set[int] = set()
        for _ in range(_PRIORITY_ROUNDS):
            starts, failed = _place_in_order(sorted(mine, key=lambda b: (b.id not in urgent, order(b))),
                                             capacity, every=True, reserved=reserved, fit=fit)
            if not failed:
                return starts, []
            urgent |= {b.id for b in failed}
        reported = reported or (starts, failed)  # the repairs answer the first order's last failures
    assert reported is not None
    return reported


def _place_in_order(ordered: list[Buffer], capacity: int, every: bool = False,
                    reserved: list[Buffer] = (), fit: str = "first") -> tuple[dict[int, int], list[Buffer]]:
    """Each buffer in turn at an address free over its lifetime (the lowest, or with ``fit="best"``
    the start of the smallest gap that holds it), around the ``reserved`` ones: (buffer id ->
    address, the buffers that found no room: the first one, or with ``every`` all of them)."""
    failed: list[Buffer] = []
    by_step: dict[int, list[tuple[int, int]]] = {}  # step -> (lo, hi) ranges taken
    for buf in reserved:
        for step in range(buf.first, buf.last + 1):
            by_step.setdefault(step, []).append((buf.start, buf.start + buf.size))
    starts: dict[int, int] = {}
    for buf in ordered:
        spans = sorted({span for step in range(buf.first, buf.last + 1) for span in by_step.get(step, ())})
        start = 0
        if fit == "first":
            for lo, hi in spans:
                if lo >= start + buf.size:
                    break
                start = max(start, hi)
        else:
            best, end = None, 0  # (gap size, address) of the tightest gap so far; end of the taken
            for lo, hi in (*spans, (capacity, capacity)):
                if lo - end >= buf.size and (best is None or lo - end < best[0]):
                    best = (lo - end, end)
                end = max(end, hi)
            start = capacity if best is None else best[1]
        if start + buf.size > capacity:
            failed.append(buf)
            if not every:
                return starts, failed
            continue
        starts[buf.id] = start
        for step in range(buf.first, buf.last + 1):
            by_step.setdefault(step, []).append((start, start + buf.size))
    return starts, failed


def reuse_dependencies(buffers: list[Buffer], tasks: list, engines: list[str | tuple[str, ...]],
                       tiles: int) -> None:
    """Every writer of a buffer waits for the last users of the buffers that held its addresses
    before (walked in lifetime order, keeping for each address range its latest holder). Of the
    users on one engine only the last is kept: engines run their queues in order. ``engines[i]``
    names task ``i``'s engine, or is the tuple of engines a gang occupies."""
    engines = [e if isinstance(e, tuple) else (e,) for e in engines]
    last: dict[int, dict[str, int]] = {}  # buffer id -> its last user on each engine
    walked: set[tuple[int, ...]] = set()  # tiles holding the same buffers add the same waits
    for tile in range(tiles):
        holders: list[tuple[int, int, Buffer]] = []  # (lo, hi, buffer), sorted, not overlapping
        mine = sorted((b for b in buffers if b.on_tile(tile) and b.start >= 0 and b.writers),
                      key=lambda b: (b.first, b.id))
        ids = tuple(b.id for b in mine)
        if ids in walked:
            continue
        walked.add(ids)
        for buf in mine:
            lo, hi = buf.start, buf.start + buf.size
            k = bisect.bisect_left(holders, (lo, -1)) - 1
            k = max(k, 0)
            kept: list[tuple[int, int, Buffer]] = []
            users: dict[str, int] = {}  # engine -> its last user
            for h_lo, h_hi, h in holders[k:]:
                if h_lo >= hi:
                    break
                if h_hi <= lo:
                    kept.append((h_lo, h_hi, h))
                    continue
                for e, u in _last_users(h, engines, last).items():
                    if u > users.get(e, -1):
                        users[e] = u
                if h_lo < lo:
                    kept.append((h_lo, lo, h))
                if h_hi > hi:
                    kept.append((hi, h_hi, h))
            end = k + len([1 for h_lo, _, _ in holders[k:] if h_lo < hi])
            holders[k:end] = sorted([*kept, (lo, hi, buf)], key=lambda h: h[0])
            # Only the first occupant's writers: a slot's later occupants already wait for the users
            # of the one before (so, transitively, for these).
            waits = list(users.values())
            for w in buf.writers if buf.first_writers < 0 else buf.writers[:buf.first_writers]:
                tasks[w].deps.update(waits)
                tasks[w].deps.discard(w)


def _last_users(buf: Buffer, engines: list[tuple[str, ...]],
                cache: dict[int, dict[str, int]]) -> dict[str, int]:
    """The last task on each engine that used ``buf`` (its readers, or its writers if none read it)."""
    users = cache.get(buf.id)
    if users is None:
        users = {}
        for u in buf.readers or buf.writers:
            for e in engines[u]:
                if u > users.get(e, -1):
                    users[e] = u
        cache[buf.id] = users
    return users
