"""Task graph and feasible memory schedule: the network as DPU, SHAVE and DMA tasks on tiles.

Built like the NPU compiler's feasible memory scheduler: a list scheduler in IR order. Each op
pulls in its inputs (loading, reloading or converting them as its strategy needs), allocates its
weight and output buffers in every tile it uses with a real allocator, and prefetches the
weights of the next ops while space allows. When a tile is full, the live tensor needed furthest
in the future is spilled to DDR and reloaded before its next use. A task that cannot fit even in
an otherwise empty tile is an error naming the task and the bytes over. Every address range a
task reuses makes it wait for the range's previous users, so the static allocation stays safe
whatever the timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import Path
from nbperf.errors import InfeasibleError
from nbperf.lower.npu_ops import Engine, NpuGraph, NpuOp
from nbperf.schedule.allocator import Block, CmxAllocator
from nbperf.strategy import Dist, StrategyPlan
from nbperf.strategy.candidates import Candidate, Strategy
from nbperf.strategy.distribution import per_tile_bytes

DEFAULT_PREFETCH_DEPTH = 2  # ops ahead whose weights may be fetched while earlier ops compute


class TaskKind(StrEnum):
    DPU = "DPU"
    SHAVE = "SHAVE"
    DMA = "DMA"


@dataclass
class Task:
    """One hardware task. DPU/SHAVE tasks have a fixed ``duration_ns`` on ``tile``; DMA tasks move
    ``nbytes`` over ``path`` and take their time from the emulator's DMA model."""

    id: int
    name: str
    layer: str
    kind: TaskKind
    role: str  # compute, weights, load, reload, spill, store, convert, stream-in, stream-out, copy
    tile: int | None = None
    duration_ns: float = 0.0
    nbytes: int = 0
    path: Path = Path.DDR
    deps: set[int] = field(default_factory=set)


@dataclass
class Buffer:
    """A CMX buffer on one tile: written by ``writer``, read by ``readers``."""

    id: int
    tile: int
    start: int
    size: int
    label: str
    writers: list[int] = field(default_factory=list)  # a broadcast output has one writer per tile
    readers: list[int] = field(default_factory=list)
    reuse_deps: set[int] | None = None  # previous users of this address range


@dataclass
class TaskGraph:
    tasks: list[Task]
    buffers: list[Buffer]
    spilled_bytes: int  # activations written to DDR for lack of CMX: spills, streamed sub-tile outputs
    peak_cmx_bytes: list[int]  # per tile, by the allocator (aligned)
    fragmentation: list[float]  # per tile: 1 - largest hole / free bytes, at the allocator's peak
    prefetch_depth: int


