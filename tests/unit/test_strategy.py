"""Multi-tile strategies: footprints, HKSwitch, overrides, trends on ResNet-50, search optimality."""

from __future__ import annotations

import math

import pytest
from onnx import TensorProto, helper
from tests.conftest import EXAMPLES
from tests.onnx_builders import chain_model, save, weight

import nbperf
from nbperf.arch import load_arch
from nbperf.cost import MathBackend, TaskCoster
from nbperf.errors import UsageError
from nbperf.frontend import load_model
from nbperf.lower import lower
from nbperf.strategy import MoveKind, Strategy, choose_strategies
from nbperf.strategy.swizzling import align, stored_weight_bytes, swizzles_weights

RESNET = EXAMPLES / "resnet50.onnx"


def _pair_model():
    """A: 1x1 conv 16->16 on 64x64 (big activations, SOK illegal); B: 1x1 stride-4 conv 16->32."""
    a = helper.make_node("Conv", ["x", "wa"], ["ya"], name="A", kernel_shape=[1, 1])
    b = helper.make_node("Conv", ["ya", "wb"], ["y"], name="B", kernel_shape=[1, 1], strides=[4, 4])
    return chain_model([a, b], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 64, 64])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 16, 16])],
                       [weight("wa", (16, 16, 1, 1)), weight("wb", (32, 16, 1, 1))])


def _pair_plan(tmp_path, cmx_bytes: int, policy="optimal"):
    graph = lower(load_model(save(_pair_model(), tmp_path)))
    arch = load_arch("npu3720", [f"cmx.bytes_per_tile={cmx_bytes}"])
    # B is pinned to SOK: the question is what its producer does about it.
    return choose_strategies(graph, arch, TaskCoster(arch, MathBackend()), policy, {"B": "SOK"}), arch


def _candidate(plan, layer, strategy):
    return next(c for c in plan.placements[layer].considered if c.strategy is strategy)


