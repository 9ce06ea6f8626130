"""Dependency reduction with per-engine vector clocks.

Before barriers are assigned, every dependency that is already implied by the others, or by the
in-order engine queues, is dropped (like the NPU compiler: only an edge that orders something new
needs a barrier). Task ``t``'s predecessors are its deps plus the previous task on its own engine;
its ancestors are the transitive closure of those. A dep ``d`` of ``t`` is kept unless it is an
ancestor of one of ``t``'s predecessors, or is the previous task on ``t``'s engine.

Why a vector clock is exact here: each engine runs its queue in task-id order and every task
follows the previous task of its engine, so whenever a task is an ancestor of ``t`` all earlier
tasks of its engine are ancestors too. The ancestors of ``t`` on engine ``e`` are therefore a
prefix of ``e``'s queue, and the whole ancestor set is the vector of those prefix lengths, one
count per engine. Set union is the element-wise maximum, and ``d`` is an ancestor iff the count
of ``d``'s engine exceeds ``d``'s queue position.

A task that occupies several engines at once (a gang of per-tile tasks) is in each of their
queues and follows the previous task of each; the argument holds per engine, and its ancestry is
tested on its first engine's queue.

Each task keeps ``clock(t)``: the ancestors of ``t`` with ``t`` itself included. The clock is a
Python int holding one ``w``-bit count per engine, each field topped by a zero guard bit, where
``w`` is the bit length of the longest queue; the maximum of two clocks is a few big-int
operations (a SIMD-within-a-register compare), not a loop over engines. A task's predecessors
are visited in decreasing id order. A predecessor can only be an ancestor of a predecessor with a
higher id, so at its turn it is redundant iff the maximum taken so far already covers it; only
the ones that are not redundant are merged.

Cost, with N tasks, E engines, M dependency edges, k deps per task and w as above: time
O(M log k) to sort each task's deps plus O(N + M) big-int operations (merges only for kept
edges and engine predecessors), each a pass over an E * (w + 1)-bit int: a few 30-bit digits for
a dozen engines. Memory: one E * (w + 1)-bit clock per task, N * E * (w + 1) / 8 bytes. The
ancestor bitsets this replaces took about N^2 / 16 bytes and O((N + M) * N / 30) digit operations.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol

__all__ = ["reduce_dependencies"]

_PLAIN = object()


class _HasDeps(Protocol):
    id: int
    deps: Iterable[int]


def reduce_dependencies(tasks: Sequence[_HasDeps | Iterable[int]],
                        engine: Sequence[Hashable]) -> list[list[int]]:
    """Drop dependencies implied by others or by the in-order engine queues.

    ``tasks[i]`` is task ``i``: an object with ``.deps`` (and ``.id == i``, as the task graph's
    tasks) or just the iterable of its dependency ids; duplicate ids count once. Every dependency
    must be a lower id. ``engine[i]`` names the engine whose queue runs task ``i``, or is a tuple
    of the engines it occupies at once (a gang: it is in each of their queues); the tasks of one
    engine run in id order. Returns, per task, the sorted ids of the dependencies kept.
    """
    n = len(tasks)
    if len(engine) != n:
        raise ValueError(f"{n} tasks but {len(engine)} engine names")
    deps: list[Iterable[int]] = []
    for i, task in enumerate(tasks):
        task_deps = getattr(task, "deps", _PLAIN)
        if task_deps is _PLAIN:
            deps.append(task)  # a plain iterable of ids
            continue
        if getattr(task, "id", i) != i:
            raise ValueError(f"task at index {i} has id {task.id}; ids must be 0..{n - 1} in order")
        deps.append(task_deps)

    # Queues of each task: its engine indexes (lanes), its position in each lane's queue, and the
    # previous task on each. A task on several engines (a gang) is in every one of their queues.
    engine_index: dict[Hashable, int] = {}
    lanes: list[tuple[int, ...]] = [()] * n
    position = [0] * n  # in the first lane's queue: enough to test ancestry (see below)
    previous: list[tuple[int, ...]] = [()] * n
    queue_length: list[int] = []
    queue_tail: list[int] = []
    numbered: dict[Hashable, tuple[int, ...]] = {}  # engine name or tuple of names -> lane numbers
    for t in range(n):
        mine = numbered.get(engine[t])
        if mine is None:
            names = engine[t] if isinstance(engine[t], tuple) else (engine[t],)
            for name in names:
                if name not in engine_index:
                    engine_index[name] = len(queue_length)
                    queue_length.append(0)
                    queue_tail.append(-1)
            mine = numbered[engine[t]] = tuple(engine_index[name] for name in names)
        lanes[t] = mine
        position[t] = queue_length[mine[0]]
        prev = []
        for e in mine:
            if queue_tail[e] >= 0:
                prev.append(queue_tail[e])
            queue_length[e] += 1
            queue_tail[e] = t
        # a gang often follows one gang on all its engines: count that predecessor once
        previous[t] = tuple(prev) if len(prev) < 2 else tuple(dict.fromkeys(prev))

    # Clock layout: engine e's count in bits [e * (w + 1), e * (w + 1) + w), guard bit above it.
    width = max(queue_length, default=0).bit_length()
    shift = [e * (width + 1) for e in range(len(queue_length))]
    guard = sum(1 << (s + width) for s in shift)
    count_mask = (1 << width) - 1
    # a task adds one to each of its lanes (computed once per distinct lane tuple)
    increments = {mine: sum(1 << shift[e] for e in mine) for mine in numbered.values()}
    own = [increments[mine] for mine in lanes]

    clock = [0] * n
    reduced: list[list[int]] = []
    for t in range(n):
        prev = previous[t]
        task_deps = deps[t]
        if not task_deps and len(prev) <= 1:  # no data dependency: only its engine's order
            clock[t] = (clock[prev[0]] if prev else 0) + own[t]
            reduced.append([])
            continue
        preds = sorted({*task_deps, *prev}, reverse=True) if task_deps else sorted(prev, reverse=True)
        if preds[0] >= t or preds[-1] < 0:
            bad = preds[0] if preds[0] >= t else preds[-1]
            raise ValueError(f"task {t} depends on {bad}: dependencies must be lower task ids")
        q = preds[0]  # the highest: an ancestor of no other predecessor
        covered = clock[q]
        keep = [q] if q not in prev else []
        for q in preds[1:]:
            # not an ancestor yet: fewer of its first lane's tasks are covered than precede it
            if (covered >> shift[lanes[q][0]]) & count_mask <= position[q]:
                other = clock[q]
                # per field: guard bit stays set iff covered >= other; spread it to a mask
                ge = ((covered | guard) - other) & guard
                covered = other ^ ((covered ^ other) & (ge - (ge >> width)))
                if q not in prev:
                    keep.append(q)
        keep.reverse()
        reduced.append(keep)
        # covered counts exactly the tasks before t on each of t's lanes; add t itself
        clock[t] = covered + own[t]
    return reduced
