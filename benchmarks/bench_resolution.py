"""Does a larger input ever estimate faster? Latency over a ladder of input resolutions.

    python3 benchmarks/bench_resolution.py [--models resnet50,fsrcnn_x2_540p] [--archs npu4000]

For each fully convolutional shared model (and ResNet-50 / MobileNetV2, whose global pooling takes
any size), preset, precision and schedule, it estimates the model at its own input size and at
larger ones (``input_shapes``) and checks the latency never drops as the input grows. Issue 9's
acceptance: a larger input resolution is never faster.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"

# model -> (input name, N, C, base H, base W, the spatial step the network's strides need)
MODELS = {
    "resnet50": ("input.1", 1, 3, 224, 224, 32),
    "mobilenet_v2": ("input.1", 1, 3, 224, 224, 32),
    "unet_256": ("input.1", 1, 3, 256, 256, 16),
    "yolo_like_csp": ("input.1", 1, 3, 416, 416, 32),
    "fsrcnn_x2_540p": ("input.1", 1, 1, 540, 960, 4),
}
STEPS = (0, 1, 2, 4)  # added steps to H and W


def latency(job: tuple[str, str, str, str, tuple[int, ...]]) -> tuple[float, str]:
    import nbperf

    model, arch, precision, schedule, shape = job
    name = MODELS[model][0]
    try:
        result = nbperf.estimate(SHARED / f"{model}.onnx", arch, precision=precision, schedule=schedule,
                                 input_shapes={name: shape})
    except nbperf.NbperfError as exc:
        return float("nan"), exc.message
    return result.latency_ms, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--archs", default="npu3720,npu4000")
    parser.add_argument("--precisions", default="fp16,int8")
    parser.add_argument("--schedules", default="serial,emulator")
    opts = parser.parse_args()
    if not SHARED.is_dir():
        print(f"shared models not found at {SHARED}")
        return 1
    rows = []
    for model in opts.models.split(","):
        _, n, c, h, w, step = MODELS[model]
        shapes = [(n, c, h + k * step, w + k * step) for k in STEPS]
        for arch in opts.archs.split(","):
            for precision in opts.precisions.split(","):
                for schedule in opts.schedules.split(","):
                    rows.append((model, arch, precision, schedule, shapes))
    jobs = [(m, a, p, s, shape) for m, a, p, s, shapes in rows for shape in shapes]
    with ProcessPoolExecutor() as pool:
        results = iter(list(pool.map(latency, jobs)))
    print(f"{'model':<16} {'arch':<8} {'prec':<5} {'schedule':<9} latency ms at H x W + 0, 1, 2, 4 steps")
    bad = 0
    for model, arch, precision, schedule, shapes in rows:
        values = [next(results) for _ in shapes]
        errors = [e for _, e in values if e]
        ms = [v for v, _ in values]
        drops = sum(b < a for a, b in itertools.pairwise(ms))
        bad += drops + len(errors)
        cells = "  ".join(f"{v:9.3f}" for v in ms)
        note = f"  ! {drops} drop(s)" if drops else ""
        note += f"  ! {errors[0]}" if errors else ""
        print(f"{model:<16} {arch:<8} {precision:<5} {schedule:<9} {cells}{note}")
    print(f"latency drops as the input grows, and failures: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
