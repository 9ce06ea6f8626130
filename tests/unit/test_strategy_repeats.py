"""Reusing a repeated block's search step changes no pick: the search with and without the store."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from tests.unit.test_strategy_search import build_graph, layer

from nbperf.arch import load_arch
from nbperf.cost import MathBackend, TaskCoster
from nbperf.errors import InfeasibleError
from nbperf.frontend import load_model
from nbperf.lower import Engine, NpuGraph, NpuOp, lower
from nbperf.strategy.search import Problem, search_optimal


class _Forgetful(dict):
    """A store that keeps nothing: every step is computed."""

    def __setitem__(self, key, value) -> None:
        pass


def _problem(graph, arch_name: str) -> Problem:
    arch = load_arch(arch_name)
    return Problem(lower(graph), arch, TaskCoster(arch, MathBackend()))


def _both(problem: Problem, force=None):
    reused = search_optimal(problem, force)
    hits = len(problem.repeats.store)
    problem.repeats.store = _Forgetful()
    computed = search_optimal(problem, force)
    return reused, computed, hits


def _assert_same(reused, computed) -> None:
    assert reused[0] == computed[0]  # the same pick for every op
    assert reused[1] == pytest.approx(computed[1], rel=1e-12, abs=0.01)
    assert reused[2] == computed[2]


@pytest.fixture(scope="module")
def decoder_graph(tmp_path_factory):
    from benchmarks.model_builders import decoder_lm, save

    # GPT-2-XL-wide blocks (its K and V transposes tie between Clustering and SOH on npu3720)
    path = save(decoder_lm(layers=8, d_model=1280, heads=16, ffn=5120, vocab=1000, seq=512),
                tmp_path_factory.mktemp("decoder"))
    return load_model(path)


@pytest.mark.parametrize("arch_name", ["npu3720", "npu4000"])
def test_decoder_blocks_reuse_steps_and_pick_the_same(decoder_graph, arch_name):
    problem = _problem(decoder_graph, arch_name)
    reused, computed, stored = _both(problem)
    assert stored < len(problem.choices) / 2  # the blocks after the first ones are replayed
    _assert_same(reused, computed)


def test_a_forced_pick_in_a_later_block_is_searched_not_replayed(decoder_graph):
    problem = _problem(decoder_graph, "npu4000")
    plain = search_optimal(problem)[0]
    index = len(problem.choices) - 10
    other = next(k for k in range(len(problem.choices[index].allowed)) if k != plain[index])
    reused, computed, _ = _both(problem, {index: other})
    assert reused[0][index] == other
    _assert_same(reused, computed)


@pytest.mark.parametrize("model", ["bert_base_s128.onnx", "vit_b_16.onnx", "unet_256.onnx",
                                   "yolo_like_csp.onnx"])
def test_shared_models_pick_the_same_with_reuse(shared_models, model):
    problem = _problem(load_model(shared_models / model), "npu4000")
    reused, computed, _ = _both(problem)
    _assert_same(reused, computed)


@st.composite
def repeated_blocks(draw):
    """A random block of ops repeated a few times (residual joins across it), on a small CMX so
    that spills and evictions happen; sometimes one op of the last block changed, a tensor of the
    first block read again at the end (a long skip: it changes which tensor a spill picks), or a
    middle block's tensor wanted by the host (stored to DDR there, unlike in the other blocks)."""
    block = [draw(layer(i)) for i in range(draw(st.integers(1, 4)))]
    repeats = draw(st.integers(2, 8))
    layers = [dict(spec, index=r * len(block) + k) for r in range(repeats) for k, spec in enumerate(block)]
    if draw(st.booleans()):
        layers[-1] = dict(draw(layer(len(layers) - 1)))
    arch = load_arch(draw(st.sampled_from(["npu3720", "npu4000"])),
                     [f"tiles={draw(st.sampled_from([2, 4]))}",
                      f"cmx.bytes_per_tile={draw(st.sampled_from([48 * 1024, 96 * 1024, 256 * 1024]))}"])
    graph = build_graph(layers, residual=True)
    if draw(st.booleans()):
        graph = _read_again_at_end(graph, graph.ops[draw(st.integers(0, len(block) - 1))].outputs[0])
    if draw(st.booleans()):
        graph = replace(graph, outputs=(*graph.outputs, graph.ops[len(layers) // 2].outputs[0]))
    try:
        return Problem(graph, arch, TaskCoster(arch, MathBackend()))
    except InfeasibleError:
        reject()


def _read_again_at_end(graph: NpuGraph, early: str) -> NpuGraph:
    """``graph`` with a last op that copies ``early`` (a DMA op: any size goes) and joins it."""
    last = graph.ops[-1].outputs[0]
    nbytes = graph.tensor_bytes[early]
    copy = NpuOp(name="late_copy", op_type="dma", precision="fp16", inputs=(early, last), outputs=("late",),
                 input_bytes=nbytes + graph.tensor_bytes[last], output_bytes=nbytes, engine=Engine.DMA,
                 elements=nbytes // 2)
    return replace(graph, ops=(*graph.ops, copy), tensor_bytes={**graph.tensor_bytes, "late": nbytes},
                   outputs=("late",))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problem=repeated_blocks())
def test_random_repeated_blocks_pick_the_same_with_reuse(problem):
    _assert_same(*_both(problem)[:2])
