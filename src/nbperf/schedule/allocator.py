"""A CMX allocator for one tile: best fit over an address-ordered free list, with alignment.

Freed ranges remember which tasks last used them, so a task that reuses an address range can be
made to wait for them: that is what keeps static allocation safe at run time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class Block:
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass
class CmxAllocator:
    capacity: int
    alignment: int
    free: list[Block] = field(default_factory=list)
    used_bytes: int = 0
    peak_bytes: int = 0
    # (start, end, last users) of ranges freed and not yet fully overwritten
    released: list[tuple[int, int, tuple[int, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.free = [Block(0, self.capacity)]

    def aligned(self, nbytes: int) -> int:
        return -(-max(nbytes, 1) // self.alignment) * self.alignment

    def allocate(self, nbytes: int) -> int | None:
        """Start address of a new buffer of ``nbytes`` (aligned), or None if no hole is big enough."""
        size = self.aligned(nbytes)
        fits = [(b.size, b.start, i) for i, b in enumerate(self.free) if b.size >= size]
        if not fits:
            return None
        _, start, i = min(fits)  # the smallest hole that fits keeps large holes for large buffers
        block = self.free[i]
        if block.size == size:
            del self.free[i]
        else:
            block.start += size
            block.size -= size
        self.used_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)
        return start

    def release(self, start: int, nbytes: int, last_users: tuple[int, ...] = ()) -> None:
        size = self.aligned(nbytes)
        self.used_bytes -= size
        starts = [b.start for b in self.free]
        i = bisect.bisect_left(starts, start)
        self.free.insert(i, Block(start, size))
        # Coalesce with neighbours.
        if i + 1 < len(self.free) and self.free[i].end == self.free[i + 1].start:
            self.free[i].size += self.free[i + 1].size
            del self.free[i + 1]
        if i > 0 and self.free[i - 1].end == self.free[i].start:
            self.free[i - 1].size += self.free[i].size
            del self.free[i]
        if last_users:
            self.released.append((start, start + size, last_users))

    def reuse_dependencies(self, start: int, nbytes: int) -> set[int]:
        """Tasks that last used any part of [start, start + size): a new writer must wait for them."""
        end = start + self.aligned(nbytes)
        deps: set[int] = set()
        kept = []
        for r_start, r_end, users in self.released:
            if r_start < end and start < r_end:
                deps.update(users)
                if start <= r_start and r_end <= end:
                    continue  # fully overwritten: the new buffer's own users now guard this range
            kept.append((r_start, r_end, users))
        self.released = kept
        return deps

    @property
    def largest_hole(self) -> int:
        return max((b.size for b in self.free), default=0)

    @property
    def free_bytes(self) -> int:
        return self.capacity - self.used_bytes