class _Builder:
    def __init__(self, graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan, prefetch_depth: int) -> None:
        self.graph, self.arch, self.plan = graph, arch, plan
        self.prefetch_depth = prefetch_depth
        self.tasks: list[Task] = []
        self.buffers: list[Buffer] = []
        self.cmx = [CmxAllocator(arch.cmx.bytes_per_tile, arch.cmx.alignment_bytes)
                    for _ in range(arch.tiles)]
        self.frag = [0.0] * arch.tiles
        self.ops = [op for op in graph.ops if not op.is_free]
        self.resident: dict[str, dict[int, Buffer]] = {}  # tensor -> tile -> buffer (producer's layout)
        # tensor -> the task that put it in DDR (-1: the host, for graph inputs)
        self.in_ddr: dict[str, int] = {graph.resolve(t): -1 for t in graph.inputs}
        self.weights: dict[str, dict[int, Buffer]] = {}  # op -> tile -> weight buffer (prefetched)
        self.uses: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                self.uses.setdefault(graph.resolve(t), []).append(i)
        self.outputs = {graph.resolve(t) for t in graph.outputs}
        self.spilled = 0
        self.pinned: set[int] = set()  # buffer ids the current op needs
        self.owned: list[Buffer] = []  # converted inputs that live only for the current op
        self.converted: dict[str, dict[int, Buffer]] = {}  # those, by tensor
        self.live: list[dict[int, Buffer]] = [{} for _ in range(arch.tiles)]  # allocated, not freed

    # -- tasks and buffers -------------------------------------------------------------------
    def task(self, name: str, layer: str, kind: TaskKind, role: str, deps: set[int] | None = None,
             **fields: object) -> Task:
        t = Task(len(self.tasks), name, layer, kind, role, deps={d for d in (deps or set()) if d >= 0},
                 **fields)  # type: ignore[arg-type]
        self.tasks.append(t)
        return t

    def alloc(self, tile: int, nbytes: int, label: str, index: int, who: str) -> Buffer:
        """A buffer on ``tile``; spills the furthest-needed live tensor while the tile is full."""
        cmx = self.cmx[tile]
        need = cmx.aligned(nbytes)
        while (start := cmx.allocate(nbytes)) is None:
            if cmx.free_bytes >= need:  # enough space, but in pieces: move live buffers together
                self._compact(tile, self.ops[index].name)
            elif not (self._spill_one(tile, index) or self._drop_prefetch(tile, index)):
                raise InfeasibleError(
                    f"{who} needs {need} B of CMX on tile {tile} but at most {cmx.free_bytes} B can be "
                    f"freed ({need - cmx.free_bytes} B over; CMX is {cmx.capacity} B per tile)")
        if cmx.used_bytes == cmx.peak_bytes and cmx.free_bytes:  # fragmentation at the peak
            self.frag[tile] = 1 - cmx.largest_hole / cmx.free_bytes
        buf = self._new_buffer(tile, start, nbytes, label)
        self.pinned.add(buf.id)
        return buf

    def _new_buffer(self, tile: int, start: int, nbytes: int, label: str) -> Buffer:
        buf = Buffer(len(self.buffers), tile, start, self.cmx[tile].aligned(nbytes), label)
        self.buffers.append(buf)
        self.live[tile][buf.id] = buf
        return buf

    def _compact(self, tile: int, layer: str) -> None:
        """Slide every live buffer of ``tile`` down to close the holes, one CMX -> CMX DMA each.

        Moved data is read at its new place only after its move; whoever writes the old place
        later waits for the move and the old readers.
        """
        cmx = self.cmx[tile]
        address = 0
        for buf in sorted(self.live[tile].values(), key=lambda b: b.start):
            if buf.start != address:
                move = self.task(f"{buf.label}/compact", layer, TaskKind.DMA, "compact", set(buf.writers),
                                 nbytes=buf.size, path=Path.CMX)
                move.deps |= cmx.reuse_dependencies(address, buf.size) - {move.id}
                users = (*buf.readers, *buf.writers, move.id)
                cmx.released.append((buf.start, buf.start + buf.size, users))
                buf.start, buf.writers, buf.reuse_deps = address, [move.id], set()
            address += buf.size
        cmx.free = [Block(address, cmx.capacity - address)] if address < cmx.capacity else []

    def bind_writer(self, buf: Buffer, task: Task) -> None:
        if buf.reuse_deps is None:  # every writer waits for the range's previous users
            buf.reuse_deps = self.cmx[buf.tile].reuse_dependencies(buf.start, buf.size)
        task.deps |= buf.reuse_deps - {task.id}
        buf.writers.append(task.id)

    def read(self, buf: Buffer, task: Task) -> None:
        task.deps.update(buf.writers)
        buf.readers.append(task.id)

    def free(self, buf: Buffer) -> None:
        del self.live[buf.tile][buf.id]
        self.cmx[buf.tile].release(buf.start, buf.size, tuple(buf.readers) or tuple(buf.writers))

    def _next_use(self, tensor: str, after: int) -> float:
        return next((u for u in self.uses.get(tensor, ()) if u > after), math.inf)

    def _drop_prefetch(self, tile: int, index: int) -> bool:
        """Give back the weights prefetched for a later op; that op fetches them again."""
        later = [name for name, bufs in self.weights.items()
                 if tile in bufs and bufs[tile].id not in self.pinned and name != self.ops[index].name]
        if not later:
            return False
        for b in self.weights.pop(later[-1]).values():
            self.free(b)
        return True

    def _spill_one(self, tile: int, index: int) -> bool:
        victims = [(t, bufs[tile]) for t, bufs in self.resident.items()
                   if tile in bufs and bufs[tile].id not in self.pinned]
        if not victims:
            return False
        tensor, _ = max(victims, key=lambda v: (self._next_use(v[0], index - 1), v[0]))
        bufs = self.resident.pop(tensor)
        if tensor not in self.in_ddr:
            self._store_to_ddr(tensor, list(bufs.values()), self.ops[index].name)
        for b in bufs.values():
            self.free(b)
        return True

    def _store_to_ddr(self, tensor: str, src: list[Buffer], layer: str) -> None:
        """Spill ``tensor`` from its CMX buffers to DDR; its next readers wait for the store."""
        store = self.task(f"{tensor}/spill", layer, TaskKind.DMA, "spill",
                          nbytes=self.graph.tensor_bytes.get(tensor, 0))
        for b in src:
            self.read(b, store)
            self.pinned.discard(b.id)  # in DDR now: its CMX copy may be evicted for free
        self.in_ddr[tensor] = store.id
        self.spilled += store.nbytes

    # -- per op ------------------------------------------------------------------------------
    def run(self) -> TaskGraph:
        for index, op in enumerate(self.ops):
            self.pinned = set()
            self._op(index, op)
            self._prefetch(index)
            self._release_dead(index)
        return TaskGraph(self.tasks, self.buffers, self.spilled, [c.peak_bytes for c in self.cmx],
                         self.frag, self.prefetch_depth)

    def _tiles(self, cand: Candidate) -> list[int]:
        return list(range(cand.tiles_used))

    def _op(self, index: int, op: NpuOp) -> None:
        placement = self.plan.placements[op.name]
        cand = placement.chosen
        tiles = self._tiles(cand)
        inputs = [self.graph.resolve(t) for t in op.inputs]
        if cand.out_dist is Dist.DDR and op.engine is Engine.DMA:
            self._copy_to_ddr(index, op, cand, inputs)
            return
        if cand.out_dist is Dist.DDR:
            self._tiled(index, op, cand, inputs, tiles)
            return
        # 1. inputs in the layout the strategy needs
        read_bufs: list[Buffer] = []
        ready: set[int] = set()
        for tensor, move in zip(inputs, placement.moves_in, strict=True):
            if op.engine is Engine.DMA and tensor not in self.resident:
                ready.add(self.in_ddr.get(tensor, -1))  # a DMA reads DDR directly
                continue
            if move.kind in ("", "spill"):
                bufs, deps = self._ensure_resident(tensor, index)
                read_bufs.extend(bufs)
                ready |= deps
            else:
                bufs, deps = self._convert(index, op, tensor, move.kind, move.cmx_bytes, tiles)
                read_bufs.extend(bufs)
                ready |= deps
        # 2. weights (maybe prefetched already); a DMA op reads its table rows straight from DDR
        weight_bufs = {} if op.engine is Engine.DMA else self._weights(index, op, cand)
        # 3. outputs
        out_bufs: dict[str, dict[int, Buffer]] = {}
        out_tiles = list(range(self.arch.tiles)) if cand.out_dist is Dist.DUPLICATED else tiles
        for t in dict.fromkeys(self.graph.resolve(o) for o in op.outputs):
            share = per_tile_bytes(self.graph.tensor_bytes.get(t, 0), cand.out_dist, self.arch.tiles)
            reused = self._inplace(op, cand, out_tiles, share)
            out_bufs[t] = reused or {tile: self.alloc(tile, share, t, index, f"{op.name} output {t}")
                                     for tile in out_tiles}
        # 4. compute on every tile (DMA-only ops: one copy task)
        if op.engine is Engine.DMA:
            work = [self.task(f"{op.name}/copy", op.name, TaskKind.DMA, "copy", set(ready),
                              nbytes=cand.copy_cmx_bytes + cand.weight_ddr_bytes,
                              path=Path.DDR if cand.weight_ddr_bytes else Path.CMX)]
        else:
            kind = TaskKind.DPU if op.engine is Engine.DPU else TaskKind.SHAVE
            work = [self.task(f"{op.name}@{tile}", op.name, kind, "compute", set(ready), tile=tile,
                              duration_ns=cand.compute.ns) for tile in tiles]
        for w in work:
            for b in read_bufs:
                self.read(b, w)
            for b in weight_bufs.values():
                self.read(b, w)
        for t, bufs in out_bufs.items():
            for b in bufs.values():
                # A broadcast output is complete only when every computing tile has written its part.
                writers = work if cand.out_dist is Dist.DUPLICATED else \
                    [w for w in work if w.tile in (b.tile, None)] or work
                for w in writers:
                    self.bind_writer(b, w)
            self.resident[t] = bufs
        for b in weight_bufs.values():
            self.free(b)
        self.weights.pop(op.name, None)
        # 5. graph outputs go back to DDR for the host
        for t in out_bufs:
            if t in self.outputs:
                store = self.task(f"{t}/store", op.name, TaskKind.DMA, "store",
                                  nbytes=self.graph.tensor_bytes.get(t, 0))
                for b in out_bufs[t].values():
                    self.read(b, store)
                for w in work:
                    store.deps.add(w.id)
                self.in_ddr[t] = store.id

    def _inplace(self, op: NpuOp, cand: Candidate, out_tiles: list[int],
                 share: int) -> dict[int, Buffer] | None:
        """The buffers of the input an element-wise op may overwrite, if they have the output's
        layout; the input is handed over to the output (it has no other reader)."""
        if not op.inplace_input or cand.strategy is Strategy.HKSWITCH:
            return None
        tensor = self.graph.resolve(op.inplace_input)
        converted = self.converted.get(tensor)
        bufs = converted if converted is not None else self.resident.get(tensor)
        aligned = self.cmx[0].aligned(share)
        if bufs is None or sorted(bufs) != out_tiles or any(b.size != aligned for b in bufs.values()):
            return None
        if converted is not None:  # a copy made for this op: it stops being temporary
            self.owned = [b for b in self.owned if b not in converted.values()]
            return converted
        return self.resident.pop(tensor)

    def _ensure_resident(self, tensor: str, index: int) -> tuple[list[Buffer], set[int]]:
        """The producer-layout copy of ``tensor`` in CMX, reloaded from DDR if it was spilled."""
        if tensor in self.resident:
            bufs = list(self.resident[tensor].values())
            self.pinned |= {b.id for b in bufs}
            return bufs, set()
        dist = self.plan.tensor_dist.get(tensor, Dist.DDR)
        if dist is Dist.DDR:  # a graph input or a streamed output read in full by a DMA op
            return [], {self.in_ddr.get(tensor, -1)}
        tiles = list(range(self.arch.tiles)) if dist in (Dist.DUPLICATED, Dist.SEG_H, Dist.SEG_W) else [0]
        share = per_tile_bytes(self.graph.tensor_bytes.get(tensor, 0), dist, self.arch.tiles)
        bufs = {tile: self.alloc(tile, share, tensor, index, f"reload of {tensor}") for tile in tiles}
        reload = self.task(f"{tensor}/reload", self.ops[index].name, TaskKind.DMA, "reload",
                           {self.in_ddr.get(tensor, -1)}, nbytes=self.graph.tensor_bytes.get(tensor, 0))
        for b in bufs.values():
            self.bind_writer(b, reload)
        self.resident[tensor] = bufs
        return list(bufs.values()), set()

    def _convert(self, index: int, op: NpuOp, tensor: str, kind: str, cmx_bytes: int,
                 tiles: list[int]) -> tuple[list[Buffer], set[int]]:
        """A transition: bring ``tensor`` into the consumer's layout in buffers owned by this op."""
        nbytes = self.graph.tensor_bytes.get(tensor, 0)
        deps: set[int] = set()
        if kind in ("load",):
            deps.add(self.in_ddr.get(tensor, -1))
        elif kind == "spill-reload":
            if tensor not in self.in_ddr:
                self._store_to_ddr(tensor, self._ensure_resident(tensor, index)[0], op.name)
            deps.add(self.in_ddr[tensor])
        else:  # broadcast, split-copy, halo: CMX -> CMX from the resident copy
            src, extra = self._ensure_resident(tensor, index)
            deps |= extra
        position = [self.graph.resolve(t) for t in op.inputs].index(tensor)
        need = self.plan.placements[op.name].chosen.needs[position]
        dist = {"seg_h": Dist.SEG_H, "seg_w": Dist.SEG_W}.get(need.value, Dist.DUPLICATED)
        share = per_tile_bytes(nbytes, dist, len(tiles)) if len(tiles) > 1 else nbytes
        if kind == "halo":
            share = math.ceil(cmx_bytes / max(1, len(tiles) - 1))  # only the halo rows are copied
        bufs = {tile: self.alloc(tile, share, f"{tensor}>{op.name}", index, f"{op.name} input {tensor}")
                for tile in tiles}
        path = Path.CMX if kind in ("broadcast", "split-copy", "halo") else Path.DDR
        moved = cmx_bytes if path is Path.CMX else nbytes
        dma = self.task(f"{tensor}>{op.name}/{kind}", op.name, TaskKind.DMA, "convert", deps, nbytes=moved,
                        path=path)
        if kind in ("broadcast", "split-copy", "halo"):
            for b in src:
                self.read(b, dma)
        for b in bufs.values():
            self.bind_writer(b, dma)
        owned = list(bufs.values())
        if kind == "halo":  # the tile's own rows are read in place, the halo from the new buffer
            owned += src
        self.owned.extend(bufs.values())
        if kind != "halo":
            self.converted[tensor] = bufs
        return owned, set()

    def _weights(self, index: int, op: NpuOp, cand: Candidate) -> dict[int, Buffer]:
        if op.name in self.weights:
            return self.weights[op.name]
        if not op.weight_bytes:
            return {}
        bufs = self._alloc_weights(index, op, cand)
        assert bufs is not None
        return bufs

    def _alloc_weights(self, index: int, op: NpuOp, cand: Candidate, prefetch: bool = False
                       ) -> dict[int, Buffer] | None:
        tiles = self._tiles(cand)
        share = math.ceil(op.weight_bytes / len(tiles)) if cand.strategy is Strategy.SOK else op.weight_bytes
        bufs: dict[int, Buffer] = {}
        for tile in tiles:
            if prefetch:
                start = self.cmx[tile].allocate(share)
                if start is None:
                    for b in bufs.values():
                        self.free(b)
                    return None
                buf = self._new_buffer(tile, start, share, f"{op.name}/weights")
            else:
                buf = self.alloc(tile, share, f"{op.name}/weights", index, f"{op.name} weights")
            bufs[tile] = buf
        dma = self.task(f"{op.name}/weights", op.name, TaskKind.DMA, "weights", nbytes=op.weight_bytes)
        for b in bufs.values():
            self.bind_writer(b, dma)
        self.weights[op.name] = bufs
        return bufs

    def _prefetch(self, index: int) -> None:
        """Fetch the weights of the next ops now, while the current one computes, if they fit.

        The prefetch budget: what stays free must still hold the next op's own footprint.
        """
        horizon = self.ops[index + 1:index + 1 + self.prefetch_depth]
        reserve = max((self.plan.placements[o.name].chosen.cmx_bytes_per_tile for o in horizon), default=0)
        for ahead, op in enumerate(horizon, start=index + 1):
            cand = self.plan.placements[op.name].chosen
            if not op.weight_bytes or op.name in self.weights or cand.out_dist is Dist.DDR \
                    or op.engine is Engine.DMA:
                continue
            share = op.weight_bytes // max(1, cand.tiles_used)
            if any(self.cmx[t].free_bytes - share < reserve for t in self._tiles(cand)):
                return  # no room: later ops wait too, in order
            if self._alloc_weights(ahead, op, cand, prefetch=True) is None:
                return

    def _release_dead(self, index: int) -> None:
        for b in self.owned:
            self.free(b)
        self.owned = []
        self.converted = {}
        for tensor in [t for t in self.resident if self._next_use(t, index) is math.inf]:
            for b in self.resident.pop(tensor).values():
                self.free(b)

    def _copy_to_ddr(self, index: int, op: NpuOp, cand: Candidate, inputs: list[str]) -> None:
        """A data-movement op too big for CMX: one DMA from wherever its inputs are into DDR."""
        copy = self.task(f"{op.name}/copy", op.name, TaskKind.DMA, "copy", nbytes=cand.stream_ddr_bytes)
        self.spilled += cand.stream_ddr_bytes
        for tensor in inputs:
            if tensor in self.resident:
                for b in self.resident[tensor].values():
                    self.read(b, copy)
            else:
                copy.deps.add(self.in_ddr.get(tensor, -1))
        copy.deps.discard(-1)
        for t in dict.fromkeys(self.graph.resolve(o) for o in op.outputs):
            self.in_ddr[t] = copy.id

    def _ping_pong(self, tile: int, nbytes: int, subtiles: int, index: int, layer: str) -> list[Buffer]:
        """Two sub-tile buffers when both fit (load k+1 while k computes), else one."""
        first = self.alloc(tile, nbytes, f"{layer}/sub0", index, f"{layer} sub-tile")
        if subtiles < 2:
            return [first]
        start = self.cmx[tile].allocate(nbytes)
        if start is None:
            return [first]
        return [first, self._new_buffer(tile, start, nbytes, f"{layer}/sub1")]

    def _tiled(self, index: int, op: NpuOp, cand: Candidate, inputs: list[str], tiles: list[int]) -> None:
        """Sub-tiles streamed through DDR with two ping-pong buffers per tile."""
        deps: set[int] = set()
        for tensor in inputs:
            if tensor not in self.in_ddr:  # it must be in DDR to be streamed
                self._store_to_ddr(tensor, self._ensure_resident(tensor, index)[0], op.name)
            deps.add(self.in_ddr[tensor])
            for b in self.resident.pop(tensor, {}).values():  # in DDR now: its CMX copy can go
                self.pinned.discard(b.id)
                self.free(b)
        # Weights stream with the sub-tiles: each sub-tile buffer holds its inputs, weights, outputs.
        n = cand.subtiles
        ping = {tile: self._ping_pong(tile, cand.cmx_bytes_per_tile, n, index, op.name) for tile in tiles}
        kind = TaskKind.DPU if op.engine is Engine.DPU else TaskKind.SHAVE
        per_sub_ns = cand.compute.ns / n
        out_total = sum(self.graph.tensor_bytes.get(self.graph.resolve(o), 0) for o in op.outputs)
        stream_in = math.ceil((max(0, cand.stream_ddr_bytes - out_total) + op.weight_bytes) / n)
        stream_out = math.ceil(out_total / n)
        last_out: list[int] = []
        computes: dict[int, list[Task]] = {tile: [] for tile in tiles}
        for k in range(n):
            load = self.task(f"{op.name}/in{k}", op.name, TaskKind.DMA, "stream-in", set(deps),
                             nbytes=stream_in)
            for tile in tiles:
                buf = ping[tile][k % len(ping[tile])]
                if k < len(ping[tile]):
                    self.bind_writer(buf, load)
                elif computes[tile]:
                    load.deps.add(computes[tile][k - len(ping[tile])].id)
                c = self.task(f"{op.name}@{tile}/{k}", op.name, kind, "compute", {load.id}, tile=tile,
                              duration_ns=per_sub_ns)
                if computes[tile]:
                    c.deps.add(computes[tile][-1].id)
                self.read(buf, c)
                computes[tile].append(c)
            out = self.task(f"{op.name}/out{k}", op.name, TaskKind.DMA, "stream-out",
                            {computes[t][-1].id for t in tiles}, nbytes=stream_out)
            self.spilled += stream_out  # activations that live in DDR for lack of CMX
            for tile in tiles:
                ping[tile][k % len(ping[tile])].readers.append(out.id)
            last_out.append(out.id)
        for bufs in ping.values():
            for b in bufs:
                self.free(b)
        for t in dict.fromkeys(self.graph.resolve(o) for o in op.outputs):
            self.in_ddr[t] = last_out[-1]
            self.resident.pop(t, None)


def build_task_graph(graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan,
                     prefetch_depth: int = DEFAULT_PREFETCH_DEPTH) -> TaskGraph:
    return _Builder(graph, arch, plan, prefetch_depth).run()
