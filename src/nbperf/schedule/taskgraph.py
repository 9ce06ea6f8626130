"""Task graph and feasible memory schedule: the network as DPU, SHAVE and DMA tasks on tiles.

The plan's layer-serial steps (``strategy.serial_model``) decide what lives where: which tensors
stay in CMX, which are spilled before which op, which weights are prefetched while the op before
runs. This module turns each op into tasks that carry out those decisions, as the compiler's
feasible memory scheduler does (``feasible_memory_scheduler.cpp``): inputs moved into the layout
the strategy needs (the same move rule), weights loaded, one compute task per tile (durations from
the one cost path), outputs written, graph outputs stored; a tiled op runs sub-tile by sub-tile
through ping-pong slots.

Every CMX buffer gets a lifetime in op steps. All buffers of a tile are then placed at once,
largest first, each at the lowest address free for its whole lifetime (greedy by size: static
placement with lifetimes known, as the compiler's allocator assigns addresses); nothing moves once
placed. If a buffer finds no room below the CMX capacity, the schedule is repaired the way the
compiler's scheduler would: a weight prefetch starts later, or the live tensor needed furthest in
the future is spilled around it (a spill for fragmentation); then placement runs again. A task
that writes a buffer waits for the last users of the buffers that held those addresses before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from nbperf.arch.model import ArchSpec
from nbperf.cost.dma import Direction, Path, default_direction, permute_tasks
from nbperf.cost.tasks import TaskCoster
from nbperf.errors import InternalError
from nbperf.lower.npu_ops import Engine, NpuGraph
from nbperf.schedule.allocator import Buffer, Unplaceable, place, reuse_dependencies
from nbperf.strategy import Dist, MoveKind, Need, StrategyPlan
from nbperf.strategy.candidates import align
from nbperf.strategy.distribution import DIST_OF_NEED, Move, segments
from nbperf.strategy.serial_model import Held, SerialModel

DEFAULT_PREFETCH_DEPTH = 1  # ops ahead whose weights may load early: the layer-serial model's one step
_MAX_REPAIRS_PER_OP = 8  # placement repairs before the builder gives up (a bug, not the model)


class TaskKind(StrEnum):
    DPU = "DPU"
    SHAVE = "SHAVE"
    DMA = "DMA"


class TaskRole(StrEnum):
    COMPUTE = "compute"  # a DPU or SHAVE task
    WEIGHTS = "weights"  # constant weights DDR -> CMX (prefetched while the op before runs, when planned)
    LOAD = "load"  # an input DDR -> CMX, into the layout its consumer needs
    CONVERT = "convert"  # an input CMX -> CMX: halo, split or broadcast copy
    STAGE = "stage"  # an input CMX -> DDR because its consumer needs it there (layout change, streaming)
    SPILL = "spill"  # a live tensor CMX -> DDR to make room
    STORE = "store"  # a graph output CMX -> DDR for the host
    STREAM_IN = "stream-in"  # a sub-tile's input rows DDR -> CMX
    STREAM_WEIGHTS = "stream-weights"  # a sub-tile's weight block DDR -> CMX
    STREAM_OUT = "stream-out"  # a sub-tile's output CMX -> DDR
    COPY = "copy"  # a data-movement op


@dataclass(slots=True)
class Task:
    """One hardware task. DPU/SHAVE tasks have a fixed ``duration_ns`` on ``width`` tiles from
    ``tile`` on (a multi-tile op's per-tile tasks run as one gang: they share their barriers, as the
    compiler's unrolled per-cluster tasks do, and start together); DMA tasks move ``nbytes`` over
    ``path`` and take their time from the one DMA model."""

    id: int
    name: str
    layer: str
    kind: TaskKind
    role: TaskRole
    tile: int | None = None
    duration_ns: float = 0.0
    nbytes: int = 0
    path: Path = Path.DDR
    deps: set[int] = field(default_factory=set)
    width: int = 1
    permuted: int = 0  # DMA: elements reordered one by one (a permute DMA)
    # DMA: the cost model's time for this transfer, set-up included, when it prices DMAs (a table,
    # VPUNN); None: the DMA model's set-up, latency and shared rates time it
    external_ns: float | None = None


# Which way each role's transfers go (a copy's: by its path).
DIRECTION_OF_ROLE = {
    TaskRole.WEIGHTS: Direction.IN, TaskRole.LOAD: Direction.IN, TaskRole.STREAM_IN: Direction.IN,
    TaskRole.STREAM_WEIGHTS: Direction.IN, TaskRole.CONVERT: Direction.CMX, TaskRole.STAGE: Direction.OUT,
    TaskRole.SPILL: Direction.OUT, TaskRole.STORE: Direction.OUT, TaskRole.STREAM_OUT: Direction.OUT,
}


def direction_of(role: TaskRole, path: Path) -> Direction:
    return DIRECTION_OF_ROLE.get(role) or default_direction(path)


def task_engines(tasks: list[Task], channels: int) -> list[tuple[str, ...]]:
    """The engines each task occupies: its tiles' DPU or SHAVE queues; DMA tasks dealt round robin
    over the channels in task order (a static assignment, as the compiler's DMA port choice). Equal
    tuples are one object, so comparing them is cheap."""
    engines: list[tuple[str, ...]] = []
    shared: dict[tuple[str, int, int], tuple[str, ...]] = {}
    channel_lanes = [(f"DMA{c}",) for c in range(channels)]
    dma_count = 0
    for t in tasks:
        if t.kind is TaskKind.DMA:
            engines.append(channel_lanes[dma_count % channels])
            dma_count += 1
            continue
        key = (t.kind.value, t.tile or 0, t.width)
        lanes = shared.get(key)
        if lanes is None:
            lanes = shared[key] = tuple(f"{key[0]}{k}" for k in range(key[1], key[1] + key[2]))
        engines.append(lanes)
    return engines


def engine_label(lanes: tuple[str, ...]) -> str:
    """One name for the engines a task occupies: ``DPU0``, or ``DPU0-5`` for a gang."""
    if len(lanes) == 1:
        return lanes[0]
    kind = lanes[0].rstrip("0123456789")
    return f"{lanes[0]}-{lanes[-1][len(kind):]}"


def _gang_name(layer: str, width: int) -> str:
    return f"{layer}@0" if width == 1 else f"{layer}@0-{width - 1}"


@dataclass
class LayerBytes:
    """DDR and CMX traffic one layer caused, in the classes the reports use."""

    weight_ddr: int = 0
    act_in_ddr: int = 0  # sub-tile inputs, a copy's reads from DDR
    act_out_ddr: int = 0  # spills, sub-tile outputs, graph outputs
    transition_ddr: int = 0  # loads and staging for its inputs
    transition_cmx: int = 0  # halo, split and broadcast copies of its inputs


@dataclass
class TaskGraph:
    tasks: list[Task]
    buffers: list[Buffer]
    spilled_bytes: int  # activations written to DDR for lack of CMX: spills, sub-tile outputs
    peak_cmx_bytes: list[int]  # per tile: the most bytes in buffers alive at one step
    fragmentation: list[float]  # per tile: 1 - peak bytes / highest address used
    prefetch_depth: int
    layer_bytes: dict[str, LayerBytes]
    repairs: int = 0  # placement repairs: prefetches delayed and spills added for fragmentation
    passes: int = 1  # constructions of the graph: one, plus one per round of repairs


def _before(index: int) -> int:
    """The step in which op ``index``'s spills run (buffers ending here free room for the op)."""
    return 2 * index


def _during(index: int) -> int:
    """The step in which op ``index`` runs."""
    return 2 * index + 1


def _tiles(dist: Dist, tiles: int) -> list[int]:
    """Tiles that hold a share of a tensor in ``dist``."""
    if dist is Dist.DDR:
        return []
    return [0] if dist is Dist.SINGLE else list(range(tiles))


class _Pass:
    """One construction of the task graph under given repairs (extra spills, prefetch leads)."""

    def __init__(self, builder: _Builder) -> None:
        b = builder
        self.graph, self.arch, self.model, self.ops, self.cands = b.graph, b.arch, b.model, b.ops, b.cands
        self.leads, self.extra_spills, self.steps = b.leads, b.extra_spills, b.plan.steps
        self.tasks: list[Task] = []
        self.buffers: list[Buffer] = []
        # tensor -> (its layout, tile -> buffer): the copy in CMX its next readers use
        self.resident: dict[str, tuple[Dist, dict[int, Buffer]]] = {}
        # tensor -> the task that put it in DDR (-1: the host, for graph inputs)
        self.in_ddr: dict[str, int] = {self.graph.resolve(t): -1
                                       for t in (*self.graph.inputs, *self.graph.ddr_constants)}
        self.weights: dict[int, dict[int, Buffer]] = {}  # op index -> tile -> weights loaded early
        self.spilled = 0
        self.bytes: dict[str, LayerBytes] = {op.name: LayerBytes() for op in self.ops}
        self.prefetch_at: dict[int, list[int]] = {}  # op index -> ops whose weights load after it
        self.finish: dict[int, list[int]] = {}  # op index -> the tasks that end it (last computes, copies)
        for j, lead in self.leads.items():
            if lead:
                self.prefetch_at.setdefault(j - lead, []).append(j)

    # -- tasks and buffers ---------------------------------------------------------------------
    def task(self, name: str, layer: str, kind: TaskKind, role: TaskRole, deps: Iterable[int] = (),
             tile: int | None = None, duration_ns: float = 0.0, nbytes: int = 0, path: Path = Path.DDR,
             width: int = 1) -> Task:
        t = Task(len(self.tasks), name, layer, kind, role, tile, duration_ns, nbytes, path,
                 {d for d in deps if d >= 0}, width)
        self.tasks.append(t)
        return t

    def dma(self, name: str, layer: str, role: TaskRole, nbytes: int, path: Path, deps: Iterable[int] = (),
            parts: int = 1) -> list[Task]:
        """``parts`` DMA tasks moving ``nbytes`` together (one per segment), as the DMA model prices it."""
        share = math.ceil(nbytes / parts)
        external = self.model.coster.external_dma_ns(share, path, direction_of(role, path))
        if parts == 1:
            made = [self.task(name, layer, TaskKind.DMA, role, deps, nbytes=share, path=path)]
        else:
            deps = list(deps)
            made = [self.task(f"{name}#{p}", layer, TaskKind.DMA, role, deps, nbytes=share, path=path)
                    for p in range(parts)]
        for t in made:
            t.external_ns = external
        return made

    def buffers_for(self, tiles: list[int], nbytes: int, label: str, first: int, last: int,
                    tensor: str | None = None, prefetch_for: int = -1) -> dict[int, Buffer]:
        """``nbytes`` on each of ``tiles`` (consecutive): one distributed buffer at the same address
        in every tile's CMX, as the compiler allocates a buffer split or broadcast over clusters
        (keyed by its first tile; none for a tensor in DDR)."""
        if not tiles:
            return {}
        buf = Buffer(len(self.buffers), tiles[0], align(max(nbytes, 1), self.arch.cmx.alignment_bytes), label,
                     first, last, [(first, tensor)] if tensor is not None else [], prefetch_for=prefetch_for,
                     width=len(tiles))
        self.buffers.append(buf)
        return {tiles[0]: buf}

    @staticmethod
    def write(buf: Buffer, task: Task, replaces: bool = False) -> None:
        """``task`` writes ``buf``: beside its other writers (parts of one load, blocks of one output),
        or, ``replaces``, as its new occupant (a ping-pong slot's next sub-tile)."""
        if replaces and buf.writers and buf.first_writers < 0:
            buf.first_writers = len(buf.writers)
        buf.writers.append(task.id)
        if replaces:
            buf.current.clear()
        buf.current.append(task.id)

    @staticmethod
    def read(buf: Buffer, task: Task) -> None:
        task.deps.update(buf.current)
        buf.readers.append(task.id)

    def held(self, tensor: str) -> Held | None:
        """Where this schedule holds ``tensor``, in the serial model's terms."""
        if tensor in self.resident:
            return Held(self.resident[tensor][0], tensor in self.in_ddr)
        return Held(Dist.DDR, True) if tensor in self.in_ddr else None

    def to_ddr(self, tensor: str, dist: Dist, src: Iterable[Buffer], layer: str, role: TaskRole) -> None:
        """Write ``tensor`` from its CMX buffers to DDR; its DDR readers wait for the last part."""
        src = list(src)
        parts = self.dma(f"{tensor}/{role.value}", layer, role, self.model.nbytes(tensor), Path.DDR,
                         parts=segments(dist, self.arch.tiles))
        for task in parts:
            for b in src:
                self.read(b, task)
        for task in parts[:-1]:  # the last part completes the copy in DDR
            parts[-1].deps.add(task.id)
        self.in_ddr[tensor] = parts[-1].id

    def end(self, tensor: str, step: int) -> None:
        """``tensor`` leaves CMX at ``step``: its buffers end there."""
        for b in self.resident.pop(tensor)[1].values():
            b.last = step

    # -- the whole pass ------------------------------------------------------------------------
    def run(self) -> _Pass:
        for index, op in enumerate(self.ops):
            layer = op.name
            for t in dict.fromkeys((*self.steps[index].evicted, *self.extra_spills.get(index, ()))):
                if t in self.resident:  # spilled before the op runs: its room is the op's
                    if t not in self.in_ddr:
                        dist, bufs = self.resident[t]
                        self.to_ddr(t, dist, bufs.values(), layer, TaskRole.SPILL)
                        self.bytes[layer].act_out_ddr += self.model.nbytes(t)
                        self.spilled += self.model.nbytes(t)
                    self.end(t, _before(index))
            first_task = len(self.tasks)
            if op.engine is Engine.DMA:
                self.copy(index)
            elif self.cands[index].tiling is not None:
                self.tiled(index)
            else:
                self.compute_op(index)
            ends = [t.id for t in self.tasks[first_task:] if t.role in (TaskRole.COMPUTE, TaskRole.COPY)]
            self.finish[index] = ends[-1:]  # one gang per sub-tile: the last one ends the op
            for j in self.prefetch_at.get(index, ()):
                if self.cands[j].tiling is None and self.cands[j].weight_ddr_bytes:  # tiled: its own
                    self.load_weights(j, first=_during(index))
            for t in dict.fromkeys((*self.model.ins[index], *self.model.outs[index])):
                if self.model.last_use.get(t, -1) <= index and t in self.resident:
                    self.end(t, _during(index))
        return self

    def issued(self, index: int, lead: int = 0) -> list[int]:
        """What op ``index``'s loads wait for: the end of the op before it, or with a prefetch
        ``lead`` ops ahead the end of the op before that one (a load runs during the ops it was
        planned to overlap, not earlier, as the plan's prefetch depth says)."""
        return self.finish.get(index - lead - 1, [])

    # -- inputs --------------------------------------------------------------------------------
    def input_buffers(self, index: int, tensor: str, need: Need) -> list[Buffer]:
        """The buffers op ``index`` reads ``tensor`` from, after moving it as its strategy needs."""
        layer, now = self.ops[index].name, _during(index)
        # A prefetched op's early inputs move while the op before runs: their buffers exist from then.
        lead = self.leads.get(index, 0) if tensor in self.model.early_inputs[index] else 0
        first = _during(index - lead) if lead else now
        m: Move = self.model.input_move(index, tensor, self.held(tensor), need)
        account = self.bytes[layer]
        account.transition_ddr += m.ddr_bytes
        account.transition_cmx += m.cmx_bytes
        if m.kind is MoveKind.NONE:
            return list(self.resident[tensor][1].values())
        if m.kind in (MoveKind.LOAD, MoveKind.SPILL_RELOAD):
            if m.kind is MoveKind.SPILL_RELOAD:
                dist, src = self.resident[tensor]
                self.to_ddr(tensor, dist, src.values(), layer, TaskRole.STAGE)
            dest = DIST_OF_NEED[need]
            stays = tensor not in self.resident  # loaded back into CMX for its next readers too
            bufs = self.buffers_for(_tiles(dest, self.arch.tiles), self.model.tile_bytes(tensor, dest),
                                    f"{tensor}>{layer}", first, now, tensor if stays else None,
                                    prefetch_for=index if lead else -1)
            loads = self.dma(f"{tensor}>{layer}/load", layer, TaskRole.LOAD, self.model.nbytes(tensor),
                             Path.DDR, [self.in_ddr.get(tensor, -1), *self.issued(index, lead)],
                             parts=segments(dest, self.arch.tiles))
            for task in loads:
                for b in bufs.values():
                    self.write(b, task)
            if stays:
                self.resident[tensor] = (dest, bufs)
            return list(bufs.values())
        # CMX -> CMX: halo rows, or a split or broadcast copy of the resident tensor
        src = list(self.resident[tensor][1].values())
        first_tile = 1 if m.kind is MoveKind.HALO else 0  # a halo goes to every tile but the first
        targets = list(range(first_tile, self.arch.tiles))
        share = math.ceil(m.cmx_bytes / max(1, len(targets))) if m.kind is MoveKind.HALO \
            else self.model.tile_bytes(tensor, DIST_OF_NEED[need])
        bufs = self.buffers_for(targets, share, f"{tensor}>{layer}", first, now,
                                prefetch_for=index if lead else -1)
        copies = self.dma(f"{tensor}>{layer}/{m.kind.value}", layer, TaskRole.CONVERT, m.cmx_bytes, Path.CMX,
                          self.issued(index, lead), parts=1 if m.kind is MoveKind.BROADCAST else len(targets))
        for task in copies:
            for b in src:
                self.read(b, task)
            for b in bufs.values():
                self.write(b, task)
        return list(bufs.values()) + (src if m.kind is MoveKind.HALO else [])

    # -- weights and outputs -----------------------------------------------------------------------
    def load_weights(self, index: int, first: int) -> dict[int, Buffer]:
        op, cand = self.ops[index], self.cands[index]
        bufs = self.buffers_for(list(range(cand.tiles_used)), cand.weight_tile_bytes, f"{op.name}/weights",
                                first, _during(index))
        lead = (_during(index) - first) // 2
        if lead:
            for b in bufs.values():
                b.prefetch_for = index
        for task in self.dma(f"{op.name}/weights", op.name, TaskRole.WEIGHTS, cand.weight_ddr_bytes, Path.DDR,
                             self.issued(index, lead), parts=cand.weight_segments):
            for b in bufs.values():
                self.write(b, task)
        self.bytes[op.name].weight_ddr += cand.weight_ddr_bytes
        self.weights[index] = bufs
        return bufs

    def outputs(self, index: int) -> dict[str, tuple[Dist, dict[int, Buffer]]]:
        """New output buffers of op ``index`` in its candidate's layout, or the input it overwrites."""
        cand, now = self.cands[index], _during(index)
        out: dict[str, tuple[Dist, dict[int, Buffer]]] = {}
        for t in self.model.outs[index]:
            inplace = self.inplace_source(index)
            if inplace is not None:  # the input's buffers are handed over to the output
                dist, bufs = self.resident.pop(inplace)
                for b in bufs.values():
                    b.holds.append((now, t))
                out[t] = (dist, bufs)
            else:
                out[t] = (cand.out_dist, self.buffers_for(_tiles(cand.out_dist, self.arch.tiles),
                                                          self.model.tile_bytes(t, cand.out_dist),
                                                          t, now, now, t))
        return out

    def inplace_source(self, index: int) -> str | None:
        """The input an element-wise op overwrites: it keeps the candidate's layout and dies here."""
        op, cand = self.ops[index], self.cands[index]
        if not op.inplace_input or cand.out_tile_bytes or len(self.model.outs[index]) != 1:
            return None
        tensor = self.graph.resolve(op.inplace_input)
        if tensor not in self.resident or self.model.last_use.get(tensor) != index \
                or self.model.ins[index].count(tensor) != 1:
            return None
        return tensor if self.resident[tensor][0] is cand.out_dist else None

    def publish(self, index: int, outputs: dict[str, tuple[Dist, dict[int, Buffer]]],
                writers: list[Task]) -> None:
        """Outputs become resident, written by ``writers`` (the op's compute gang, or its copy);
        graph outputs go back to DDR for the host."""
        for t, (dist, bufs) in outputs.items():
            for b in bufs.values():
                for w in writers:
                    self.write(b, w)
            self.resident[t] = (dist, bufs)
            if t in self.model.graph_outputs:
                self.to_ddr(t, dist, bufs.values(), self.ops[index].name, TaskRole.STORE)
                self.bytes[self.ops[index].name].act_out_ddr += self.model.nbytes(t)

    # -- op kinds --------------------------------------------------------------------------------
    def compute_op(self, index: int) -> None:
        op, cand = self.ops[index], self.cands[index]
        reads = [b for t, need in zip(self.model.ins[index], cand.needs, strict=True)
                 for b in self.input_buffers(index, t, need)]
        outputs = self.outputs(index)  # after the inputs: an overwritten input may just have been loaded
        weights = self.weights.pop(index, None)
        if weights is None and op.weight_bytes:
            weights = self.load_weights(index, first=_during(index))
            self.weights.pop(index)
        kind = TaskKind.DPU if op.engine is Engine.DPU else TaskKind.SHAVE
        duration = self.model.op_cost(index, cand).compute.ns
        work = self.task(_gang_name(op.name, cand.tiles_used), op.name, kind, TaskRole.COMPUTE, tile=0,
                         duration_ns=duration, width=cand.tiles_used)
        for b in (*reads, *(weights or {}).values()):
            self.read(b, work)
        self.publish(index, outputs, [work])

    def copy(self, index: int) -> None:
        """A data-movement op: one DMA from wherever its inputs are into its output layout (or DDR)."""
        op, cand = self.ops[index], self.cands[index]
        outputs = {} if cand.out_dist is Dist.DDR else self.outputs(index)
        sources: list[Buffer] = []
        deps: set[int] = set()
        from_ddr = 0
        for t in dict.fromkeys(self.model.ins[index]):
            if t in self.resident:
                sources += list(self.resident[t][1].values())
            else:
                deps.add(self.in_ddr.get(t, -1))
                from_ddr += self.model.nbytes(t)
        path = Path.DDR if from_ddr or cand.out_dist is Dist.DDR or cand.weight_ddr_bytes else Path.CMX
        parts = permute_tasks(self.arch, op.permute_planes) if op.permuted else 1
        copies = self.dma(f"{op.name}/copy", op.name, TaskRole.COPY, cand.copy_bytes, path, deps, parts)
        for copy in copies:
            copy.permuted = math.ceil(op.permuted / parts)
            for b in sources:
                self.read(b, copy)
        account = self.bytes[op.name]
        account.weight_ddr += cand.weight_ddr_bytes
        account.act_in_ddr += from_ddr
        if cand.out_dist is Dist.DDR:
            account.act_out_ddr += cand.stream_out_bytes
            self.spilled += cand.stream_out_bytes
            for t in self.model.outs[index]:
                self.in_ddr[t] = copies[-1].id
            return
        self.publish(index, outputs, copies)

    def tiled(self, index: int) -> None:
        """Sub-tiles: inputs (row blocks) and weights (channel blocks) stream in, outputs stream out
        (or, weights-only pipelining, stay whole in CMX). Pipelined, the next sub-tile's operand loads
        into the other of two slots while this one computes; a second output slot, where it fits,
        lets a sub-tile compute while the one before is stored."""
        op, cand = self.ops[index], self.cands[index]
        tiling = cand.tiling
        assert tiling is not None
        layer, account, now = op.name, self.bytes[op.name], _during(index)
        tiles = list(range(cand.tiles_used))
        keeps = tiling.keeps_output
        outputs = self.outputs(index) if keeps else {}
        n = tiling.count
        kind = TaskKind.DPU if op.engine is Engine.DPU else TaskKind.SHAVE
        duration = self.model.op_cost(index, cand).compute.ns / n
        # Data inputs stream in row blocks; activations used as weights (attention K, V) move with the
        # weights: loaded once when tiled over rows, in blocks when tiled over channels.
        like_inputs = set(op.weight_inputs)
        in_bytes = like_bytes = 0
        for t, b, need in zip(op.inputs, cand.in_tile_bytes, cand.needs, strict=True):
            if t in like_inputs:
                like_bytes += b
            elif need is Need.DDR:
                in_bytes += b
        by_block = tiling.blocks_weights
        stream = {TaskRole.STREAM_IN: math.ceil(cand.stream_in_bytes / n) if in_bytes else 0,
                  TaskRole.STREAM_WEIGHTS: math.ceil((cand.weight_ddr_bytes + cand.stream_like_bytes) / n)
                  if by_block else 0,
                  TaskRole.STREAM_OUT: 0 if keeps else math.ceil(cand.stream_out_bytes / n)}
        sizes = {TaskRole.STREAM_IN: in_bytes, TaskRole.STREAM_WEIGHTS: cand.weight_tile_bytes + like_bytes,
                 TaskRole.STREAM_OUT: cand.out_tile_bytes}
        pipelined = tiling.pipelined and n > 1
        depth = {TaskRole.STREAM_IN: 2 if pipelined and (not by_block or tiling.rows > 1 or tiling.inner > 1)
                 else 1,
                 TaskRole.STREAM_WEIGHTS: 2 if pipelined and by_block else 1,
                 TaskRole.STREAM_OUT: tiling.output_slots if pipelined else 1}
        # Prefetched (the plan found room while the op before ran): the first sub-tile's buffers
        # and the once-loaded weights exist from then, so their loads can run during that op.
        early = _during(index - self.leads[index]) if self.leads.get(index) else now
        slots = {role: [self.buffers_for(tiles, sizes[role], f"{layer}/{role.value}{s}",
                                         early if s == 0 else now, now) for s in range(depth[role])]
                 for role in depth if stream[role] and sizes[role]}
        whole_weights: dict[int, Buffer] = {}
        if not by_block and (op.weight_bytes or cand.stream_like_bytes):  # loaded once for every row block
            whole_weights = self.buffers_for(tiles, cand.weight_tile_bytes + like_bytes, f"{layer}/weights",
                                             early, now)
        if early != now:
            for b in [*whole_weights.values(), *(b for role in slots for b in slots[role][0].values())]:
                b.prefetch_for = index
        previous: dict[int, list[int]] = {}  # slot buffer id -> users of its last occupant

        def occupy(role: TaskRole, k: int, writer: Task) -> list[Buffer]:
            """Sub-tile ``k``'s ``role`` slot (one buffer on every tile the op uses); ``writer`` waits
            for the occupant before it."""
            if role not in slots:
                return []
            bufs = list(slots[role][k % depth[role]].values())
            for b in bufs:
                writer.deps.update(previous.get(b.id, ()))
                previous[b.id] = [writer.id]
                self.write(b, writer, replaces=True)
            return bufs

        streamed: dict[TaskRole, Task] = {}  # the last DMA of each stream

        def in_order(role: TaskRole, task: Task) -> None:
            """A stream's DMAs run in sub-tile order, one at a time, as the search's sub-tile formula
            has them: the first block arrives at the full bandwidth instead of sharing it."""
            if role in streamed:
                task.deps.add(streamed[role].id)
            streamed[role] = task

        deps: set[int] = set()  # the DDR copies of the streamed inputs
        issued = self.issued(index, self.leads.get(index, 0) if early != now else 0)

        both = (TaskRole.STREAM_IN, TaskRole.STREAM_WEIGHTS)

        def load(k: int, roles: tuple[TaskRole, ...] = both) -> list[Buffer]:
            bufs: list[Buffer] = []
            for role in roles:
                if role in slots:
                    (task,) = self.dma(f"{layer}/{role.value}{k}", layer, role, stream[role], Path.DDR,
                                       [*deps, *issued] if k == 0 else deps)
                    in_order(role, task)
                    bufs += occupy(role, k, task)
            return bufs

        # Constant weights first: queued before the input moves, they can load while the op before
        # runs (their buffers allowing); they wait for no input.
        if whole_weights and cand.weight_ddr_bytes:
            for task in self.dma(f"{layer}/{TaskRole.WEIGHTS.value}", layer, TaskRole.WEIGHTS,
                                 cand.weight_ddr_bytes, Path.DDR, issued, parts=cand.weight_segments):
                for b in whole_weights.values():
                    self.write(b, task)
        operands = load(0, (TaskRole.STREAM_WEIGHTS,)) if not cand.stream_like_bytes else []
        resident_reads: list[Buffer] = []
        for t, need in zip(self.model.ins[index], cand.needs, strict=True):
            if need is not Need.DDR:  # tiled over channels only: inputs stay whole in CMX
                resident_reads += self.input_buffers(index, t, need)
                continue
            if t not in self.in_ddr:  # it must be in DDR to be streamed
                dist, bufs = self.resident[t]
                self.to_ddr(t, dist, bufs.values(), layer, TaskRole.STAGE)
                account.transition_ddr += self.model.nbytes(t)
            deps.add(self.in_ddr[t])
        if whole_weights and cand.stream_like_bytes:  # activations used as weights, once
            for task in self.dma(f"{layer}/{TaskRole.STREAM_IN.value}", layer, TaskRole.STREAM_IN,
                                 cand.stream_like_bytes, Path.DDR, [*deps, *issued]):
                for b in whole_weights.values():
                    self.write(b, task)
        operands += load(0, (TaskRole.STREAM_IN,) if not cand.stream_like_bytes else
                         (TaskRole.STREAM_IN, TaskRole.STREAM_WEIGHTS))
        last_store: Task | None = None
        for k in range(n):
            c = self.task(f"{_gang_name(layer, len(tiles))}/{k}", layer, kind, TaskRole.COMPUTE, tile=0,
                          duration_ns=duration, width=len(tiles))
            for b in (*operands, *resident_reads, *whole_weights.values()):
                self.read(b, c)
            outs = occupy(TaskRole.STREAM_OUT, k, c)
            for _, bufs in outputs.values():  # each sub-tile writes its block of the kept output
                for b in bufs.values():
                    self.write(b, c)
            for b in operands:  # the slot's next occupant waits for this sub-tile's compute
                previous[b.id] = [*previous.get(b.id, []), c.id]
            following = load(k + 1) if k + 1 < n else []
            if not keeps:
                (last_store,) = self.dma(f"{layer}/{TaskRole.STREAM_OUT.value}{k}", layer,
                                         TaskRole.STREAM_OUT,
                                         stream[TaskRole.STREAM_OUT], Path.DDR)
                in_order(TaskRole.STREAM_OUT, last_store)
                for b in outs:
                    self.read(b, last_store)
                    previous[b.id] = [*previous.get(b.id, []), last_store.id]
            operands = following
        account.weight_ddr += cand.weight_ddr_bytes
        account.act_in_ddr += cand.stream_in_bytes + cand.stream_like_bytes
        account.act_out_ddr += cand.stream_out_bytes
        self.spilled += cand.stream_out_bytes
        if keeps:
            self.publish(index, outputs, [])
        else:
            for t in self.model.outs[index]:
                self.resident.pop(t, None)
                if last_store is not None:
                    self.in_ddr[t] = last_store.id


class _Builder:
    def __init__(self, graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan, coster: TaskCoster,
                 prefetch_depth: int) -> None:
        self.graph, self.arch, self.plan = graph, arch, plan
        self.ops = list(plan.ops)
        self.cands = [plan.placements[op.name].chosen for op in self.ops]
        self.model = SerialModel(graph, arch, coster, self.ops)  # moves, compute, uses: shared rules
        self.prefetch_depth = prefetch_depth
        # Repairs: ops whose weights load this many ops early, and extra spills before an op.
        self.leads: dict[int, int] = {j: min(prefetch_depth, j) for j, step in enumerate(plan.steps)
                                      if step.prefetched and prefetch_depth}
        self.extra_spills: dict[int, list[str]] = {}

    def run(self) -> TaskGraph:
        repairs, passes = 0, 0
        while True:
            built = _Pass(self).run()
            passes += 1
            try:
                peaks, highs = place(built.buffers, self.arch.tiles, self.arch.cmx.bytes_per_tile)
                break
            except Unplaceable as failed:
                # Repair around every op that failed, then build again (one pass per round, not per
                # buffer: the graph is rebuilt a few times, not once per conflict).
                repaired: set[int] = set()
                for buf in sorted(failed.buffers, key=lambda b: (b.first, b.id)):
                    if buf.first // 2 in repaired:
                        continue
                    repairs += 1
                    if repairs > _MAX_REPAIRS_PER_OP * max(1, len(self.ops)) or not self._repair(buf, built):
                        raise self._infeasible(buf, built) from None
                    repaired.add(buf.first // 2)
        reuse_dependencies(built.buffers, built.tasks, task_engines(built.tasks, self.arch.dma.channels),
                           self.arch.tiles)
        fragmentation = [1 - peak / high if high else 0.0 for peak, high in zip(peaks, highs, strict=True)]
        return TaskGraph(built.tasks, built.buffers, built.spilled, peaks, fragmentation, self.prefetch_depth,
                         built.bytes, repairs, passes)

    def _repair(self, buf: Buffer, built: _Pass) -> bool:
        """Make room for ``buf``, as the compiler's scheduler would: delay a weight prefetch (its own
        first), else spill to DDR before its op the tensor beside it needed furthest in the future,
        else split a tensor that stays in CMX past its op (spill it right after, reload it at its
        next use)."""
        alive = [b for b in built.buffers
                 if b.shares_tile(buf) and b.first <= buf.last and b.last >= buf.first
                 and b is not buf]
        # A prefetch beside it is worth delaying only while it is early during ``buf``'s lifetime:
        # a buffer that stays alive there anyway frees nothing by loading later.
        early = [b for b in (buf, *alive)
                 if self._early(b) and (b is buf or buf.first < _during(b.prefetch_for))]
        if early:  # its own prefetch first, else the earliest one beside it
            chosen = early[0] if early[0] is buf else min(early, key=lambda b: (b.first, -b.size))
            self.leads[chosen.prefetch_for] -= 1
            return True
        op = buf.first // 2
        before = self.extra_spills.get(op, [])
        held = [(t, b) for b in alive if b.last >= buf.first and (t := b.tensor_at(_before(op))) is not None
                and t not in before]
        if held:  # the tensor beside it needed furthest in the future goes to DDR before the op
            victim, _ = max(held, key=lambda tb: (self.model.next_use(tb[0], op - 1), tb[1].size, tb[0]))
            self.extra_spills.setdefault(op, []).append(victim)
            return True
        after = self.extra_spills.get(op + 1, [])
        staying = [(t, b) for b in (buf, *alive) if b.last > _during(op) and (t := b.tensor_at(_during(op)))
                   is not None and t not in after and self.model.next_use(t, op) < math.inf]
        if staying:  # a tensor that stays past the op splits into two stays around a spill
            victim, _ = max(staying, key=lambda tb: (self.model.next_use(tb[0], op), tb[1].size, tb[0]))
            self.extra_spills.setdefault(op + 1, []).append(victim)
            return True
        return False

    def _early(self, buf: Buffer) -> bool:
        index = buf.prefetch_for
        return index >= 0 and self.leads.get(index, 0) > 0 and buf.first < _during(index)

    def _infeasible(self, buf: Buffer, built: _Pass) -> InternalError:
        """The search only plans ops that fit CMX, so a buffer no repair can place is nbperf's bug
        (the task graph sized something the candidate did not), never the user's model."""
        cap = self.arch.cmx.bytes_per_tile
        alive = sum(b.size for b in built.buffers if b.shares_tile(buf) and b.first <= buf.last
                    and b.last >= buf.first and b is not buf and not b.holds)
        need = buf.size + alive
        return InternalError(f"the task graph cannot place {buf.label}: {buf.size} B of CMX on tile "
                             f"{buf.tile} beside {alive} B its op cannot give up ({need - cap} B over "
                             f"{cap} B), although the plan fits")


def build_task_graph(graph: NpuGraph, arch: ArchSpec, plan: StrategyPlan, coster: TaskCoster,
                     prefetch_depth: int = DEFAULT_PREFETCH_DEPTH) -> TaskGraph:
    if len(plan.steps) != len(plan.ops):
        raise InternalError("the plan has a step for every op")
    return _Builder(graph, arch, plan, coster, prefetch_depth).run()
