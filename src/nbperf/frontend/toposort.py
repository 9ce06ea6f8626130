"""Deterministic topological order of an ONNX graph's nodes (Kahn's algorithm).

Files may list nodes in any order. Among nodes that are ready at the same time, the one that
comes first in the file runs first, so an already sorted file keeps its order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from onnx import AttributeProto, GraphProto, NodeProto

from nbperf.errors import ModelError


def implicit_inputs(node: NodeProto) -> list[str]:
    """Outer-scope tensors that the subgraphs of ``node`` (If/Loop/Scan bodies) read."""
    found: list[str] = []
    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            _outer_names(a.g, found)
        elif a.type == AttributeProto.GRAPHS:
            for g in a.graphs:
                _outer_names(g, found)
    return found


def _outer_names(graph: GraphProto, found: list[str]) -> None:
    local = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    local |= {s.values.name for s in graph.sparse_initializer}
    for n in graph.node:
        local.update(o for o in n.output if o)
    for n in graph.node:
        names = [*n.input, *implicit_inputs(n)]
        for name in names:
            if name and name not in local and name not in found:
                found.append(name)
    for o in graph.output:
        if o.name not in local and o.name not in found:
            found.append(o.name)


def node_label(node: NodeProto, index: int) -> str:
    """How error messages name a node: its name, or op type and position when it has none."""
    return node.name if node.name else f"{node.op_type}_{index}"


def topological_order(
    nodes: Sequence[NodeProto],
    available: set[str],
    path: str,
    extra_inputs: dict[int, list[str]] | None = None,
) -> list[int]:
    """Indices of ``nodes`` in a topological order.

    ``available`` holds the names defined before any node runs (graph inputs, initializers).
    ``extra_inputs`` maps a node index to implicit (subgraph) inputs it also depends on.
    Raises ModelError for a tensor produced twice, an input nobody produces, or a cycle.
    """
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if not out:
                continue
            if out in producer or out in available:
                raise ModelError(
                    f"{path} is not a valid ONNX model: tensor '{out}' is produced more than once "
                    f"(again by node '{node_label(node, i)}')"
                )
            producer[out] = i

    n = len(nodes)
    indegree = [0] * n
    successors: list[list[int]] = [[] for _ in range(n)]
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for i, node in enumerate(nodes):
        deps: set[int] = set()
        names = list(node.input)
        if extra_inputs and i in extra_inputs:
            names += extra_inputs[i]
        for name in names:
            if not name:
                continue
            p = producer.get(name)
            if p is None:
                if name not in available:
                    raise ModelError(
                        f"{path} is not a valid ONNX model: node '{node_label(node, i)}' reads "
                        f"'{name}', which no node, initializer or graph input provides"
                    )
                continue
            deps.add(p)
        for p in sorted(deps):
            successors[p].append(i)
            predecessors[i].append(p)
        indegree[i] = len(deps)

    ready = [i for i in range(n) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for s in successors[i]:
            indegree[s] -= 1
            if indegree[s] == 0:
                heapq.heappush(ready, s)
    if len(order) == n:
        return order

    # Every node left over waits on another left-over node; walking back along those waits
    # must revisit a node, and that node lies on a cycle.
    left = {i for i in range(n) if indegree[i] > 0}
    current = min(left)
    seen: set[int] = set()
    while current not in seen:
        seen.add(current)
        current = next(p for p in predecessors[current] if p in left)
    node = nodes[current]
    raise ModelError(
        f"{path} is not a valid ONNX model: its graph has a cycle through node "
        f"'{node_label(node, current)}' ({node.op_type})"
    )
