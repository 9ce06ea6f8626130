"""The math cost backend and the one task cost path: per-workload bounds, workload splits, SHAVE, DMA."""

from __future__ import annotations

import math

import pytest

from nbperf.arch import load_arch
from nbperf.cost import DpuWorkload, MathBackend, ShaveWorkload, TaskCoster, get_backend
from nbperf.cost.math_model import best_mode, cmx_read_cycles, dpu_mac_cycles, padded_outputs, ppe_cycles
from nbperf.cost.tasks import depthwise_variants, split_sizes
from nbperf.errors import ArchError, UsageError
from nbperf.lower import DpuKind, DpuWork

ARCH = load_arch("npu4000")
MODE_16 = next(m for m in ARCH.dpu.mpe_modes if m.name == "CUBOID_16x16")


def test_output_cube_is_padded_to_the_mode_block():
    work = DpuWork(DpuKind.CONV, out_w=7, out_h=7, out_k=20, in_k=64)
    assert padded_outputs(work, MODE_16) == 8 * 8 * 32  # 7 -> 8 (block 4), 20 -> 32 (block 16)


def test_mac_cycles_pad_input_channels_and_halve_for_fp16():
    work = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=3, kernel_h=3, kernel_w=3)
    int8 = dpu_mac_cycles(work, MODE_16, ARCH, "int8")
    fp16 = dpu_mac_cycles(work, MODE_16, ARCH, "fp16")
    assert int8 == math.ceil(16 * 16 * 64 * 9 * 16 / 2048)  # 3 input channels pay for 16
    assert fp16 == 2 * int8


def test_best_mode_picks_fewest_cycles_for_the_shape():
    """Every CUBOID mode computes the same 4x4 x 16 grid, so MAC cycles tie; a shape bound by CMX
    reads takes the mode that re-reads its activations least (the deepest channel block)."""
    wide_k = DpuWork(DpuKind.CONV, out_w=2, out_h=2, out_k=512, in_k=512)
    modes = ARCH.dpu.mpe_modes
    assert len({dpu_mac_cycles(wide_k, m, ARCH, "fp16") for m in modes}) == 1
    costs = [max(dpu_mac_cycles(wide_k, m, ARCH, "fp16"), cmx_read_cycles(wide_k, m, ARCH, "fp16"))
             for m in modes]
    mode, cycles, limit = best_mode(wide_k, ARCH, "fp16")
    assert cycles == min(costs) and mode is modes[costs.index(min(costs))]  # ties: the first listed
    read_bound = DpuWork(DpuKind.MATMUL, out_w=16, out_h=1, out_k=1024, in_k=1024, flat_spatial=True)
    mode, _, limit = best_mode(read_bound, ARCH, "fp16")
    assert limit == "cmx-read" and mode.read_grid[2] == max(m.read_grid[2] for m in modes)


def test_cmx_read_bound_counts_weight_rereads_per_spatial_block():
    """A 16-row matmul re-reads all its weights for a small output: CMX reads, not MACs, bound it."""
    row = DpuWork(DpuKind.MATMUL, out_w=16, out_h=1, out_k=1024, in_k=1024, flat_spatial=True)
    grid_k = MODE_16.read_grid[2]
    weights = 1 * 1024 * 1024  # one spatial block: every weight read once
    acts = math.ceil(1024 / grid_k) * 16 * 1024  # activations read once per 64-channel block
    cmx_cycles = math.ceil((weights + acts) * 2 / (ARCH.cmx.word_bytes * ARCH.cmx.dpu_read_ports))
    expected = math.ceil(cmx_cycles * ARCH.dpu.frequency_mhz / ARCH.cmx.frequency_mhz)
    assert cmx_read_cycles(row, MODE_16, ARCH, "fp16") == expected
    mode, cycles, limit = best_mode(row, ARCH, "fp16")
    assert limit == "cmx-read" and cycles == cmx_read_cycles(row, mode, ARCH, "fp16")
    assert cycles > dpu_mac_cycles(row, mode, ARCH, "fp16")
    assert cmx_read_cycles(row, load_arch("vpu2.0").dpu.mpe_modes[0], ARCH, "fp16") == 0  # no grid: no bound


