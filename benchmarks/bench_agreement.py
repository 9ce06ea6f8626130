"""Do the two timing models agree? Latency and what-if answers of the serial and the emulated schedule.

    python3 benchmarks/bench_agreement.py [--models resnet50,bert_base_s128] [--archs npu4000]

For every shared model, preset and precision it prints the layer-serial (`math`) and the emulated
latency and their ratio, then for each what-if (2x MACs per tile, 2x DDR bandwidth, 2x CMX, one
more tile) the change each model reports. Issue 9's acceptance: the two latencies within 15% of
each other; for every what-if both move the same way and neither gets slower by more than 1%.
"""

from __future__ import annotations

import argparse
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"

WHAT_IFS = {
    "2x MACs": lambda a: [f"dpu.macs_per_tile={2 * a.dpu.macs_per_tile}"],
    "2x DDR BW": lambda a: [f"dma.ddr_bandwidth_gbps={2 * a.dma.ddr_bandwidth_gbps:g}"],
    "2x CMX": lambda a: [f"cmx.bytes_per_tile={2 * a.cmx.bytes_per_tile}"],
    "+1 tile": lambda a: [f"tiles={a.tiles + 1}"],
}
FLAT = 0.005  # changes within +-0.5% count as "no change" when comparing directions


def latencies(args: tuple[str, str, str, tuple[str, ...]]) -> tuple[float, float, str]:
    """(serial ms, emulated ms, error) of one model, arch, precision and override set."""
    import nbperf

    path, arch, precision, overrides = args
    out = []
    for schedule in ("serial", "emulator"):
        try:
            out.append(nbperf.estimate(path, arch, precision=precision, arch_overrides=overrides,
                                       schedule=schedule).latency_ms)
        except nbperf.NbperfError as exc:
            return float("nan"), float("nan"), f"{schedule}: {exc.message}"
    return out[0], out[1], ""


def direction(change: float) -> int:
    return 0 if abs(change) <= FLAT else (1 if change > 0 else -1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model stems (default: every shared model)")
    parser.add_argument("--archs", default="npu3720,npu4000")
    parser.add_argument("--precisions", default="fp16,int8")
    opts = parser.parse_args()
    import nbperf

    if not SHARED.is_dir():
        print(f"shared models not found at {SHARED}")
        return 1
    stems = opts.models.split(",") if opts.models else sorted(p.stem for p in SHARED.glob("*.onnx"))
    archs, precisions = opts.archs.split(","), opts.precisions.split(",")
    jobs: list[tuple[str, str, str, tuple[str, ...]]] = []
    for stem in stems:
        for arch in archs:
            spec = nbperf.load_arch(arch)
            for precision in precisions:
                path = str(SHARED / f"{stem}.onnx")
                jobs.append((path, arch, precision, ()))
                jobs += [(path, arch, precision, tuple(make(spec))) for make in WHAT_IFS.values()]
    with ProcessPoolExecutor() as pool:
        results = dict(zip(jobs, pool.map(latencies, jobs), strict=True))

    worst_ratio, disagreements, slower, failures = 1.0, 0, 0, []
    header = (f"{'model':<26} {'arch':<8} {'prec':<5} {'serial ms':>10} {'emul ms':>9} {'ratio':>6}  "
              + "  ".join(f"{name:>17}" for name in WHAT_IFS))
    print("what-if columns: serial% / emulated% change of latency; '!' marks a disagreement or a"
          " slowdown over 1%")
    print(header)
    for stem in stems:
        for arch in archs:
            spec = nbperf.load_arch(arch)
            for precision in precisions:
                path = str(SHARED / f"{stem}.onnx")
                base = results[(path, arch, precision, ())]
                failures += [f"{stem} {arch} {precision} {job[3]}: {r[2]}" for job, r in results.items()
                             if r[2] and job[:3] == (path, arch, precision)]
                ratio = base[1] / base[0]
                if math.isfinite(ratio):
                    worst_ratio = max(worst_ratio, ratio, 1 / ratio)
                cells = []
                for make in WHAT_IFS.values():
                    s, e, _ = results[(path, arch, precision, tuple(make(spec)))]
                    ds, de = s / base[0] - 1, e / base[1] - 1
                    if not (math.isfinite(ds) and math.isfinite(de)):
                        cells.append("failed")
                        continue
                    bad = direction(ds) * direction(de) < 0 or ds > 0.01 or de > 0.01
                    disagreements += direction(ds) * direction(de) < 0
                    slower += ds > 0.01 or de > 0.01
                    cells.append(f"{100 * ds:+7.1f}/{100 * de:+6.1f}{'!' if bad else ' '}")
                print(f"{stem:<26} {arch:<8} {precision:<5} {base[0]:>10.3f} {base[1]:>9.3f} {ratio:>6.2f}  "
                      + "  ".join(f"{c:>17}" for c in cells))
    print(f"largest serial/emulated disagreement: {100 * (worst_ratio - 1):.1f}% (goal: at most 15%)")
    print(f"what-ifs moving in opposite directions: {disagreements}; what-ifs slower by over 1%: {slower}")
    print(f"failed estimates: {len(failures)}")
    for line in failures:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
