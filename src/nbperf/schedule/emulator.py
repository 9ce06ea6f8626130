"""Event-driven emulation of a task graph on the NPU's engines (the VPU-EM role).

Engines: one DPU and one SHAVE queue per tile, and the DMA channels; each runs its tasks in the
static order, one at a time. A multi-tile op's per-tile compute runs as one gang task on all its
tiles' queues: it starts when each of them reaches it (the compiler's unrolled per-cluster tasks
wait on and update the same barriers). DDR transfers share the DDR bandwidth after the DDR
latency, in program order: each gets what its channel can move of what earlier transfers leave
(an assumed arbitration that lets a prefetch use only bandwidth the running op does not); where
the arch splits a DMA over an idle port (``cost.dma.split_ways``), a transfer running while a
port idles moves at two ports' rate until another DMA takes that port. Every dependency between
tasks on different engines goes through a hardware barrier: a producer needs a free physical
barrier to start and holds it until all its consumers have started, so when barriers run out,
tasks wait, and the wait is recorded. Deterministic: ties break by task order.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import (
    Path,
    channel_bytes_per_ns,
    ddr_bytes_per_ns,
    latency_ns,
    permute_elements_per_ns,
    setup_ns,
    split_ways,
)
from nbperf.errors import InternalError
from nbperf.gcpause import paused_gc
from nbperf.schedule.deps import reduce_dependencies
from nbperf.schedule.taskgraph import TaskGraph, TaskKind, build_task_graph, engine_label, task_engines

_END, _XFER, _SHARED = 0, 1, 2  # event kinds (see emulate)


class TaskTime(NamedTuple):  # a tuple: tens of thousands are made per run
    start_ns: float
    end_ns: float
    engine: str
    barrier_wait_ns: float


@dataclass
class Emulation:
    graph: TaskGraph
    times: list[TaskTime]
    makespan_ns: float
    engine_busy_ns: dict[str, float]
    barriers_in_flight_max: int
    virtual_barriers: int
    barrier_stall_ns: float
    barriers_available: int  # the hardware barriers it ran with (the arch's, or the forced count)
    # (acquired, released, producer task) of every physical barrier use
    barrier_intervals: list[tuple[float, float, int]] = field(default_factory=list)
    queues: dict[str, list[int]] = field(default_factory=dict, repr=False)  # engine -> its tasks, in order

    @cached_property
    def critical_path(self) -> list[int]:
        """Task ids from the start to the last task to end, each the one that held up the next
        (walked on demand: only the reports that show it pay for it)."""
        return _critical_path(self.graph.tasks, self.times, self.queues)


def emulate_plan(graph, arch: ArchSpec, plan, coster, prefetch_depth: int,
                 barriers: int | None = None, stage_seconds: dict[str, float] | None = None) -> Emulation:
    """The plan's task graph, built and run (the wall seconds of each go into ``stage_seconds``
    as "task graph" and "emulation"), with the cyclic garbage collector paused (see gcpause)."""
    with paused_gc():
        start = time.perf_counter()
        tg = build_task_graph(graph, arch, plan, coster, prefetch_depth)
        built = time.perf_counter()
        emulation = emulate(tg, arch, barriers)
        if stage_seconds is not None:
            stage_seconds["task graph"] = built - start
            stage_seconds["emulation"] = time.perf_counter() - built
        return emulation


def emulate(tg: TaskGraph, arch: ArchSpec, barriers: int | None = None) -> Emulation:
    """Run the task graph event by event (see the module docstring); engines are numbered here so
    the loop indexes lists, not dicts of names."""
    tasks = tg.tasks
    n = len(tasks)
    physical = arch.barriers if barriers is None else barriers
    channel_rate = channel_bytes_per_ns(arch)  # the one DMA model: set-up, latency, rates
    ddr_rate = ddr_bytes_per_ns(arch)
    permute_rate = permute_elements_per_ns(arch)
    not_before: dict[int, float] = {}  # a DDR permute's earliest end, its element reorder done
    names = task_engines(tasks, arch.dma.channels)  # the engines each task occupies, by name
    deps = reduce_dependencies(tasks, names)
    # Engines by number: each task's engine numbers (shared tuples, like the names).
    number: dict[str, int] = {}
    as_numbers: dict[int, tuple[int, ...]] = {}
    lanes: list[tuple[int, ...]] = []
    for mine in names:
        found = as_numbers.get(id(mine))
        if found is None:
            found = as_numbers[id(mine)] = tuple(number.setdefault(e, len(number)) for e in mine)
        lanes.append(found)
    engines = len(number)
    queues: list[list[int]] = [[] for _ in range(engines)]
    for i, mine in enumerate(lanes):
        for e in mine:
            queues[e].append(i)
    head = [0] * engines
    busy = [False] * engines
    busy_ns = [0.0] * engines
    free_at = [0.0] * engines  # when each engine last went idle

    # A producer needs a barrier when a consumer runs on no engine of its own; a consumer's start
    # then counts down that barrier.
    disjoint: dict[tuple[int, int], bool] = {}
    consumers: list[list[int]] = [[] for _ in range(n)]
    waiting_starts = [0] * n
    through_barrier: list[list[int]] = [[] for _ in range(n)]
    for c in range(n):
        lc = lanes[c]
        for d in deps[c]:
            consumers[d].append(c)
            ld = lanes[d]
            if ld is lc:
                continue
            key = (id(ld), id(lc))
            apart = disjoint.get(key)
            if apart is None:
                apart = disjoint[key] = not any(e in lc for e in ld)
            if apart:
                waiting_starts[d] += 1
                through_barrier[c].append(d)
    needs_barrier = [w > 0 for w in waiting_starts]
    remaining_deps = [len(d) for d in deps]

    dma_setup_ns, ddr_latency_ns = setup_ns(arch), latency_ns(arch, Path.DDR)
    start = [0.0] * n
    end = [-1.0] * n
    ready_at = [0.0] * n
    barrier_wait = [0.0] * n
    acquired_at: dict[int, float] = {}
    intervals: list[tuple[float, float, int]] = []
    group = list(range(n))
    pending = list(waiting_starts)
    # (time, seq, task, kind): kind _END, _XFER (a transfer's set-up and DDR latency are over), or
    # a transfer's end computed at rate version kind - _SHARED (stale once its rate changed)
    events: list[tuple[float, int, int, int]] = []
    heappush, heappop = heapq.heappush, heapq.heappop
    seq = 0
    active: dict[int, float] = {}  # transfers moving bytes: bytes left at last_update
    rate_now: dict[int, float] = {}  # the rate each moves at since last_update
    last_update = 0.0
    version = [0] * n
    free_barriers = physical
    in_flight = max_in_flight = 0
    done = 0
    now = 0.0
    # Tasks that may have become startable since the last look: the heads of engines that went idle,
    # tasks whose last dependency ended, and (when a barrier frees) those that waited for one.
    candidates: set[int] = {q[0] for q in queues if q}
    barrier_blocked: set[int] = set()

    splits = split_ways(arch, 1) > 1  # a DMA may spread over an idle port (the rates change with it)
    # A transfer the cost model priced (a table, VPUNN: ``Task.external_ns``, set-up included) moves
    # at the rate its figure implies, alone on its port; it still shares DDR bandwidth with the rest.
    own_rate = {i: t.nbytes / t.external_ns for i, t in enumerate(tasks)
                if t.kind is TaskKind.DMA and t.external_ns and not t.permuted}
    dma_running = 0  # DMA tasks started and not ended, on any channel
    on_cmx: set[int] = set()  # transfers of ``active`` on the CMX path (they do not share DDR)

    def rates() -> dict[int, float]:
        """DDR bandwidth by program order: each transfer takes what its channel (its two ports,
        split over an idle one) can move of what the earlier ones left (a later one, such as a
        prefetch, runs on the leftover)."""
        split = channel_rate * split_ways(arch, dma_running)
        left, out = ddr_rate, {}
        for t in sorted(active):
            # a permute DMA is never split
            own = own_rate.get(t) or (channel_rate if tasks[t].permuted else split)
            if t in on_cmx:  # CMX -> CMX: its channel's own rate, no DDR
                out[t] = own
                continue
            out[t] = min(own, left)
            left -= out[t]
        return out

    def settle(time: float) -> None:
        """Count the bytes each transfer moved since the rates last changed."""
        nonlocal last_update
        for t, rate in rate_now.items():
            active[t] = max(0.0, active[t] - (time - last_update) * rate)
        last_update = time

    def reprice(time: float) -> None:
        """New rates for the moving transfers; one whose rate changed gets a new end event (the
        old one goes stale)."""
        nonlocal rate_now, seq
        new = rates()
        for t, rate in new.items():
            if rate_now.get(t) == rate:
                continue
            version[t] += 1
            if rate > 0:
                heappush(events, (time + active[t] / rate, seq, t, _SHARED + version[t]))
                seq += 1
        rate_now = new

    def ready(pool: Iterable[int]) -> list[int]:
        """Tasks of ``pool`` whose dependencies are done and that head every one of their engines'
        queues, all idle; in task order."""
        out = []
        for i in pool:
            if remaining_deps[i]:
                continue
            mine = lanes[i]
            if len(mine) == 1:
                e = mine[0]
                if not busy[e] and queues[e][head[e]] == i:
                    out.append(i)
            elif all(not busy[x] and queues[x][head[x]] == i for x in mine):
                out.append(i)
        out.sort()
        return out

    def launch(i: int, time: float) -> None:
        """Start task ``i``: its engines busy, its first event queued, its producers' barriers
        counted down (a barrier is free again once every consumer started)."""
        nonlocal seq, dma_running
        for e in lanes[i]:
            head[e] += 1
            busy[e] = True
        start[i] = time
        t = tasks[i]
        if t.kind is not TaskKind.DMA:
            heappush(events, (time + t.duration_ns, seq, i, _END))
        else:
            dma_running += 1
            if splits and active:  # a port the moving transfers had split over is taken now
                settle(time)
                reprice(time)
            lead = dma_setup_ns + (ddr_latency_ns if t.path is Path.DDR else 0.0)
            if i in own_rate:  # the cost model's figure covers its set-up and latency too
                lead = 0.0
            heappush(events, (time + lead, seq, i, _XFER))
            if t.path is not Path.DDR:
                on_cmx.add(i)
            if t.permuted:  # its CMX side reorders element by element: it ends no sooner than that
                not_before[i] = time + lead + t.permuted / permute_rate
        seq += 1
        for d in through_barrier[i]:
            g = group[d]
            pending[g] -= 1
            if pending[g] == 0:
                release(g, time)

    def release(g: int, time: float) -> None:
        """Barrier group ``g`` is free again: tasks that waited for a barrier may start."""
        nonlocal free_barriers, in_flight
        free_barriers += 1
        in_flight -= 1
        intervals.append((acquired_at[g], time, g))
        candidates.update(barrier_blocked)
        barrier_blocked.clear()

    def try_start(time: float) -> None:
        """Start every task that can start at ``time``, in task order (a start that frees a barrier
        lets the ones that waited for it try again)."""
        nonlocal free_barriers, in_flight, max_in_flight
        while candidates:
            pool = list(candidates)
            candidates.clear()
            for i in ready(pool):
                if needs_barrier[i]:
                    if free_barriers == 0:
                        barrier_blocked.add(i)
                        continue
                    free_barriers -= 1
                    in_flight += 1
                    if in_flight > max_in_flight:
                        max_in_flight = in_flight
                    acquired_at[i] = time
                    barrier_wait[i] = time - max(ready_at[i], max(free_at[e] for e in lanes[i]))
                    if pending[i] == 0:
                        release(i, time)
                launch(i, time)

    def share_a_barrier(time: float) -> bool:
        """Out of barriers with nothing left to finish: like the compiler, make the oldest waiting
        producer share the oldest barrier in flight (its consumers then wait for both)."""
        waiting = [i for i in ready(candidates | barrier_blocked) if needs_barrier[i]]
        held = sorted((acquired_at[g], g) for g in set(group) if g in acquired_at and pending[g] > 0)
        if not waiting or not held:
            return False
        i = waiting[0]
        g = held[0][1]
        group[i] = g
        pending[g] += pending[i]
        barrier_wait[i] = time - max(ready_at[i], max(free_at[e] for e in lanes[i]))
        barrier_blocked.discard(i)
        candidates.discard(i)
        launch(i, time)
        return True

    try_start(0.0)
    while events or (done < n and share_a_barrier(now)):
        now, _, i, kind = heappop(events)
        if kind != _END:
            if kind != _XFER and (i not in active or kind != _SHARED + version[i]):
                continue  # superseded by a rate change
            settle(now)
            if kind == _XFER:  # set-up (and DDR latency) over: it moves bytes at its rate
                active[i] = float(tasks[i].nbytes)
                reprice(now)
                continue
            del active[i]
            on_cmx.discard(i)
            if not_before.get(i, 0.0) > now:  # a permute's bytes are in: its element reorder is not
                reprice(now)
                heappush(events, (not_before.pop(i), seq, i, _END))
                seq += 1
                continue
            dma_running -= 1
            reprice(now)
        elif tasks[i].kind is TaskKind.DMA:
            dma_running -= 1
            if splits and active:  # a port freed: the moving transfers may split over it
                settle(now)
                reprice(now)
        end[i] = now
        done += 1
        took = now - start[i]
        for e in lanes[i]:
            busy[e] = False
            busy_ns[e] += took
            free_at[e] = now
            q = queues[e]
            if head[e] < len(q):
                candidates.add(q[head[e]])
        for c in consumers[i]:
            remaining_deps[c] -= 1
            if remaining_deps[c] == 0:
                ready_at[c] = now
                candidates.add(c)
        try_start(now)
    if done != n:  # barrier sharing guarantees progress, so this is nbperf's bug, not the user's arch
        stuck = next(tasks[queues[k][head[k]]].name for _, k in sorted(number.items())
                     if head[k] < len(queues[k]))
        raise InternalError(f"the emulated task graph deadlocked with {physical} hardware barriers "
                            f"(first blocked task: {stuck})")
    makespan = max(end, default=0.0)
    labels: dict[int, str] = {}
    for mine in names:
        if id(mine) not in labels:
            labels[id(mine)] = engine_label(mine)
    times = [TaskTime(start[i], end[i], labels[id(names[i])], max(0.0, barrier_wait[i])) for i in range(n)]
    return Emulation(tg, times, makespan, {e: busy_ns[k] for e, k in number.items()}, max_in_flight,
                     sum(needs_barrier), sum(t.barrier_wait_ns for t in times), physical, intervals,
                     {e: queues[k] for e, k in number.items()})


def _critical_path(tasks, times: list[TaskTime], queues: dict[str, list[int]]) -> list[int]:
    """Walk back from the last task through whatever finished last before each start."""
    if not tasks:
        return []
    previous_on_engine: dict[int, list[int]] = {}  # a gang follows one task per engine
    for ids in queues.values():
        for a, b in itertools.pairwise(ids):
            previous_on_engine.setdefault(b, []).append(a)
    current = max(range(len(tasks)), key=lambda i: (times[i].end_ns, -i))
    path = [current]
    while True:
        options = list(tasks[current].deps)
        options += previous_on_engine.get(current, [])
        options = [o for o in options if times[o].end_ns <= times[current].start_ns + 1e-6]
        if not options:
            break
        current = max(options, key=lambda o: (times[o].end_ns, o))
        path.append(current)
    return path[::-1]
