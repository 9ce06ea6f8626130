"""The candidates the search is offered: shared across arch points that differ only where
candidates never read, and without nbperf's finer tilings under the compiler policy."""

from __future__ import annotations

import functools

import pytest
from tests.conftest import EXAMPLES

import nbperf
from nbperf.arch import ArchSpec, load_arch
from nbperf.cost import MathBackend, TaskCoster
from nbperf.lower.upsampling import LoweringOptions
from nbperf.strategy.candidates import candidates
from nbperf.strategy.search import _NOT_READ_BY_CANDIDATES, PREFERENCE, Problem, search_compiler
from nbperf.strategy.swizzling import swizzled_activations

# Every section the candidate cache leaves out of its key, changed at once.
ELSEWHERE = ["dpu.macs_per_tile=4096", "dpu.frequency_mhz=700", "dma.ddr_bandwidth_gbps=7",
             "dma.channels=1", "inference_overhead_us=123", "barriers=8", "shave.frequency_mhz=500",
             "description=a what-if", "runtime.throughput_requests=1", "calibration.fitted_from=a fit"]


@functools.cache
def _graph(arch: str):
    loaded = nbperf.load(EXAMPLES / "resnet50.onnx")
    return loaded.lowered(None, options=LoweringOptions.of(load_arch(arch)))


def _fresh(graph, arch: ArchSpec, finer: bool = True) -> list[list]:
    swizzled = swizzled_activations(graph, arch)
    return [sorted(candidates(op, graph.tensor_bytes, arch, swizzled, finer),
                   key=lambda c: PREFERENCE.index(c.strategy)) for op in graph.ops if not op.is_free]


def test_the_sections_left_out_of_the_key_are_arch_sections():
    assert set(ArchSpec.model_fields) >= _NOT_READ_BY_CANDIDATES


@pytest.mark.parametrize("arch", ["npu3720", "npu4000"])
def test_candidates_do_not_read_the_sections_left_out_of_the_key(arch):
    """A cached candidate list serves every arch point alike in tiles, CMX and compiler: the
    candidates computed afresh on a point that changes every other section are equal."""
    base, elsewhere = load_arch(arch), load_arch(arch, ELSEWHERE)
    graph = _graph(arch)
    left_out = _NOT_READ_BY_CANDIDATES
    assert all(getattr(base, s) != getattr(elsewhere, s) for s in left_out)  # each section changed
    assert base.model_dump(exclude=left_out) == elsewhere.model_dump(exclude=left_out)
    assert _fresh(graph, base) == _fresh(graph, elsewhere)


@pytest.mark.parametrize("overrides", [[], ELSEWHERE, ["tiles=2"], ["cmx.bytes_per_tile=262144"]])
def test_offered_candidates_equal_fresh_ones(overrides):
    """Through the cache (warm from earlier points or not), each op is offered exactly what
    ``candidates`` makes for it on this point: a point with other tiles or CMX gets its own."""
    arch = load_arch("npu4000", overrides)
    graph = _graph("npu4000")
    Problem(graph, load_arch("npu4000"), TaskCoster(arch, MathBackend()))  # warm the cache
    problem = Problem(graph, arch, TaskCoster(arch, MathBackend()))
    assert [list(c.considered) for c in problem.choices] == _fresh(graph, arch)


def test_the_compiler_policy_considers_only_the_compilers_tilings():
    """On a small CMX many ops tile: the optimal search is offered finer tilings too, the
    compiler's rule is not, and it picks the same candidates either way."""
    arch = load_arch("npu4000", ["cmx.bytes_per_tile=262144"])
    graph = _graph("npu4000")
    coster = TaskCoster(arch, MathBackend())
    full, own = Problem(graph, arch, coster), Problem(graph, arch, coster, policy="compiler")
    assert any(c.finer for choice in full.choices for c in choice.considered)
    assert not any(c.finer for choice in own.choices for c in choice.considered)
    assert [list(c.considered) for c in own.choices] == _fresh(graph, arch, finer=False)
    from_full = [choice.allowed[p] for choice, p in zip(full.choices, search_compiler(full), strict=True)]
    from_own = [choice.allowed[p] for choice, p in zip(own.choices, search_compiler(own), strict=True)]
    assert from_full == from_own
    assert full.evaluate(search_compiler(full)) == own.evaluate(search_compiler(own))
