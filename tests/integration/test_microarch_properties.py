"""A bigger part is never slower: more MACs per tile, more DDR bandwidth or more CMX never makes the
estimate of a network longer, and what the MACs cannot speed up (data movement) does not change.

Property tests on small random networks (a conv, a depthwise conv, a residual Add, a second conv, a
pooled MatMul or Gemm; real seeded weights or weightless), on npu3720 and npu4000, under both
schedules and the default ("optimal") strategy policy: ``latency_ms`` of the bigger variant <= the
base, exactly under the emulator and within the serial model's 10 ns prefetch quantum per op under
the layer-serial schedule (see ``_assert_never_slower``). The "compiler" policy is not tested: its
greedy per-layer rule picks each layer's strategy by that layer's own cost, so a faster resource can
flip a layer to a strategy that is locally cheaper and costs more in the layout changes around it (a
legitimate non-monotonicity of a greedy rule, not of the model).

Then acceptance tests of the 4K-MAC what-if preset (``npu4000-4k``) against ``npu4000``: every shared
model at least as fast and at most twice as fast (run by test_compare on the same point); a layer
that only moves data exactly as fast; a weight-bound fully-connected layer DMA-bound on both and
within 1%.

Known limits are strict xfails (each must keep failing, so a fix shows up), pinned as explicit
examples (the smallest network hypothesis shrank it to) with the cause in a comment above the test:
- serial, more CMX (npu3720 twice the CMX; a quarter -> half on both parts): a tiling a smaller CMX
  offers the search is not offered on the bigger one (TILING_OFFERS);
- emulator, more MACs or bandwidth: the search picks the plan by the layer-serial objective, which
  the bigger part improves, and the emulator then times that plan slower than the base part's plan
  (EMULATED_PLAN).
Found and fixed: twice the CMX on a conv that fits lost the 8-block split the preset used (the
search now also offers four times the compiler's pipelined count).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from hypothesis import Phase, example, given, reject, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import nbperf
from nbperf.errors import InfeasibleError

ARCHS = ("npu3720", "npu4000")
SCHEDULES = ("serial", "emulator")
POLICY = "optimal"

# Deterministic and quick: derandomized (the same examples every run), no database, and no shrinking
# (a failing property would otherwise spend minutes shrinking); the minimal failing networks found
# by shrinking are pinned below as explicit examples.
PROPERTY = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate), print_blob=False)


@dataclass(frozen=True)
class Net:
    """conv(in_ch -> mid_ch, kernel, stride) + ReLU, depthwise 3x3, Add (residual), conv(mid_ch ->
    out_ch, out_kernel), global average pool, flatten, ``fc`` (MatMul or Gemm) to ``classes``."""

    in_ch: int = 16
    hw: int = 16
    mid_ch: int = 32
    kernel: int = 3
    stride: int = 1
    out_ch: int = 64
    out_kernel: int = 1
    classes: int = 10
    fc: str = "Gemm"
    weights: bool = True  # seeded random weights in the file; False: weightless (external, absent)


def _weightless(name: str, dims: tuple[int, ...]) -> onnx.TensorProto:
    """An initializer with dims only, its data in an external file that does not exist."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims),
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "weights.absent"), ("offset", "0"), ("length", "0")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def build(net: Net) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits: list[onnx.TensorProto] = []

    def w(name: str, *dims: int) -> str:
        if net.weights:
            data = (rng.standard_normal(dims) * 0.05).astype(np.float32)
            inits.append(numpy_helper.from_array(data, name))
        else:
            inits.append(_weightless(name, dims))
        return name

    k, k2, mid = net.kernel, net.out_kernel, net.mid_ch
    nodes = [
        helper.make_node("Conv", ["x", w("w1", mid, net.in_ch, k, k), w("b1", mid)], ["c1"], name="conv1",
                         kernel_shape=[k, k], pads=[k // 2] * 4, strides=[net.stride] * 2),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", w("wd", mid, 1, 3, 3)], ["d"], name="dw", kernel_shape=[3, 3],
                         pads=[1] * 4, group=mid),
        helper.make_node("Add", ["d", "r1"], ["s"], name="add"),
        helper.make_node("Conv", ["s", w("w2", net.out_ch, mid, k2, k2)], ["c2"], name="conv2",
                         kernel_shape=[k2, k2], pads=[k2 // 2] * 4),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
    ]
    if net.fc == "MatMul":
        nodes.append(helper.make_node("MatMul", ["f", w("wf", net.out_ch, net.classes)], ["y"], name="fc"))
    else:
        nodes.append(helper.make_node("Gemm", ["f", w("wf", net.classes, net.out_ch), w("bf", net.classes)],
                                      ["y"], name="fc", transB=1))
    graph = helper.make_graph(
        nodes, "microarch",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, net.in_ch, net.hw, net.hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, net.classes])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


NETS = st.builds(
    Net,
    in_ch=st.sampled_from([3, 8, 16, 32, 64]),
    hw=st.integers(4, 48),
    mid_ch=st.sampled_from([8, 16, 24, 32, 48, 64, 96, 128, 256]),
    kernel=st.sampled_from([1, 3, 5, 7]),
    stride=st.sampled_from([1, 2]),
    out_ch=st.sampled_from([16, 32, 64, 128, 256, 512, 1024]),
    out_kernel=st.sampled_from([1, 3]),
    classes=st.sampled_from([10, 64, 256, 1000]),
    fc=st.sampled_from(["MatMul", "Gemm"]),
    weights=st.booleans(),
)
CMX_SCALES = st.sampled_from([1.0, 0.25])  # the preset's CMX, or a quarter of it (tiling and spills)


# Known limits, kept as strict xfails (each must still fail, so a fix shows up):
EMULATED_PLAN = ("the search picks the plan for the layer-serial schedule and the emulator replays it "
                 "(docs/modelling.md, known limits): a bigger part's plan can emulate slower")
TILING_OFFERS = ("search-space gap: which tilings an op is offered depends on where its footprint "
                 "falls against the CMX budget (candidates._streamed only above half the CMX; the "
                 "compiler's count and its multiples), so more CMX can drop the split a smaller part used")


EMULATOR_PLANS = {("npu3720", "emulator"): EMULATED_PLAN, ("npu4000", "emulator"): EMULATED_PLAN}
NPU3720_TILINGS = {("npu3720", "serial"): TILING_OFFERS, ("npu3720", "emulator"): TILING_OFFERS}
ALL_TILINGS = {(a, s): TILING_OFFERS for a in ARCHS for s in SCHEDULES}


def cases(known: dict[tuple[str, str], str]) -> list:
    """(arch, schedule) parameters, those in ``known`` as strict xfails with their reason."""
    return [pytest.param(arch, schedule, marks=pytest.mark.xfail(strict=True, reason=known[arch, schedule]))
            if (arch, schedule) in known else (arch, schedule) for arch in ARCHS for schedule in SCHEDULES]


@functools.cache
def _preset(arch: str) -> nbperf.ArchSpec:
    return nbperf.load_arch(arch)


def _cmx(arch: str, scale: float) -> list[str]:
    """The override that scales ``arch``'s CMX (none at 1)."""
    return [] if scale == 1 else [f"cmx.bytes_per_tile={int(_preset(arch).cmx.bytes_per_tile * scale)}"]


def _layer(task) -> str:
    cand, tiling = task.candidate, task.candidate.tiling
    tiled = "untiled" if tiling is None else (f"tiled over {tiling.over.value} rows={tiling.rows} "
                                              f"channels={tiling.channels} pipelined={tiling.pipelined}")
    return f"{cand.strategy.value} {tiled}, {task.bound.value}, {task.end_ns - task.start_ns:.1f} ns"


def _slower_layers(base: nbperf.Estimate, bigger: nbperf.Estimate) -> str:
    """The layers that take longer in ``bigger`` or run another strategy or tiling, each with its
    strategy, tiling, bound and time on both sides."""
    before = {t.op.name: t for t in base.schedule.tasks}
    lines = []
    for task in bigger.schedule.tasks:
        old = before.get(task.op.name)
        if old is None:
            lines.append(f"  {task.op.name}: absent -> {_layer(task)}")
            continue
        slower = task.end_ns - task.start_ns > old.end_ns - old.start_ns + 0.05  # as printed
        new_plan, old_plan = task.candidate, old.candidate
        other = (new_plan.strategy, new_plan.tiling) != (old_plan.strategy, old_plan.tiling)
        if slower or other:
            lines.append(f"  {task.op.name}{' (slower)' if slower else ''}: {_layer(old)} -> {_layer(task)}")
    return "\n".join(lines) or "  (the same plan, no layer slower: the overlap changed)"


def _assert_never_slower(net: Net, arch: str, schedule: str, base: list[str], bigger: list[str]) -> None:
    loaded = nbperf.load(build(net))
    try:
        small = nbperf.estimate(loaded, arch, arch_overrides=base, schedule=schedule, policy=POLICY)
    except InfeasibleError:
        reject()  # the base part cannot run it at all: nothing to compare
    big = nbperf.estimate(loaded, arch, arch_overrides=bigger, schedule=schedule, policy=POLICY)
    # The layer-serial model keeps the DMA idle time under which the next op's weights prefetch in
    # 10 ns steps (floored; serial_model.State.idle_dma_ns, what lets the search merge states): an
    # op that gets faster can hide up to 10 ns less of the next op's load. That quantum, per op, is
    # the serial schedule's tolerance; the emulator is compared exactly.
    quantum_ms = 10 * len(small.schedule.tasks) / 1e6 if schedule == "serial" else 0.0
    assert big.latency_ms <= small.latency_ms + quantum_ms, (
        f"{arch} {schedule}: {small.latency_ms!r} ms with {base} -> {big.latency_ms!r} ms with {bigger} "
        f"(+{(big.latency_ms / small.latency_ms - 1) * 100:.4f}%); slower layers:\n"
        f"{_slower_layers(small, big)}")


def _pin(in_ch: int, hw: int, mid_ch: int, kernel: int, stride: int, out_ch: int, out_kernel: int,
         classes: int) -> Net:
    """A pinned failing network (all shrank to a weightless MatMul head)."""
    return Net(in_ch, hw, mid_ch, kernel, stride, out_ch, out_kernel, classes, "MatMul", False)


# --- (a) twice the MACs per tile ---------------------------------------------------------------------
# Serial (npu3720 and npu4000, either CMX), within the 10 ns-per-op quantum: the same plan, a few ns
# slower. In the first pin on
# npu4000 gap computes 304.9 -> 287.6 ns and fc then takes 1823.1 -> 1843.1 ns (+2.7 ns in all):
# the serial model keeps the DMA time the op before left idle, in which the next op's weights
# prefetch, floored to 10 ns steps (strategy.serial_model State.idle_dma_ns and ``step``), so 304.9 ns
# hides 300 ns of fc's weights but 287.6 ns only 280 ns (npu3720, 2nd pin: 581.5 / 483.1 ns, +1.5 ns).
# Emulator (npu3720 at the preset CMX; npu4000 at a quarter): the serial objective improves
# (-3.9 ns; -7.1 us) with another plan, which the emulator times slower (+369 ns: conv1 Clustering ->
# SOH and the layers after it; +660 ns: conv2 10 -> 5 and gap/part0 4 -> 8 sub-tiles). With the base
# plan's strategies forced, the first runs 66635 ns on the bigger part, faster than the base's 66642 ns.
# Known limit (strict xfail): the emulator cases.
@pytest.mark.parametrize(("arch", "schedule"), cases(EMULATOR_PLANS))
@PROPERTY
@given(net=NETS, cmx=CMX_SCALES)
@example(net=_pin(3, 4, 16, 1, 1, 16, 1, 10), cmx=1.0)  # serial, npu4000
@example(net=_pin(3, 15, 16, 1, 2, 16, 1, 10), cmx=1.0)  # serial, npu3720
@example(net=_pin(16, 4, 8, 1, 1, 16, 1, 10), cmx=1.0)  # emulator, npu3720
@example(net=_pin(3, 34, 96, 1, 1, 1024, 1, 10), cmx=0.25)  # emulator, npu4000
def test_twice_the_macs_per_tile_is_never_slower(arch, schedule, net, cmx):
    macs = _preset(arch).dpu.macs_per_tile
    _assert_never_slower(net, arch, schedule, _cmx(arch, cmx),
                         [*_cmx(arch, cmx), f"dpu.macs_per_tile={2 * macs}"])


# --- (b) twice the DDR bandwidth ---------------------------------------------------------------------
# Holds under the serial schedule. Known failures, emulator only: the serial objective improves
# (npu3720: -143 ns, fc Clustering -> SOK; npu4000: -514 ns, dw Clustering -> SOK) and the emulator
# times the new plan slower (+859 ns; +1175 ns). With the base plan's strategies forced the bigger part
# emulates faster than the base (67475 < 67543 ns; 61553 < 61783 ns). Since swizzled weights move
# padded (each tile's segment rounded up to 1 KB), the npu4000 pin keeps dw on Clustering with twice
# the bandwidth (61848 -> 61598 ns emulated) and no drawn example fails there: known limit on npu3720
# only (strict xfail).
@pytest.mark.parametrize(("arch", "schedule"), cases({("npu3720", "emulator"): EMULATED_PLAN}))
@PROPERTY
@given(net=NETS, cmx=CMX_SCALES)
@example(net=_pin(3, 4, 8, 1, 1, 16, 1, 256), cmx=1.0)  # emulator, npu3720
@example(net=_pin(16, 9, 96, 5, 1, 16, 1, 10), cmx=1.0)  # emulator, npu4000
def test_twice_the_ddr_bandwidth_is_never_slower(arch, schedule, net, cmx):
    gbps = _preset(arch).dma.ddr_bandwidth_gbps
    _assert_never_slower(net, arch, schedule, _cmx(arch, cmx),
                         [*_cmx(arch, cmx), f"dma.ddr_bandwidth_gbps={2 * gbps}"])


# --- (c) twice the CMX, from the preset and from a quarter of it --------------------------------------
# Known limits (strict xfails).
# Serial, npu3720 (the first pin; emulated it fails too): conv2 (256 -> 1024, 3x3) does not fit
# either part and streams through DDR. The preset offers SOK over 3, 4, 6, 8, 12 and 16 output-channel
# blocks (the compiler's counts and twice them, strategy.candidates._tile_further) and the search takes
# 12 (204.7 us; objective 229585 ns); twice the CMX offers 2, 4 and 8 only, and 8 costs 205.8 us
# (objective 230709 ns): a finer split offered on the smaller part is not offered on the bigger one
# (four times the count, now offered too, gives 8 here, not 12).
@pytest.mark.parametrize(("arch", "schedule"), cases(NPU3720_TILINGS))
@PROPERTY
@given(net=NETS)
@example(net=_pin(3, 9, 256, 1, 1, 1024, 3, 10))  # serial and emulator, npu3720
@example(net=_pin(3, 45, 256, 1, 1, 32, 1, 10))  # emulator, npu3720
def test_twice_the_cmx_is_never_slower(arch, schedule, net):
    _assert_never_slower(net, arch, schedule, [], _cmx(arch, 2.0))


# Known limits (strict xfails).
# Serial, npu4000: on a quarter of the CMX conv1 (SOW) fits in more than half of it, so it is also
# offered with its output streamed to DDR (strategy.candidates._streamed), the search's pick (objective
# 19301 ns); on half the CMX it fits in less than half, that offer is gone, and the best left
# (Clustering, 3 weight blocks) costs 20497 ns.
# Serial, npu3720: gap/part0 (pooling 1024 channels of 40x40) is tiled over output channels on a
# quarter of the CMX (SOH, 9 blocks: objective 286448 ns) but over rows on half of it, where no
# channel tiling is offered (best: SOK over 4 row blocks, 288876 ns).
# Emulator (npu4000, npu3720): the serial objective improves (-251 ns; -235 ns) with another plan that
# the emulator times slower (+899 ns: fc Clustering instead of SOK over 2 blocks; +35 ns: conv1 and dw
# SOK instead of SOH); with the base plan's strategies forced both emulate exactly as fast as the base.
@pytest.mark.parametrize(("arch", "schedule"), cases(ALL_TILINGS))
@PROPERTY
@given(net=NETS)
@example(net=_pin(32, 25, 48, 7, 2, 16, 1, 10))  # serial and emulator, npu4000
@example(net=_pin(3, 40, 8, 1, 1, 1024, 1, 10))  # serial, npu3720
@example(net=_pin(3, 4, 8, 1, 1, 1024, 1, 256))  # emulator, npu4000
@example(net=_pin(3, 37, 64, 1, 1, 16, 3, 10))  # emulator, npu3720
def test_half_the_cmx_is_never_slower_than_a_quarter(arch, schedule, net):
    _assert_never_slower(net, arch, schedule, _cmx(arch, 0.25), _cmx(arch, 0.5))


@pytest.mark.parametrize("arch", ARCHS)
def test_a_quarter_of_the_cmx_makes_the_cmx_matter(arch):
    """The premise of the small-CMX properties: with a quarter of the CMX a network the preset holds
    in CMX spills activations to DDR."""
    loaded = nbperf.load(build(Net(in_ch=32, hw=32, mid_ch=128, out_ch=256, out_kernel=3, weights=False)))
    preset = nbperf.estimate(loaded, arch)
    quarter = nbperf.estimate(loaded, arch, arch_overrides=_cmx(arch, 0.25))
    assert preset.schedule.spilled_bytes == 0
    assert quarter.schedule.spilled_bytes > 0
    assert quarter.latency_ms > preset.latency_ms


# --- the 4K-MAC preset on the shared models -----------------------------------------------------------
def test_the_4k_preset_is_npu4000_with_twice_the_macs():
    """The acceptance "4K MACs at most 2x faster than 2K on every shared model" runs in
    tests/integration/test_compare.py::test_wider_macs_on_every_shared_model (npu4000 against
    npu4000 with 4096 MACs, 1x..2x per model); this pins that the what-if preset is exactly that
    point, so the test covers it without estimating every shared model twice more."""
    base, fast = nbperf.load_arch("npu4000"), nbperf.load_arch("npu4000-4k")
    wider = nbperf.load_arch("npu4000", ["dpu.macs_per_tile=4096"])
    label = {"name", "description"}
    assert fast.model_dump(exclude=label) == wider.model_dump(exclude=label)
    assert fast.dpu.macs_per_tile == 2 * base.dpu.macs_per_tile


# --- what the MACs cannot speed up --------------------------------------------------------------------
def _graph(nodes, inputs, outputs, inits=(), input_type=TensorProto.FLOAT) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "dma",
                              [helper.make_tensor_value_info(n, input_type, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
                              list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# Ops the lowering gives the DMA engine (lower.rules.DMA_OPS): no DPU or SHAVE work at all.
def _transpose(perm: list[int], out: list[int]) -> onnx.ModelProto:
    return _graph([helper.make_node("Transpose", ["x"], ["y"], name="t", perm=perm)],
                  [("x", [1, 64, 128, 128])], [("y", out)])


DMA_ONLY = {
    # NCHW -> NHWC: the innermost axis changes, a permute DMA (one element per CMX clock)
    "transpose-permute": lambda: _transpose([0, 2, 3, 1], [1, 128, 128, 64]),
    # C and H swap, rows stay whole: a strided copy
    "transpose-copy": lambda: _transpose([0, 2, 1, 3], [1, 128, 64, 128]),
    "concat": lambda: _graph([helper.make_node("Concat", ["x", "z"], ["y"], name="c", axis=1)],
                             [("x", [1, 64, 64, 64]), ("z", [1, 64, 64, 64])], [("y", [1, 128, 64, 64])]),
    # rows of a (weightless) embedding table read from DDR
    "gather-embedding": lambda: _graph(
        [helper.make_node("Gather", ["table", "ids"], ["y"], name="g", axis=0)], [("ids", [1, 128])],
        [("y", [1, 128, 768])], [_weightless("table", (30522, 768))], input_type=TensorProto.INT64),
}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("kind", sorted(DMA_ONLY))
def test_a_data_movement_layer_takes_exactly_as_long_with_4k_macs(kind, schedule):
    loaded = nbperf.load(DMA_ONLY[kind]())
    base = nbperf.estimate(loaded, "npu4000", schedule=schedule, precision="fp16")
    fast = nbperf.estimate(loaded, "npu4000-4k", schedule=schedule, precision="fp16")
    for result in (base, fast):
        (task,) = result.schedule.tasks
        assert task.op.engine.value == "DMA" and task.bound.value == "dma-copy", (kind, task.bound)
    assert fast.latency_ms == base.latency_ms


def test_a_weight_bound_fully_connected_layer_gains_under_one_percent_with_4k_macs():
    """MatMul 1x4096 by 4096x4096 fp16 weights (32 MiB from DDR for 16.8 M MACs): DMA-bound on both
    parts, the weight stream exactly as long. Not exactly as fast, though: the weights stream in
    pipelined blocks (SOK over output channels), each block's compute hides behind the next block's
    load, but the last block's compute comes after the last load and is not hidden; with 4K MACs it
    is shorter (by 92 ns of 816 us here: the compute saved over the number of blocks)."""
    model = _graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")], [("x", [1, 4096])],
                   [("y", [1, 4096])], [_weightless("w", (4096, 4096))])
    loaded = nbperf.load(model)
    for schedule in SCHEDULES:
        base = nbperf.estimate(loaded, "npu4000", schedule=schedule, precision="fp16")
        fast = nbperf.estimate(loaded, "npu4000-4k", schedule=schedule, precision="fp16")
        (slow_fc,), (fast_fc,) = base.schedule.tasks, fast.schedule.tasks
        assert slow_fc.bound.value == fast_fc.bound.value == "dma-weights", schedule
        assert slow_fc.dma_ns == fast_fc.dma_ns, schedule  # the same weights over the same DDR
        assert fast.latency_ms <= base.latency_ms, schedule
        assert base.latency_ms - fast.latency_ms < 0.01 * base.latency_ms, schedule
        # what it gains is at most the compute it saves, which the weight stream mostly hides
        saved_ms = (slow_fc.compute.ns - fast_fc.compute.ns) / 1e6
        assert base.latency_ms - fast.latency_ms <= saved_ms, schedule
