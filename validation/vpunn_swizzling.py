"""What Intel's VPUNN says CMX swizzling does to DPU and DMA cost.

Groundwork for modelling weight/activation swizzling as an arch option: nbperf does not model it
yet (it sends every workload to VPUNN with all keys KEY_0). Prints four tables. Needs VPUNN's
Python module (docs/cost-backends.md has the build):

    PYTHONPATH=/opt/vpunn/site python3 validation/vpunn_swizzling.py /opt/vpunn/src/models

1. Which keys reach the network. Before inference VPUNN's input adapter rewrites the three
   keys (input_0 = activations, input_1 = weights or the second eltwise input, output_0)
   per network interface (establishUniqueSwizzling, include/vpu/compatibility/
   preprocessing_adapters.h; interface -> adapter in types11.h:431-446). The table reads the
   keys back from the descriptor VPUNN builds. The key slots are found with the pass-through
   4111 network and shared by every interface-11 network (93 floats).
2. DPU cycles with every key KEY_0 against every key KEY_5, per network, data type and MPE mode.
3. Mixed keys, as the compiler produces them: weights only, activations only, inputs only,
   output only. Ratios are to the all-KEY_0 cycles, in CUBOID_16x16.
4. DMA. VPUNN's DMA descriptors have no swizzling field. The compiler moves a swizzled buffer as
   a flat copy of its size rounded up to the swizzling size alignment, so the table prices the
   bytes and the aligned bytes.

Two workloads do not fit one VPUNN workload: a 3x3 512->512 conv on 14x14 overflows CMX, and a
depthwise conv over 128 channels is out of VPUNN's 16..64 channel range. Each is priced as one of
its 64-channel workloads (8 and 2 of them), the way the compiler splits it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

NETWORKS = (("vpu_2_7.vpunn", "VPU_2_7"), ("vpu_4_0.vpunn", "VPU_4_0"), ("vpu_4_1.vpunn", "VPU_4_0"))
PASS_THROUGH = "vpu_4_1.vpunn"  # interface 4111: NN41InputAdapter passes every key through
ADAPTER = {11: "NN27InputAdapter", 4011: "NN40InputAdapter", 4111: "NN41InputAdapter"}
MODES = ("CUBOID_16x16", "CUBOID_8x16", "CUBOID_4x16")
# (label, operation, output W x H x K, input channels, kernel)
WORKLOADS = (
    ("conv3x3 56x56x64->64", "CONVOLUTION", (56, 56, 64), 64, 3),
    ("conv1x1 28x28x256->256", "CONVOLUTION", (28, 28, 256), 256, 1),
    ("conv3x3 14x14x512->512 [K64]", "CONVOLUTION", (14, 14, 64), 512, 3),
    ("dw3x3 56x56x128 [C64]", "DW_CONVOLUTION", (56, 56, 64), 64, 3),
    ("add 56x56x64", "ELTWISE", (56, 56, 64), 64, 1),
)
# (input_0, input_1, output_0) keys as digits; what each mix means in the compiler's terms
ALL_OFF, ALL_ON = "000", "555"
MIXES = (("050", "wts only"), ("505", "acts only"), ("550", "ins only"), ("005", "out only"))
DMA = (("dma_2_7.vpunn", "VPU_2_7", 512), ("dma_4_0.vpunn", "VPU_4_0", 1024))
DMA_BYTES = (1_500, 9_000, 100_000, 1_000_000)
ERROR_FLOOR = 4_000_000_000  # VPUNN returns error codes as cycles at and above this


def interface(path: Path) -> int:
    """The descriptor interface VPUNN reads from the network's name, e.g. VPUNN-4011-05."""
    found = re.search(rb"VPUNN-(\d+)-", path.read_bytes())
    return int(found.group(1)) if found else 0


