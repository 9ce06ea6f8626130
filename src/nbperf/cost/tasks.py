"""The one cost path: compute time of a task on one tile, whoever asks.

The strategy search, the layer-serial schedule, the task-graph emulator and ``explain`` all get
compute times here, so they can never disagree about what a task costs. A tile's DPU task is
split into workloads like the compiler's SplitNCEOpsOntoWorkloads pass does it
(``split_nce_ops_onto_workloads.cpp`` in openvinotoolkit/npu_compiler): on parts with one DPU
per tile (NPU 37XX / 40XX) the split pool has one entry, one workload per tile; with several
DPUs per tile (VPU 2.0) the cheapest split into up to ``max_workloads_per_task`` workloads over
rows or 16-aligned channel blocks, spread over the DPUs, wins; depthwise and pooling workloads
are split into variants of 64, 32 or 16 channels on NPU 37XX/40XX, as the compiler's
CorrectNCEWorkloads does. The backend prices each distinct workload once (cached); a task costs
its busiest DPU plus the task overhead, and a tiled task is one task per sub-tile.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from nbperf.arch.model import ArchSpec, Precision
from nbperf.cost.base import ComputeCost, CostBackend
from nbperf.cost.dma import Direction, Path, default_direction, external_transfer_ns, transfer_ns
from nbperf.cost.shave_rows import has_row_model, row_kernel_cycles
from nbperf.cost.workload import DpuWorkload, Placement, ShaveWorkload, WorkloadCost, placement_for
from nbperf.lower.npu_ops import DpuKind, DpuWork

CHANNEL_BLOCK = 16  # workload and sub-tile channel splits are 16-aligned (compiler)
# Depthwise, max-pool and average-pool variants produce only the arch's ``dpu.depthwise_channels``
# (NPU 37XX/40XX: 64, 32 or 16, the compiler's CorrectNCEWorkloads splits any other:
# supportedChannelsDW in workload_splitter_base.hpp:16, isDepthwiseOp / findInvalidDepthwiseOps
# in its .cpp, openvinotoolkit/npu_compiler@150e202; VPUNN accepts only those for DW_CONVOLUTION
# and MAXPOOL: device_valid_valuesVPU2_7.h:235/239, VPU4.h:251/254, intel/npu-nn-cost-model@8a2ae92).
_MAX_SPLITS_PER_DPU = 4  # split counts tried per DPU: the compiler's pool costs more; the best is small


def split_sizes(extent: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """(size, count) pairs of ``extent`` split into at most ``parts`` pieces of ``align``-multiples,
    all as large as the largest but the last (the compiler's last-tile-not-biggest rule)."""
    parts = max(1, min(parts, math.ceil(extent / align)))
    size = align * math.ceil(math.ceil(extent / align) / parts)
    full, rest = divmod(extent, size)
    return [(size, full)] + ([(rest, 1)] if rest else [])


def depthwise_variants(work: DpuWork, channels: tuple[int, ...]) -> list[DpuWork]:
    """A depthwise or pooling workload as the variants the compiler splits it into: the largest of
    ``channels`` (largest first) that its 16-padded channels still fill, in turn; the last variant
    keeps the channels left (its padding to 16 is the MAC model's). No ``channels``: one piece."""
    if not channels:
        return [work]
    pieces, left = [], work.out_k
    padded = -(-left // CHANNEL_BLOCK) * CHANNEL_BLOCK
    while padded > 0:
        size = next((c for c in channels if c <= padded), channels[-1])
        pieces.append(replace(work, out_k=min(size, left)))
        left, padded = left - size, padded - size
    return pieces or [work]


def _rows(work: DpuWork) -> int:
    return work.out_w if work.flat_spatial else work.out_h


def _with_rows(work: DpuWork, rows: int) -> DpuWork:
    return replace(work, out_w=rows) if work.flat_spatial else replace(work, out_h=rows)


@dataclass(frozen=True, slots=True)
class _Piece:
    """One distinct DPU task of a tiled task: its work, useful MACs, how often it runs, and where
    its first instance sits in the layer."""

    work: DpuWork
    useful_macs: int
    count: int
    placement: Placement | None


Placed = tuple[DpuWork, Placement | None]  # a workload and where it sits in its layer


def _offsets(works: list[DpuWork], placement: Placement | None, axis: int) -> list[Placed]:
    """Workloads laid side by side along ``axis`` of the output (1: rows, 2: channels) from
    ``placement``'s origin, each with its own placement."""
    if placement is None:
        return [(w, None) for w in works]
    out, at = [], list(placement.offset)
    for w in works:
        out.append((w, replace(placement, offset=(at[0], at[1], at[2]))))
        at[axis] += _rows(w) if axis == 1 else w.out_k
    return out


def _row_pieces(work: DpuWork, n_rows: int) -> list[tuple[DpuWork, int]]:
    """``work`` cut into ``n_rows`` row blocks, each with its count. The rows of a batched matmul
    run over its batch items first (heads, frames), then within one: a block never spans two."""
    batch = work.batch if work.flat_spatial else 1
    if batch > 1 and n_rows > 1:
        if n_rows <= batch:
            return [(replace(work, batch=b), count) for b, count in split_sizes(batch, n_rows)]
        return [(replace(work, batch=1, out_w=rows), count * batch)
                for rows, count in split_sizes(work.out_w, math.ceil(n_rows / batch))]
    return [(_with_rows(work, rows), count) for rows, count in split_sizes(_rows(work), n_rows)]


# The arch sections a compute cost reads: the DPU and SHAVE, and CMX ports, word and clock (the
# math model's CMX read bound), and whether activations are swizzled. Tiles, CMX size, DMA,
# barriers and runtime never enter one. The
# calibration factors scale task costs, not workloads: they key the task memo only, so a fit that
# tries many factors prices each workload once.
COST_SECTIONS = ("dpu", "shave", "cmx")
_CMX_SIZE_FIELDS = {"bytes_per_tile", "tiling_budget", "alignment_bytes", "swizzling_size_alignment_bytes",
                    "swizzling_address_alignment_bytes"}  # sizes: never in a cost
_SHARED_MEMOS = 64  # cost contexts kept per process (a sweep's distinct DPU/SHAVE/CMX points)
_CALIBRATIONS_PER_CONTEXT = 16  # task memos kept per context (a calibration fit tries many factors)
# A context's memo starts over past this many entries: a NAS loop over thousands of networks would
# otherwise keep every workload it ever priced (assumed bound: tens of MB of small objects).
_SHARED_ENTRIES = 200_000
# (workload memo, task memos by calibration, the backend): the backend is kept so an id-based key
# is never reused
_memos: OrderedDict[tuple[str, str], tuple[dict, OrderedDict[str, dict], CostBackend]] = OrderedDict()


def cost_context(arch: ArchSpec, backend: CostBackend) -> tuple[str, str]:
    """What a workload's cost depends on, as a key: the backend and the arch sections it reads."""
    data = arch.model_dump(include=set(COST_SECTIONS))
    data["cmx"] = {k: v for k, v in data["cmx"].items() if k not in _CMX_SIZE_FIELDS}
    data["activation_swizzling"] = arch.compiler.activation_swizzling
    # A backend that does not say what its figures depend on shares its memo with nobody: two
    # instances of one class may be configured differently (``ideal:0.5`` and ``ideal:1.0``).
    identity = getattr(backend, "cache_key", None) or f"{type(backend).__name__}@{id(backend)}"
    return identity, json.dumps(data, sort_keys=True)


def _shared_memos(arch: ArchSpec, backend: CostBackend) -> tuple[dict, dict]:
    """The process-wide workload memo of ``arch``'s cost context and its task memo for ``arch``'s
    calibration."""
    key = cost_context(arch, backend)
    memo = _memos.get(key)
    if memo is None:
        memo = _memos[key] = ({}, OrderedDict(), backend)
        if len(_memos) > _SHARED_MEMOS:
            _memos.popitem(last=False)
    else:
        _memos.move_to_end(key)
        if len(memo[0]) + sum(len(t) for t in memo[1].values()) > _SHARED_ENTRIES:
            memo[0].clear()
            memo[1].clear()
    calibration = arch.calibration.model_dump_json(exclude={"fitted_from"})
    tasks = memo[1].get(calibration)
    if tasks is None:
        tasks = memo[1][calibration] = {}
        if len(memo[1]) > _CALIBRATIONS_PER_CONTEXT:
            memo[1].popitem(last=False)
    else:
        memo[1].move_to_end(calibration)
    return memo[0], tasks


class TaskCoster:
    """Compute costs of DPU and SHAVE tasks on ``arch`` with ``backend``, memoised.

    With ``shared``, the memo is shared by every coster of the same cost context in this process:
    the estimates of a sweep or a NAS loop price a layer signature once per DPU/SHAVE point, however
    many tile counts, CMX sizes or DDR bandwidths they try (the key holds every arch field a compute
    cost reads, ``COST_SECTIONS``)."""

    def __init__(self, arch: ArchSpec, backend: CostBackend, shared: bool = False,
                 placed: bool | None = None) -> None:
        self.arch, self.backend = arch, backend
        # Only a backend that prices a workload where it sits gets placements (or an export, which
        # describes them): for the others a workload's cost is its shape's, and placements would
        # only split the memo.
        self._placed = bool(getattr(backend, "uses_placement", False)) if placed is None else placed
        self._swizzled = arch.compiler.activation_swizzling  # how DPU workloads are priced
        self._workloads: dict[DpuWorkload, WorkloadCost] = {}
        self._tasks: dict[tuple[object, ...], ComputeCost] = {}
        # A cost model that prices single DMA transfers: (bytes, direction, arch) -> DPU cycles or None.
        self._dma_cycles = getattr(backend, "dma_transfer_cycles", None)
        self._dmas: dict[tuple[int, Path, Direction], float | None] = {}
        self._calibration = arch.calibration
        if shared:
            self._workloads, self._tasks = _shared_memos(arch, backend)

    # -- DMA ------------------------------------------------------------------------------------
    def dma_ns(self, nbytes: int, path: Path, transfers: int = 1, permuted: int = 0,
               direction: Direction | None = None) -> float:
        """Time of ``transfers`` DMA tasks moving ``nbytes`` together (``cost.dma``): the DMA model,
        or, when the cost model prices single transfers (``dma_cycles``), its figure for one of
        them. A permute DMA reorders element by element: always the DMA model's."""
        if self._dma_cycles is None or permuted or nbytes <= 0 or transfers <= 0:
            return transfer_ns(self.arch, nbytes, path, transfers, permuted)
        one = self.external_dma_ns(math.ceil(nbytes / transfers), path, direction)
        if one is None:
            return transfer_ns(self.arch, nbytes, path, transfers, permuted)
        return external_transfer_ns(self.arch, nbytes, path, transfers, one)

    def external_dma_ns(self, nbytes: int, path: Path, direction: Direction | None = None) -> float | None:
        """The cost model's time for one transfer of ``nbytes`` (None: it has none, or it gave a
        reason instead; the DMA model then prices it)."""
        if self._dma_cycles is None or nbytes <= 0:
            return None
        key = (nbytes, path, direction or default_direction(path))
        if key not in self._dmas:
            cycles = self._dma_cycles(nbytes, key[2], self.arch)
            self._dmas[key] = None if cycles is None else cycles * 1e3 / self.arch.dpu.frequency_mhz
        return self._dmas[key]

    @property
    def dma_queries(self) -> list[tuple[int, Path, Direction]]:
        """Every single transfer asked of the cost model so far, as (bytes, path, direction)."""
        return list(self._dmas)

    @property
    def priced(self) -> dict[DpuWorkload, WorkloadCost]:
        """Every workload priced so far, in the order first asked."""
        return self._workloads

    # -- DPU ------------------------------------------------------------------------------------
    def workload(self, workload: DpuWorkload) -> WorkloadCost:
        cost = self._workloads.get(workload)
        if cost is None:
            cost = self.backend.dpu_workload(workload, self.arch)
            self._workloads[workload] = cost
        return cost

    def dpu_task(self, work: DpuWork, precision: Precision, useful_macs: int, output_write_tiles: int = 1,
                 strategy: str = "Clustering", placement: Placement | None = None) -> ComputeCost:
        """One DPU task computing ``work`` on one tile (at ``placement`` in its layer)."""
        placement = placement if self._placed else None
        key = ("dpu", work, precision, useful_macs, output_write_tiles, strategy, placement)
        cost = self._tasks.get(key)
        if cost is None:
            cost = self._dpu_task(work, precision, useful_macs, output_write_tiles, strategy, placement)
            self._tasks[key] = cost
        return cost

    def dpu_subtiles(self, work: DpuWork, precision: Precision, useful_macs: int, n_rows: int, n_k: int,
                     output_write_tiles: int = 1, strategy: str = "Clustering",
                     n_inner: int = 1, layer: DpuWork | None = None) -> ComputeCost:
        """``work`` tiled into ``n_rows`` x ``n_k`` sub-tiles, each a DPU task of its own; with
        ``n_inner`` > 1 each sub-tile also splits its input channels (the inner dimension) into
        that many partial sums, added up by element-wise DPU tasks as the compiler's Accumulate
        (npu_compiler IE/transforms/passes/unroll_fully_connected.cpp). ``work`` is the busiest
        tile's share of ``layer`` (the op's whole DPU work; None: ``work`` is the whole layer)."""
        layer = layer if self._placed else None
        if n_rows * n_k * n_inner == 1:
            placement = placement_for(layer, strategy, work) if layer is not None else None
            return self.dpu_task(work, precision, useful_macs, output_write_tiles, strategy, placement)
        key = ("subtiles", work, precision, useful_macs, n_rows, n_k, output_write_tiles, strategy, n_inner,
               layer)
        cost = self._tasks.get(key)
        if cost is None:  # the same tiling of the same work recurs across candidates and arch points
            total = overhead = 0
            first: ComputeCost | None = None
            for piece in self._subtile_pieces(work, useful_macs, n_rows, n_k, n_inner, strategy, layer):
                task = self.dpu_task(piece.work, precision, piece.useful_macs, output_write_tiles, strategy,
                                     piece.placement)
                first = first or task
                total += task.cycles * piece.count
                overhead += task.overhead_cycles * piece.count
            assert first is not None
            cost = self._tasks[key] = self._summary(total, overhead, first,
                                                    self._performed(work, useful_macs, precision), precision)
        return cost

    def _subtile_pieces(self, work: DpuWork, useful_macs: int, n_rows: int, n_k: int, n_inner: int,
                        strategy: str, layer: DpuWork | None) -> Iterator[_Piece]:
        """The distinct DPU tasks of ``work`` tiled ``n_rows`` x ``n_k`` x ``n_inner``, each with how
        many times it runs and, with a ``layer``, where its first instance sits in it."""
        volume = max(1, work.out_elements * max(1, work.in_k))
        inner = split_sizes(work.in_k, n_inner, CHANNEL_BLOCK) if work.in_k else [(0, 1)]
        adds = sum(c for _, c in inner) - 1  # per output block, one Add per chunk after the first
        tile = placement_for(layer, strategy, work) if layer is not None else None
        row_at = 0
        for rows_work, row_count in _row_pieces(work, n_rows):
            k_at = 0
            for k, k_count in split_sizes(work.out_k, n_k, CHANNEL_BLOCK):
                block = replace(rows_work, out_k=k)
                count = row_count * k_count
                at = None if tile is None else replace(tile, offset=(0, row_at, k_at))
                if not count:  # split_sizes of an extent below one block has no full piece
                    continue
                for in_k, in_count in inner:
                    if not in_count:
                        continue
                    sub = replace(block, in_k=in_k) if work.in_k else block
                    share = math.ceil(useful_macs * sub.out_elements * max(1, sub.in_k) / volume)
                    yield _Piece(sub, share, count * in_count, at)
                if adds:  # the block's partial sums
                    accumulate = replace(block, kind=DpuKind.ELTWISE, in_k=0, kernel_h=1, kernel_w=1,
                                         stride_h=1, stride_w=1)
                    yield _Piece(accumulate, 0, count * adds, at)
                k_at += k * k_count
            row_at += _rows(rows_work) * row_count if rows_work.batch == work.batch else 0

    def priced_workloads(self, work: DpuWork, precision: Precision, useful_macs: int, n_rows: int = 1,
                         n_k: int = 1, output_write_tiles: int = 1, strategy: str = "Clustering",
                         n_inner: int = 1, layer: DpuWork | None = None) -> list[tuple[DpuWorkload, int]]:
        """Every workload the one cost path prices for this task (the busiest tile's), with how
        many times it runs there: what ``nbperf workloads`` exports and a backend is asked."""
        layer = layer if self._placed else None
        out: list[tuple[DpuWorkload, int]] = []
        # An untiled task is the one piece its tiling into 1 x 1 x 1 gives.
        for piece in self._subtile_pieces(work, useful_macs, n_rows, n_k, n_inner, strategy, layer):
            *_, split = self._cheapest_split(piece.work, precision, output_write_tiles, strategy,
                                             piece.placement)
            out.extend((DpuWorkload(w, precision, output_write_tiles, strategy, at, self._swizzled),
                        piece.count) for w, at in split)
        return out

    def _dpu_task(self, work: DpuWork, precision: Precision, useful_macs: int, write_tiles: int,
                  strategy: str, placement: Placement | None) -> ComputeCost:
        dpu = self.arch.dpu
        busiest, count, dominant, _ = self._cheapest_split(work, precision, write_tiles, strategy, placement)
        cycles = busiest + dpu.task_overhead_cycles
        overhead = dpu.task_overhead_cycles + count * dpu.workload_overhead_cycles
        factor = self._calibration.dpu_factor(work.kind.value)
        if factor != 1.0:  # calibrated: silicon's time for this kind of task, overheads included
            cycles, overhead = round(cycles * factor), round(overhead * factor)
        return ComputeCost(cycles=cycles, clock_mhz=dpu.frequency_mhz, overhead_cycles=overhead,
                           mpe_mode=dominant.mpe_mode, mac_utilisation=self._utilisation(
                               self._performed(work, useful_macs, precision), cycles, precision),
                           limit=dominant.limit, workloads=count)

    def _cheapest_split(self, work: DpuWork, precision: Precision, write_tiles: int, strategy: str,
                        placement: Placement | None) -> tuple[int, int, WorkloadCost, list[Placed]]:
        """The split a task runs as (the first of the cheapest): its busiest DPU's cycles and
        workload count, the cost of that DPU's largest workload, and the split's workloads."""
        best: tuple[int, int, WorkloadCost, list[Placed]] | None = None
        for workloads in self._splits(work, placement):
            busiest, count, dominant = self._busiest_dpu(workloads, precision, write_tiles, strategy)
            if best is None or busiest < best[0]:
                best = (busiest, count, dominant, workloads)
        assert best is not None
        return best

    def _splits(self, work: DpuWork, placement: Placement | None) -> list[list[Placed]]:
        """Candidate workload splits of one tile's task: one workload, and on multi-DPU tiles splits
        over rows or channel blocks into multiples of the DPU count; depthwise and pooling
        workloads then split further into variants of the channel counts the DPU takes. Each
        workload comes with its placement in the layer (None without one)."""
        dpu = self.arch.dpu
        options = [[(work, placement)]]
        if dpu.max_workloads_per_task > 1:
            counts = [dpu.dpus_per_tile * m for m in range(1, _MAX_SPLITS_PER_DPU + 1)
                      if dpu.dpus_per_tile * m <= dpu.max_workloads_per_task]
            for n in counts:
                by_rows = _offsets([_with_rows(work, rows) for rows, c in split_sizes(_rows(work), n)
                                    for _ in range(c)], placement, axis=1)
                by_k = _offsets([replace(work, out_k=k) for k, c in split_sizes(work.out_k, n, CHANNEL_BLOCK)
                                 for _ in range(c)], placement, axis=2)
                options += [split for split in (by_rows, by_k) if len(split) > 1]
        if work.kind in {DpuKind.DWCONV, DpuKind.POOL} and dpu.depthwise_channels:
            options = [[piece for w, at in split
                        for piece in _offsets(depthwise_variants(w, dpu.depthwise_channels), at, axis=2)]
                       for split in options]
        return options

    def _busiest_dpu(self, workloads: list[Placed], precision: Precision,
                     write_tiles: int, strategy: str) -> tuple[int, int, WorkloadCost]:
        """Cycles and workload count of the busiest DPU (workloads dealt round robin), and the cost of
        its largest workload."""
        dpus = self.arch.dpu.dpus_per_tile
        busy = [0] * dpus
        count = [0] * dpus
        largest: WorkloadCost | None = None
        for i, (work, at) in enumerate(workloads):
            cost = self.workload(DpuWorkload(work, precision, write_tiles, strategy, at, self._swizzled))
            busy[i % dpus] += cost.cycles + self.arch.dpu.workload_overhead_cycles
            count[i % dpus] += 1
            if largest is None or cost.cycles > largest.cycles:
                largest = cost
        assert largest is not None
        top = max(range(dpus), key=lambda d: (busy[d], -d))
        return busy[top], count[top], largest

    def _performed(self, work: DpuWork, useful_macs: int, precision: Precision) -> int:
        """The useful MACs the DPU performs: compressed weights' zeros, and a sparse input's zeros
        where the part skips them, are not multiplied (so utilisation stays a share of the peak).
        The zeros an SE op inserts are not useful MACs in the first place."""
        share = 1 - work.weight_sparsity
        if work.input_sparsity and self.arch.dpu.input_sparsity_ratio(work.input_sparsity, precision) < 1:
            share *= (1 - work.input_sparsity) / (1 - work.inserted_zeros)
        return round(useful_macs * share)

    def _utilisation(self, useful_macs: int, cycles: int, precision: Precision) -> float | None:
        if not useful_macs or not cycles:
            return None
        return useful_macs / (cycles * self.arch.macs_per_cycle(precision))

    def _summary(self, cycles: int, overhead: int, first: ComputeCost, useful_macs: int,
                 precision: Precision) -> ComputeCost:
        return replace(first, cycles=cycles, overhead_cycles=overhead,
                       mac_utilisation=self._utilisation(useful_macs, cycles, precision))

    # -- SHAVE ----------------------------------------------------------------------------------
    def shave_task(self, op_class: str, elements: int, precision: Precision,
                   subtiles: int = 1, kernel: str | None = None, row_elements: int = 0) -> ComputeCost:
        """A SHAVE kernel over ``elements`` on one tile, as ``subtiles`` launches of equal shares
        (whole rows of ``row_elements`` each, for a kernel priced per row). A profiled ``kernel``
        the arch has a model for costs its own launch (the work of a launch is shared by the tile's
        SHAVE cores, each paying the launch at once); any other op its class's cycles per element
        plus the arch's launch overhead."""
        key = ("shave", op_class, kernel, elements, precision, subtiles, row_elements)
        cost = self._tasks.get(key)
        if cost is None:
            spec = self.arch.shave
            if row_elements and has_row_model(spec, kernel):
                rows = math.ceil(math.ceil(elements / row_elements) / subtiles)
                share = rows * row_elements
                per_launch = row_kernel_cycles(spec, kernel, row_elements,
                                               math.ceil(rows / spec.cores_per_tile))[0]
            else:
                share, row_elements = math.ceil(elements / subtiles), 0
                profiled = spec.kernels.get(kernel) if kernel else None
                per_launch = round(profiled.intercept_cycles) if profiled else spec.launch_overhead_cycles
            workload = ShaveWorkload(op_class, share, precision, kernel, row_elements)
            body = self.backend.shave_workload(workload, self.arch)
            launch, work = per_launch * subtiles, body * subtiles
            factor = self._calibration.shave_factor(op_class)
            if factor != 1.0:  # calibrated: silicon's time for this class (whole cycles, as the model's)
                launch, work = round(launch * factor), round(work * factor)
            cost = ComputeCost(cycles=launch + work, clock_mhz=spec.frequency_mhz, overhead_cycles=launch)
            self._tasks[key] = cost
        return cost
