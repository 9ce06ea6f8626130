"""MACs of an ONNX model counted from the ONNX operator spec's formulas, independently of nbperf."""

from __future__ import annotations

import math

import onnx
from onnx import helper, shape_inference


def spec_macs(model: onnx.ModelProto) -> int:
    """MACs by the ONNX spec: Conv = output elements x C/group x kernel volume; ConvTranspose =
    input elements x M/group x kernel volume; Gemm / MatMul = output elements x inner dimension."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)}
    shapes.update({t.name: list(t.dims) for t in model.graph.initializer})
    total = 0
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in ("Conv", "ConvTranspose"):
            x, w, y = shapes[node.input[0]], shapes[node.input[1]], shapes[node.output[0]]
            group = attrs.get("group", 1)
            if node.op_type == "Conv":
                total += math.prod(y) * (x[1] // group) * math.prod(w[2:])
            else:
                total += math.prod(x) * (y[1] // group) * math.prod(w[2:])
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            total += math.prod(shapes[node.output[0]]) * (a[0] if attrs.get("transA") else a[1])
        elif node.op_type == "MatMul":
            total += math.prod(shapes[node.output[0]]) * shapes[node.input[0]][-1]
    return total
