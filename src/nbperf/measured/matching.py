"""Match measured layers to nbperf's layers by name.

A profiler names layers its own way. The NPU plugin reports the original model's op names, as
the compiler's locations carry them back (``LayerInfo.name`` in openvinotoolkit/npu_compiler
``src/vpux_utils/include/vpux/utils/profiling/taskinfo.hpp``); a location may add a ``?`` suffix
(``conv1/WithoutBiases?t_Convolution``) and OpenVINO may add path segments to the name it gave
an op (``/WithoutBiases``, ``/fq_weights_1``). nbperf names a layer after its first ONNX node and
keeps the nodes fused into it (bias, activation, pattern members). So a measured name is looked
up as it is, without the location suffix, and then with trailing ``/`` segments dropped one at
a time; each try against nbperf's layer names, the nodes fused into them and their output tensor
names. Several measured rows landing on one layer add up (a convolution and its fused ReLU).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nbperf.lower.npu_ops import NpuGraph, NpuOp

EXECUTED = "EXECUTED"
# The NPU plugin's execType per layer: "Shave" (older plugins "SW") if any SHAVE task ran, else
# "DPU" if a DPU task did, else "DMA" (intel_npu convertLayersToIeProfilingInfo, openvino repo).
ENGINES = {"DPU": "DPU", "SHAVE": "SHAVE", "SW": "SHAVE", "DMA": "DMA"}
_VIA_RANK = {"layer": 0, "fused node": 1, "output tensor": 2}  # a layer's own name wins a tie


@dataclass(frozen=True)
class LayerMatch:
    """One nbperf layer and the measured rows that landed on it."""

    layer: str
    measured_us: float
    rows: tuple[str, ...]  # the measured names, in file order
    via: str  # how the first row matched: "layer", "fused node", "output tensor", each maybe "(prefix)"
    engines: tuple[str, ...] = ()  # the engines the profiler says ran them (DPU, SHAVE, DMA), if it says


@dataclass(frozen=True)
class Matching:
    """Measured rows against nbperf layers: what matched, and what did not on either side."""

    matches: dict[str, LayerMatch]  # by nbperf layer name (free layers included)
    unmatched_measured: tuple[tuple[str, float], ...]  # (name, us) of executed rows nothing matched
    not_executed: tuple[str, ...]  # rows the profiler marked NOT_RUN / OPTIMIZED_OUT
    unmeasured_layers: tuple[str, ...]  # costed nbperf layers no measured row landed on
    free_layers: frozenset[str]  # nbperf layers it prices at zero (views, folded Q/DQ)

    @property
    def matched_rows(self) -> int:
        return sum(len(m.rows) for m in self.matches.values())

    @property
    def executed_rows(self) -> int:
        return self.matched_rows + len(self.unmatched_measured)


def name_index(ops: Iterable[NpuOp]) -> dict[str, tuple[str, str]]:
    """Every name a profiler may use for a layer -> (nbperf layer, how it is known)."""
    index: dict[str, tuple[str, str]] = {}
    for op in ops:
        names = [(op.name, "layer"), *((n, "fused node") for n in op.fused),
                 *((t, "output tensor") for t in op.outputs)]
        for name, via in names:
            for key in _spellings(name):
                known = index.get(key)
                if known is None or _VIA_RANK[via] < _VIA_RANK[known[1]]:
                    index[key] = (op.name, via)
    return index


def _spellings(name: str) -> tuple[str, ...]:
    """A name as written and without a leading slash (PyTorch's exporter starts names with one)."""
    name = name.strip()
    bare = name.lstrip("/")
    return (name, bare) if bare and bare != name else (name,)


def lookup(name: str, index: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The nbperf layer a measured ``name`` belongs to, and how it matched; None if none does."""
    tries = [name.strip()]
    if "?" in name:
        tries.append(name.split("?", 1)[0].strip())
    for candidate in tries:
        parts = candidate.split("/")
        for keep in range(len(parts), 0, -1):
            key = "/".join(parts[:keep])
            if not key.strip("/"):
                break
            for spelling in _spellings(key):
                hit = index.get(spelling)
                if hit is not None:
                    exact = keep == len(parts) and candidate == tries[0]
                    return hit[0], hit[1] if exact else f"{hit[1]} (prefix)"
    return None


def match_layers(graph: NpuGraph, measured: Iterable[object]) -> Matching:
    """Match measured rows (``nbperf.measured.MeasuredLayer``: name, time_us, status) to ``graph``'s
    layers."""
    index = name_index(graph.ops)
    rows: dict[str, list[tuple[str, float, str, str]]] = {}
    unmatched: list[tuple[str, float]] = []
    skipped: list[str] = []
    for row in measured:
        name, time_us, status = row.name, row.time_us, row.status  # type: ignore[attr-defined]
        if status != EXECUTED:
            skipped.append(name)
            continue
        hit = lookup(name, index)
        if hit is None:
            unmatched.append((name, time_us))
        else:
            engine = ENGINES.get(str(getattr(row, "exec_type", "")).strip().upper(), "")
            rows.setdefault(hit[0], []).append((name, time_us, hit[1], engine))
    matches = {layer: LayerMatch(layer, sum(g[1] for g in got), tuple(g[0] for g in got), got[0][2],
                                 tuple(dict.fromkeys(g[3] for g in got if g[3])))
               for layer, got in rows.items()}
    free = frozenset(op.name for op in graph.ops if op.is_free)
    unmeasured = tuple(op.name for op in graph.ops if not op.is_free and op.name not in matches)
    return Matching(matches, tuple(unmatched), tuple(skipped), unmeasured, free)
