"""Wall time and peak memory of dependency reduction: per-engine vector clocks vs. ancestor bitsets.

    python3 benchmarks/bench_deps.py

The task graph is synthetic but shaped like the emulator's: layer after layer, each tile gets a
weights DMA (round-robin over the DMA channels, waiting for one or two compute tasks of the layer
before, whose buffers it reuses) and a DPU or SHAVE task (waiting for its weights and for one to
three outputs of the layer before), so every task depends on 1-4 recent tasks on other engines.
Each row runs in a fresh child process so that its peak RSS (ru_maxrss) is its own; "RSS before"
is the peak once the graph is built, so the difference is what the reduction itself added. The
old bitset reduction (kept as the reference in tests/unit/test_deps.py) is quadratic, so it only
runs on small graphs, each under a 20 s time limit; the "same" column checks that both give
identical results on the same graph ("-": nothing to compare with).
"""

from __future__ import annotations

import hashlib
import json
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD_TIME_LIMIT_S = 20
# (implementation, tasks, tiles): 6 tiles = 14 engines (DPU + SHAVE per tile, 2 DMA channels)
CASES = [("bitset", 10_000, 6), ("clocks", 10_000, 6), ("bitset", 20_000, 6), ("clocks", 20_000, 6),
         ("bitset", 40_000, 6), ("clocks", 40_000, 6), ("bitset", 80_000, 6), ("clocks", 80_000, 6),
         ("clocks", 100_000, 6), ("clocks", 200_000, 6),
         ("bitset", 20_000, 256), ("clocks", 20_000, 256), ("clocks", 100_000, 256)]


@dataclass(slots=True)
class Task:
    id: int
    deps: set[int] = field(default_factory=set)


def layered_graph(n: int, tiles: int, channels: int = 2, seed: int = 0) -> tuple[list[Task], list[str]]:
    rng = random.Random(seed)
    tasks: list[Task] = []
    engine: list[str] = []
    previous_layer: list[int] = []  # compute task of each tile in the layer before
    dma = 0
    while len(tasks) < n:
        kind = "SHAVE" if rng.random() < 0.25 else "DPU"
        weights: list[int] = []
        for _ in range(tiles):
            reuse = set(rng.sample(previous_layer, min(len(previous_layer), rng.randint(1, 2))))
            tasks.append(Task(len(tasks), reuse))
            engine.append(f"DMA{dma % channels}")
            weights.append(len(tasks) - 1)
            dma += 1
        layer: list[int] = []
        for tile in range(tiles):
            inputs = set(rng.sample(previous_layer, min(len(previous_layer), rng.randint(1, 3))))
            tasks.append(Task(len(tasks), {weights[tile], *inputs}))
            engine.append(f"{kind}{tile}")
            layer.append(len(tasks) - 1)
        previous_layer = layer
    return tasks[:n], engine[:n]


def child(impl: str, n: int, tiles: int) -> None:
    sys.path.insert(0, str(REPO))
    if impl == "bitset":
        from tests.unit.test_deps import bitset_reference as reduce
    else:
        from nbperf.schedule.deps import reduce_dependencies as reduce
    tasks, engine = layered_graph(n, tiles)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    reduced = reduce(tasks, engine)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "before_mb": before, "peak_mb": peak, "engines": len(set(engine)),
                      "edges": sum(len(t.deps) for t in tasks), "kept": sum(map(len, reduced)),
                      "digest": hashlib.sha256(repr(reduced).encode()).hexdigest()}))


def main() -> None:
    print(f"{'impl':<7} {'tasks':>7} {'engines':>7} {'edges':>7} {'kept':>7} {'wall s':>7} "
          f"{'RSS before MB':>13} {'peak RSS MB':>11} {'added MB':>8}  same")
    digests: dict[tuple[int, int], str] = {}
    for impl, n, tiles in CASES:
        try:
            out = subprocess.run([sys.executable, __file__, "--child", impl, str(n), str(tiles)],
                                 capture_output=True, text=True, check=True,
                                 timeout=OLD_TIME_LIMIT_S if impl == "bitset" else None)
        except subprocess.TimeoutExpired:
            print(f"{impl:<7} {n:>7} {2 * tiles + 2:>7}  over the {OLD_TIME_LIMIT_S} s limit")
            continue
        except subprocess.CalledProcessError as exc:
            print(f"{impl:<7} {n:>7} failed: {exc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        first = digests.setdefault((n, tiles), r["digest"])
        same = "-" if first is r["digest"] else "yes" if first == r["digest"] else "NO"
        print(f"{impl:<7} {n:>7} {r['engines']:>7} {r['edges']:>7} {r['kept']:>7} {r['wall_s']:>7.2f} "
              f"{r['before_mb']:>13.0f} {r['peak_mb']:>11.0f} {r['peak_mb'] - r['before_mb']:>8.0f}  {same}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