def workload(v, device, op, dtype, mode, keys, *, out, in_k, kernel):
    """A stride-1 unpadded workload of output (W, H, K); ``keys`` like "505" (in0, in1, out)."""
    w = v.DPUWorkload()
    w.device, w.op = getattr(v.VPUDevice, device), getattr(v.Operation, op)
    ow, oh, ok = out
    w.inputs = [v.VPUTensor(ow + kernel - 1, oh + kernel - 1, in_k, 1, dtype, v.Layout.ZXY, False)]
    w.outputs = [v.VPUTensor(ow, oh, ok, 1, dtype, v.Layout.ZXY, False)]
    w.kernels, w.strides, w.padding = [kernel, kernel], [1, 1], [0, 0, 0, 0]
    w.execution_order = getattr(v.ExecutionMode, mode)
    key = [getattr(v.Swizzling, f"KEY_{k}") for k in keys]
    w.input_swizzling, w.output_swizzling = key[:2], key[2:]
    return w


def key_slots(v, model):
    """Descriptor positions of KEY_0 and KEY_5 for each of the three tensors, found by toggling one
    key at a time on a network that passes keys through."""
    slots = []
    for i in range(3):
        on = "".join("5" if j == i else "0" for j in range(3))
        shape = dict(out=(16, 16, 64), in_k=64, kernel=1)
        d0, d5 = (model.getDescriptor(workload(v, "VPU_4_0", "CONVOLUTION", v.DataType.FLOAT16, MODES[0],
                                               keys, **shape)) for keys in (ALL_OFF, on))
        changed = [p for p, (a, b) in enumerate(zip(d0, d5, strict=True)) if a != b]
        if len(changed) != 2:
            raise SystemExit(f"cannot find the swizzling slot of tensor {i}: positions {changed}")
        slots.append((next(p for p in changed if d0[p] == 1), next(p for p in changed if d5[p] == 1)))
    return slots


def used_keys(descriptor, slots) -> str:
    """The keys the network sees, read back from its descriptor."""
    return "".join("5" if descriptor[p5] == 1 else "0" if descriptor[p0] == 1 else "?" for p0, p5 in slots)


def cycles(model, v, device, op, dtype, mode, keys, shape):
    c, _ = model.DPUMsg(workload(v, device, op, dtype, mode, keys, **shape))
    return c if c < ERROR_FLOOR else None


def adapter_table(v, models, folder: Path) -> None:
    slots = key_slots(v, models[PASS_THROUGH])
    asks = (ALL_OFF, *(m for m, _ in MIXES), ALL_ON)
    print("1. keys that reach VPUNN's network, input_0/input_1/output_0 (asked -> used)")
    print(f"{'network':<14} {'interface':<22} {'op':<14} " + " ".join(f"{a:>4}" for a in asks))
    shape = dict(out=(16, 16, 64), in_k=64, kernel=1)
    for name, device in NETWORKS:
        version = interface(folder / name)
        label = f"{version} {ADAPTER.get(version, '?')}"
        for op in ("CONVOLUTION", "DW_CONVOLUTION", "ELTWISE"):
            got = [used_keys(models[name].getDescriptor(
                workload(v, device, op, v.DataType.FLOAT16, MODES[0], a, **shape)), slots) for a in asks]
            print(f"{name:<14} {label:<22} {op:<14} " + " ".join(f"{g:>4}" for g in got))


def dpu_table(v, models) -> None:
    print("\n2. DPU cycles, all keys KEY_0 against all KEY_5 (5/0: swizzled / unswizzled)")
    head = "".join(f" | {name[:-6]:^21}" for name, _ in NETWORKS)
    print(f"{'dtype':<7} {'mode':<12} {'workload':<28}{head}")
    sub = "".join(f" | {'KEY_0':>8} {'KEY_5':>7} {'5/0':>4}" for _ in NETWORKS)
    print(f"{'':<7} {'':<12} {'':<28}{sub}")
    for dtype in (v.DataType.FLOAT16, v.DataType.UINT8):
        for mode in MODES:
            for label, op, out, in_k, kernel in WORKLOADS:
                shape = dict(out=out, in_k=in_k, kernel=kernel)
                cells = ""
                for name, device in NETWORKS:
                    off = cycles(models[name], v, device, op, dtype, mode, ALL_OFF, shape)
                    on = cycles(models[name], v, device, op, dtype, mode, ALL_ON, shape)
                    if off is None or on is None:
                        cells += f" | {'refused':>21}"
                    else:
                        cells += f" | {off:>8,} {on:>7,} {on / off:4.2f}"
                print(f"{dtype.name:<7} {mode[7:]:<12} {label:<28}{cells}")


