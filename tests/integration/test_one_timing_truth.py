"""The two schedules tell one story: same costs, close latencies, the same answer to a what-if,
and a default plan no single-layer forcing beats (issue 9). The full tables over every shared model
are benchmarks/bench_agreement.py, bench_forcing.py and bench_resolution.py; these are the
examples-sized versions that run in the suite."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper
from tests.conftest import EXAMPLES
from tests.onnx_builders import chain_model, save

import nbperf
from nbperf.frontend import load_model

RESNET = EXAMPLES / "resnet50.onnx"
MOBILENET_QDQ = EXAMPLES / "mobilenet_v2_int8_qdq.onnx"
FLAT = 0.005  # what-if changes within +-0.5% count as no change


@pytest.fixture(scope="module")
def resnet():
    return load_model(RESNET)


def _both(graph, arch="npu4000", **kw) -> tuple[float, float]:
    return tuple(nbperf.estimate(graph, arch, schedule=s, **kw).latency_ns for s in ("serial", "emulator"))


@pytest.mark.parametrize("arch", ["npu3720", "npu4000"])
def test_serial_and_emulated_latencies_agree_within_15_percent(resnet, arch):
    serial, emulated = _both(resnet, arch)
    assert 1 / 1.15 <= emulated / serial <= 1.15, (serial, emulated)


@pytest.mark.parametrize("what_if", ["dpu.macs_per_tile=4096", "dma.ddr_bandwidth_gbps=90",
                                     "cmx.bytes_per_tile=2949120", "tiles=7"])
def test_a_what_if_moves_both_schedules_the_same_way_and_never_slows_down(resnet, what_if):
    base = _both(resnet)
    changed = _both(resnet, arch_overrides=[what_if])
    moves = [(c - b) / b for b, c in zip(base, changed, strict=True)]
    assert all(m <= 0.01 for m in moves), moves  # 2x of a resource never costs more than 1%
    directions = {0 if abs(m) <= FLAT else (1 if m > 0 else -1) for m in moves}
    assert len(directions - {0}) <= 1, moves


def test_a_larger_input_is_never_faster(resnet):
    latencies = [nbperf.estimate(RESNET, "npu4000", input_shapes={"input.1": (1, 3, side, side)}).latency_ns
                 for side in (224, 256, 288)]
    assert latencies == sorted(latencies)


def test_no_single_layer_forcing_beats_the_default_plan_under_the_serial_schedule():
    """The search is exact over the serial model, so forcing any legal strategy on any layer can
    only tie or lose. A sample of MobileNetV2's layers (every layer: bench_forcing.py)."""
    graph = load_model(MOBILENET_QDQ)
    default = nbperf.estimate(graph, "npu4000")
    assert default.plan.exact
    pairs = [(layer, c.strategy.value) for layer, p in default.plan.placements.items()
             for c in {c.strategy: c for c in p.considered if c.legal}.values()
             if c.strategy is not p.chosen.strategy]
    for layer, strategy in pairs[::9]:
        forced = nbperf.estimate(graph, "npu4000", strategies={layer: strategy})
        assert forced.latency_ns >= default.latency_ns - 1e-6, (layer, strategy)


def test_weight_and_activation_bytes_agree_when_nothing_spills(resnet):
    serial = nbperf.estimate(resnet, "npu4000", precision="int8")
    emulated = nbperf.estimate(resnet, "npu4000", precision="int8", schedule="emulator")
    assert emulated.schedule.spilled_bytes == serial.schedule.spilled_bytes
    for field in ("weight_ddr_bytes", "act_in_ddr_bytes", "act_out_ddr_bytes"):
        s = sum(getattr(t, field) for t in serial.schedule.tasks)
        e = sum(getattr(t, field) for t in emulated.schedule.tasks)
        assert e == pytest.approx(s, rel=0.01), field


def test_a_tiled_element_wise_op_reads_its_data_once(tmp_path):
    """A [4096 x 14336] fp16 Mul (two 117 MB inputs): tiled over channels, each sub-tile reads
    only its own channels, so the DDR traffic is the data once (it was 188x before)."""
    shape = [1, 4096, 14336]
    model = chain_model([helper.make_node("Mul", ["a", "b"], ["y"], name="mul")],
                        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("a", "b")],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    result = nbperf.estimate(save(model, tmp_path), "npu4000")
    (task,) = result.schedule.tasks
    data = 3 * 4096 * 14336 * 2  # two inputs read, one output written
    assert task.act_in_ddr_bytes + task.act_out_ddr_bytes <= 1.05 * data


def test_estimates_are_deterministic(resnet):
    from nbperf.report.files import to_json

    runs = [to_json(nbperf.estimate(resnet, "npu3720", schedule="emulator")) for _ in range(2)]
    assert runs[0] == runs[1]


def test_streamed_weights_count_as_weights_in_both_schedules(tmp_path):
    """A 4096 x 4096 fp16 projection (32 MB of weights) streams its weights through CMX in blocks:
    both schedules report them as weight bytes, the same amount (the emulator once counted them as
    activations)."""
    from tests.onnx_builders import weight

    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    model = chain_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512, 4096])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512, 4096])],
                        [weight("w", (4096, 4096))])
    path = save(model, tmp_path)
    serial, emulated = (nbperf.estimate(path, "npu4000", schedule=s) for s in ("serial", "emulator"))
    (s_task,), (e_task,) = serial.schedule.tasks, emulated.schedule.tasks
    assert s_task.candidate.tiling is not None, "32 MB of weights cannot sit in CMX"
    assert s_task.weight_ddr_bytes >= 4096 * 4096 * 2
    assert e_task.weight_ddr_bytes == s_task.weight_ddr_bytes
    assert e_task.act_in_ddr_bytes + e_task.act_out_ddr_bytes < s_task.weight_ddr_bytes
