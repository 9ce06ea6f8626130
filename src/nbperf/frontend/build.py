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
    value, zeros = t.value, None
    if value is None and t.proto is not None:
        if t.elements <= KEEP_VALUE_ELEMENTS:
            value = tensor_value(t.proto)
        elif t.elements <= MEASURE_ZEROS_ELEMENTS:  # a large weight: measured for its sparsity, not kept
            zeros = _zero_fraction(tensor_value(t.proto))
    if zeros is None and value is not None and t.const:
        zeros = _zero_fraction(value)
    return Tensor(name=name, shape=t.shape, dtype=elem_name(t.elem), is_constant=t.const, value=value,
                  zero_fraction=zeros)


def _zero_fraction(data: object) -> float | None:
    """The share of zeros in a constant's data (None when it has none to count)."""
    try:
        array = np.asarray(data)
    except (TypeError, ValueError):
        return None
    if array.size == 0 or array.dtype.kind not in "biuf":
        return None
    nonzero = np.count_nonzero(array)
    # All zeros is a placeholder (a weightless export's filler), not a layer pruned to nothing.
    return None if nonzero == 0 else float(array.size - nonzero) / array.size