def test_cmx_word_and_clock_change_the_read_bound():
    row = DpuWork(DpuKind.MATMUL, out_w=1, out_h=1, out_k=1024, in_k=1024, flat_spatial=True)
    wide = load_arch("npu4000", ["cmx.word_bytes=64"])
    fast = load_arch("npu4000", [f"cmx.frequency_mhz={2 * ARCH.cmx.frequency_mhz}"])
    base = cmx_read_cycles(row, MODE_16, ARCH, "fp16")
    assert cmx_read_cycles(row, MODE_16, wide, "fp16") == pytest.approx(base / 2, abs=1)
    assert cmx_read_cycles(row, MODE_16, fast, "fp16") == pytest.approx(base / 2, abs=1)


def test_preset_contexts_are_what_the_read_grids_hold():
    """64 contexts of 4x4x16 partial sums is every CUBOID grid's 16384 outputs: the preset changes nothing."""
    for mode in ARCH.dpu.mpe_modes:
        assert ARCH.dpu.read_grid(mode) == mode.read_grid
        assert math.prod(mode.read_grid) == ARCH.dpu.accumulator_contexts * 4 * 4 * 16


@pytest.mark.parametrize(("contexts", "grid"), [(32, (16, 16, 32)), (4, (16, 4, 16)), (1, (4, 4, 16)),
                                                (128, (16, 16, 128))])
def test_contexts_scale_the_read_grid_channels_first(contexts, grid):
    arch = load_arch("npu4000", [f"dpu.accumulator_contexts={contexts}"])
    assert arch.dpu.read_grid(MODE_16) == grid


def test_fewer_contexts_re_read_activations_of_deep_convs():
    """Halving the contexts halves the output channels per activation pass: a deep 3x3 conv reads
    its activations twice as often, and below some count the reads bind instead of the MACs."""
    conv = DpuWork(DpuKind.CONV, out_w=14, out_h=14, out_k=512, in_k=512, kernel_h=3, kernel_w=3)
    archs = {c: load_arch("npu4000", [f"dpu.accumulator_contexts={c}"]) for c in (64, 32, 16, 4, 1)}
    reads = {c: cmx_read_cycles(conv, MODE_16, arch, "int8") for c, arch in archs.items()}
    assert reads[64] < reads[32] < reads[16] < reads[4] <= reads[1]
    mac = dpu_mac_cycles(conv, MODE_16, ARCH, "int8")
    assert reads[64] < mac < reads[1]
    few = load_arch("npu4000", ["dpu.accumulator_contexts=1"])
    assert best_mode(conv, few, "int8")[2] == "cmx-read" and best_mode(conv, ARCH, "int8")[2] == "mac"


def test_contexts_need_a_read_grid():
    with pytest.raises(ArchError, match="accumulator_contexts needs an MPE mode with a read_grid"):
        load_arch("vpu2.0", ["dpu.accumulator_contexts=8"])


def test_broadcast_output_halves_the_ppe_write_rate():
    work = DpuWork(DpuKind.ELTWISE, out_w=56, out_h=56, out_k=256, in_k=0)
    assert ppe_cycles(work, ARCH, 6, "int8") == pytest.approx(2 * ppe_cycles(work, ARCH, 1, "int8"), abs=1)
    conv = DpuWork(DpuKind.CONV, out_w=56, out_h=56, out_k=256, in_k=64)
    assert ppe_cycles(conv, ARCH, 1, "fp16") == math.ceil(56 * 56 * 256 / 64)
    assert ppe_cycles(conv, ARCH, 6, "fp16") == 2 * ppe_cycles(conv, ARCH, 1, "fp16")
    single = MathBackend().dpu_workload(DpuWorkload(work, "fp16", 1), ARCH)
    broadcast = MathBackend().dpu_workload(DpuWorkload(work, "fp16", 6), ARCH)
    assert single.limit == "ppe" and single.mpe_mode is None
    assert broadcast.cycles == pytest.approx(2 * single.cycles, abs=1)


@pytest.mark.parametrize("arch_name", ["npu3720", "npu4000"])
def test_element_wise_writes_64_bytes_per_cmx_clock(arch_name):
    """VPUNN: ELTWISE_ST = CHW / 64, "64 Bytes per clock at the slow CMX frequency": fp16 takes
    twice int8's time, and a DPU clock faster than the CMX clock pays the ratio."""
    arch = load_arch(arch_name)
    work = DpuWork(DpuKind.ELTWISE, out_w=56, out_h=56, out_k=256, in_k=0)
    ratio = arch.dpu.frequency_mhz / arch.cmx.frequency_mhz
    int8 = ppe_cycles(work, arch, 1, "int8")
    assert int8 == math.ceil(56 * 56 * 256 / 64 * ratio)
    assert ppe_cycles(work, arch, 1, "fp16") == math.ceil(2 * 56 * 56 * 256 / 64 * ratio)


