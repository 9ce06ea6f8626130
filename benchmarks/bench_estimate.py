"""In-process wall time of load + estimate for every shared model (and the shipped examples).

    python3 benchmarks/bench_estimate.py [--arch npu4000] [--repeat 5]

Prints one row per model: the first (cold) call, then median and best of ``--repeat`` further
runs, plus the estimated latency. The first call of the process also pays one-off imports.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import nbperf

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"


def models() -> list[Path]:
    found = sorted(SHARED.glob("*.onnx")) if SHARED.is_dir() else []
    return found or sorted((REPO / "examples" / "models").glob("*.onnx"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="npu4000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load + estimate, in process, arch {args.arch}, first call then {args.repeat} runs")
    print(f"{'model':<28} {'first s':>8} {'median s':>9} {'best s':>9} {'latency ms':>11} {'layers':>7}")
    for path in models():
        start = time.perf_counter()
        nbperf.estimate(path, args.arch)
        first = time.perf_counter() - start
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = nbperf.estimate(path, args.arch)
            times.append(time.perf_counter() - start)
        print(f"{path.name:<28} {first:>8.4f} {statistics.median(times):>9.4f} {min(times):>9.4f} "
              f"{result.latency_ms:>11.3f} {len(result.schedule.tasks):>7}")


if __name__ == "__main__":
    main()
