"""The JSON report against its schema (src/nbperf/report/estimate.schema.json), and the schema against
its page (docs/json-schema.md): real reports validate, keys come in the schema's order, closed sets
match the code's enums, and the page is exactly what the generator renders from the schema."""

from __future__ import annotations

import importlib.util
import json
from importlib.resources import files
from types import ModuleType
from typing import Any

import pytest
from onnx import TensorProto, helper
from tests.conftest import EXAMPLES, REPO_ROOT
from tests.onnx_builders import chain_model, save

from nbperf.api import estimate
from nbperf.cli import main
from nbperf.cost.external import EXTERNAL_LIMIT
from nbperf.lower.npu_ops import Engine
from nbperf.report.files import to_json
from nbperf.schedule.taskgraph import TaskKind, TaskRole
from nbperf.schedule.timeline import Bound, ScheduleKind
from nbperf.strategy import POLICIES, Dist, Strategy, TiledOver

RESNET = EXAMPLES / "resnet50.onnx"
GENERATOR = REPO_ROOT / "docs" / "generate_json_schema_md.py"
DOC = REPO_ROOT / "docs" / "json-schema.md"
NO_JSONSCHEMA = "jsonschema is not installed (it comes with the [test] extra): reports are not validated"

# name -> keyword arguments of nbperf.api.estimate for ResNet-50 on npu4000
RESNET_CONFIGS = {
    "serial": {},
    "emulator": {"schedule": "emulator"},
    "compiler": {"policy": "compiler"},
    "int8": {"precision": "int8"},
}


def load_schema() -> dict[str, Any]:
    """The schema as the installed package holds it."""
    return json.loads((files("nbperf.report") / "estimate.schema.json").read_text(encoding="utf-8"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_json_schema_md", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    """JSON text of every report, as written: each configuration estimated once for the module."""
    texts = {name: to_json(estimate(RESNET, "npu4000", **kwargs)) for name, kwargs in RESNET_CONFIGS.items()}
    folder = tmp_path_factory.mktemp("unknown_op")
    node = helper.make_node("Det", ["x"], ["t"], name="odd")  # a determinant: no NPU lowering
    relu = helper.make_node("Relu", ["t"], ["y"], name="relu")
    model = chain_model([node, relu], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8, 8])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    out = folder / "unknown.json"
    assert main(["estimate", str(save(model, folder)), "--json", str(out), "-q"]) == 0
    texts["unknown-op"] = out.read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema", reason=NO_JSONSCHEMA)
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # the schema itself is valid draft 2020-12
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, report: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))]


@pytest.mark.parametrize("name", [*RESNET_CONFIGS, "unknown-op"])
def test_report_validates_against_schema(name, reports, validator):
    report = json.loads(reports[name])
    errors = _errors(validator, report)
    assert not errors, f"{name} report breaks the schema:\n" + "\n".join(errors[:20])


def test_reports_cover_what_they_are_meant_to(reports):
    """The configurations really exercise the emulation object, the compiler policy, int8 and an
    unknown op (else validating them would prove less than it seems)."""
    parsed = {name: json.loads(text) for name, text in reports.items()}
    assert "emulation" in parsed["emulator"] and parsed["emulator"]["schedule"]["kind"] == "emulated"
    assert "emulation" not in parsed["serial"] and parsed["serial"]["schedule"]["kind"] == "layer-serial"
    assert parsed["compiler"]["strategy_policy"] == "compiler"
    assert parsed["int8"]["precision"] == "int8"
    assert parsed["unknown-op"]["unknown_ops"] == ["odd (Det)"]
    assert any(layer["unknown"] for layer in parsed["unknown-op"]["layers"])


def test_schema_rejects_undocumented_and_missing_keys(reports, validator):
    serial, emulated = json.loads(reports["serial"]), json.loads(reports["emulator"])
    extra_top = {**serial, "new_field": 1}
    extra_layer = {**serial, "layers": [{**serial["layers"][0], "new_field": 1}, *serial["layers"][1:]]}
    missing = {k: v for k, v in serial.items() if k != "macs"}
    stray_emulation = {**serial, "emulation": emulated["emulation"]}
    no_emulation = {k: v for k, v in emulated.items() if k != "emulation"}
    bad_enum = {**serial, "layers": [{**serial["layers"][0], "strategy": "SOH"}]}
    for case in (extra_top, extra_layer, missing, stray_emulation, no_emulation, bad_enum):
        assert not validator.is_valid(case)


def _object_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    defs = schema["$defs"]
    return {"top": schema, "schedule": defs["schedule"], "layer": defs["layer"],
            "emulation": defs["emulation"], "task": defs["task"]}


def test_schema_key_order_is_the_report_order(reports):
    schema = _object_schemas(load_schema())
    serial, emulated = json.loads(reports["serial"]), json.loads(reports["emulator"])
    assert list(schema["top"]["properties"]) == list(emulated)
    assert list(schema["top"]["properties"]) == [*serial, "emulation"]
    assert list(schema["schedule"]["properties"]) == list(serial["schedule"])
    assert list(schema["layer"]["properties"]) == list(serial["layers"][0])
    assert list(schema["emulation"]["properties"]) == list(emulated["emulation"])
    assert list(schema["task"]["properties"]) == list(emulated["emulation"]["tasks"][0])


def test_schema_objects_are_closed_and_fully_described():
    for name, obj in _object_schemas(load_schema()).items():
        assert obj["additionalProperties"] is False, name
        expected = [k for k in obj["properties"] if k != "emulation"]
        assert obj["required"] == expected, name
        for key, prop in obj["properties"].items():
            assert prop.get("description"), f"{name}.{key} has no description"


def test_schema_closed_sets_match_the_code():
    schema = _object_schemas(load_schema())

    def enum(obj: str, key: str) -> set[Any]:
        return set(schema[obj]["properties"][key]["enum"])

    assert enum("layer", "strategy") == {s.value for s in Strategy}
    assert enum("layer", "output_distribution") == {d.value for d in Dist}
    assert enum("layer", "tiled_over") == {t.value for t in TiledOver}
    assert enum("layer", "bound") == {b.value for b in Bound}
    assert enum("layer", "engine") == {e.value for e in Engine if e is not Engine.NONE}
    assert enum("schedule", "kind") == {k.value for k in ScheduleKind}
    assert enum("task", "kind") == {k.value for k in TaskKind}
    assert enum("task", "role") == {r.value for r in TaskRole}
    assert enum("top", "strategy_policy") == set(POLICIES)
    assert enum("layer", "compute_limit") == {"mac", "cmx-read", "ppe", EXTERNAL_LIMIT, None}


def test_doc_is_generated_from_schema():
    generator = load_generator()
    expected = generator.render(load_schema())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/json-schema.md is stale: run python3 docs/generate_json_schema_md.py")
    assert generator.main(["--check"]) == 0
