"""Turn propagation results into the frozen ``ir.Graph``: drop constant-only nodes, keep live tensors."""

from __future__ import annotations

import numpy as np

from nbperf.frontend.dtypes import elem_name
from nbperf.frontend.folding import tensor_value
from nbperf.frontend.ir import Graph, Tensor
from nbperf.frontend.propagate import Propagated, TInfo

KEEP_VALUE_ELEMENTS = 1 << 16  # inline initializers up to this size carry their value into the IR
# Larger ones are read once for their share of zeros (weight sparsity) and dropped; past this size
# (a 1 GB fp32 tensor) they are not read at all (assumed bound: memory over a sparsity figure).
MEASURE_ZEROS_ELEMENTS = 1 << 28


def finish(g: Propagated) -> Graph:
    nodes = []
    folded = 0
    for n in g.nodes:
        outs = [o for o in n.outputs if o]
        if outs and all(g.tensors[o].const for o in outs):
            folded += 1  # computed from constants only: folded at compile time
            continue
        nodes.append(n)

    live: list[str] = list(g.inputs)
    for n in nodes:
        live.extend(i for i in n.inputs if i)
        live.extend(o for o in n.outputs if o)
    live.extend(g.outputs)

    tensors: dict[str, Tensor] = {}
    for name in live:
        if name not in tensors:
            tensors[name] = _tensor(name, g.tensors[name])
    return Graph(
        name=g.name,
        nodes=tuple(nodes),
        tensors=tensors,
        inputs=tuple(g.inputs),
        outputs=tuple(g.outputs),
        quantized=frozenset(q for q in g.quantized if q in tensors),
        folded_nodes=folded,
        opset=g.opset,
    )


def _tensor(name: str, t: TInfo) -> Tensor:
    value, zeros = t.value, (None, None)
    if value is None and t.proto is not None:
        if t.elements <= KEEP_VALUE_ELEMENTS:
            value = tensor_value(t.proto)
        elif t.elements <= MEASURE_ZEROS_ELEMENTS:  # a large weight: measured for its sparsity, not kept
            zeros = _zeros(tensor_value(t.proto))
    if zeros[0] is None and value is not None and t.const:
        zeros = _zeros(value)
    return Tensor(name=name, shape=t.shape, dtype=elem_name(t.elem), is_constant=t.const, value=value,
                  zero_fraction=zeros[0], zero_block_fraction=zeros[1])


BLOCK_CHANNELS = 16  # the DPU reads input channels in blocks of 16 (dpu.input_channel_block)


def _zeros(data: object) -> tuple[float | None, float | None]:
    """The share of zeros in a constant's data, and for a convolution's weights (OC, IC, KH, KW)
    the share of its 16-input-channel blocks (per output channel and kernel tap) that are all zero;
    None where there is nothing to count."""
    try:
        array = np.asarray(data)
    except (TypeError, ValueError):
        return None, None
    if array.size == 0 or array.dtype.kind not in "biuf":
        return None, None
    nonzero = np.count_nonzero(array)
    # All zeros is a placeholder (a weightless export's filler), not a layer pruned to nothing.
    if nonzero == 0:
        return None, None
    blocks = None
    if array.ndim == 4 and array.shape[1] >= BLOCK_CHANNELS:
        full = array.shape[1] // BLOCK_CHANNELS * BLOCK_CHANNELS
        grouped = array[:, :full].reshape(array.shape[0], full // BLOCK_CHANNELS, BLOCK_CHANNELS,
                                          *array.shape[2:])
        blocks = float(np.mean(~np.any(grouped != 0, axis=2)))
    return float(array.size - nonzero) / array.size, blocks
