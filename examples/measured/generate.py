"""Write the synthetic measured files in this folder (run from the repository root).

They are NOT silicon measurements: each is nbperf's own layer-serial layer times on npu4000,
re-costed with made-up compute factors (conv 1.3, eltwise 1.8, depthwise 0.8) and 10% log-normal
noise, to show `nbperf correlate` and `nbperf calibrate` at work. Each file says so in its first
line.

    python3 examples/measured/generate.py
"""

from __future__ import annotations

from pathlib import Path

import nbperf
from nbperf.arch.model import CalibrationSpec
from nbperf.calibration.synthetic import synthetic_layers, write_synthetic

HERE = Path(__file__).parent
MODELS = HERE.parent / "models"
FACTORS = CalibrationSpec(dpu={"conv": 1.3, "eltwise": 1.8, "dwconv": 0.8})


def main() -> None:
    for seed, name in enumerate(("resnet50", "mobilenet_v2_int8_qdq")):
        estimate = nbperf.estimate(MODELS / f"{name}.onnx", "npu4000")
        rows = synthetic_layers(estimate, FACTORS, noise=0.1, seed=seed)
        out = HERE / f"{name}_npu4000.synthetic.csv"
        what = (f"{name} on npu4000 by examples/measured/generate.py, factors dpu conv 1.3, eltwise 1.8, "
                f"dwconv 0.8, 10% log-normal noise, seed {seed}")
        write_synthetic(out, rows, what)
        print(f"wrote {out} ({len(rows)} layers)")


if __name__ == "__main__":
    main()
