"""How many zeros each activation tensor holds: the runtime statistics the NPU compiler reads.

The compiler makes a DPU input sparse only from statistics recorded in the model (its
``enable-activation-sparsity=auto`` default, ``wrap_ops_in_sparsify_desparsify.cpp``). nbperf gets
them one of three ways:

- ``measured``: run the model with onnxruntime (the ``[runtime]`` extra) on a seeded random input
  and count the zeros of every float tensor; needs a model whose file holds its weights (external
  data is never read, as everywhere in nbperf). Only on request: it runs the model.
- ``assumed(share)``: the same share at every ReLU-family output (Relu, and Clip bounded below
  at zero): the tensors that are sparse in practice. Other tensors stay dense.
- a mapping from tensor or node names to shares (a node stands for its first output).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbperf.errors import UsageError
from nbperf.frontend.ir import Graph, Node

MEASURE = "measure"  # the option value that asks for measured statistics
SAMPLE_SEED = 0  # the sample input's seed: the same statistics on every run


@dataclass(frozen=True)
class ActivationSparsity:
    """Share of zeros per activation tensor, and how it was obtained (for the report)."""

    shares: tuple[tuple[str, float], ...]
    source: str

    def as_dict(self) -> dict[str, float]:
        return dict(self.shares)


def relu_outputs(graph: Graph) -> tuple[str, ...]:
    """The outputs of ReLU-family nodes: Relu, and Clip whose lower bound is known and >= 0."""
    outputs = []
    for node in graph.nodes:
        if node.op_type == "Relu":
            floor: float | None = 0.0
        elif node.op_type == "Clip":
            floor = _clip_floor(graph, node)
        else:
            continue
        if floor is not None and floor >= 0:
            outputs.extend(o for o in node.outputs[:1] if o)
    return tuple(outputs)


def _clip_floor(graph: Graph, node: Node) -> float | None:
    if "min" in node.attrs:  # opset < 11
        return float(node.attrs["min"])
    if len(node.inputs) > 1 and node.inputs[1]:
        value = graph.tensors[node.inputs[1]].value
        return None if value is None else float(np.asarray(value).reshape(-1)[0])
    return None


def assumed(graph: Graph, share: float) -> ActivationSparsity:
    """``share`` zeros at every ReLU-family output."""
    _check_share(share, "activation sparsity")
    return ActivationSparsity(tuple((t, share) for t in relu_outputs(graph)),
                              f"assumed {share:g} at ReLU outputs")


def given(graph: Graph, shares: Mapping[str, float], origin: str = "given") -> ActivationSparsity:
    """Shares by tensor or node name (a node's share is its first output's)."""
    by_node = {n.name: n.outputs[0] for n in graph.nodes if n.outputs and n.outputs[0]}
    resolved: dict[str, float] = {}
    for name, share in shares.items():
        _check_share(share, f"activation sparsity of {name!r}")
        tensor = name if name in graph.tensors else by_node.get(name)
        if tensor is None:
            raise UsageError(f"activation sparsity: no tensor or node named {name!r} in the model")
        resolved[tensor] = float(share)
    return ActivationSparsity(tuple(sorted(resolved.items())), f"{origin} ({len(resolved)} tensors)")


def measured(model: object, graph: Graph) -> ActivationSparsity:
    """Zeros of every float tensor of ``model`` (an ONNX path or ``onnx.ModelProto``) when
    onnxruntime runs it on a normal random input (seed ``SAMPLE_SEED``) of the graph's shapes."""
    import onnx

    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("measuring activation sparsity needs onnxruntime: pip install 'nbperf[runtime]'") \
            from None
    if isinstance(model, str | Path):
        if Path(model).suffix.lower() != ".onnx":
            raise UsageError("activation sparsity can be measured on ONNX models only; give a share instead")
        proto = onnx.load(str(model), load_external_data=False)  # nbperf never reads other files
    elif isinstance(model, onnx.ModelProto):
        proto = model
    else:
        raise UsageError("activation sparsity can be measured from an ONNX file or ModelProto only; "
                         "give a share instead")
    if _weightless(proto):
        raise _no_weights()
    probe = _with_every_output(proto)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own errors: the model does not load there
        raise _runtime_error(exc, ort.__version__, proto.ir_version) from None
    feeds = _sample_inputs(session, graph)  # nbperf's own code: its errors stay internal
    names = [o.name for o in session.get_outputs()]
    try:
        values = session.run(names, feeds)
    except Exception as exc:  # onnxruntime's own errors: the model does not run there
        raise _runtime_error(exc, ort.__version__, proto.ir_version) from None
    shares = {name: float(np.count_nonzero(v == 0)) / v.size for name, v in zip(names, values, strict=True)
              if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size}
    return ActivationSparsity(tuple(sorted(shares.items())),
                              f"measured (onnxruntime, normal random input, seed {SAMPLE_SEED})")


