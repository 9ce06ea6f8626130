"""Fuzzing arch YAML files and ``--set`` overrides.

Every case either loads (and then estimates a small model: extreme but valid numbers must not
crash the cost model, strategy search or schedule) or raises ArchError whose one-line message
names the field that was broken.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from hypothesis import event, given, note
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx_strategies import external
from robustness_helpers import FUZZ, check_outcome, time_limit

import nbperf
from nbperf.arch import ArchSpec, load_arch, preset_names, preset_text
from nbperf.errors import ArchError

PRESETS = {name: yaml.safe_load(preset_text(name)) for name in preset_names()}

BAD_VALUES = st.one_of(
    st.sampled_from([-1, 0, -2048, 1 << 70, 10**30, 1e300, -1e-9, 2.5, 0.0, True, False, None, "", "fast",
                     "2048", "1e3", [], [1, 2], {}, {"a": 1}, float("nan"), float("inf"), float("-inf")]),
    st.integers(min_value=-(1 << 40), max_value=1 << 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)


def _leaves(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every field (sections included) in a preset's YAML tree."""
    found: list[tuple[Any, ...]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(_leaves(value, path))
    return found


def _typo(draw: st.DrawFn, word: str) -> str:
    kind = draw(st.sampled_from(["drop", "swap", "add", "replace"]))
    if len(word) < 2:
        return word + "x"
    i = draw(st.integers(0, len(word) - 2))
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "add":
        return word[:i] + "x" + word[i:]
    return word[:i] + ("z" if word[i] != "z" else "y") + word[i + 1:]


@st.composite
def broken_arch(draw: st.DrawFn) -> tuple[dict[str, Any], list[list[str]]]:
    """A preset with 1-3 edits; returns the data and, per edit, the field names it touched."""
    data = copy.deepcopy(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])
    touched: list[list[str]] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _leaves(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        # An element of a list is named by its index, or by its list: a fixed-length list that
        # lost an element is reported as missing its last index (read_grid.2 for read_grid.1).
        names = [str(key)] + ([str(next(p for p in reversed(path) if isinstance(p, str)))]
                              if isinstance(key, int) else [])
        kind = draw(st.sampled_from(["value", "value", "value", "delete", "unknown", "section"]))
        if kind == "value":
            parent[key] = draw(BAD_VALUES)
            touched.append(names)
        elif kind == "delete":
            del parent[key]
            touched.append(names)
        elif kind == "unknown" and isinstance(parent, dict):
            typo = _typo(draw, str(key))
            if draw(st.booleans()):  # renamed: unknown typo, missing original
                parent[typo] = parent.pop(key)
                touched.append([typo, str(key)])
            else:
                parent[typo] = 1
                touched.append([typo])
        elif kind == "section":
            section = draw(st.sampled_from(["dpu", "shave", "cmx", "dma", "compiler"]))
            if section in data:
                data[section] = draw(st.sampled_from([None, 1, "x", [], [1]]))
                touched.append([section])
    return data, touched


def _tiny_model(folder: Path) -> Path:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Softmax", ["c"], ["y"], name="softmax", axis=1)]
    graph = helper.make_graph(nodes, "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [external("w", [32, 8, 3, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "tiny.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="nbperf-arch-fuzz-") as d:
        folder = Path(d)
        _tiny_model(folder)
        yield folder


def _estimate_with(spec: ArchSpec, folder: Path) -> str:
    """A loaded arch must estimate (or fail with NbperfError, e.g. nothing fits a tiny CMX)."""
    return check_outcome(lambda: nbperf.estimate(folder / "tiny.onnx", spec))


@FUZZ
@given(case=broken_arch())
def test_fuzzed_arch_files_load_or_name_the_field(workdir, case):
    data, touched = case
    path = workdir / "part.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    note(f"touched: {touched}")
    with time_limit():
        try:
            spec = load_arch(path)
        except ArchError as e:
            assert "\n" not in e.message and e.exit_code == 2
            names = [name for edit in touched for name in edit]
            assert any(name in e.message for name in names), (touched, e.message)
            if len(touched) == 1:
                assert any(name in e.message for name in touched[0]), (touched, e.message)
            event("ArchError")
            return
    event(f"loaded, estimate {_estimate_with(spec, workdir)}")


OVERRIDE_KEYS = sorted({".".join(str(p) for p in path) for data in PRESETS.values() for path in _leaves(data)
                        if not any(isinstance(p, int) for p in path)})


@st.composite
def override(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.sampled_from(OVERRIDE_KEYS))
    if draw(st.integers(0, 4)) == 0:
        parts = key.split(".")
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] = _typo(draw, parts[i])
        key = ".".join(parts)
    value = draw(st.one_of(
        st.sampled_from(["-1", "0", "1", "16", "4096", "1e9", "1.0e+400", ".nan", ".inf", "-.inf", "abc",
                         "", "[]", "{}", "[1, 2]", "{a: 1}", "null", "true", "0.5", "2.0", "'2048'",
                         "!!python/object:os.system", "*alias", "&a [*a]", "[" * 50, "9" * 5000]),
        st.text(max_size=10),
    ))
    return key, value


