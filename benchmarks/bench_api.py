"""What-if at scale (issue 12): in-process estimates on changing arch points, sweep throughput,
and the CLI's wall time.

    python3 benchmarks/bench_api.py [--model PATH] [--repeat 3]

Prints three tables:
- per arch point, the wall time of ``nbperf.estimate`` on a model loaded once (``nbperf.load``),
  with the strategy stage alone, for both strategy policies (goal: median at most 10 ms on ResNet-50),
  also split into each point's first estimate and the later rounds;
- sweeps of ResNet-50 over arch points (MACs x tiles x DDR bandwidth: 36 with the optimal policy,
  144 with the compiler's) on the local process pool (all cores, math model, no throughput/hint
  figures), pool start included: estimates per minute (goal: 3,000);
- ``nbperf --version`` and ``nbperf estimate MODEL -q`` wall times, as a fresh process (goal: the
  estimate under 0.5 s on an idle machine).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbperf

REPO = Path(__file__).resolve().parents[1]
POINTS = [[], ["tiles=4"], ["dpu.macs_per_tile=4096"], ["dma.ddr_bandwidth_gbps=128"],
          ["cmx.bytes_per_tile=4194304"], ["tiles=2", "dpu.macs_per_tile=4096"]]


def in_process(model_path: Path, repeat: int) -> None:
    model = nbperf.load(model_path)
    print(f"nbperf.estimate on {model_path.name} loaded once, {len(POINTS)} arch points x {repeat}")
    print("first: each point's first estimate in the process (the points after the first reuse the candidate")
    print("lists of points alike in tiles, CMX and compiler); again: the later rounds")
    print(f"{'policy':<9} {'median ms':>10} {'first ms':>9} {'again ms':>9} {'min ms':>8} {'max ms':>8} "
          f"{'strategy ms':>12} {'per minute':>11}")
    for policy in ("optimal", "compiler"):
        nbperf.estimate(model, "npu4000", policy=policy)  # warm: imports, lowering cache, the base point
        walls, search, first = [], [], []
        for round_ in range(repeat):
            for point in POINTS:
                start = time.perf_counter()
                result = nbperf.estimate(model, "npu4000", arch_overrides=point, policy=policy)
                walls.append(time.perf_counter() - start)
                search.append(result.stage_seconds["strategy"])
                if round_ == 0:
                    first.append(walls[-1])
        median = statistics.median(walls)
        again = statistics.median(walls[len(POINTS):]) if repeat > 1 else float("nan")
        print(f"{policy:<9} {1e3 * median:>10.1f} {1e3 * statistics.median(first):>9.1f} {1e3 * again:>9.1f} "
              f"{1e3 * min(walls):>8.1f} {1e3 * max(walls):>8.1f} {1e3 * statistics.median(search):>12.1f} "
              f"{60 / median:>11,.0f}")


def pooled(model_path: Path) -> None:
    print(f"\nnbperf.sweep, {model_path.name} over MACs x tiles x DDR bandwidth, process pool, math model, "
          "no modes")
    print(f"{'policy':<9} {'points':>7} {'wall s':>8} {'per minute':>11} {'failed':>7}")
    for policy, macs, bandwidth in (("optimal", [1024, 2048, 4096], [32, 64, 128]),
                                    ("compiler", [1024, 1536, 2048, 3072, 4096, 8192],
                                     [16, 32, 45, 64, 96, 128])):
        tiles = [2, 4, 6, 8]
        grid = [f"dpu.macs_per_tile={','.join(map(str, macs))}", f"tiles={','.join(map(str, tiles))}",
                f"dma.ddr_bandwidth_gbps={','.join(map(str, bandwidth))}", f"policy={policy}"]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.csv"
            start = time.perf_counter()
            run = nbperf.sweep([model_path], "npu4000", grid, out=out, modes=False)
            wall = time.perf_counter() - start
        print(f"{policy:<9} {run.ran:>7} {wall:>8.2f} {60 * run.ran / wall:>11,.0f} {len(run.failed):>7}")


def cli(model_path: Path, repeat: int) -> None:
    exe = shutil.which("nbperf", path=str(Path(sys.executable).parent)) or "nbperf"
    print(f"\nCLI wall time, fresh process ({exe}), median of {repeat}")
    for argv in (["--version"], ["estimate", str(model_path), "-q"]):
        walls = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([exe, *argv], check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        print(f"  nbperf {' '.join(argv):<60} {statistics.median(walls):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "examples" / "models" / "resnet50.onnx")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    in_process(args.model, args.repeat)
    pooled(args.model)
    cli(args.model, args.repeat)


if __name__ == "__main__":
    main()