def _runtime_error(exc: Exception, version: str, ir_version: int) -> UsageError:
    """onnxruntime's refusal of the model, as one line naming the cause."""
    text = str(exc)
    if "Unsupported model IR version" in text:
        return UsageError(f"activation sparsity: onnxruntime {version} cannot read IR version "
                          f"{ir_version}; upgrade it (pip install -U onnxruntime)")
    return UsageError(f"activation sparsity: onnxruntime could not run the model: "
                      f"{(text.splitlines() or [''])[0][-200:]}")


def _no_weights() -> UsageError:
    return UsageError("activation sparsity cannot be measured: the model file holds no weights (nbperf "
                      "never reads external data); give a share, e.g. --activation-sparsity 0.5")


def _weightless(proto) -> bool:  # type: ignore[no-untyped-def]
    """True when a float initializer of more than one value carries no data of its own (none, or
    external data not loaded)."""
    from onnx import TensorProto

    for init in proto.graph.initializer:
        size = int(np.prod(init.dims)) if init.dims else 1
        if size <= 1 or init.data_type not in (TensorProto.FLOAT, TensorProto.FLOAT16):
            continue
        if init.data_location == TensorProto.EXTERNAL or not (init.raw_data or init.float_data
                                                               or init.int32_data):
            return True
    return False


def _with_every_output(proto):  # type: ignore[no-untyped-def]
    """A copy of ``proto`` whose outputs are every node output of a known float type."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except (onnx.shape_inference.InferenceError, ValueError) as exc:  # onnx's verdict on the model
        raise UsageError(f"activation sparsity: onnx shape inference rejects the model: "
                         f"{(str(exc).splitlines() or [''])[0][:200]}") from None
    known = (*inferred.graph.value_info, *inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in known}
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    present = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for out in node.output:
            if out and out not in present and types.get(out) in floats:
                probe.graph.output.append(onnx.helper.make_tensor_value_info(out, types[out], None))
                present.add(out)
    return probe


def _sample_inputs(session, graph: Graph) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Normal random floats (zeros for integer inputs, e.g. token ids) of the graph's shapes."""
    rng = np.random.default_rng(SAMPLE_SEED)
    feeds = {}
    for spec in session.get_inputs():
        shape = graph.tensors[spec.name].shape if spec.name in graph.tensors else tuple(spec.shape)
        if "float16" in spec.type:
            feeds[spec.name] = rng.standard_normal(shape).astype(np.float16)
        elif "float" in spec.type or "double" in spec.type:
            feeds[spec.name] = rng.standard_normal(shape).astype(np.float32 if "double" not in spec.type
                                                                 else np.float64)
        elif "bool" in spec.type:
            feeds[spec.name] = np.zeros(shape, dtype=bool)
        else:
            feeds[spec.name] = np.zeros(shape, dtype=np.int64 if "int64" in spec.type else np.int32)
    return feeds


def _check_share(share: float, what: str) -> None:
    if not isinstance(share, int | float) or not 0 <= share < 1:
        raise UsageError(f"{what} must be a share in [0, 1), got {share!r}")