def test_task_cost_adds_task_and_one_workload_overhead_on_one_dpu_tiles():
    work = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=64)
    cost = TaskCoster(ARCH, MathBackend()).dpu_task(work, "int8", useful_macs=16 * 16 * 64 * 64)
    overhead = ARCH.dpu.task_overhead_cycles + ARCH.dpu.workload_overhead_cycles  # one workload per tile
    assert cost.workloads == 1 and cost.overhead_cycles == overhead
    assert cost.cycles == 16 * 16 * 64 * 64 // 2048 + overhead
    assert cost.mac_utilisation == pytest.approx(512 / (512 + overhead))
    assert cost.ns == pytest.approx(cost.cycles * 1e3 / ARCH.dpu.frequency_mhz)


def test_multi_dpu_tiles_split_the_task_over_their_dpus():
    """VPU 2.0: 5 DPUs of 256 MACs per tile. Split into 5 workloads the task runs on all of them, as
    fast as one 1280-MAC array; kept as one workload, four DPUs idle and it takes 5x as long."""
    work = DpuWork(DpuKind.CONV, out_w=20, out_h=20, out_k=80, in_k=64)
    macs = 20 * 20 * 80 * 64

    def mac_cycles(arch_overrides: list[str]) -> int:
        arch = load_arch("vpu2.0", arch_overrides)
        cost = TaskCoster(arch, MathBackend()).dpu_task(work, "int8", useful_macs=macs)
        return cost.cycles - cost.overhead_cycles

    split = mac_cycles([])
    assert split == pytest.approx(mac_cycles(["dpu.dpus_per_tile=1"]), rel=0.05)  # five DPUs = one big array
    assert mac_cycles(["dpu.max_workloads_per_task=1"]) == pytest.approx(5 * split, rel=0.05)


@pytest.mark.parametrize("channels, pieces", [(16, [16]), (40, [32, 8]), (64, [64]), (96, [64, 32]),
                                              (144, [64, 64, 16]), (160, [64, 64, 32]), (8, [8])])
def test_depthwise_workloads_split_into_64_32_or_16_channel_variants(channels, pieces):
    """The compiler's CorrectNCEWorkloads (supportedChannelsDW = {64, 32, 16}): a depthwise or pool
    workload becomes variants of those widths, largest first, over its 16-padded channels."""
    work = DpuWork(DpuKind.DWCONV, out_w=14, out_h=14, out_k=channels, in_k=1, kernel_h=3, kernel_w=3)
    assert [w.out_k for w in depthwise_variants(work, (64, 32, 16))] == pieces
    assert depthwise_variants(work, ()) == [work]


@pytest.mark.parametrize("kind", [DpuKind.DWCONV, DpuKind.POOL])
def test_a_wide_depthwise_task_pays_one_workload_overhead_per_variant(kind):
    """npu4000: a 144-channel depthwise (or pool) task is three workloads (64 + 64 + 16 channels),
    each with its own set-up; the same MACs as one workload otherwise. A conv is not split."""
    coster = TaskCoster(ARCH, MathBackend())
    work = DpuWork(kind, out_w=14, out_h=14, out_k=144, in_k=1, kernel_h=3, kernel_w=3)
    cost = coster.dpu_task(work, "int8", useful_macs=14 * 14 * 144 * 9)
    dpu = ARCH.dpu
    assert cost.workloads == 3
    assert cost.overhead_cycles == dpu.task_overhead_cycles + 3 * dpu.workload_overhead_cycles
    whole = TaskCoster(load_arch("npu4000", ["dpu.depthwise_channels=[]"]), MathBackend()).dpu_task(
        work, "int8", useful_macs=14 * 14 * 144 * 9)
    assert whole.workloads == 1
    assert cost.cycles - whole.cycles == 2 * dpu.workload_overhead_cycles  # MAC, read and PPE terms add up
    conv = coster.dpu_task(DpuWork(DpuKind.CONV, out_w=14, out_h=14, out_k=144, in_k=64), "int8",
                           useful_macs=14 * 14 * 144 * 64)
    assert conv.workloads == 1


