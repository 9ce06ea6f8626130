"""What Intel's VPUNN says weight and activation sparsity do to a DPU convolution's cycles.

Groundwork for the sparsity study (issue 15) and the storage-element lowering of transposed
convolutions (issue 17): nbperf does not model sparsity yet. Prints VPUNN's cycles for two
convolutions at several sparsity levels, relative to the dense workload, per part, data type and
MPE mode. Needs VPUNN's Python module (docs/cost-backends.md has the build):

    PYTHONPATH=/opt/vpunn/site python3 validation/vpunn_sparsity.py /opt/vpunn/src/models
"""

from __future__ import annotations

import argparse
from pathlib import Path

LEVELS = (0.25, 0.5, 0.75, 0.9)
PARTS = (("VPU_2_7", "vpu_2_7.vpunn"), ("VPU_4_0", "vpu_4_0.vpunn"))
ERROR_FLOOR = 4_000_000_000  # VPUNN returns error codes as cycles at and above this


def workload(v, device, mode, dtype, *, out, in_k, kernel, weight_sparsity=0.0, act_sparsity=0.0):
    """A stride-1 convolution of output (W, H, K) over ``in_k`` channels; sparsity enabled when > 0."""
    w = v.DPUWorkload()
    w.device, w.op = getattr(v.VPUDevice, device), v.Operation.CONVOLUTION
    ow, oh, ok = out
    w.inputs = [v.VPUTensor(ow + kernel - 1, oh + kernel - 1, in_k, 1, dtype, v.Layout.ZXY, act_sparsity > 0)]
    w.outputs = [v.VPUTensor(ow, oh, ok, 1, dtype, v.Layout.ZXY, False)]
    w.kernels, w.strides, w.padding = [kernel, kernel], [1, 1], [0, 0, 0, 0]
    w.execution_order = mode
    w.act_sparsity, w.weight_sparsity = act_sparsity, weight_sparsity
    w.weight_sparsity_enabled = weight_sparsity > 0
    return w


def row(model, v, device, mode, dtype, which: str, **shape) -> str:
    dense, _ = model.DPUMsg(workload(v, device, mode, dtype, **shape))
    if dense >= ERROR_FLOOR:
        return "dense workload refused"
    cells = []
    for level in LEVELS:
        cycles, _ = model.DPUMsg(workload(v, device, mode, dtype, **shape, **{which: level}))
        cells.append(f"{cycles / dense:6.2f}" if cycles < ERROR_FLOOR else f"{'n/a':>6}")
    return f"{dense:>9,} " + " ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="VPUNN's models folder")
    args = parser.parse_args()
    import vpunn as v

    print("cycles relative to the dense workload at sparsity " + ", ".join(f"{x:.0%}" for x in LEVELS))
    cases = (
        ("weight_sparsity", "3x3 conv 32x32x64 over 256 ch", {"out": (32, 32, 64), "in_k": 256, "kernel": 3}),
        ("act_sparsity", "9x9 conv 64x32x16 over 64 ch", {"out": (64, 32, 16), "in_k": 64, "kernel": 9}),
    )
    for which, label, shape in cases:
        print(f"\n{which} on a {label}")
        levels = " ".join(f"{x:>6.0%}" for x in LEVELS)
        print(f"{'part':<8} {'dtype':<8} {'mode':<13} {'dense cyc':>9} {levels}")
        for device, file in PARTS:
            model = v.VPUCostModel(str(args.models / file))
            for dtype in (v.DataType.FLOAT16, v.DataType.UINT8):
                for mode in (v.ExecutionMode.CUBOID_16x16, v.ExecutionMode.CUBOID_4x16):
                    print(f"{device:<8} {dtype.name:<8} {mode.name:<13} "
                          + row(model, v, device, mode, dtype, which, **shape))


if __name__ == "__main__":
    main()
