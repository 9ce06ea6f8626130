"""Per-node output type inference with ONNX's own shape inference functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import onnx
import onnx.checker
from onnx import NodeProto, OperatorSetIdProto, TensorProto, TypeProto, defs, shape_inference

from nbperf.frontend.onnx_loader import short_reason

# (elem type, dims) where a dim is an int or a str for an unknown/symbolic size; dims None = unknown rank.
InferredType = tuple[int, list[int | str] | None]

# How ONNX's C++ inference functions reject a node: fail_shape_inference / fail_type_inference
# (InferenceError), fail_check (ValidationError), and the standard C++ exceptions pybind11
# translates (std::invalid_argument and friends -> ValueError, std::out_of_range -> IndexError,
# std::overflow_error -> OverflowError, other std::exception -> RuntimeError), e.g. "Invalid
# tensor data type 0" for a tensor of undefined element type. Not TypeError or KeyError: those
# mean nbperf called ONNX wrongly (e.g. gave no type for an input), a bug to report.
INFERENCE_ERRORS = (shape_inference.InferenceError, onnx.checker.ValidationError, ValueError, IndexError,
                    OverflowError, RuntimeError)


class InferenceFailed(Exception):
    """ONNX shape inference rejected the node (bad attributes, incompatible input shapes...)."""


class ShapeInferer:
    """Runs the ONNX schema's inference function for one node at a time, caching schemas."""

    def __init__(self, opset_imports: Sequence[OperatorSetIdProto], ir_version: int) -> None:
        self._opset_imports = list(opset_imports)
        self._ir_version = ir_version or onnx.IR_VERSION
        self._schemas: dict[tuple[str, str, int], defs.OpSchema | None] = {}

    def schema(self, op_type: str, domain: str, version: int) -> defs.OpSchema | None:
        """The operator schema, or None when ONNX does not know the operator (e.g. a custom op)."""
        key = (op_type, domain, version)
        if key not in self._schemas:
            try:
                self._schemas[key] = defs.get_schema(op_type, version, domain)
            except defs.SchemaError:
                self._schemas[key] = None
        return self._schemas[key]

    def infer(
        self,
        node: NodeProto,
        schema: defs.OpSchema,
        input_types: Mapping[str, TypeProto],
        input_data: Mapping[str, TensorProto],
    ) -> dict[str, InferredType]:
        """Inferred output types by output name (outputs inference said nothing about are absent).

        Raises ``InferenceFailed`` when ONNX rejects the node.
        """
        try:
            raw = shape_inference.infer_node_outputs(
                schema,
                node,
                dict(input_types),
                dict(input_data),
                opset_imports=self._opset_imports,
                ir_version=self._ir_version,
            )
        except INFERENCE_ERRORS as e:
            raise InferenceFailed(short_reason(e)) from None
        result: dict[str, InferredType] = {}
        for name, tp in raw.items():
            parsed = parse_type(tp)
            if parsed is not None:
                result[name] = parsed
        return result


def parse_type(tp: TypeProto) -> InferredType | None:
    """(elem type, dims) of a tensor TypeProto; None for non-tensor types."""
    if not tp.HasField("tensor_type"):
        return None
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return tt.elem_type, None
    dims: list[int | str] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param if d.dim_param else "?")
    return tt.elem_type, dims