def test_footprints_equal_the_two_tile_formulas_to_the_byte(tmp_path):
    plan, _ = _pair_plan(tmp_path, 250_000)
    act = 16 * 64 * 64 * 2  # fp16 input and output of A
    # fp16 weights + 16 B weight-table entry per channel = 768, swizzled: 1024 (npu3720's 512 B)
    weights = 1024
    assert _candidate(plan, "A", Strategy.SOH).cmx_bytes_per_tile == act // 2 + weights + act // 2
    assert _candidate(plan, "A", Strategy.HKSWITCH).cmx_bytes_per_tile == act // 2 + weights + act
    whole = _candidate(plan, "A", Strategy.CLUSTERING)  # act + weights + act exceeds the budget
    # Two sub-tiles would need 212,992 B by the compiler's fit check (each buffer at a 16 KB
    # swizzling address: 1,024 -> 16,384 + 65,536 -> 81,920 + 65,536 -> 147,456 + 65,536), 492 B over
    # the pipelined budget of 212,500 B: three it is.
    assert not whole.fits and whole.subtiles == 3 and whole.tiled_over == "H" and whole.tiling.pipelined
    # a sub-tile (a third of the rows in and out) plus the next sub-tile's input rows: the input
    # (from the host) 64-B aligned, the output (read by B, a DPU op) swizzled to 512 B
    third = math.ceil(act / 3)
    assert whole.cmx_bytes_per_tile == align(third, 64) + weights + align(third, 512) + align(third, 64)
    assert whole.fit_bytes_per_tile == 16_384 + 49_152 + 49_152 + align(third, 512)
    b_in, b_out, b_w = act, 32 * 16 * 16 * 2, 32 * 16 * 2 + 32 * 16
    sok = [c for c in plan.placements["B"].considered if c.strategy is Strategy.SOK and not c.finer]
    # B fits in more than half the CMX: also offered streamed through DDR, to the optimal search only
    streamed = [c for c in plan.placements["B"].considered if c.strategy is Strategy.SOK and c.finer]
    assert streamed and all(c.tiling is not None and c.out_dist.value == "ddr" for c in streamed)
    assert {c.out_dist.value: c.cmx_bytes_per_tile for c in sok} == {
        # weights swizzled: 768 -> 1,024; the output is the graph's (plain)
        "seg_k": b_in + align(b_w // 2, 512) + b_out // 2,  # output kept segmented: each tile its channels
        "duplicated": b_in + align(b_w // 2, 512) + b_out}  # output broadcast: the whole output on every tile
    assert {c.out_dist.value: c.write_tiles for c in sok} == {"seg_k": 1, "duplicated": 2}
    assert not _candidate(plan, "A", Strategy.SOK).legal  # 16 output channels < 16 x 2 tiles


def test_hkswitch_is_chosen_when_it_fits_and_avoids_the_spill(tmp_path):
    for policy in ("optimal", "compiler"):
        plan, _ = _pair_plan(tmp_path, 250_000, policy)
        assert plan.placements["A"].chosen.strategy is Strategy.HKSWITCH, policy
        assert plan.placements["B"].chosen.strategy is Strategy.SOK
        assert all(m.kind is MoveKind.NONE for m in plan.placements["B"].moves_in), "no spill between them"


def test_hkswitch_is_not_chosen_when_input_half_plus_weights_plus_output_does_not_fit(tmp_path):
    plan, arch = _pair_plan(tmp_path, 200_000)
    hk = _candidate(plan, "A", Strategy.HKSWITCH)
    assert hk.cmx_bytes_per_tile > arch.cmx.bytes_per_tile * arch.cmx.tiling_budget
    assert not hk.legal and "HKSwitch needs input/2 + weights + output" in hk.reason
    assert plan.placements["A"].chosen.strategy is not Strategy.HKSWITCH
    soh = _candidate(plan, "A", Strategy.SOH)
    assert soh.fits  # SOH itself still fits: only HKSwitch's broadcast output does not


def test_resnet50_on_npu3720_goes_spatial_early_and_reads_late_weights_once():
    """Early layers (large activations, small weights) split spatially; late layers are bound by
    their weights whatever the split, and no strategy reads a weight from DDR twice."""
    result = nbperf.estimate(RESNET, "npu3720")
    spatial = {"SplitOverHeight", "SplitOverWidth", "HKSwitch"}

    def convs(stage: str) -> list:
        return [t for t in result.schedule.tasks if t.op.op_type == "Conv" and f"/{stage}/" in t.op.name]

    assert sum(t.strategy in spatial for t in convs("layer1")) >= 0.7 * len(convs("layer1"))
    late = [t for t in convs("layer4") if "conv2" in t.op.name]  # the 3x3 convs: 4.7 MB of weights each
    assert all(t.bound == "dma-weights" for t in late)
    for t in convs("layer4"):  # once, as stored: swizzled, each block of each tile's segment padded
        parts = t.candidate.weight_parts
        swizzled = swizzles_weights(t.op, result.arch)
        stored = stored_weight_bytes(t.op.weight_bytes, parts, result.arch, swizzled)
        assert t.weight_ddr_bytes == stored < t.op.weight_bytes + 512 * parts


def test_six_tiles_beat_two_tiles_by_less_than_three_times():
    six = nbperf.estimate(RESNET, "npu4000")
    two = nbperf.estimate(RESNET, "npu4000", arch_overrides=["tiles=2"])
    assert six.latency_ms < two.latency_ms
    assert six.latency_ms > two.latency_ms / 3


def test_layers_report_strategy_tiles_footprint_subtiles_and_transitions():
    result = nbperf.estimate(RESNET, "npu3720")
    from nbperf.report import estimate_record

    layers = estimate_record(result)["layers"]
    for key in ("strategy", "tiles_used", "cmx_bytes_per_tile", "subtiles", "transition_dma_bytes"):
        assert all(key in layer for layer in layers)
    assert any(layer["subtiles"] > 1 for layer in layers), "ResNet-50 on 2 tiles tiles some layers"
    assert any(layer["transition_dma_bytes"] > 0 for layer in layers)
    assert {layer["tiles_used"] for layer in layers} <= {1, 2}


def test_overrides_force_and_illegal_overrides_name_the_rule():
    forced = nbperf.estimate(RESNET, "npu3720", strategies={"/layer4/layer4.0/conv1/Conv": "SOW"})
    task = next(t for t in forced.schedule.tasks if t.op.name == "/layer4/layer4.0/conv1/Conv")
    assert task.strategy == "SplitOverWidth"
    with pytest.raises(UsageError, match=r"--strategy /fc/Gemm=SplitOverHeight is illegal: SOH needs output "
                                         r"height >= 2 \(tiles\), has 1"):
        nbperf.estimate(RESNET, "npu3720", strategies={"/fc/Gemm": "SOH"})
    with pytest.raises(UsageError, match="no layer named '/fc/Gem' \\(did you mean '/fc/Gemm'\\?\\)"):
        nbperf.estimate(RESNET, "npu3720", strategies={"/fc/Gem": "SOK"})
    with pytest.raises(UsageError, match="unknown strategy"):
        nbperf.estimate(RESNET, "npu3720", strategies={"all": "diagonal"})


def test_all_override_applies_where_legal_and_notes_the_rest():
    result = nbperf.estimate(RESNET, "npu4000", strategies={"all": "SOK"})
    dpu = [t for t in result.schedule.tasks if t.op.engine.value == "DPU"]
    assert sum(t.strategy == "SplitOverKernel" for t in dpu) > 0.8 * len(dpu)
    assert result.plan.notes, "layers where SOK is illegal are reported"
    assert result.latency_ms >= nbperf.estimate(RESNET, "npu4000").latency_ms


def test_optimal_policy_is_never_worse_than_the_compiler_policy():
    for arch in ("npu3720", "npu4000"):
        best = nbperf.estimate(RESNET, arch)
        greedy = nbperf.estimate(RESNET, arch, policy="compiler")
        assert best.plan.objective_ns <= greedy.plan.objective_ns + 1e-6


def test_a_bigger_cmx_keeps_every_weight_pipelining_a_smaller_one_offers(tmp_path):
    """A 768 -> 1536 MatMul (fp16 weights, the bytes of BERT's int8 FFN) with its weights pipelined
    in blocks over output channels: the compiler takes the first block count that fits (none for
    the broadcast output on npu3720's CMX once each buffer sits at a 16 KB swizzling address, 2 on
    twice that). The counts a smaller CMX needed stay on offer to the optimal search, so doubling
    CMX never takes away the split with the smaller first block load."""
    from nbperf.strategy.candidates import candidates

    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="ffn")
    model = chain_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 768])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128, 1536])],
                        [weight("w", (768, 1536))])
    graph = lower(load_model(save(model, tmp_path)))
    (op,) = [op for op in graph.ops if op.name == "ffn"]
    base = load_arch("npu3720")

    def pipelined(arch) -> dict[tuple[str, int], bool]:
        """(strategy label, block count) -> whether only the optimal search gets it, for every SOK
        weight pipelining (output segmented or broadcast)."""
        return {(c.label, c.subtiles): c.finer for c in candidates(op, graph.tensor_bytes, arch)
                if c.legal and c.strategy is Strategy.SOK and c.tiling is not None and c.tiling.keeps_output}

    small = pipelined(base)
    big = pipelined(load_arch("npu3720", [f"cmx.bytes_per_tile={2 * base.cmx.bytes_per_tile}"]))
    assert {k for k, finer in small.items() if not finer} == {("SOK", 2)}, \
        "premise: the compiler's counts on npu3720"
    assert big == {("SOK", 2): False, ("SOK", 3): True, ("SOK>dup", 2): False, ("SOK>dup", 3): True}
    assert set(small) <= set(big)
