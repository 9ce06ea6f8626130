"""Dependency reduction by vector clocks equals the per-task ancestor-bitset reduction it replaces."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbperf.schedule.deps import reduce_dependencies


@dataclass
class _Task:
    id: int
    deps: set[int] = field(default_factory=set)


def bitset_reference(tasks, engine: list) -> list[list[int]]:
    """The emulator's original reduction: one Python-int bitset of all ancestors per task. A task on
    a tuple of engines (a gang) follows the previous task of each."""
    reach = [0] * len(tasks)
    last_on_engine: dict[str, int] = {}
    reduced: list[list[int]] = []
    for t in tasks:
        lanes = engine[t.id] if isinstance(engine[t.id], tuple) else (engine[t.id],)
        previous = {last_on_engine[e] for e in lanes if e in last_on_engine}
        preds = set(t.deps) | previous
        ancestors = 0
        for p in preds:
            ancestors |= reach[p]
        keep = sorted(d for d in t.deps if not (ancestors >> d) & 1 and d not in previous)
        reduced.append(keep)
        for p in preds:
            ancestors |= 1 << p
        reach[t.id] = ancestors
        for e in lanes:
            last_on_engine[e] = t.id
    return reduced


def _tasks(deps: list[set[int]]) -> list[_Task]:
    return [_Task(i, set(d)) for i, d in enumerate(deps)]


def _check(deps: list[set[int]], engine: list) -> list[list[int]]:
    tasks = _tasks(deps)
    expected = bitset_reference(tasks, engine)
    assert reduce_dependencies(tasks, engine) == expected
    assert reduce_dependencies(deps, engine) == expected  # plain dependency sets work the same
    return expected


@st.composite
def small_graphs(draw):
    """Every edge drawn by hypothesis (so failures shrink well): up to 24 tasks, any engines."""
    n = draw(st.integers(0, 24))
    engines = draw(st.integers(1, max(1, n)))
    engine = [f"E{draw(st.integers(0, engines - 1))}" for _ in range(n)]
    deps = [draw(st.sets(st.integers(0, i - 1), max_size=i)) if i else set() for i in range(n)]
    return deps, engine


def random_graph(seed: int, n: int, engines: int, density: float, window: int,
                 no_deps: float) -> tuple[list[set[int]], list[str]]:
    """Random DAG: each task on a random engine, deps to random lower ids (recent ones favoured)."""
    rng = random.Random(seed)
    engine = [f"{rng.choice(['DPU', 'SHAVE', 'DMA'])}{rng.randrange(engines)}" for _ in range(n)]
    deps: list[set[int]] = []
    for i in range(n):
        if i == 0 or rng.random() < no_deps:
            deps.append(set())
            continue
        recent = range(max(0, i - window), i)
        k = min(len(recent), 1 + int(rng.random() * density * len(recent)))
        chosen = set(rng.sample(recent, k))
        if rng.random() < 0.1:  # an occasional far-back edge, like a CMX address reuse
            chosen.add(rng.randrange(i))
        deps.append(chosen)
    return deps, engine


@st.composite
def gang_graphs(draw):
    """Tasks on one engine or a gang of several (a multi-tile op's per-tile tasks run as one)."""
    n = draw(st.integers(0, 24))
    names = [f"E{k}" for k in range(draw(st.integers(1, 6)))]
    engine = []
    for _ in range(n):
        lanes = tuple(sorted(draw(st.sets(st.sampled_from(names), min_size=1))))
        engine.append(lanes if len(lanes) > 1 or draw(st.booleans()) else lanes[0])
    deps = [draw(st.sets(st.integers(0, i - 1), max_size=i)) if i else set() for i in range(n)]
    return deps, engine


@settings(max_examples=300, deadline=None)
@given(gang_graphs())
def test_equals_bitset_reference_with_gangs(graph):
    _check(*graph)


def test_gang_follows_the_previous_task_of_every_engine():
    # 0 on A, 1 on B; the gang 2 on (A, B) needs neither edge; 3 on C after 0 and 2 keeps only 2.
    deps = [set(), set(), {0, 1}, {0, 2}]
    assert _check(deps, ["A", "B", ("A", "B"), "C"]) == [[], [], [], [2]]


@settings(max_examples=300, deadline=None)
@given(small_graphs())
def test_equals_bitset_reference_on_small_graphs(graph):
    _check(*graph)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), engines=st.integers(1, 300),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]), window=st.sampled_from([1, 4, 32, 1000]),
       no_deps=st.sampled_from([0.0, 0.3, 0.9]))
def test_equals_bitset_reference_on_random_graphs(seed, n, engines, density, window, no_deps):
    _check(*random_graph(seed, n, engines, density, window, no_deps))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(100, 700), engines=st.integers(1, 3))
def test_equals_bitset_reference_with_long_queues(seed, n, engines):
    """Few engines: queue lengths cross the powers of two that set the clock's field width."""
    _check(*random_graph(seed, n, engines, density=0.1, window=64, no_deps=0.1))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 9, 127, 128, 129, 255, 256, 257])
def test_single_engine_queue_at_power_of_two_lengths(n):
    rng = random.Random(n)
    deps = [set(rng.sample(range(i), min(i, 3))) for i in range(n)]
    assert _check(deps, ["DPU0"] * n) == [[] for _ in range(n)]  # the queue order implies everything


def test_diamond_across_two_engines():
    # 0 on A; 1 on B and 2 on A both after 0; 3 on B joins them (1 is its engine predecessor).
    deps = [set(), {0}, {0}, {0, 1, 2}]
    assert _check(deps, ["A", "B", "A", "B"]) == [[], [0], [], [2]]


def test_dep_implied_only_through_the_engine_order():
    # 0 -> 1 only by A's queue order; 2 waits on 1, so 3's edge to 0 is implied through 2.
    deps = [set(), set(), {1}, {0, 2}]
    assert _check(deps, ["A", "A", "B", "C"]) == [[], [], [1], [2]]


def test_chain_keeps_only_the_edge_to_the_previous_task():
    n = 12
    deps = [set(range(i)) for i in range(n)]
    assert _check(deps, ["A", "B"] * (n // 2)) == [[], *([i] for i in range(n - 1))]
    assert _check(deps, ["A"] * n) == [[] for _ in range(n)]


def test_independent_engines_keep_every_cross_edge():
    deps = [set(), set(), set(), {0, 1, 2}]
    assert _check(deps, ["A", "B", "C", "D"]) == [[], [], [], [0, 1, 2]]


def test_empty_graph():
    assert reduce_dependencies([], []) == []


def test_duplicates_and_other_iterables_count_once():
    reduced = reduce_dependencies([[], [], [0, 1, 0], iter([2, 2])], ["A", "B", "C", "A"])
    assert reduced == [[], [], [0, 1], [2]]


@pytest.mark.parametrize("deps", [[set(), {1}], [set(), {-1}], [{0}]])
def test_rejects_deps_that_are_not_lower_ids(deps):
    with pytest.raises(ValueError, match="lower task ids"):
        reduce_dependencies(_tasks(deps), ["A"] * len(deps))


def test_rejects_tasks_out_of_id_order_and_engine_length_mismatch():
    with pytest.raises(ValueError, match="has id 1"):
        reduce_dependencies([_Task(1), _Task(0)], ["A", "A"])
    with pytest.raises(ValueError, match="engine names"):
        reduce_dependencies([_Task(0)], ["A", "B"])
