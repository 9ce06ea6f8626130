"""SHAVE kernels priced per row (softmax, MVN) reproduce VPUNN's own unit-test figures with the
constants of nbperf's presets, and a tile's rows are shared by its SHAVE cores."""

from __future__ import annotations

import math

import pytest
from onnx import TensorProto, helper
from tests.onnx_builders import chain_model, save

from nbperf import load_arch
from nbperf.cost.math_model import MathBackend
from nbperf.cost.shave_rows import mvn_us, row_kernel_us, shave_pricing, softmax_us
from nbperf.cost.tasks import TaskCoster
from nbperf.frontend import load_model
from nbperf.lower import lower
from nbperf.strategy.candidates import Strategy, candidates

# VPUNN's expected DPU-cycle ranges (intel/npu-nn-cost-model@8a2ae92
# tests/cpp/shave/shave_collection_test.cpp), converted to microseconds at the DPU clock they use.
NPU40_DPU_MHZ, NPU27_DPU_MHZ = 1700, 1300


def _info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


@pytest.mark.parametrize("row_elements,rows,low_cycles,high_cycles", [
    (250, 344, 330_000, 335_000),  # SoftmaxMakeRegularTest "Normal testcase type 8"
    (25, 36, 28_500, 30_000),  # "Normal testcase type 2"
])
def test_softmax_matches_vpunn_tests_on_vpu40(row_elements, rows, low_cycles, high_cycles):
    model = load_arch("npu4000").shave.softmax
    launch, work = softmax_us(model, row_elements, rows)
    assert low_cycles <= (launch + work) * NPU40_DPU_MHZ <= high_cycles


def test_mvn_two_and_three_axes_match_vpunn_tests_on_vpu27():
    mvn = load_arch("npu3720").shave.mvn
    # MVNSimple2AxTests "Normal testcase": W 136 x H 1 selected, C 32 x B 10 unselected.
    launch, work = mvn_us(mvn.per_channel, mvn.vector, mvn.unroll, 136, 320, outermost=10, thirdmost=32)
    assert 270_000 <= (launch + work) * NPU27_DPU_MHZ <= 285_000
    # MVNSimple3AxTests "Normal testcase": W 512 x H 2 x C 40 selected, B 1.
    launch, work = mvn_us(mvn.across_channels, mvn.vector, mvn.unroll, 512 * 2 * 40, 1, outermost=1,
                          thirdmost=40)
    assert 95_000 <= (launch + work) * NPU27_DPU_MHZ <= 105_000


def test_softmax_cost_depends_on_rows_not_only_elements():
    """The same elements as 32 rows cost less than as 31 (VPUNN vectorises across rows, 32 at a time
    on VPU 4.0), and one long row is its own line."""
    spec = load_arch("npu4000").shave
    t32 = sum(row_kernel_us(spec, "softmax", 100, 32))
    t31 = sum(row_kernel_us(spec, "softmax", 100, 31))
    assert t32 < t31
    assert sum(row_kernel_us(spec, "softmax", 3200, 1)) == pytest.approx(0.000783649 * 3200 + 7.660420549)


def test_a_tile_shares_its_rows_between_its_shave_cores():
    arch = load_arch("npu4000")
    coster = TaskCoster(arch, MathBackend())
    rows, row = 96, 128
    cost = coster.shave_task("softmax", rows * row, "fp16", kernel="softmax", row_elements=row)
    mhz = arch.shave.frequency_mhz
    launch, work = softmax_us(arch.shave.softmax, row, math.ceil(rows / arch.shave.cores_per_tile))
    assert cost.cycles == round(launch * mhz) + math.ceil(work * mhz)
    assert cost.overhead_cycles == round(launch * mhz)
    # Two launches (sub-tiles) each take half the rows, each paying its own launch.
    halves = coster.shave_task("softmax", rows * row, "fp16", subtiles=2, kernel="softmax", row_elements=row)
    launch2, work2 = softmax_us(arch.shave.softmax, row, math.ceil(rows / 2 / arch.shave.cores_per_tile))
    assert halves.cycles == 2 * (round(launch2 * mhz) + math.ceil(work2 * mhz))


def test_a_part_without_a_row_model_prices_the_op_class():
    """VPU 2.0 has no VPUNN softmax model: the softmax op class prices it, as before."""
    arch = load_arch("vpu2.0")
    coster = TaskCoster(arch, MathBackend())
    with_rows = coster.shave_task("softmax", 4096, "fp16", kernel="softmax", row_elements=64)
    plain = coster.shave_task("softmax", 4096, "fp16")
    assert with_rows.cycles == plain.cycles


@pytest.mark.parametrize("arch,kernel,expected", [
    ("npu4000", "softmax", "VPUNN's softmax model over rows of 197"),
    ("npu3720", "softmax", "profiled kernel 'softmax'"),
    ("vpu2.0", "softmax", "op class 'softmax'"),
    ("npu3720", "mvn", "MVN per channel (2 axes)"),
])
def test_explain_names_the_model_that_prices_a_shave_op(arch, kernel, expected):
    assert expected in shave_pricing(load_arch(arch).shave, "softmax", kernel, 197)


def _softmax_or_norm(tmp_path, op_type, shape, **attrs):
    node = helper.make_node(op_type, ["x"], ["y"], name="op", **attrs)
    model = chain_model([node], [_info("x", shape)], [_info("y", shape)], [])
    graph = lower(load_model(save(model, tmp_path)))
    (op,) = graph.ops
    return op, graph.tensor_bytes


@pytest.mark.parametrize("shape,tiles,rows_per_tile", [
    ((1, 12, 128, 128), 6, 256),  # 2 heads per tile
    ((1, 12, 128, 128), 7, 256),  # 12 heads over 7 tiles: the busiest has 2 heads, not 1536 / 7 rows
    ((1, 2, 128, 64), 6, 2 * 22),  # too few heads: the rows of each head are cut, 22 per tile
    ((1, 128, 768), 6, 22),  # a [1, S, E] softmax: its S rows are cut
])
def test_a_split_cuts_an_axis_outside_the_rows(tmp_path, shape, tiles, rows_per_tile):
    op, tensor_bytes = _softmax_or_norm(tmp_path, "Softmax", list(shape), axis=-1)
    arch = load_arch("npu4000").model_copy(update={"tiles": tiles})
    split = [c for c in candidates(op, tensor_bytes, arch) if c.strategy is not Strategy.CLUSTERING]
    assert split and all(c.legal and c.elements == rows_per_tile * shape[-1] for c in split)


def test_one_row_over_everything_runs_on_one_tile(tmp_path):
    op, tensor_bytes = _softmax_or_norm(tmp_path, "Softmax", [1, 1000], axis=-1)
    legal = [c.strategy for c in candidates(op, tensor_bytes, load_arch("npu4000")) if c.legal]
    assert legal == [Strategy.CLUSTERING]