def test_only_npu37xx_and_40xx_split_depthwise_variants():
    assert {name: load_arch(name).dpu.depthwise_channels for name in ("vpu2.0", "npu3720", "npu4000")} == \
        {"vpu2.0": (), "npu3720": (64, 32, 16), "npu4000": (64, 32, 16)}


def test_sub_tiles_each_pay_a_task():
    work = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=64)
    coster = TaskCoster(ARCH, MathBackend())
    whole = coster.dpu_task(work, "int8", 16 * 16 * 64 * 64)
    four = coster.dpu_subtiles(work, "int8", 16 * 16 * 64 * 64, n_rows=4, n_k=1)
    quarter = DpuWork(DpuKind.CONV, out_w=16, out_h=4, out_k=64, in_k=64)
    assert four.cycles == 4 * coster.dpu_task(quarter, "int8", 16 * 4 * 64 * 64).cycles
    assert four.cycles > whole.cycles and four.overhead_cycles == 4 * whole.overhead_cycles


def test_split_sizes_keep_the_last_piece_smallest():
    assert split_sizes(10, 3) == [(4, 2), (2, 1)]
    assert split_sizes(100, 3, align=16) == [(48, 2), (4, 1)]
    assert split_sizes(7, 1) == [(7, 1)]


def test_shave_cost_per_op_class():
    coster = TaskCoster(ARCH, MathBackend())
    cost = coster.shave_task("softmax", 160_000, "fp16")
    lanes = ARCH.shave.vector_lanes_fp16 * ARCH.shave.cores_per_tile
    assert MathBackend().shave_workload(ShaveWorkload("softmax", 160_000, "fp16"), ARCH) == \
        math.ceil(160_000 * 12 / lanes)
    assert cost.cycles == ARCH.shave.launch_overhead_cycles + math.ceil(160_000 * 12 / lanes)
    assert cost.clock_mhz == ARCH.shave.frequency_mhz
    assert coster.shave_task("softmax", 160_000, "fp16", subtiles=4).overhead_cycles == \
        4 * ARCH.shave.launch_overhead_cycles


@pytest.mark.parametrize(("arch_name", "kernel", "intercept", "per_element"),
                         [("npu3720", "gelu", 3749, 3.1283), ("npu4000", "gelu", 3721, 0.3849),
                          ("npu4000", "sigmoid", 3301, 0.0781), ("npu3720", "swish", 3016, 1.2644)])
def test_profiled_shave_kernels_cost_their_vpunn_row(arch_name, kernel, intercept, per_element):
    """VPUNN's per-device rows, in SHAVE cycles: the intercept once per launch, the per-element cost
    shared by the tile's SHAVE cores (slope [us/B] x 2 B x SHAVE MHz; shave_layers_vpu_*.csv)."""
    arch = load_arch(arch_name)
    coster = TaskCoster(arch, MathBackend())
    cost = coster.shave_task("transcendental", 100_000, "fp16", kernel=kernel)
    body = math.ceil(100_000 * per_element / arch.shave.cores_per_tile)
    assert cost.cycles == intercept + body and cost.overhead_cycles == intercept
    four = coster.shave_task("transcendental", 100_000, "fp16", subtiles=4, kernel=kernel)
    assert four.overhead_cycles == 4 * intercept


def test_vpu_4_shave_vectors_are_four_times_vpu_2_7s():
    """128-bit SHAVE vectors on VPU 2.7, 512-bit on VPU 4.0 (VPUNN shave_collection.cpp:31-32)."""
    assert (load_arch("npu3720").shave.vector_lanes_fp16, ARCH.shave.vector_lanes_fp16) == (8, 32)


@pytest.mark.parametrize("kernel", [None, "gelu", "not-in-the-table"])
def test_shave_never_runs_faster_in_int8(kernel):
    coster = TaskCoster(ARCH, MathBackend())
    fp16 = coster.shave_task("transcendental", 50_000, "fp16", kernel=kernel)
    assert coster.shave_task("transcendental", 50_000, "int8", kernel=kernel).cycles == fp16.cycles
    if kernel == "not-in-the-table":  # a kernel the arch has no row for costs its op class
        assert fp16 == coster.shave_task("transcendental", 50_000, "fp16")


def test_unknown_cost_model_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown cost model 'nope'"):
        get_backend("nope")
