"""The math cost backend: MPE-mode padding, mode choice, overheads, SHAVE and DMA formulas."""

from __future__ import annotations

import math

import pytest

from nbperf.arch import load_arch
from nbperf.cost import MathBackend, get_backend
from nbperf.cost.dma import Path, bandwidth_bytes_per_ns, transfer_ns
from nbperf.cost.math_model import best_mode, dpu_mac_cycles, padded_outputs
from nbperf.errors import UsageError
from nbperf.lower import DpuKind, DpuWork, Engine, NpuOp

ARCH = load_arch("npu4000")


def _op(work, precision="fp16", macs=0):
    return NpuOp(name="t", op_type="Conv", engine=Engine.DPU, precision=precision, inputs=("x",),
                 outputs=("y",), input_bytes=0, output_bytes=0, dpu=work, macs=macs)


def test_output_cube_is_padded_to_the_mode_block():
    mode = next(m for m in ARCH.dpu.mpe_modes if m.name == "CUBOID_16x16")
    work = DpuWork(DpuKind.CONV, out_w=7, out_h=7, out_k=20, in_k=64)
    assert padded_outputs(work, mode) == 8 * 8 * 32  # 7 -> 8 (block 4), 20 -> 32 (block 16)


def test_mac_cycles_pad_input_channels_and_halve_for_fp16():
    mode = ARCH.dpu.mpe_modes[0]
    work = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=3, kernel_h=3, kernel_w=3)
    int8 = dpu_mac_cycles(work, mode, ARCH, "int8")
    fp16 = dpu_mac_cycles(work, mode, ARCH, "fp16")
    assert int8 == math.ceil(16 * 16 * 64 * 9 * 16 / 2048)  # 3 input channels pay for 16
    assert fp16 == 2 * int8


def test_best_mode_picks_fewest_cycles_for_the_shape():
    wide_k = DpuWork(DpuKind.CONV, out_w=2, out_h=2, out_k=512, in_k=512)
    mode, cycles = best_mode(wide_k, ARCH, "int8")
    assert mode.name == "CUBOID_4x16"  # 2x2 spatial fits its block exactly
    assert cycles == min(dpu_mac_cycles(wide_k, m, ARCH, "int8") for m in ARCH.dpu.mpe_modes)


def test_vpu20_fp16_only_uses_its_fp16_mode():
    vpu20 = load_arch("vpu2.0")
    mode, _ = best_mode(DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=64), vpu20, "fp16")
    assert mode.name == "VECTOR_FP16"


def test_dpu_cost_adds_task_and_workload_overhead_and_reports_utilisation():
    work = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=64)
    cost = MathBackend().compute(_op(work, "int8", macs=16 * 16 * 64 * 64), ARCH)
    overhead = ARCH.dpu.task_overhead_cycles + ARCH.dpu.workloads_per_task * ARCH.dpu.workload_overhead_cycles
    assert cost.overhead_cycles == overhead
    assert cost.cycles == 16 * 16 * 64 * 64 // 2048 + overhead
    assert cost.mac_utilisation == pytest.approx(512 / (512 + overhead))
    assert cost.ns == pytest.approx(cost.cycles * 1e3 / ARCH.dpu.frequency_mhz)


def test_depthwise_pays_the_whole_input_channel_block():
    dense = DpuWork(DpuKind.CONV, out_w=16, out_h=16, out_k=64, in_k=16, kernel_h=3, kernel_w=3)
    dw = DpuWork(DpuKind.DWCONV, out_w=16, out_h=16, out_k=64, in_k=1, kernel_h=3, kernel_w=3)
    mode = ARCH.dpu.mpe_modes[0]
    assert dpu_mac_cycles(dw, mode, ARCH, "int8") == dpu_mac_cycles(dense, mode, ARCH, "int8")


def test_eltwise_runs_on_the_ppe():
    work = DpuWork(DpuKind.ELTWISE, out_w=56, out_h=56, out_k=256, in_k=0)
    assert dpu_mac_cycles(work, ARCH.dpu.mpe_modes[0], ARCH, "fp16") == math.ceil(56 * 56 * 256 / 64)


def test_shave_cost_per_op_class():
    op = NpuOp(name="s", op_type="Softmax", engine=Engine.SHAVE, precision="fp16", inputs=("x",),
               outputs=("y",), input_bytes=0, output_bytes=0, shave_class="softmax", elements=160_000)
    cost = MathBackend().compute(op, ARCH)
    lanes = ARCH.shave.vector_lanes_fp16 * ARCH.shave.cores_per_tile
    expected = ARCH.shave.launch_overhead_cycles + math.ceil(160_000 * 12 / lanes)
    assert cost.cycles == expected and cost.clock_mhz == ARCH.shave.frequency_mhz


def test_dma_is_latency_plus_bytes_over_bandwidth():
    bw = bandwidth_bytes_per_ns(ARCH, Path.DDR)
    assert bw == pytest.approx(45.0)  # DDR, not the faster engines, limits
    t = transfer_ns(ARCH, 1_000_000, Path.DDR)
    setup = ARCH.dma.task_overhead_ns / ARCH.dma.channels
    assert t == pytest.approx(ARCH.dma.ddr_latency_ns + setup + 1_000_000 / 45.0)
    assert transfer_ns(ARCH, 0, Path.DDR) == 0.0


def test_unknown_cost_model_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown cost model 'nope'"):
        get_backend("nope")
