"""A model loaded once and estimated many times (sweeps, NAS loops).

``nbperf.load`` runs the frontend (read, shape propagation, constant and Q/DQ folding) once;
``LoadedModel.lowered`` lowers it once per precision and set of lowering options. The frontend
reads no arch and lowering only the few compiler options it follows (SE pointer operations, the
DepthToSpace rewrite), so the arch points of a sweep reuse both and only the strategy search and
the schedule run again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbperf.frontend.ir import Graph

if TYPE_CHECKING:
    import onnx

    from nbperf.frontend.activation_sparsity import ActivationSparsity
    from nbperf.lower.npu_ops import NpuGraph
    from nbperf.lower.upsampling import LoweringOptions


@dataclass(frozen=True)
class LoadedModel:
    """A statically shaped graph and its lowerings, cached per requested precision."""

    name: str
    graph: Graph
    _lowered: dict[tuple[object, ...], NpuGraph] = field(default_factory=dict, compare=False, repr=False)
    source: object = field(default=None, compare=False, repr=False)  # the path or ModelProto it came from
    _statistics: dict[str, ActivationSparsity] = field(default_factory=dict, compare=False, repr=False)

    def lowered(self, precision: str | None, weight_sparsity: float | Mapping[str, float] | None = None,
                activation_sparsity: ActivationSparsity | None = None,
                options: LoweringOptions | None = None) -> NpuGraph:
        """The NPU graph for ``precision`` (None: as the model's Q/DQ say), lowered on first use;
        ``weight_sparsity`` is the share of zero weights of layers whose weights the file lacks (one
        for all, or by layer name), ``activation_sparsity`` the zeros of its activations
        (``activation_statistics``); ``options`` the part's compiler options lowering follows."""
        shares = activation_sparsity.shares if activation_sparsity else ()
        weights = tuple(sorted(weight_sparsity.items())) if isinstance(weight_sparsity, Mapping) \
            else weight_sparsity
        key = (precision, weights, shares, options)
        if key not in self._lowered:
            from nbperf.lower import lower

            self._lowered[key] = lower(self.graph, precision, weight_sparsity,  # type: ignore[arg-type]
                                       dict(shares), options)
        return self._lowered[key]

    def activation_statistics(self, spec: float | str | Mapping[str, float] | None
                              ) -> ActivationSparsity | None:
        """Zeros per activation tensor: ``"measure"`` runs the model (once per loaded model), a
        share applies at ReLU outputs, a mapping gives them by tensor or node name; None: dense."""
        if spec is None:
            return None
        from nbperf.frontend import activation_sparsity as stats

        if isinstance(spec, str):
            if spec != stats.MEASURE:
                raise _usage(f"activation sparsity must be a share, {stats.MEASURE!r} or a mapping, "
                             f"got {spec!r}")
            if spec not in self._statistics:
                self._statistics[spec] = stats.measured(self.source, self.graph)
            return self._statistics[spec]
        if isinstance(spec, Mapping):
            return stats.given(self.graph, spec)
        return stats.assumed(self.graph, spec)

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every graph input with its static shape (after ``input_shapes`` filled dynamic ones)."""
        return {name: self.graph.tensor(name).shape for name in self.graph.inputs}

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, nodes={len(self.graph.nodes)}, inputs={self.input_shapes})"


def load(model: str | Path | onnx.ModelProto | Graph | LoadedModel,
         input_shapes: dict[str, tuple[int, ...]] | None = None) -> LoadedModel:
    """Load ``model`` (an ONNX or OpenVINO IR path, an in-memory ``onnx.ModelProto``, or a ``Graph``)
    once, for many estimates: ``nbperf.estimate(loaded, arch)`` reuses its frontend and lowering.

    ``input_shapes`` fills dynamic input dimensions (``{"input_ids": (1, 128)}``)."""
    if isinstance(model, LoadedModel):
        if input_shapes:
            raise _usage("input_shapes cannot be changed on an already loaded model; load it again")
        return model
    if isinstance(model, Graph):
        if input_shapes:
            raise _usage("input_shapes cannot be changed on an already built Graph; load the model file")
        return LoadedModel(model.name, model)
    from nbperf.frontend import load_model, load_proto

    if isinstance(model, str | Path):
        return LoadedModel(Path(model).name, load_model(model, input_shapes), source=model)
    if type(model).__name__ == "ModelProto":
        name = model.graph.name or "model"
        return LoadedModel(name, load_proto(model, input_shapes), source=model)
    raise _usage(f"cannot load a {type(model).__name__}: give a path, an onnx.ModelProto or a Graph")


def _usage(message: str) -> Exception:
    from nbperf.errors import UsageError

    return UsageError(message)
