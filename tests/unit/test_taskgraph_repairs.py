"""The task graph's placement repairs (``_Builder._repair``), on hand-made buffers: which repair
answers a buffer the allocator could not place."""

from __future__ import annotations

import math
from types import SimpleNamespace

from nbperf.schedule.allocator import Buffer
from nbperf.schedule.taskgraph import _Builder


def _builder(leads: dict[int, int], uses: dict[str, list[int]]) -> _Builder:
    """A builder with only what ``_repair`` reads: prefetch leads, extra spills, next uses."""
    builder = _Builder.__new__(_Builder)
    builder.leads, builder.extra_spills = dict(leads), {}

    def next_use(tensor: str, after: int) -> float:
        return min((u for u in uses.get(tensor, ()) if u > after), default=math.inf)

    builder.model = SimpleNamespace(next_use=next_use)
    return builder


def _repair(builder: _Builder, failed: Buffer, beside: list[Buffer]) -> bool:
    return builder._repair(failed, SimpleNamespace(buffers=[failed, *beside]))


def test_a_prefetch_still_early_during_the_failed_buffer_is_delayed():
    """Op 26's weights load one op early (steps 51..53); the buffer of op 25 (step 51) fails: loading
    them one op later frees its room."""
    weights = Buffer(1, 0, 100, "op26/weights", 51, 53, prefetch_for=26, writers=[1])
    failed = Buffer(2, 0, 100, "op25/out", 51, 51, writers=[2])
    builder = _builder({26: 1}, {})
    assert _repair(builder, failed, [weights])
    assert builder.leads == {26: 0} and builder.extra_spills == {}


def test_a_prefetched_buffer_that_stays_alive_anyway_is_not_delayed_a_tensor_is_spilled():
    """The residual's constant operand was prefetched for op 14 (its buffer from step 27) and the
    buffer stays alive, holding the residual, to step 58. A K^T block of op 26 (step 53) fails
    beside it: loading the constant later frees nothing at step 53, so the repair spills the tensor
    needed furthest in the future instead (here the residual, next used at op 29)."""
    residual = Buffer(1, 0, 200, "residual", 27, 58, holds=[(27, "residual")], prefetch_for=14, writers=[1])
    query = Buffer(3, 0, 200, "q_t", 47, 53, holds=[(47, "q_t")], writers=[3])
    failed = Buffer(2, 0, 100, "scores/stream-weights0", 53, 53, writers=[2])
    builder = _builder({14: 1}, {"residual": [29], "q_t": [26]})
    assert _repair(builder, failed, [residual, query])
    assert builder.leads == {14: 1}, "the prefetch was delayed although that frees nothing at step 53"
    assert builder.extra_spills == {26: ["residual"]}
