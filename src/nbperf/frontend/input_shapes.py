"""Resolve the static shapes of a model's graph inputs, with user-given shapes for dynamic dims."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from onnx import GraphProto, TensorProto, ValueInfoProto

from nbperf.errors import ModelError

Dim = int | str  # a static size, or the name of a dynamic dimension ("?" when unnamed)


def model_inputs(graph: GraphProto, initializers: set[str]) -> list[ValueInfoProto]:
    """Graph inputs that are real inputs (an input that is also an initializer is a constant)."""
    return [vi for vi in graph.input if vi.name not in initializers]


def declared_dims(vi: ValueInfoProto) -> list[Dim] | None:
    """The dims a value info declares, or None when its rank is unknown."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param if d.HasField("dim_param") and d.dim_param else "?")
    return dims


def format_dims(dims: Sequence[Any]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def resolve_input_shapes(
    inputs: Sequence[ValueInfoProto],
    input_shapes: Mapping[str, Sequence[int]] | None,
    path: str,
) -> dict[str, tuple[int, tuple[int, ...]]]:
    """``{input name: (elem type, static shape)}`` for every model input.

    ``input_shapes`` gives full shapes by input name (the ``--input-shape`` option). A dynamic
    dimension named the same in several inputs takes the size given for any of them.
    """
    given = _check_given(inputs, input_shapes or {})
    bindings: dict[str, int] = {}
    declared: dict[str, list[Dim] | None] = {}
    for vi in inputs:
        if not vi.type.HasField("tensor_type"):
            raise ModelError(f"{path}: input '{vi.name}' is not a tensor; nbperf supports tensor inputs only")
        dims = declared_dims(vi)
        declared[vi.name] = dims
        if vi.name in given and dims is not None:
            for d, v in zip(dims, given[vi.name], strict=True):
                if isinstance(d, str) and d != "?":
                    bindings.setdefault(d, v)

    result: dict[str, tuple[int, tuple[int, ...]]] = {}
    for vi in inputs:
        elem = vi.type.tensor_type.elem_type or TensorProto.FLOAT
        dims = declared[vi.name]
        if vi.name in given:
            result[vi.name] = (elem, given[vi.name])
            continue
        if dims is None:
            raise ModelError(
                f"input '{vi.name}' has an unknown rank; give its shape with --input-shape {vi.name}=..."
            )
        if any(d.HasField("dim_value") and d.dim_value == 0 for d in vi.type.tensor_type.shape.dim):
            shown = [0 if d.HasField("dim_value") and d.dim_value == 0 else v
                     for d, v in zip(vi.type.tensor_type.shape.dim, dims, strict=True)]
            raise ModelError(
                f"input '{vi.name}' has a zero-sized dimension (shape {format_dims(shown)}); nbperf cannot "
                f"estimate empty tensors; give another shape with --input-shape {vi.name}=..."
            )
        resolved = [bindings.get(d, d) if isinstance(d, str) else d for d in dims]
        for d in resolved:
            if isinstance(d, str):
                example = "x".join(str(v) if isinstance(v, int) else "1" for v in resolved)
                raise ModelError(
                    f"input '{vi.name}' has a dynamic dimension '{d}' (shape {format_dims(dims)}); "
                    f"give it with --input-shape {vi.name}={example}"
                )
        result[vi.name] = (elem, tuple(int(d) for d in resolved))
    return result


def _check_given(
    inputs: Sequence[ValueInfoProto], input_shapes: Mapping[str, Sequence[int]]
) -> dict[str, tuple[int, ...]]:
    if not isinstance(input_shapes, Mapping):
        raise ModelError(f"input shapes must map input names to shapes, got {type(input_shapes).__name__}")
    by_name = {vi.name: vi for vi in inputs}
    checked: dict[str, tuple[int, ...]] = {}
    for name, shape in input_shapes.items():
        if name not in by_name:
            names = ", ".join(f"'{n}'" for n in by_name) or "(none)"
            raise ModelError(
                f"--input-shape names '{name}', which is not an input of the model; its inputs are: {names}"
            )
        dims = _as_dims(name, shape)
        declared = declared_dims(by_name[name])
        if declared is not None and len(declared) != len(dims):
            raise ModelError(
                f"--input-shape {name}={'x'.join(map(str, dims))} has rank {len(dims)} but input '{name}' "
                f"has rank {len(declared)} (shape {format_dims(declared)})"
            )
        checked[name] = dims
    return checked


def _as_dims(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, str | bytes) or not isinstance(shape, Sequence):
        raise ModelError(f"--input-shape for '{name}' must be a sequence of integers, got {shape!r}")
    dims: list[int] = []
    for d in shape:
        try:
            if isinstance(d, bool):
                raise TypeError
            dims.append(operator.index(d))
        except TypeError:
            raise ModelError(
                f"--input-shape for '{name}' must be a sequence of integers, got {list(shape)!r}"
            ) from None
    if any(d <= 0 for d in dims):
        raise ModelError(
            f"--input-shape {name}={'x'.join(map(str, dims))}: every dimension must be a positive integer"
        )
    return tuple(dims)
