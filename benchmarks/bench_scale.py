"""Scale: nbperf on a ~1B-parameter decoder LM and a 4K super-resolution net (issue 6).

    python3 benchmarks/bench_scale.py [--arch npu4000] [--schedule serial] [--small]

Both models are built weightless with onnx.helper (``model_builders.py``): every weight is
declared by its dims only, so building and loading them allocates nothing big. Each model is
estimated in process (``nbperf.estimate``) inside a fresh child process, so its peak RSS
(``ru_maxrss``) is its own; ``import MB`` is that child's RSS after importing nbperf, before the
model is read. ``--small`` runs the few-layer versions the tests use.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from model_builders import decoder_lm, parameter_count, save, super_resolution  # noqa: E402

FULL = {
    "decoder_1b": lambda: decoder_lm(layers=24, d_model=2048, heads=16, ffn=8192, vocab=32000, seq=512),
    "sr_4k": lambda: super_resolution(out_width=3840, out_height=2160, scale=2),
}
SMALL = {
    "decoder_small": lambda: decoder_lm(layers=2, d_model=64, heads=4, ffn=256, vocab=100, seq=16),
    "sr_small": lambda: super_resolution(out_width=128, out_height=72, scale=2),
}


def _estimate_in_child(path: str, arch: str, schedule: str) -> dict[str, float | str]:
    """Runs in a fresh process: import, then time load + estimate and read the peak RSS."""
    import nbperf

    imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        result = nbperf.estimate(path, arch, schedule=schedule)
    except nbperf.NbperfError as e:
        return {"error": e.message}
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall_s": wall, "import_mb": imported / 1024, "peak_mb": peak / 1024,
            "latency_ms": result.latency_ms, "layers": len(result.schedule.tasks),
            "unknown": len(result.unknown_ops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="npu4000")
    parser.add_argument("--schedule", default="serial", help="serial or emulator")
    parser.add_argument("--small", action="store_true", help="the small versions the tests build")
    args = parser.parse_args()
    models = SMALL if args.small else FULL
    spawn = multiprocessing.get_context("spawn")
    print(f"arch {args.arch}, schedule {args.schedule}; each model estimated in process in a fresh child "
          "process")
    print(f"{'model':<14} {'params':>8} {'nodes':>6} {'file KB':>8} {'build s':>8} {'estimate s':>11} "
          f"{'import MB':>10} {'peak RSS MB':>12} {'latency ms':>11} {'layers':>7}")
    with tempfile.TemporaryDirectory(prefix="nbperf-scale-") as folder:
        for name, build in models.items():
            start = time.perf_counter()
            model = build()
            path = save(model, Path(folder), f"{name}.onnx")
            built = time.perf_counter() - start
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                r = pool.submit(_estimate_in_child, str(path), args.arch, args.schedule).result()
            size_kb, params = path.stat().st_size / 1024, _count(parameter_count(model))
            row = f"{name:<14} {params:>8} {len(model.graph.node):>6} {size_kb:>8.1f} {built:>8.2f}"
            if "error" in r:
                print(f"{row}  nbperf: error: {r['error']}")
                continue
            print(f"{row} {r['wall_s']:>11.2f} {r['import_mb']:>10.0f} {r['peak_mb']:>12.0f} "
                  f"{r['latency_ms']:>11.3f} {r['layers']:>7}")


def _count(n: int) -> str:
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= factor:
            return f"{n / factor:.2f}{unit}"
    return str(n)


if __name__ == "__main__":
    main()
