"""The layer-serial timing model: what one op costs where its inputs are, and where things are after.

This is both the strategy search's objective and the ``math`` schedule: the search minimises the
sum of ``SerialModel.step`` over the ops, and ``schedule.serial`` replays the chosen steps, so the
plan called optimal is optimal under the cost the report shows, spills and reloads included.

One step, for op ``i`` under a candidate, given the state (where every live tensor is):

1. Each input moves into the layout the candidate needs (``distribution.move``): free, a halo or
   split or broadcast copy CMX -> CMX, a load from DDR, or a spill and reload.
2. CMX on the fullest tile (tile 0: Clustering runs there) must hold every resident tensor plus
   the op's footprint; while it does not, the resident tensor needed furthest in the future (not
   an input of this op) is spilled to DDR (written once: a tensor already in DDR is just dropped).
   The capacity is the whole CMX; the tiling budget bounds only an op's own buffers (one CMX
   budget rule for the search, this model and the emulator).
3. The op costs max(compute of its slowest tile, its own DMA: weights, a copy, the store of a
   graph output), after its input moves and spills; a tiled op streams its sub-tiles, overlapping
   DMA and compute when pipelined and not otherwise.
4. Inputs whose last reader this was leave; a tensor loaded from DDR stays in CMX in the layout it
   was loaded into; outputs are resident in the candidate's layout (in DDR when tiled).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple

from nbperf.arch.model import ArchSpec
from nbperf.cost.base import ZERO_COST, ComputeCost
from nbperf.cost.dma import Direction, Path, permute_tasks
from nbperf.cost.tasks import TaskCoster
from nbperf.lower.npu_ops import Engine, NpuGraph, NpuOp
from nbperf.strategy.candidates import Candidate, halo_rows
from nbperf.strategy.distribution import (
    DIST_OF_NEED,
    FREE,
    Dist,
    Move,
    MoveKind,
    Need,
    move,
    per_tile_bytes,
    segments,
)
from nbperf.strategy.swizzling import stored_bytes, swizzled_activations


class Held(NamedTuple):
    """Where one live tensor is: its layout in CMX (``Dist.DDR``: not in CMX) and whether a copy
    is in DDR too (then dropping it from CMX costs nothing)."""

    dist: Dist
    in_ddr: bool


class State(NamedTuple):
    """Where everything is between two ops (hashable: the search's frontier keys).

    ``live``: every live tensor with its place. ``free_bytes``: CMX left free on the fullest tile
    while the previous op ran (kept only as precisely as the next op's prefetch test needs); the
    next op's weights could be prefetched into it only if they and its footprint fit there, and
    then their load hides behind the ``idle_dma_ns`` the previous op left the DMA engines.
    """

    live: frozenset[tuple[str, Held]]
    free_bytes: int
    resident_bytes: int  # CMX the live tensors take on the fullest tile
    idle_dma_ns: int  # how long the DMA engines idled while the previous op ran (10 ns steps, floor)


@dataclass(frozen=True)
class OpCost:
    """The state-independent cost of an op under one candidate."""

    compute: ComputeCost
    weights_ns: float  # weight DMA of an op that fits CMX
    stream_ns: float = 0.0  # all DMA of a tiled op: weights, input and output sub-tiles
    tiled_ns: float = 0.0  # a tiled op's whole time, sub-tile by sub-tile
    head_ns: float = 0.0  # a tiled op's first load (once-loaded weights and the first sub-tile's operands)


@dataclass(frozen=True)
class Step:
    """One op's layer-serial cost in context."""

    moves: tuple[Move, ...]  # per op input, in ``op.inputs`` order
    evicted: tuple[str, ...]  # tensors spilled to make room, in order
    compute: ComputeCost
    spill_ns: float  # writing evicted tensors to DDR, before the op runs
    own_dma_ns: float  # the op's own DMA, overlapped with its compute when it can be
    op_ns: float  # the op itself after its moves and spills
    weight_ddr_bytes: int
    act_in_ddr_bytes: int  # streamed sub-tile inputs, DDR reads of a data-movement op
    act_out_ddr_bytes: int  # spills, streamed sub-tile outputs, stores of graph outputs
    transition_ddr_bytes: int  # moves through DDR: loads, spills for streaming, spill + reload
    transition_cmx_bytes: int  # moves CMX -> CMX: halos, split and broadcast copies
    spilled_bytes: int  # activations written to DDR for lack of CMX: evictions, tiled outputs
    peak_cmx_bytes: int  # CMX in use on the fullest tile while the op runs
    prefetched: bool = False  # its first loads (weights, first sub-tile, early inputs) overlap the op before
    early_ns: float = 0.0  # input moves that ran with those loads: counted in ``op_ns``, not before it

    @property
    def transition_ns(self) -> float:
        return sum(m.ns for m in self.moves)

    @property
    def pre_ns(self) -> float:
        """Input moves and spills the op waits for before it starts."""
        return self.transition_ns - self.early_ns + self.spill_ns

    @property
    def time_ns(self) -> float:
        return self.pre_ns + self.op_ns


class _OpPart(NamedTuple):
    """The part of a step that depends only on the op's candidate."""

    cost: OpCost
    own_ns: float  # weights and stores of graph outputs
    fixed_ns: float | None  # a tiled op's whole time (no prefetch question)
    copy_ns: float  # a data-movement op's copy (and stores) when every input is in CMX
    copy_ddr_ns: float  # the same when an input is read from DDR
    store_bytes: int  # graph outputs written back to DDR
    outputs: tuple[tuple[str, Held | None], ...]  # new entries of its outputs (None: no later reader)
    resident_delta: int  # CMX its kept outputs add


class _InputPart(NamedTuple):
    """One input's part of a step, for one place of that input."""

    moves: tuple[tuple[int, Move], ...]  # (position in op.inputs, move)
    move_ns: float
    in_place: tuple[int, ...]  # positions whose footprint it does not add, being used where it is
    held: Held | None  # where it is after the op (None: dead)
    resident_delta: int


class _Placed(NamedTuple):
    """The part of a step that the live tensors and the candidate's layouts fix, when nothing is
    spilled (see ``SerialModel._placed``)."""

    pre_ns: float  # input moves, early ones included
    in_place: tuple[int, ...]  # input positions used where they are (their footprint is not added)
    updates: list[tuple[str, Held | None]]  # each input's place after the op (None: dead)
    parts: list[_InputPart]
    live: frozenset[tuple[str, Held]]  # the live tensors after the op
    resident: int  # CMX they take
    from_ddr: int  # a copy's bytes read from DDR
    early_raw: float  # moves of inputs made before the op just before


class _StepCore(NamedTuple):
    """The part of a step that the live tensors fix (see ``SerialModel._core``)."""

    pre_ns: float  # input moves, early ones included
    spill_ns: float
    spill_bytes: int
    evicted: list[str]
    used: int  # CMX on the fullest tile while the op runs
    live: frozenset[tuple[str, Held]]  # the live tensors after the op
    resident: int  # CMX they take
    parts: list[_InputPart]
    from_ddr: int  # a copy's bytes read from DDR
    early_raw: float  # moves of inputs made before the op just before, if they prefetch
    part: _OpPart
    copy: bool


class _Timing(NamedTuple):
    """What a step's core fixes of its time and of the state after (``SerialModel._time_parts``)."""

    base_ns: float  # the step's time with none of its first loads hidden
    first_ns: float  # its first loads: at most this much hides behind the op before
    hides: bool  # it has first loads that may run during the op before (room allowing)
    after: State


class _OpTiming(NamedTuple):
    """The state-independent part of a step's time (``SerialModel._op_timing``)."""

    base_ns: float  # the op with none of its first loads hidden (a copy: reading from CMX)
    base_ddr_ns: float  # the same when a copy reads an input from DDR
    first_ns: float  # its own first loads (weights, a tiled op's first sub-tile)
    loads: bool  # it has first loads of its own
    copy: bool
    idle_ns: int  # how long the DMA idles while it runs, as the state after keeps it


class SerialModel:
    """The layer-serial model of one lowered graph on one arch (``ops``: the non-free ops, in order)."""

    def __init__(self, graph: NpuGraph, arch: ArchSpec, coster: TaskCoster, ops: list[NpuOp]) -> None:
        self.graph, self.arch, self.coster, self.ops = graph, arch, coster, ops
        self.ins = [tuple(graph.resolve(t) for t in op.inputs) for op in ops]
        self.outs = [tuple(dict.fromkeys(graph.resolve(t) for t in op.outputs)) for op in ops]
        self.uses: dict[str, list[int]] = {}
        for i, ins in enumerate(self.ins):
            for t in dict.fromkeys(ins):
                self.uses.setdefault(t, []).append(i)
        self.last_use = {t: u[-1] for t, u in self.uses.items()}
        self.graph_outputs = {graph.resolve(t) for t in graph.outputs}
        self.capacity = arch.cmx.bytes_per_tile
        self.swizzled = swizzled_activations(graph, arch)  # activations held at their swizzled size
        producer = {t: i for i, outs in enumerate(self.outs) for t in outs}
        # Per op: inputs made before the op just before it (or graph inputs). Their moves may run
        # during that op, like a weight prefetch, when the room is there.
        self.early_inputs = [frozenset(t for t in ins if producer.get(t, -1) < i - 1)
                             for i, ins in enumerate(self.ins)]
        # per op: each distinct input with the positions it is read at
        self._positions = [tuple((t, tuple(p for p, u in enumerate(ins) if u == t))
                                 for t in dict.fromkeys(ins)) for ins in self.ins]
        # Per op: the free CMX each of its candidates needs to have its weights prefetched. A state
        # keeps only the largest of these at or below its free bytes: states that differ below that
        # behave the same from then on, so the search may merge them (``set_candidates``).
        self._thresholds: list[tuple[int, ...]] | None = None
        self._candidates: list[tuple[Candidate, ...]] | None = None
        self._idle_caps: list[int] | None = None
        self._sizes: dict[tuple[str, Dist], int] = {}
        self._moves: dict[tuple[str, Dist, Need, int], Move] = {}
        self._op_costs: dict[tuple[object, ...], tuple[Candidate, OpCost]] = {}
        self._op_parts: dict[tuple[int, int], _OpPart] = {}
        self._input_parts: dict[tuple[object, ...], _InputPart] = {}
        self._interned: dict[tuple[object, ...], int] = {}  # (needs, output layout) -> a small id
        self._layouts: dict[int, int] = {}  # candidate id -> its layouts' id (candidates live in the problem)
        self._placements: dict[tuple[object, ...], _Placed] = {}
        self._op_timings: dict[tuple[int, int], _OpTiming] = {}
        self._timings: dict[tuple[object, ...], _Timing] = {}  # one op's step timings by candidate and place
        self._timings_at = -1

    def set_candidates(self, per_op: list[tuple[Candidate, ...]]) -> bool:
        """The candidates each op may take; lets states keep free CMX only as precisely as matters.
        Returns whether they changed (the timings of states from before no longer hold)."""
        if per_op == self._candidates:
            return False
        self._candidates = list(per_op)
        self._op_timings.clear()
        self._timings.clear()
        self._timings_at = -1
        self._thresholds = [tuple(sorted({c.cmx_bytes_per_tile for c in cands
                                          if self._prefetches(c) or self.early_inputs[i]}))
                            for i, cands in enumerate(per_op)]
        # Idle DMA time hides at most the longest first load of the next op (its weights, or first
        # sub-tile, and the moves of its early inputs, at most a spill and a broadcast reload each):
        # states idler than that behave the same.
        tiles = self.arch.tiles
        moves = [sum(self.coster.dma_ns(self.nbytes(t), Path.DDR) * (1 + tiles) for t in early)
                 for early in self.early_inputs]
        self._idle_caps = [math.ceil((max((max(cost.weights_ns, cost.head_ns) for c in cands
                                           if (cost := self.op_cost(i, c))), default=0) + moves[i]) / 10) * 10
                           for i, cands in enumerate(per_op)]
        return True

    def _free_key(self, index: int, free: int) -> int:
        """``free`` as the next op's prefetch test sees it (the largest threshold it meets)."""
        if self._thresholds is None or index + 1 >= len(self._thresholds):
            return free
        thresholds = self._thresholds[index + 1]
        k = bisect.bisect_right(thresholds, free)
        return thresholds[k - 1] if k else 0

    def next_op_rounding(self, index: int) -> tuple[object, ...]:
        """What the state after op ``index`` is rounded to: the next op's prefetch thresholds and
        idle-time cap (part of what a step reads, for ``repeats``)."""
        nxt, thresholds, caps = index + 1, self._thresholds or [], self._idle_caps or []
        return thresholds[nxt] if nxt < len(thresholds) else None, caps[nxt] if nxt < len(caps) else 0

    # -- small helpers ----------------------------------------------------------------------
    def nbytes(self, tensor: str) -> int:
        return self.graph.tensor_bytes.get(tensor, 0)

    def tile_bytes(self, tensor: str, dist: Dist) -> int:
        """CMX bytes of ``tensor`` on the fullest tile in ``dist``, aligned (0 in DDR)."""
        key = (tensor, dist)
        size = self._sizes.get(key)
        if size is None:
            raw = per_tile_bytes(self.nbytes(tensor), dist, self.arch.tiles)
            size = stored_bytes(raw, self.arch, tensor in self.swizzled)
            self._sizes[key] = size
        return size

    def _held_size(self, held: dict[str, Held], tensor: str) -> int:
        h = held.get(tensor)
        return self.tile_bytes(tensor, h.dist) if h is not None else 0

    def next_use(self, tensor: str, after: int) -> float:
        uses = self.uses.get(tensor, ())
        k = bisect.bisect_right(uses, after)
        return uses[k] if k < len(uses) else math.inf

    def initial_state(self) -> State:
        """Graph inputs (and compiler-made constants) are in DDR; nothing ran before the first op
        to hide its weight load behind."""
        in_ddr = {self.graph.resolve(t) for t in (*self.graph.inputs, *self.graph.ddr_constants)}
        live = frozenset((t, Held(Dist.DDR, True)) for t in in_ddr if t in self.uses)
        return State(live, 0, 0, 0)

    def move(self, index: int, tensor: str, have: Dist, need: Need) -> Move:
        """The move of ``tensor`` from ``have`` into what op ``index`` needs, cached."""
        key = (tensor, have, need, index)
        found = self._moves.get(key)
        if found is None:
            work = self.ops[index].dpu
            if work is not None and need is Need.SEG_W:
                halo, rows = halo_rows(work, "W"), work.in_w or work.out_w
            elif work is not None:
                halo, rows = halo_rows(work, "H"), work.in_h or work.out_h
            else:
                halo, rows = 0, 1
            found = move(have, need, self.nbytes(tensor), self.arch.tiles, halo, rows, self.arch,
                         self.coster.dma_ns)
            self._moves[key] = found
        return found

    def input_move(self, index: int, tensor: str, held: Held | None, need: Need) -> Move:
        """The move of one input; a tensor with a copy in DDR is never written there again."""
        if need is Need.ANY:
            return FREE
        have = held.dist if held is not None else Dist.DDR
        found = self.move(index, tensor, have, need)
        if held is not None and held.in_ddr and found.kind in (MoveKind.SPILL, MoveKind.SPILL_RELOAD):
            return FREE if need is Need.DDR else self.move(index, tensor, Dist.DDR, need)
        return found

    # -- the state-independent cost of a candidate ------------------------------------------
    def op_cost(self, index: int, cand: Candidate) -> OpCost:
        """Cached by candidate and what the cost reads of the op: the repeated blocks of a
        transformer share their candidates, so they share these costs. The candidate is kept with
        its cost so its id cannot be reused by another object."""
        op = self.ops[index]
        key = (id(cand), op.engine, op.precision, op.shave_class, op.shave_kernel, op.row_elements)
        found = self._op_costs.get(key)
        if found is None:
            found = self._op_costs[key] = (cand, self._op_cost(op, cand))
        return found[1]

    def _op_cost(self, op: NpuOp, cand: Candidate) -> OpCost:
        tiling = cand.tiling
        rows, channels, inner = cand.split
        if op.engine is Engine.DPU and cand.work is not None:
            compute = self.coster.dpu_subtiles(cand.work, op.precision, cand.useful_macs, rows, channels,
                                               cand.write_tiles, cand.strategy.value, inner, op.dpu)
        elif op.engine is Engine.SHAVE:
            compute = self.coster.shave_task(op.shave_class or "generic", cand.elements, op.precision,
                                             rows * channels, op.shave_kernel, op.row_elements)
        else:
            compute = ZERO_COST
        if tiling is None or op.engine is Engine.DMA:
            return OpCost(compute, self.coster.dma_ns(cand.weight_ddr_bytes, Path.DDR, cand.weight_segments))
        # Sub-tile by sub-tile, as the emulator runs it: weights (and activations used as weights) load
        # once when tiled over rows, in blocks over channels; each sub-tile loads its input rows,
        # computes, stores its output. Pipelined, the next sub-tile's operands load while this one
        # computes; its store overlaps the next compute only when a second output buffer fits.
        n = tiling.count
        constant = cand.weight_ddr_bytes + cand.stream_like_bytes
        once, block = (0.0, constant / n) if tiling.blocks_weights else (constant, 0.0)
        load = self.coster.dma_ns(math.ceil(cand.stream_in_bytes / n + block), Path.DDR)
        store = self.coster.dma_ns(math.ceil(cand.stream_out_bytes / n), Path.DDR, direction=Direction.OUT)
        c = compute.ns / n
        head = self.coster.dma_ns(math.ceil(once), Path.DDR) + load
        if not tiling.pipelined:
            total = head + c + store + (n - 1) * (load + c + store)
        elif tiling.output_slots > 1:  # the store and the next load run on two channels at once
            both = self.coster.dma_ns(math.ceil((cand.stream_in_bytes + cand.stream_out_bytes) / n + block),
                               Path.DDR, transfers=2) if store else load
            total = head + (n - 1) * max(c, both) + c + store
        else:
            total = head + (n - 1) * (max(c, load) + store) + c + store
        streams = (constant, cand.stream_in_bytes, cand.stream_out_bytes)
        transfers = n * sum(1 for nbytes in streams if nbytes)  # one DMA per streamed operand per sub-tile
        return OpCost(compute, 0.0, self.coster.dma_ns(sum(streams), Path.DDR, transfers), total, head)

    # -- one step ---------------------------------------------------------------------------
    def advance(self, index: int, cand: Candidate, state: State) -> tuple[float, State]:
        """``step`` for the search: only the time and the state after (the same computation)."""
        base_ns, first_ns, hides, after = self._timing(index, cand, state)
        if hides and cand.cmx_bytes_per_tile <= state.free_bytes:
            return base_ns - min(first_ns, state.idle_dma_ns), after
        return base_ns, after

    def _timing(self, index: int, cand: Candidate, state: State) -> _Timing:
        """What ``state``'s live tensors fix of the step's time and of the state after (cached: the
        search asks for it from states that differ only in free CMX and idle DMA time)."""
        key = (id(cand), state.live, state.resident_bytes)  # of op ``index``: the cache holds one op
        if self._timings_at != index:  # the search goes op by op: keep one op's timings
            self._timings.clear()
            self._placements.clear()
            self._timings_at = index
        found = self._timings.get(key)
        if found is None:
            found = self._timings[key] = self._time_parts(index, cand, state)
        return found

    def _time_parts(self, index: int, cand: Candidate, state: State) -> _Timing:
        """The step's time before any of its first loads hide, those first loads, whether they may
        run while the op before computed (given the room), and the state after."""
        placed, used, spilled = self._fit(index, cand, state)
        op = self._op_timing(index, cand)
        if spilled is None:
            pre_ns, live, resident, early, from_ddr = (placed.pre_ns, placed.live, placed.resident,
                                                       placed.early_raw, placed.from_ddr)
        else:
            pre_ns, live, resident, early, from_ddr = (spilled.pre_ns + spilled.spill_ns, spilled.live,
                                                       spilled.resident, spilled.early_raw, spilled.from_ddr)
            used = spilled.used
        free = self._free_key(index, max(0, self.capacity - used))
        return _Timing(pre_ns + (op.base_ddr_ns if from_ddr else op.base_ns), op.first_ns + early,
                       not op.copy and (op.loads or early > 0), State(live, free, resident, op.idle_ns))

    def _op_timing(self, index: int, cand: Candidate) -> _OpTiming:
        """The state-independent part of a step's time (cached per candidate). How long the DMA
        idles while the op runs does not depend on what hid: the hidden loads shorten the op and
        its DMA alike."""
        key = (index, id(cand))
        found = self._op_timings.get(key)
        if found is not None:
            return found
        part = self._op_part(index, cand)
        cost = part.cost
        copy = self.ops[index].engine is Engine.DMA
        if copy:  # a data-movement op is its own DMA
            base, base_ddr, first, loads, idle = part.copy_ns, part.copy_ddr_ns, 0.0, False, 0
        elif part.fixed_ns is not None:  # tiled: the sub-tile pipeline, its first load may hide
            base = base_ddr = part.fixed_ns
            first, loads = cost.head_ns, bool(cost.head_ns)
            idle = int(max(0.0, part.fixed_ns - cost.stream_ns) // 10) * 10
        else:  # weights load, then the DPU computes alongside its stores
            stores = part.own_ns - cost.weights_ns
            busy = max(cost.compute.ns, stores)
            base = base_ddr = cost.weights_ns + busy
            first, loads = cost.weights_ns, bool(cand.weight_ddr_bytes)
            idle = int(max(0.0, busy - stores) // 10) * 10
        if self._idle_caps is not None:
            idle = min(idle, self._idle_caps[index + 1] if index + 1 < len(self._idle_caps) else 0)
        found = self._op_timings[key] = _OpTiming(base, base_ddr, first, loads, copy, idle)
        return found

    def step(self, index: int, cand: Candidate, state: State) -> tuple[Step, State]:
        """Op ``index`` under ``cand`` from ``state``: its cost in detail and the state after it (the
        part fixed by where the tensors are, then what free CMX and idle DMA time decide: whether
        the first loads prefetch, and how much of them hides)."""
        base_ns, first_ns, hides, after = self._timing(index, cand, state)
        core = self._core(index, cand, state)
        (pre_ns, spill_ns, spill_bytes, evicted, used, _, _, parts, from_ddr, early_raw, part, copy) = core
        cost = part.cost
        prefetched = hides and self._fits_free(cand, state)
        hidden = min(first_ns, state.idle_dma_ns) if prefetched else 0.0  # DMA done while the op before ran
        early_ns = early_raw if prefetched else 0.0  # moves of inputs made before the op just before
        if part.fixed_ns is not None:
            own_ns = cost.stream_ns + early_ns
        elif copy:
            own_ns = part.copy_ddr_ns if from_ddr else part.copy_ns
        else:
            own_ns = part.own_ns + early_ns
        time_ns = base_ns - hidden
        op_ns = time_ns - (pre_ns - early_ns) - spill_ns  # prefetched early moves are in the op's time
        moves = tuple(m for _, m in sorted(pm for ip in parts for pm in ip.moves))
        tiled = cand.tiling is not None and not copy
        step = Step(
            moves=moves, evicted=tuple(evicted), compute=cost.compute, spill_ns=spill_ns, own_dma_ns=own_ns,
            op_ns=op_ns, weight_ddr_bytes=cand.weight_ddr_bytes,
            act_in_ddr_bytes=from_ddr + (cand.stream_in_bytes + cand.stream_like_bytes if tiled else 0),
            act_out_ddr_bytes=spill_bytes + part.store_bytes + cand.stream_out_bytes,
            transition_ddr_bytes=sum(m.ddr_bytes for m in moves),
            transition_cmx_bytes=sum(m.cmx_bytes for m in moves),
            spilled_bytes=spill_bytes + cand.stream_out_bytes, peak_cmx_bytes=used, prefetched=prefetched,
            early_ns=early_ns)
        return step, after

    def _core(self, index: int, cand: Candidate, state: State) -> _StepCore:
        """The part of a step that ``state``'s live tensors fix: moves, spills, footprint, and the
        places afterwards. Without a spill it is the part its layouts fix (``_placed``, shared by
        the tilings of one strategy) and the candidate's footprint."""
        placed, used, spilled = self._fit(index, cand, state)
        if spilled is not None:
            return spilled
        return _StepCore(placed.pre_ns, 0.0, 0, [], used, placed.live, placed.resident, placed.parts,
                         placed.from_ddr, placed.early_raw, self._op_part(index, cand),
                         self.ops[index].engine is Engine.DMA)

    def _fit(self, index: int, cand: Candidate, state: State) -> tuple[_Placed, int, _StepCore | None]:
        """The step's placed part, the CMX it uses on the fullest tile, and, when that is over the
        capacity, the step with its spills (None when it fits)."""
        placed = self._placed(index, cand, state)
        in_place = sum(cand.in_tile_bytes[p] for p in placed.in_place) if placed.in_place else 0
        used = state.resident_bytes + cand.cmx_bytes_per_tile - in_place
        if used <= self.capacity:
            return placed, used, None
        return placed, used, self._spilling_core(index, cand, state, placed, self._op_part(index, cand), used)

    def _placed(self, index: int, cand: Candidate, state: State) -> _Placed:
        """Moves of the inputs into the layouts ``cand`` needs, and the places afterwards when
        nothing is spilled: cached per live tensors and per the candidate's needs and output layout
        (its tilings share them)."""
        layouts = self._layouts.get(id(cand))
        if layouts is None:
            layouts = self._layouts[id(cand)] = self._interned.setdefault((cand.needs, cand.out_dist),
                                                                          len(self._interned))
        key = (layouts, state.live, state.resident_bytes)  # of op ``index``: the cache holds one op
        found = self._placements.get(key)
        if found is not None:
            return found
        held = dict(state.live)
        pre_ns, resident = 0.0, state.resident_bytes
        in_place: list[int] = []
        updates: list[tuple[str, Held | None]] = []
        parts: list[_InputPart] = []
        for t, positions in self._positions[index]:
            h = held.get(t)
            part_key = (index, layouts, t, h)
            ip = self._input_parts.get(part_key)
            if ip is None:
                ip = self._input_parts[part_key] = self._input_part(index, cand, t, positions, h)
            pre_ns += ip.move_ns
            in_place.extend(ip.in_place)
            resident += ip.resident_delta
            updates.append((t, ip.held))
            parts.append(ip)
        copy = self.ops[index].engine is Engine.DMA
        from_ddr = sum(self.nbytes(t) for t, _ in self._positions[index] if held.get(t) is None
                       or held[t].dist is Dist.DDR) if copy else 0
        early_raw = self._early_moves(index, parts) if not copy else 0.0
        part = self._op_part(index, cand)
        for t, h in (*updates, *part.outputs):
            if h is None:
                held.pop(t, None)
            else:
                held[t] = h
        found = _Placed(pre_ns, tuple(in_place), updates, parts, frozenset(held.items()),
                        resident + part.resident_delta, from_ddr, early_raw)
        self._placements[key] = found
        return found

    def _early_moves(self, index: int, parts: list[_InputPart]) -> float:
        """The moves of op ``index``'s inputs made before the op just before it."""
        early = self.early_inputs[index]
        if not early:
            return 0.0
        return sum(ip.move_ns for (t, _), ip in zip(self._positions[index], parts, strict=True) if t in early)

    def _spilling_core(self, index: int, cand: Candidate, state: State, placed: _Placed, part: _OpPart,
                       used: int) -> _StepCore:
        """``_core`` when the op does not fit beside what is resident: spill the tensors needed
        furthest in the future while it does not fit."""
        arch = self.arch
        held = dict(state.live)
        pre_ns = placed.pre_ns
        resident = placed.resident - part.resident_delta
        updates, parts = list(placed.updates), list(placed.parts)
        copy = self.ops[index].engine is Engine.DMA
        evicted: list[str] = []
        spill_bytes = 0
        spill_ns = 0.0
        keep = () if copy else self.ins[index]  # a copy may read its own inputs from DDR
        victims = sorted((t for t, h in held.items() if h.dist is not Dist.DDR and t not in keep),
                         key=lambda t: (-self.next_use(t, index), t))
        for t in victims:
            if used <= self.capacity:
                break
            h = held[t]
            size = self.tile_bytes(t, h.dist)
            used -= size
            resident -= size
            evicted.append(t)
            if not h.in_ddr:
                spill_bytes += self.nbytes(t)
                spill_ns += self.coster.dma_ns(self.nbytes(t), Path.DDR, segments(h.dist, arch.tiles),
                                               direction=Direction.OUT)
            held[t] = Held(Dist.DDR, True)
        if copy and evicted:  # an evicted input of the copy is in DDR afterwards (or dead)
            gone = set(evicted)
            for k, ((t, h), ip) in enumerate(zip(updates, parts, strict=True)):
                if t in gone:
                    resident -= ip.resident_delta  # its size already left with the eviction
                    updates[k] = (t, Held(Dist.DDR, True) if h is not None else None)
        # Still over: the op's own inputs overflow. Like the emulator, send the largest resident
        # one through DDR and load just what the op needs of it (a spill and a reload).
        order = sorted(range(len(parts)), key=lambda k: (-self._held_size(held, updates[k][0]), k))
        for k in order if not copy else ():
            if used <= self.capacity:
                break
            t, positions = self._positions[index][k]
            h = held[t]
            if h.dist is Dist.DDR:
                continue
            old = parts[k]
            new = self._input_part(index, cand, t, positions, Held(Dist.DDR, True))
            size = self.tile_bytes(t, h.dist)
            used += sum(cand.in_tile_bytes[p] for p in old.in_place) - size
            pre_ns += new.move_ns - old.move_ns
            resident += new.resident_delta - old.resident_delta - size
            if not h.in_ddr:
                spill_bytes += self.nbytes(t)
                spill_ns += self.coster.dma_ns(self.nbytes(t), Path.DDR, segments(h.dist, arch.tiles),
                                               direction=Direction.OUT)
            held[t] = Held(Dist.DDR, True)
            parts[k], updates[k] = new, (t, new.held)
            evicted.append(t)
        from_ddr = sum(self.nbytes(t) for t, _ in self._positions[index] if held.get(t) is None
                       or held[t].dist is Dist.DDR) if copy else 0
        early_raw = self._early_moves(index, parts) if not copy else 0.0
        for t, h in (*updates, *part.outputs):
            if h is None:
                held.pop(t, None)
            else:
                held[t] = h
        return _StepCore(pre_ns, spill_ns, spill_bytes, evicted, used, frozenset(held.items()),
                         resident + part.resident_delta, parts, from_ddr, early_raw, part, copy)

    def _op_part(self, index: int, cand: Candidate) -> _OpPart:
        """The state-independent part of a step (cached per candidate)."""
        key = (index, id(cand))
        part = self._op_parts.get(key)
        if part is not None:
            return part
        op, arch, cost = self.ops[index], self.arch, self.op_cost(index, cand)
        store_ns, store_bytes, added = 0.0, 0, 0
        outputs: list[tuple[str, Held | None]] = []
        for t in self.outs[index]:
            if cand.out_dist is Dist.DDR:
                h = Held(Dist.DDR, True)
            else:
                h = Held(cand.out_dist, t in self.graph_outputs)
                if t in self.graph_outputs:  # stored back to DDR for the host
                    store_bytes += self.nbytes(t)
                    parts = segments(cand.out_dist, arch.tiles)
                    store_ns += self.coster.dma_ns(self.nbytes(t), Path.DDR, parts, direction=Direction.OUT)
            keep = self.last_use.get(t, -1) > index
            outputs.append((t, h if keep else None))
            added += self.tile_bytes(t, h.dist) if keep else 0
        fixed = None
        if cand.tiling is not None and op.engine is not Engine.DMA:
            fixed = cost.tiled_ns + store_ns
        copy_path = Path.DDR if cand.out_dist is Dist.DDR or cand.weight_ddr_bytes else Path.CMX
        copy_tasks = permute_tasks(arch, op.permute_planes) if op.permuted else 1
        part = _OpPart(
            cost=cost, own_ns=cost.weights_ns + store_ns, fixed_ns=fixed,
            copy_ns=self.coster.dma_ns(cand.copy_bytes, copy_path, copy_tasks, op.permuted) + store_ns,
            copy_ddr_ns=self.coster.dma_ns(cand.copy_bytes, Path.DDR, copy_tasks, op.permuted) + store_ns,
            store_bytes=store_bytes, outputs=tuple(outputs), resident_delta=added)
        self._op_parts[key] = part
        return part

    def _input_part(self, index: int, cand: Candidate, tensor: str, positions: tuple[int, ...],
                    h: Held | None) -> _InputPart:
        """One input's part of a step: its moves, the positions whose footprint it saves by being used
        where it is, and where it is afterwards: dead, or loaded into CMX in the layout it was loaded into, or
        with a copy in DDR after a round trip."""
        dma = self.ops[index].engine is Engine.DMA
        resident = h is not None and h.dist is not Dist.DDR
        moves: list[tuple[int, Move]] = []
        in_place: list[int] = []
        after = h
        for position in positions:
            need = cand.needs[position]
            m = self.input_move(index, tensor, h, need)
            moves.append((position, m))
            if not dma and m.kind is MoveKind.NONE and resident and need is not Need.DDR:
                in_place.append(position)
            in_cmx = after is not None and after.dist is not Dist.DDR
            if m.kind is MoveKind.LOAD and need in DIST_OF_NEED and not in_cmx:
                after = Held(DIST_OF_NEED[need], True)
            elif m.kind in (MoveKind.SPILL, MoveKind.SPILL_RELOAD) and after is not None:
                after = Held(after.dist, True)
        if self.last_use.get(tensor, -1) <= index:
            after = None
        size_before = self.tile_bytes(tensor, h.dist) if h is not None else 0
        size_after = self.tile_bytes(tensor, after.dist) if after is not None else 0
        return _InputPart(tuple(moves), sum(m.ns for _, m in moves), tuple(in_place), after,
                          size_after - size_before)

    @property
    def candidates(self) -> list[tuple[Candidate, ...]] | None:
        """The candidates per op given to ``set_candidates`` (None before)."""
        return self._candidates

    @staticmethod
    def _fits_free(cand: Candidate, state: State) -> bool:
        """The first loads (weights, a tiled op's first sub-tile, early inputs) could run while the op
        before computed: this op's footprint fits the CMX that op left free (the emulator's rule)."""
        return cand.cmx_bytes_per_tile <= state.free_bytes

    @staticmethod
    def _prefetches(cand: Candidate) -> bool:
        """Has a first load that can run during the op before: weights, or a tiled op's operands."""
        return bool(cand.weight_ddr_bytes) or (cand.tiling is not None and cand.copy_bytes == 0)
