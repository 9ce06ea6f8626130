"""The whole-graph search finds the true minimum: property tests against exhaustive search."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from nbperf.arch import load_arch
from nbperf.cost import MathBackend, TaskCoster
from nbperf.errors import InfeasibleError
from nbperf.lower import DpuKind, DpuWork, Engine, NpuGraph, NpuOp
from nbperf.strategy.search import Problem, search_compiler, search_exhaustive, search_optimal


@st.composite
def layer(draw, index: int):
    """One random op description: engine, output cube, kernel."""
    return {
        "engine": draw(st.sampled_from(["conv", "conv", "conv", "dw", "eltwise", "shave", "dma"])),
        "k": draw(st.sampled_from([8, 16, 24, 32, 64, 96, 128, 256])),
        "h": draw(st.integers(1, 40)),
        "w": draw(st.integers(1, 40)),
        "kernel": draw(st.sampled_from([1, 3, 5])),
        "stride": draw(st.sampled_from([1, 1, 2])),
        "index": index,
    }


def build_graph(layers: list[dict], residual: bool) -> NpuGraph:
    """A chain of ops; with ``residual``, element-wise ops also read the output two steps back."""
    ops, tensor_bytes = [], {"in": 3 * 32 * 32 * 2}
    prev, prev2, prev_k = "in", None, 3
    for spec in layers:
        out = f"t{spec['index']}"
        k, h, w = spec["k"], spec["h"], spec["w"]
        name = f"op{spec['index']}"
        inputs: tuple[str, ...] = (prev,)
        fields: dict = {}
        if spec["engine"] in ("conv", "dw"):
            kind = DpuKind.CONV if spec["engine"] == "conv" else DpuKind.DWCONV
            in_k = prev_k if kind is DpuKind.CONV else 1
            work = DpuWork(kind, out_w=w, out_h=h, out_k=k, in_k=in_k, kernel_h=spec["kernel"],
                           kernel_w=spec["kernel"], stride_h=spec["stride"], stride_w=spec["stride"],
                           in_h=h * spec["stride"], in_w=w * spec["stride"])
            fields = dict(engine=Engine.DPU, dpu=work, macs=h * w * k * in_k * spec["kernel"] ** 2,
                          weight_bytes=k * in_k * spec["kernel"] ** 2 * 2 + 16 * k)
        elif spec["engine"] == "eltwise":
            if residual and prev2 is not None:
                inputs = (prev, prev2)
            fields = dict(engine=Engine.DPU, dpu=DpuWork(DpuKind.ELTWISE, out_w=w, out_h=h, out_k=k, in_k=0))
        elif spec["engine"] == "shave":
            fields = dict(engine=Engine.SHAVE, shave_class="softmax", elements=h * w * k)
        else:
            fields = dict(engine=Engine.DMA, elements=h * w * k)
        tensor_bytes[out] = h * w * k * 2
        ops.append(NpuOp(name=name, op_type=spec["engine"], precision="fp16", inputs=inputs, outputs=(out,),
                         input_bytes=sum(tensor_bytes[i] for i in inputs), output_bytes=tensor_bytes[out],
                         **fields))
        prev2, prev, prev_k = prev, out, k
    return NpuGraph(name="random", ops=tuple(ops), tensor_bytes=tensor_bytes, inputs=("in",),
                    outputs=(prev,), aliases={}, unknown_ops=(), default_precision="fp16")


@st.composite
def problems(draw, residual: bool):
    n = draw(st.integers(1, 5))
    layers = [draw(layer(i)) for i in range(n)]
    arch_name = draw(st.sampled_from(["npu3720", "npu4000", "vpu2.0"]))
    tiles = draw(st.sampled_from([2, 3, 4, 6]))
    cmx = draw(st.sampled_from([64 * 1024, 256 * 1024, 2 * 1024 * 1024]))
    arch = load_arch(arch_name, [f"tiles={tiles}", f"cmx.bytes_per_tile={cmx}"])
    try:
        problem = Problem(build_graph(layers, residual), arch, TaskCoster(arch, MathBackend()))
    except InfeasibleError:
        reject()  # a layer that fits no tiling at all is not a search question
    if math.prod(len(c.allowed) for c in problem.choices) > EXHAUSTIVE_LIMIT:
        reject()  # the oracle would take seconds per example; the suite has a 10-minute budget
    return problem


# Assignments the exhaustive oracle enumerates at most: a few of the drawn chains have 70,400 and
# took 7-25 s each and made this the suite's longest test; below this bound an example takes ~1 s.
EXHAUSTIVE_LIMIT = 8_000
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problem=problems(residual=False))
def test_search_equals_exhaustive_minimum_on_random_chains(problem):
    picks, cost, exact = search_optimal(problem)
    _, best = search_exhaustive(problem)
    assert exact
    assert cost == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert problem.evaluate(picks) == pytest.approx(cost, rel=1e-9, abs=1e-6)


@SETTINGS
@given(problem=problems(residual=True))
def test_search_equals_exhaustive_minimum_with_branches_and_joins(problem):
    picks, cost, _ = search_optimal(problem)
    _, best = search_exhaustive(problem)
    assert cost == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert problem.evaluate(picks) == pytest.approx(cost, rel=1e-9, abs=1e-6)


@SETTINGS
@given(problem=problems(residual=True))
def test_compiler_policy_never_beats_the_search(problem):
    _, cost, _ = search_optimal(problem)
    assert cost <= problem.evaluate(search_compiler(problem)) + 1e-6


def test_search_is_deterministic():
    from tests.conftest import EXAMPLES

    import nbperf

    runs = [nbperf.estimate(EXAMPLES / "resnet50.onnx", "npu4000") for _ in range(2)]
    assert [t.strategy for t in runs[0].schedule.tasks] == [t.strategy for t in runs[1].schedule.tasks]
    assert runs[0].latency_ns == runs[1].latency_ns
