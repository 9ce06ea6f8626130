"""What swizzling costs in CMX and DMA: which buffers the compiler swizzles, their padded sizes (in
CMX, and in DDR for weights), and the compiler's CMX fit check of a DPU op, which places every
buffer at a swizzling address.

The NPU compiler swizzles (key 5, its only key) the weights of DPU ops other than element-wise,
and an activation written by a DPU op whose every reader is a DPU op (``swizzling.cpp:555-647``
in openvinotoolkit/npu_compiler@150e202; ``validation/vpunn_swizzling.py`` and
``docs/validation.md`` summarise the rules). A swizzled buffer's size rounds up to the part's
swizzling size alignment. Its DPU gain is priced in the cost model (``dpu.unswizzled_cycles``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from nbperf.arch.model import ArchSpec
from nbperf.lower.npu_ops import DpuKind, Engine, NpuGraph, NpuOp


def align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def swizzled_activations(graph: NpuGraph, arch: ArchSpec) -> frozenset[str]:
    """Activation tensors the compiler swizzles on ``arch``: written by a DPU op and read only by
    DPU ops (a graph output, or a tensor a SHAVE, DMA or view reads, stays plain)."""
    if not arch.compiler.activation_swizzling:
        return frozenset()
    readers: dict[str, list[NpuOp]] = {}
    for op in graph.ops:
        for tensor in op.inputs:
            readers.setdefault(tensor, []).append(op)
    outputs = set(graph.outputs)
    return frozenset(t for op in graph.ops if op.engine is Engine.DPU for t in op.outputs
                     if t not in outputs and readers.get(t)
                     and all(r.engine is Engine.DPU for r in readers[t]))


def swizzles_weights(op: NpuOp, arch: ArchSpec) -> bool:
    """Whether the compiler swizzles ``op``'s constant weights (not an element-wise op's)."""
    return (arch.compiler.weights_swizzling and op.engine is Engine.DPU and op.weight_bytes > 0
            and op.dpu is not None and op.dpu.kind is not DpuKind.ELTWISE)


def stored_bytes(nbytes: int, arch: ArchSpec, swizzled: bool) -> int:
    """CMX bytes of a buffer of ``nbytes``: aligned like the compiler allocates it, to the
    swizzling size alignment when swizzled (0 for nothing)."""
    if nbytes <= 0:
        return 0
    alignment = arch.cmx.alignment_bytes
    if swizzled and arch.cmx.swizzling_size_alignment_bytes:
        alignment = max(alignment, arch.cmx.swizzling_size_alignment_bytes)
    return align(nbytes, alignment)


def stored_weight_bytes(nbytes: int, parts: int, arch: ArchSpec, swizzled: bool) -> int:
    """DDR bytes of a DPU op's weights as the compiler stores and moves them: a swizzled constant is
    padded to the swizzling size alignment (``Const::SwizzleConstantAttr::inferOutputType``,
    ``const/attributes/swizzle_transform.cpp:129-135``), each tile's segment on its own when the
    weights are split over the tiles (a distributed buffer aligns per cluster,
    ``VPUIP/IR/types/distributed_buffer.cpp:841``); the segments are taken equal (assumed: the last
    tile's may be a block smaller)."""
    alignment = arch.cmx.swizzling_size_alignment_bytes
    if not swizzled or nbytes <= 0 or not alignment:
        return nbytes
    return parts * align(math.ceil(nbytes / parts), alignment)


def fit_bytes(buffers: Iterable[int], arch: ArchSpec) -> int:
    """CMX a DPU op's buffers need by the compiler's fit check: on parts with swizzling every
    buffer starts at a swizzling address and its size rounds up to the swizzling size alignment,
    those with the most padding to a boundary first (``calculateAlignedBuffersMemoryRequirement``,
    ``VPU/utils/const_utils.cpp:266-274`` and ``utils/swizzling_utils.cpp:62-110``); elsewhere the
    plain sum."""
    sizes = [b for b in buffers if b > 0]
    address = arch.cmx.swizzling_address_alignment_bytes
    size_alignment = arch.cmx.swizzling_size_alignment_bytes
    if not address or not size_alignment:
        return sum(sizes)
    sizes.sort(key=lambda b: -(align(b, address) - b))
    offset = 0
    for size in sizes:
        offset = align(offset, address) + align(size, size_alignment)
    return offset