def mix_table(v, models) -> None:
    print("\n3. mixed keys in CUBOID_16x16, cycles relative to all KEY_0 (-: the compiler never"
          " swizzles one eltwise input alone)")
    cols = " ".join(f"{m}:{what:<9}" for m, what in MIXES)
    print(f"{'network':<14} {'dtype':<7} {'workload':<28} {'KEY_0 cyc':>9} {cols} {ALL_ON}:all")
    for name, device in NETWORKS:
        for dtype in (v.DataType.FLOAT16, v.DataType.UINT8):
            for label, op, out, in_k, kernel in WORKLOADS:
                shape = dict(out=out, in_k=in_k, kernel=kernel)
                base = cycles(models[name], v, device, op, dtype, MODES[0], ALL_OFF, shape)
                if base is None:
                    print(f"{name:<14} {dtype.name:<7} {label:<28} {'refused':>9}")
                    continue
                cells = []
                for keys in (*(m for m, _ in MIXES), ALL_ON):
                    if op == "ELTWISE" and keys[0] != keys[1]:
                        cells.append(f"{'-':>13}")
                        continue
                    c = cycles(models[name], v, device, op, dtype, MODES[0], keys, shape)
                    width = 7 if keys == ALL_ON else 13
                    cells.append(f"{c / base:>{width}.2f}" if c is not None else f"{'n/a':>{width}}")
                print(f"{name:<14} {dtype.name:<7} {label:<28} {base:>9,} " + " ".join(cells))


def dma_table(v, folder: Path) -> None:
    print("\n4. DMA: no swizzling input in VPUNN; a swizzled buffer moves its size rounded up to the"
          " swizzling size alignment")
    print(f"{'network':<14} {'direction':<9} {'bytes':>9} {'aligned':>9} {'cycles':>8} {'aligned cyc':>11}"
          f" {'ratio':>5}")
    for name, device, alignment in DMA:
        path = folder / name
        if not path.is_file():
            print(f"{name:<14} missing")
            continue
        kind = v.DMACostModel_NPU27 if device == "VPU_2_7" else v.DMACostModel_NPU40_50
        model = kind(str(path))
        for direction in ("DDR2CMX", "CMX2DDR"):
            for nbytes in DMA_BYTES:
                aligned = -(-nbytes // alignment) * alignment
                c, a = (dma_cycles(v, model, device, direction, n) for n in (nbytes, aligned))
                print(f"{name:<14} {direction:<9} {nbytes:>9,} {aligned:>9,} {c:>8,} {a:>11,} {a / c:5.3f}")


def dma_cycles(v, model, device: str, direction: str, nbytes: int) -> int:
    """One contiguous transfer, built as nbperf's VPUNN backend builds it (cost/vpunn_backend.py)."""
    way = getattr(v.MemoryDirection, direction)
    if device == "VPU_2_7":
        n = nbytes
        work = v.DMANNWorkload_NPU27(v.VPUDevice.VPU_2_7, 0, n, n, n, n, n, 0, 0, way)
    else:
        work = v.DMANNWorkload_NPU40_50(getattr(v.VPUDevice, device))
        work.src_width = work.dst_width = nbytes
        work.num_dim, work.transfer_direction = 0, way
        work.num_engine = v.Num_DMA_Engine.Num_Engine_1
    c, message = model.computeCyclesMsg(work)
    if c >= ERROR_FLOOR:
        raise SystemExit(f"VPUNN refused a {nbytes} B {direction} DMA on {device}: {message}")
    return int(c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="VPUNN's models folder")
    args = parser.parse_args()
    import vpunn as v

    models = {name: v.VPUCostModel(str(args.models / name)) for name, _ in NETWORKS}
    adapter_table(v, models, args.models)
    dpu_table(v, models)
    mix_table(v, models)
    dma_table(v, args.models)


if __name__ == "__main__":
    main()
