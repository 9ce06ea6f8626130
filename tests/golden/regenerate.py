"""Rewrite tests/golden/latencies.json: the pinned latencies of every shared model.

    python3 tests/golden/regenerate.py

Every shared model (../shared/models) on npu3720 and npu4000, fp16 and int8, under both schedules
(layer-serial ``serial`` and ``emulator``), default policy and arch. tests/golden/test_golden.py
compares fresh estimates with this file, so any change in a reported number fails the suite
until the file is regenerated, and the diff of the file shows the change in review. Put the
before/after of the models that moved, and the reason, in the commit message.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1].parent / "shared" / "models"
GOLDEN = HERE / "latencies.json"
ARCHS = ("npu3720", "npu4000")
PRECISIONS = ("fp16", "int8")
SCHEDULES = ("serial", "emulator")
DECIMALS = 6  # milliseconds to the nanosecond


def latencies(model: str) -> dict[str, dict[str, dict[str, float]]]:
    """arch -> precision -> schedule -> latency in ms, for one shared model."""
    import nbperf
    from nbperf.frontend import load_model

    graph = load_model(SHARED / f"{model}.onnx")
    return {arch: {precision: {schedule: round(nbperf.estimate(graph, arch, precision=precision,
                                                                 schedule=schedule).latency_ms, DECIMALS)
                               for schedule in SCHEDULES}
                   for precision in PRECISIONS}
            for arch in ARCHS}


def main() -> int:
    if not SHARED.is_dir():
        print(f"shared models not found at {SHARED}", file=sys.stderr)
        return 1
    models = sorted(p.stem for p in SHARED.glob("*.onnx"))
    with ProcessPoolExecutor() as pool:
        table = dict(zip(models, pool.map(latencies, models), strict=True))
    GOLDEN.write_text(json.dumps({"unit": "ms", "models": table}, indent=1, sort_keys=True) + "\n",
                      encoding="utf-8")
    print(f"wrote {len(models)} models x {len(ARCHS)} archs x {len(PRECISIONS)} precisions x "
          f"{len(SCHEDULES)} schedules to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
