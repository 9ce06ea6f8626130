"""Time the strategy stage alone, and what it adds to a whole estimate.

    python3 benchmarks/bench_strategy.py [--repeat 7]

For each model and arch: the median wall time of ``choose_strategies`` on an already lowered
graph, the median of a whole estimate, and the frontier search's exactness.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import nbperf
from nbperf.cost import TaskCoster, get_backend
from nbperf.frontend import load_model
from nbperf.lower import lower
from nbperf.strategy import choose_strategies

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"


def _median(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    models = sorted(SHARED.glob("*.onnx")) if SHARED.is_dir() else [REPO / "examples/models/resnet50.onnx"]
    backend = get_backend("math")
    print(f"median of {args.repeat} runs after one warm-up")
    print(f"{'model':<28} {'arch':<9} {'strategy ms':>12} {'estimate ms':>12} {'exact':>6}")
    for path in models:
        graph = lower(load_model(path))
        for arch_name in ("npu3720", "npu4000"):
            arch = nbperf.load_arch(arch_name)
            coster = TaskCoster(arch, backend)  # the one cost path the search prices with
            choose_strategies(graph, arch, coster)
            strategy_s, plan = _median(lambda g=graph, a=arch, c=coster: choose_strategies(g, a, c),
                                       args.repeat)
            total_s, _ = _median(lambda p=path, a=arch: nbperf.estimate(p, a), args.repeat)
            print(f"{path.name:<28} {arch_name:<9} {strategy_s * 1e3:>12.1f} {total_s * 1e3:>12.1f} "
                  f"{plan.exact!s:>6}")


if __name__ == "__main__":
    main()