@FUZZ
@given(case=override(), preset=st.sampled_from(sorted(PRESETS)))
def test_fuzzed_overrides_load_or_name_the_field(workdir, case, preset):
    key, value = case
    with time_limit():
        try:
            spec = load_arch(preset, [f"{key}={value}"])
        except ArchError as e:
            assert "\n" not in e.message and e.exit_code == 2
            leaf = key.split(".")[-1]
            assert key in e.message or leaf in e.message or any(p in e.message for p in key.split(".")), \
                (key, e.message)
            event("ArchError")
            return
    event(f"loaded, estimate {_estimate_with(spec, workdir)}")


def _bounds(model: type, name: str) -> tuple[float | None, float | None, bool]:
    """(low, high, is_int) of a numeric field from its pydantic constraints."""
    field = model.model_fields[name]  # type: ignore[attr-defined]
    low = high = None
    for meta in field.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                low = getattr(meta, attr) + (1e-9 if attr == "gt" else 0)
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                high = getattr(meta, attr)
    # An optional count (``int | None``) is an integer too.
    return low, high, field.annotation is int or set(get_args(field.annotation)) == {int, type(None)}


@st.composite
def extreme_arch(draw: st.DrawFn) -> dict[str, Any]:
    """A valid arch whose numbers sit at their bounds (tiny CMX, huge clocks, one lane...)."""
    data = copy.deepcopy(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])

    def visit(node: dict[str, Any], model: type) -> None:
        for name, value in node.items():
            annotation = model.model_fields[name].annotation  # type: ignore[attr-defined]
            is_section = isinstance(annotation, type) and hasattr(annotation, "model_fields")
            if isinstance(value, dict) and is_section:
                visit(value, annotation)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            low, high, is_int = _bounds(model, name)
            choice = draw(st.sampled_from(["keep", "keep", "low", "high", "between"]))
            if choice == "low" and low is not None:
                node[name] = int(low) if is_int else low
            elif choice == "high" and high is not None:
                node[name] = int(high) if is_int else high
            elif choice == "between" and low is not None and high is not None:
                node[name] = draw(st.integers(int(low), int(high))) if is_int else draw(
                    st.floats(low, high, allow_nan=False))

    visit(data, ArchSpec)
    return data


@FUZZ
@given(data=extreme_arch())
def test_extreme_but_valid_arch_estimates(workdir, data):
    note(yaml.safe_dump(data, sort_keys=False))
    with time_limit():
        spec = load_arch_from(workdir, data)
    event(f"estimate {_estimate_with(spec, workdir)}")


def load_arch_from(folder: Path, data: dict[str, Any]) -> ArchSpec:
    path = folder / "extreme.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_arch(path)
