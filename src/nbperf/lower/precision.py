"""Which precision each op runs in, and the conversions between int8 and fp16 parts.

``--precision int8`` on a float model means "quantized as NNCF quantizes for the NPU": NNCF puts
quantizers on the inputs of the ops its NPU hardware setup lists with activation spaces
(openvinotoolkit/nncf src/nncf/common/hardware/setups/npu.py@ef8e1db; ONNX op types from
src/nncf/onnx/graph/metatypes/onnx_metatypes.py), lets data-movement ops carry whatever they get,
and leaves everything else in float. A QDQ model says itself which tensors are int8. In both, SHAVE
kernels run fp16: VPUNN profiles every VPU 2.7 / 4.0 SHAVE kernel in fp16 only.

Where an int8 op's output feeds an fp16 op (or the reverse), the compiler runs a standalone
Dequantize (Quantize) on the DPU: per-tensor, it becomes an element-wise Add of the tensor with
itself with the scale adjusted (npu_compiler dialect/IE/transforms/passes/
convert_quantize_ops_to_nce_ops.cpp@150e202; an identity AvgPool instead when the tensor exceeds
CMX, which nbperf does not distinguish). ``insert_conversions`` adds one such DPU op per tensor
and target precision.
"""

from __future__ import annotations

import math
from dataclasses import replace

from nbperf.arch.model import PRECISION_BYTES, Precision
from nbperf.lower.npu_ops import DpuKind, DpuWork, Engine, NpuOp, nchw

# ONNX op types NNCF's NPU setup quantizes at their inputs (npu.py CONVOLUTION, DEPTHWISE_CONVOLUTION,
# MAT_MUL, ADD, MULTIPLY, SUBTRACT, DIVIDE, MAXIMUM, MINIMUM, AVG_POOL; BatchNormalization by the ONNX
# backend's INPUTS_QUANTIZABLE_OPERATIONS). Only those the NPU runs on the DPU matter here.
NNCF_QUANTIZED = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sum", "Sub", "Mul", "Div",
                            "Max", "Min", "AveragePool", "GlobalAveragePool", "BatchNormalization",
                            "Resize:linear"})
# ... and the ones it lets carry the precision of their input (npu.py MAX_POOL and the layout ops).
NNCF_AGNOSTIC = frozenset({"MaxPool", "GlobalMaxPool", "Resize:nearest"})
# A Resize the DPU runs (an NCE interpolate): NNCF's NPU hardware config quantizes a linear
# Interpolate's input and lets a nearest one carry its input's precision
# (nncf/common/hardware/configs/npu.json, "Interpolate" mode linear: q8_a; mode nearest: none).
RESIZE_LINEAR, RESIZE_NEAREST = "Resize:linear", "Resize:nearest"


def nncf_type(op_type: str, attrs: dict[str, object]) -> str:
    """The op as NNCF's hardware config tells its kinds apart (a Resize by its mode)."""
    if op_type in ("Resize", "Upsample"):
        return RESIZE_NEAREST if str(attrs.get("mode", "nearest")).lower() == "nearest" else RESIZE_LINEAR
    return op_type

SHAVE_FP16 = "SHAVE kernels run fp16 (VPUNN profiles them in fp16 only)"
FOLLOWS_INPUT = "moves its input's data in its precision"


def dpu_precision(op_type: str, forced: Precision | None, quantized: bool, produced: Precision,
                  default: Precision) -> tuple[Precision, str]:
    """A DPU op's precision and why. ``quantized``: the model's Q/DQ make it int8; ``produced``:
    the precision its first activation input arrives in."""
    if forced == "fp16":
        return "fp16", "--precision fp16"
    if forced == "int8":
        if op_type in NNCF_QUANTIZED:
            return "int8", f"NNCF quantizes {op_type} inputs for the NPU"
        if op_type in NNCF_AGNOSTIC:
            return produced, FOLLOWS_INPUT
        return "fp16", f"NNCF leaves {op_type} in float"
    if quantized:
        return "int8", "quantized in the model (Q/DQ)"
    return default, "float model: fp16 on the NPU"


def insert_conversions(ops: tuple[NpuOp, ...], produced: dict[str, Precision],
                       shapes: dict[str, tuple[int, ...]]) -> tuple[tuple[NpuOp, ...], dict[str, Precision]]:
    """Every op reading a tensor in another precision than it runs in reads a converted copy,
    made by one DPU conversion op per (tensor, precision) placed before its first reader. Returns
    the ops and the precision of every tensor (converted copies included)."""
    out: list[NpuOp] = []
    made: dict[tuple[str, Precision], str] = {}
    precision_of = dict(produced)
    for op in ops:
        if op.is_free:
            out.append(op)
            continue
        inputs = list(op.inputs)
        for k, t in enumerate(op.inputs):
            have = precision_of.get(t)
            if have is None or have == op.precision:
                continue
            key = (t, op.precision)
            if key not in made:
                made[key] = f"{t}@{op.precision}"
                out.append(_conversion(t, made[key], have, op.precision, shapes[t]))
                precision_of[made[key]] = op.precision
            inputs[k] = made[key]
        out.append(replace(op, inputs=tuple(inputs)) if inputs != list(op.inputs) else op)
    return tuple(out), precision_of


def _conversion(source: str, target: str, have: Precision, want: Precision, shape: tuple[int, ...]) -> NpuOp:
    n, c, h, w = nchw(shape)
    elements = math.prod(shape) if shape else 1
    kind = "Quantize" if want == "int8" else "Dequantize"
    work = DpuWork(DpuKind.ELTWISE, out_w=w, out_h=h, out_k=c, in_k=0, batch=n)
    return NpuOp(name=f"{source}/{kind.lower()}", op_type=kind, engine=Engine.DPU, precision=have,
                 inputs=(source,), outputs=(target,), input_bytes=elements * PRECISION_BYTES[have],
                 output_bytes=elements * PRECISION_BYTES[want], dpu=work, elements=elements,
                 precision_reason=f"{have} -> {want} between parts that run in different precisions "
                                  "(the compiler's standalone quantize on the DPU: Add(x, x))")
