"""How well, and how fast, does `nbperf calibrate` recover known factors?

    PYTHONPATH=src python3 benchmarks/bench_calibrate.py [--seeds 10]

Synthetic measurements (no silicon figure here): ResNet-50 and MobileNetV2 (int8 QDQ) on
npu4000, their fixed plans re-costed with made-up factors (conv 1.3, eltwise 1.8, dwconv 0.8) and
log-normal noise of 5%, 10% and 20%, over several seeds; the fit's held-out split is 25%. Printed
per noise level: each class's worst and median relative error of the recovered factor over the
seeds, the median standard error the fit states for it, the held-out share within +-10% before
and after, and the fit's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import nbperf
from nbperf.arch.model import CalibrationSpec
from nbperf.calibration.classes import op_class
from nbperf.calibration.fit import Sample, fit
from nbperf.calibration.recost import FixedPlan
from nbperf.calibration.synthetic import synthetic_layers

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models"
TRUTH = CalibrationSpec(dpu={"conv": 1.3, "eltwise": 1.8, "dwconv": 0.8})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    estimates = [nbperf.estimate(MODELS / "resnet50.onnx", "npu4000"),
                 nbperf.estimate(MODELS / "mobilenet_v2_int8_qdq.onnx", "npu4000")]
    plans = [FixedPlan(e) for e in estimates]
    classes = [{op.name: op_class(op) for op in e.graph.ops} for e in estimates]
    print(f"truth: {TRUTH.dpu}; models: resnet50 + mobilenet_v2_int8_qdq on npu4000; {args.seeds} seeds")
    print(f"{'noise':>6} {'class':<12} {'layers':>6} {'median err':>10} {'worst err':>9} {'stated se':>9}   "
          f"{'held-out within 10% before -> after':<36} {'fit s':>6}")
    for noise in (0.05, 0.1, 0.2):
        errors: dict[str, list[float]] = {}
        stated: dict[str, list[float]] = {}
        layers: dict[str, int] = {}
        before, after, seconds = [], [], []
        for seed in range(args.seeds):
            samples = []
            for est, plan, cls in zip(estimates, plans, classes, strict=True):
                rows = synthetic_layers(est, TRUTH, noise, seed)
                measured = {n: t for n, t, c in rows if c.startswith("dpu.")}
                samples.append(Sample(est.model, plan, measured, cls))
            start = time.perf_counter()
            result = fit(samples)
            seconds.append(time.perf_counter() - start)
            before.append(result.held_before.within_10_pct)
            after.append(result.held_after.within_10_pct)
            for c in result.classes:
                truth = TRUTH.dpu_factor(c.op_class.removeprefix("dpu."))
                errors.setdefault(c.op_class, []).append(abs(c.factor - truth) / truth)
                stated.setdefault(c.op_class, []).append(c.rel_stderr or 0.0)
                layers[c.op_class] = c.layers
        for name in sorted(errors):
            worst, median = max(errors[name]), statistics.median(errors[name])
            se = statistics.median(stated[name])
            shown = f"{se:>9.1%}" if se else f"{'kept':>9}"  # a class too small to fit keeps its factor
            print(f"{noise:>6.0%} {name:<12} {layers[name]:>6} {median:>10.1%} {worst:>9.1%} {shown}")
        print(f"{noise:>6.0%} {'(all)':<12} {'':>6} {'':>10} {'':>9} {'':>9}   "
              f"{statistics.mean(before):>5.1f}% -> {statistics.mean(after):>5.1f}% (mean over seeds)"
              f"{'':<6} {statistics.median(seconds):>6.2f}")


if __name__ == "__main__":
    main()
