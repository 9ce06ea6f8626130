"""Refuse graphs that are not NPU inference graphs, naming why, before any shape work.

An NPU runs tensor programs compiled ahead of time. Some ONNX operators have no place in such a
program, and a model using them is not a network nbperf can estimate, whatever its shapes:

- sequence and optional values (``SequenceEmpty``, ``SplitToSequence``, ``Optional`` ...): the NPU's
  tasks read and write tensors only;
- strings (``StringNormalizer``, ``RegexFullMatch`` ...) and tensors of string type: text
  processing runs on the host;
- training (the ``ai.onnx.preview.training`` domain: ``Gradient``, ``Adam`` ...): the NPU runs
  inference;
- random sampling (``Bernoulli``, ``Multinomial``): OpenVINO's ONNX frontend has no conversion for
  them and the NPU compiler no layer (openvinotoolkit/openvino src/frontends/onnx/frontend/src/op/,
  npu_compiler src/vpux_compiler/src/frontend/IE.cpp). ``RandomUniform`` and ``RandomNormal`` are
  in scope: the compiler runs RandomUniform as a SHAVE kernel and the frontend builds RandomNormal
  from it;
- classical machine learning (the ``ai.onnx.ml`` domain: trees, SVMs, label encoders): not neural
  network layers.

The categories are the documented list ``nbperf.frontend.scope.CATEGORIES``; the user guide
(docs/validation.md) repeats it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from onnx import GraphProto, ModelProto, TensorProto, TypeProto

from nbperf.errors import ModelError

SEQUENCE_OPS = frozenset({
    "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
    "SequenceLength", "SequenceMap", "SplitToSequence", "ConcatFromSequence", "Optional",
    "OptionalGetElement", "OptionalHasElement"})
STRING_OPS = frozenset({"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"})
RANDOM_OPS = frozenset({"Bernoulli", "Multinomial"})
TRAINING_DOMAIN = "ai.onnx.preview.training"
ML_DOMAIN = "ai.onnx.ml"

# category -> why the NPU cannot run it
CATEGORIES: dict[str, str] = {
    "sequence": "a sequence/optional op (NPU tasks take tensors only)",
    "string": "a string op (text processing runs on the host)",
    "training": "a training op (the NPU runs inference)",
    "random": "a random-sampling op (no NPU kernel and no OpenVINO conversion)",
    "classical ML": "a classical machine-learning op from ai.onnx.ml (not a neural-network layer)",
    "non-tensor": "not a tensor",
}


def category_of(op_type: str, domain: str) -> str | None:
    """The out-of-scope category of an operator, or None for one an NPU graph may hold."""
    if domain == TRAINING_DOMAIN:
        return "training"
    if domain == ML_DOMAIN:
        return "classical ML"
    if domain not in ("", "ai.onnx"):
        return None
    if op_type in SEQUENCE_OPS:
        return "sequence"
    if op_type in STRING_OPS:
        return "string"
    if op_type in RANDOM_OPS:
        return "random"
    return None


def check_inference_graph(model: ModelProto, path: str | Path) -> None:
    """Raise ModelError naming the first out-of-scope node or graph value of ``model``."""
    found = [(n.name or n.op_type, n.op_type, cat) for n in _all_nodes(model.graph)
             if (cat := category_of(n.op_type, n.domain)) is not None]
    if found:
        name, op_type, cat = found[0]
        more = f" (and {len(found) - 1} more such nodes)" if len(found) > 1 else ""
        raise ModelError(f"{path} is not an inference graph an NPU runs: node '{name}' ({op_type}) is "
                         f"{CATEGORIES[cat]}{more}")
    for value in (*model.graph.input, *model.graph.output):
        what = _non_tensor(value.type)
        if what:
            raise ModelError(f"{path} is not an inference graph an NPU runs: graph value '{value.name}' "
                             f"is {what}, {CATEGORIES['non-tensor']}")


def _non_tensor(t: TypeProto) -> str | None:
    kind = t.WhichOneof("value")
    if kind in (None, "tensor_type"):
        if kind and t.tensor_type.elem_type == TensorProto.STRING:
            return "a string tensor"
        return None
    return {"sequence_type": "a sequence", "map_type": "a map", "optional_type": "an optional",
            "sparse_tensor_type": "a sparse tensor"}.get(kind, f"a {kind}")


def _all_nodes(graph: GraphProto) -> Iterator:
    """Nodes of ``graph`` and of every subgraph (If / Loop / Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _all_nodes(attr.g)
            for g in attr.graphs:
                yield from _all_nodes(g)
