"""Design points of a sweep: ``--grid key=v1,v2`` axes, checked, and their cartesian product.

A key is an arch field (``dpu.macs_per_tile``, ``tiles``, ``cmx.bytes_per_tile``: what ``--set``
takes) or one of the estimate options in ``OPTION_KEYS``. Every value is checked before any work:
an unknown field, an empty list or a value of the wrong type is one clear error naming the axis.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nbperf.errors import NbperfError, UsageError

# Estimate options a grid may sweep besides arch fields, with their allowed values (None: a share
# in [0, 1), or a word of SHARE_WORDS).
OPTION_KEYS: dict[str, tuple[str, ...] | None] = {
    "precision": ("int8", "fp16", "model"),  # model: as the model's own Q/DQ say
    "policy": ("optimal", "compiler"),
    "schedule": ("serial", "emulator"),
    "weight_sparsity": None,  # assumed share of zero weights where the file has none
    "activation_sparsity": None,  # share at ReLU outputs, or measure (onnxruntime)
}
SHARE_WORDS: dict[str, tuple[str, ...]] = {"weight_sparsity": (), "activation_sparsity": ("measure",)}


@dataclass(frozen=True)
class Axis:
    """One swept parameter and its values, in the order given."""

    key: str
    values: tuple[Any, ...]

    @property
    def column(self) -> str:
        """The results column holding this parameter: ``grid.`` + the key."""
        return f"grid.{self.key}"


@dataclass(frozen=True)
class Point:
    """One design point: a value per axis."""

    values: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        """``dpu.macs_per_tile=4096,tiles=4``: the key a results file knows the point by."""
        return ",".join(f"{k}={_text(v)}" for k, v in self.values) or "base"

    def arch_overrides(self) -> list[str]:
        return [f"{k}={_text(v)}" for k, v in self.values if k not in OPTION_KEYS]

    def options(self) -> dict[str, Any]:
        """Estimate keyword arguments this point sets (precision ``model`` -> None)."""
        chosen = {k: v for k, v in self.values if k in OPTION_KEYS}
        if chosen.get("precision") == "model":
            chosen["precision"] = None
        return chosen


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_axis(spec: str) -> Axis:
    """``dpu.macs_per_tile=2048,4096`` -> Axis; values parse as YAML scalars (ints, floats, words)."""
    key, sep, raw = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--grid {spec!r} must look like section.field=v1,v2 (e.g. tiles=2,4,6)")
    items = [item.strip() for item in raw.split(",")]
    if not raw.strip() or any(not item for item in items):
        raise UsageError(f"--grid {key}: empty value list in {spec!r}; give values, comma-separated")
    values = []
    for item in items:
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            value = item
        values.append(value.lower() if key in OPTION_KEYS and isinstance(value, str) else value)
    if len(set(map(_text, values))) < len(values):
        raise UsageError(f"--grid {key}: a value is repeated in {spec!r}")
    return Axis(key, tuple(values))


def parse_grid(specs: list[str] | dict[str, list[Any]]) -> list[Axis]:
    """Axes from ``--grid`` strings or a ``{key: [values]}`` mapping (the Python API)."""
    if isinstance(specs, dict):
        axes = []
        for key, values in specs.items():
            values = list(values) if isinstance(values, list | tuple) else [values]
            axes.append(parse_axis(f"{key}=" + ",".join(_text(v) for v in values)))
    else:
        axes = [parse_axis(spec) for spec in specs]
    seen: set[str] = set()
    for axis in axes:
        if axis.key in seen:
            raise UsageError(f"--grid {axis.key} is given twice; put all its values in one --grid")
        seen.add(axis.key)
    return axes


def check_axes(arch: str | Path, axes: list[Axis], base_overrides: list[str]) -> None:
    """Every value of every axis, alone on the base arch, before any work: an unknown field, a
    value of the wrong type or out of range is one error naming the axis."""
    from nbperf.arch import load_arch

    for axis in axes:
        if axis.key in OPTION_KEYS:
            allowed = OPTION_KEYS[axis.key]
            if allowed is None:
                words = SHARE_WORDS[axis.key]
                bad = [v for v in axis.values if v not in words and (
                    isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1)]
                if bad:
                    also = f" or {', '.join(words)}" if words else ""
                    raise UsageError(f"--grid {axis.key}: {_text(bad[0])!r} is not a share in [0, 1){also}")
                continue
            bad = [v for v in axis.values if v not in allowed]
            if bad:
                raise UsageError(f"--grid {axis.key}: {_text(bad[0])!r} is not one of {', '.join(allowed)}")
            continue
        for value in axis.values:
            try:
                load_arch(arch, [*base_overrides, f"{axis.key}={_text(value)}"])
            except NbperfError as exc:
                raise UsageError(f"--grid {axis.key}={_text(value)}: {exc.message}") from None


def points(axes: list[Axis]) -> list[Point]:
    """The cartesian product of the axes, first axis slowest (one point when there are none)."""
    keys = [a.key for a in axes]
    combos = itertools.product(*(a.values for a in axes))
    return [Point(tuple(zip(keys, combo, strict=True))) for combo in combos]
