"""The nbperf graph IR: what the frontend hands to lowering.

Frozen dataclasses; passes build new objects instead of mutating shared ones.
Shapes are fully static here: the frontend refuses a graph it cannot resolve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Bytes per element of the ONNX element types nbperf sees (others default to 4 in ``dtype_bytes``).
_DTYPE_BYTES = {
    "float32": 4, "float16": 2, "bfloat16": 2, "float64": 8,
    "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
    "int64": 8, "uint64": 8, "bool": 1, "int4": 1, "uint4": 1,
}


def dtype_bytes(dtype: str) -> int:
    """Storage bytes of one element of ``dtype`` (an ONNX/numpy type name)."""
    return _DTYPE_BYTES.get(dtype, 4)


@dataclass(frozen=True)
class Tensor:
    """A value in the graph.

    ``shape`` is static. ``is_constant`` marks initializers and folded values (weights, shape
    constants). ``value`` holds the data only when it is known and small (folded shape tensors,
    inline constants); weights of weightless models have ``value is None``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    is_constant: bool = False
    value: np.ndarray | None = field(default=None, compare=False, repr=False)
    # share of its values that are zero, for a constant whose data the file holds (weight sparsity)
    zero_fraction: float | None = field(default=None, compare=False, repr=False)
    # a convolution weight's share of all-zero 16-input-channel blocks (structured sparsity)
    zero_block_fraction: float | None = field(default=None, compare=False, repr=False)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def size_bytes(self) -> int:
        return self.elements * dtype_bytes(self.dtype)


@dataclass(frozen=True)
class Node:
    """One ONNX operator instance. ``attrs`` are plain Python values (ints, floats, lists, str)."""

    name: str
    op_type: str
    inputs: tuple[str, ...]  # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)
    domain: str = ""


@dataclass(frozen=True)
class Graph:
    """A statically shaped graph in topological order.

    ``nodes`` excludes nodes that were folded into constants. ``quantized`` names tensors that
    carry int8 data because a QuantizeLinear/DequantizeLinear pair around them was folded.
    """

    name: str
    nodes: tuple[Node, ...]
    tensors: dict[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    quantized: frozenset[str] = frozenset()
    folded_nodes: int = 0  # how many nodes constant folding removed (for the report)
    opset: int = 0  # the default ONNX domain's opset version; 0 when not stated (newest semantics)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producers(self) -> dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        result: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    result.setdefault(i, []).append(n)
        return result
