"""Regression tests for arch-loader crashes found by fuzzing (fixed in src/nbperf/arch/loader.py).

Each hostile arch file or override ends in one ArchError line that names the field, quickly.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from robustness_helpers import time_limit

from nbperf.arch import load_arch, preset_text
from nbperf.arch.loader import MAX_ARCH_FILE_BYTES
from nbperf.errors import ArchError

BASE = yaml.safe_load(preset_text("npu4000"))


def _error(tmp_path, text: str, overrides=()) -> str:
    path = tmp_path / "part.yaml"
    path.write_text(text)
    with time_limit(10), pytest.raises(ArchError) as e:
        load_arch(path, list(overrides))
    assert "\n" not in e.value.message and len(e.value.message) < 2000
    return e.value.message


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def test_unknown_key_inside_an_mpe_mode(tmp_path):
    """Was: AttributeError ('NoneType' has no 'annotation') while suggesting a field name."""
    data = copy.deepcopy(BASE)
    data["dpu"]["mpe_modes"][0]["blok_w"] = data["dpu"]["mpe_modes"][0].pop("block_w")
    message = _error(tmp_path, _dump(data))
    assert "unknown field 'dpu.mpe_modes.0.blok_w' (did you mean 'block_w'?)" in message
    assert "missing field 'dpu.mpe_modes.0.block_w'" in message


@pytest.mark.parametrize("value", [".inf", "1e999", "'" + "9" * 400 + "'"])
def test_infinite_cycles_per_element_is_refused(tmp_path, value):
    """Was: loaded, then OverflowError (cannot convert float infinity to integer) in the cost model."""
    text = _dump(BASE).replace("softmax: 12", f"softmax: {value}")
    assert "shave.cycles_per_element.softmax = inf: must be a finite number" in _error(tmp_path, text)


def test_infinite_value_from_an_override_is_refused():
    with pytest.raises(ArchError, match=r"shave.cycles_per_element.softmax = inf: must be a finite number"):
        load_arch("npu4000", ["shave.cycles_per_element.softmax=" + "9" * 5000])


def test_nan_names_the_field(tmp_path):
    message = _error(tmp_path, _dump(BASE).replace("softmax: 12", "softmax: .nan"))
    assert "cycles_per_element.softmax must be > 0" in message
    assert "elementwise" not in message, "the whole section is not dumped into the message"


def test_deeply_nested_yaml(tmp_path):
    """Was: RecursionError from PyYAML's composer."""
    message = _error(tmp_path, "description: " + "[" * 20000 + "]" * 20000 + "\n")
    assert "nested too deeply" in message


def test_billion_laughs(tmp_path):
    """Was: the process was killed (memory) repr()-ing a 10^9-element aliased list into the message."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(8):
        ref = "a" if i == 0 else f"l{i - 1}"
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*{ref}"] * 10) + "]")
    text = "\n".join(lines) + "\n" + _dump(BASE).replace("description: NPU", "description: *l7\nnote: NPU")
    message = _error(tmp_path, text)
    assert "description = [[[...]" in message and "Input should be a valid string" in message
    assert "and " in message and "more problems" in message  # the list of problems is capped


@pytest.mark.parametrize("value,reason", [
    ("1" + "0" * 5000, "Exceeds the limit (4300 digits)"),
    ("2020-13-45", "month must be in 1..12"),
    ("!!int xyz", "invalid literal for int()"),
])
def test_scalars_yaml_cannot_convert(tmp_path, value, reason):
    """Was: ValueError escaping yaml.safe_load (not a YAMLError)."""
    message = _error(tmp_path, _dump(BASE).replace("tiles: 6", f"tiles: {value}"))
    assert "is not valid YAML" in message and reason in message


def test_oversized_arch_file(tmp_path):
    message = _error(tmp_path, _dump(BASE) + "#" * MAX_ARCH_FILE_BYTES)
    assert "an arch description is a few KB" in message


def test_long_values_are_shortened_in_the_message(tmp_path):
    message = _error(tmp_path, _dump(BASE).replace("tiles: 6", "tiles: " + "x" * 100_000))
    assert "tiles = 'xxxx" in message and len(message) < 400
