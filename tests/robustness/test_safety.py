"""Safety: model files are parsed, never executed, and never make nbperf read other files.

- The source tree has no pickle, marshal, eval/exec/compile, unsafe YAML loading, shelling out,
  and every onnx.load skips external data (an AST walk, so comments and strings do not count).
- At run time (a sys.addaudithook recorder): estimating opens only the model and the arch file,
  even when the model's external data points at an existing file beside it; nothing is unpickled,
  exec'd, compiled or spawned.
- External-data locations that are absolute or climb out of the model's folder are refused with
  ModelError wherever the tensor sits (initializer, sparse initializer, Constant attribute,
  subgraph, local function).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_strategies import external
from robustness_helpers import EXAMPLES, SRC

import nbperf
from nbperf.errors import ModelError

F = TensorProto.FLOAT

FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib",
                     "subprocess", "pty", "code", "codeop"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input"}
FORBIDDEN_ATTRS = {  # module attribute -> why
    ("yaml", "load"): "yaml.load can construct Python objects; use yaml.safe_load or a safe Loader",
    ("yaml", "unsafe_load"): "unsafe YAML", ("yaml", "full_load"): "unsafe YAML",
    ("yaml", "Loader"): "unsafe YAML", ("yaml", "UnsafeLoader"): "unsafe YAML",
    ("yaml", "FullLoader"): "unsafe YAML",
    ("os", "system"): "shell", ("os", "popen"): "shell", ("os", "execv"): "exec", ("os", "execvp"): "exec",
    ("os", "spawnv"): "spawn", ("os", "posix_spawn"): "spawn",
    ("onnx", "load_external_data_for_model"): "reads external data",
    ("external_data_helper", "load_external_data_for_model"): "reads external data",
    ("external_data_helper", "load_external_data_for_tensor"): "reads external data",
}


def _python_files() -> list[Path]:
    files = sorted((SRC / "nbperf").rglob("*.py"))
    assert len(files) > 20, "the source tree was not found"
    return files


SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader"}


def _safe_yaml_loads(tree: ast.AST) -> set[int]:
    """The ``yaml.load`` attribute nodes called with ``Loader=yaml.SafeLoader`` or
    ``Loader=yaml.CSafeLoader`` spelled out: those build plain data only."""
    safe: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "yaml":
            loaders = [k.value for k in node.keywords if k.arg == "Loader"]
            if len(loaders) == 1 and isinstance(loaders[0], ast.Attribute) \
                    and isinstance(loaders[0].value, ast.Name) and loaders[0].value.id == "yaml" \
                    and loaders[0].attr in SAFE_YAML_LOADERS:
                safe.add(id(node.func))
    return safe


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    safe_loads = _safe_yaml_loads(tree)

    def where(node: ast.AST) -> str:
        return f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{where(node)} imports {a.name}" for a in node.names
                      if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where(node)} imports from {node.module}")
            found += [f"{where(node)} imports {node.module}.{a.name}" for a in node.names
                      if (node.module.split(".")[-1], a.name) in FORBIDDEN_ATTRS]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{where(node)} calls {func.id}()")
            if isinstance(func, ast.Attribute) and func.attr in ("load", "load_model") \
                    and isinstance(func.value, ast.Name):
                false = {k.arg for k in node.keywords
                         if isinstance(k.value, ast.Constant) and k.value.value is False}
                given = {k.arg for k in node.keywords}
                if func.value.id in ("np", "numpy") and "allow_pickle" in given - false:
                    found.append(f"{where(node)} calls numpy.load with allow_pickle")
                if func.value.id == "onnx" and "load_external_data" not in false:
                    found.append(f"{where(node)} calls onnx.load without load_external_data=False")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and id(node) not in safe_loads:
            why = FORBIDDEN_ATTRS.get((node.value.id, node.attr))
            if why:
                found.append(f"{where(node)} uses {node.value.id}.{node.attr} ({why})")
    return found


def test_source_has_no_pickle_eval_exec_or_unsafe_loading():
    problems = [v for path in _python_files() for v in _violations(path)]
    assert problems == []


def test_the_ast_check_catches_what_it_looks_for(tmp_path, monkeypatch):
    """The checker itself: each forbidden pattern in a scratch file is reported."""
    bad = tmp_path / "nbperf" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "import pickle\nfrom marshal import loads\nimport yaml, onnx, numpy as np\n"
        "eval('1')\nexec('x = 1')\nyaml.load('a', Loader=yaml.Loader)\nonnx.load('m.onnx')\n"
        "np.load('a.npy', allow_pickle=True)\nimport os\nos.system('true')\n"
        "yaml.load('a', Loader=yaml.CSafeLoader)\nyaml.load('a', yaml.SafeLoader)\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    violations = _violations(bad)
    text = "\n".join(violations)
    assert not [v for v in violations if "bad.py:11 " in v], "yaml.load with Loader=yaml.CSafeLoader is safe"
    assert "bad.py:12 uses yaml.load" in text, "a Loader passed by position is not checked: reported"
    for expected in ("imports pickle", "imports from marshal", "calls eval()", "calls exec()", "yaml.load",
                     "yaml.Loader", "onnx.load without load_external_data=False",
                     "numpy.load with allow_pickle", "os.system"):
        assert expected in text, expected


# ---------------------------------------------------------------------------------------------
# run time: what estimating actually touches


_RECORDING: list[tuple[str, tuple]] | None = None
_WATCHED = ("open", "exec", "compile", "pickle.find_class", "marshal.loads", "subprocess.Popen", "os.system",
            "os.exec", "os.posix_spawn", "os.spawn", "ctypes.dlopen", "urllib.Request", "socket.connect")


def _hook(event: str, args: tuple) -> None:
    if _RECORDING is not None and event in _WATCHED:
        _RECORDING.append((event, args))


sys.addaudithook(_hook)  # audit hooks cannot be removed; this one records only inside _record()


def _record(fn) -> list[tuple[str, tuple]]:
    global _RECORDING
    _RECORDING = []
    try:
        fn()
        return _RECORDING
    finally:
        _RECORDING = None


def _model_with_existing_external_data(folder: Path) -> Path:
    (folder / "weights.bin").write_bytes(b"\x7f" * 4096)  # present, but nbperf must not read it
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [4, 16])],
                              [helper.make_tensor_value_info("y", F, None)], [external("w", [16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("cost", ["math", "emulator"])
def test_estimating_opens_only_the_model_and_the_arch(tmp_path, cost):
    models = [_model_with_existing_external_data(tmp_path), *sorted(EXAMPLES.glob("*.onnx"))]
    for model in models:
        nbperf.estimate(model, "npu4000", cost_model=cost)  # warm up: imports are not the model's doing
    for model in models:
        events = _record(lambda m=model: nbperf.estimate(m, "npu4000", cost_model=cost))
        opened = {Path(str(args[0])).name for event, args in events if event == "open"}
        assert opened <= {Path(model).name, "npu4000.yaml"}, opened
        assert [e for e, _ in events if e != "open"] == [], events


def test_external_data_beside_the_model_is_not_read(tmp_path):
    model = _model_with_existing_external_data(tmp_path)
    result = nbperf.estimate(model)
    assert result.graph.tensor_bytes and result.latency_ms > 0
    events = _record(lambda: nbperf.estimate(model))
    assert not [a for e, a in events if e == "open" and "weights.bin" in str(a[0])]


# ---------------------------------------------------------------------------------------------
# external-data locations outside the model's folder

HOSTILE_LOCATIONS = ["../x", "/etc/passwd", "sub/../../x.bin", "..", "C:\\weights.bin",
                     "\\\\server\\share\\w.bin", "..\\..\\w.bin", "w.bin\x00.txt", "/", "~/../../etc/shadow"]


def _graph_with(tensor_site: str, location: str):
    w = external("w", [16, 16], location=location)
    x = helper.make_tensor_value_info("x", F, [4, 16])
    y = helper.make_tensor_value_info("y", F, None)
    opsets = [helper.make_opsetid("", 17)]
    if tensor_site == "initializer":
        graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    elif tensor_site == "constant":
        nodes = [helper.make_node("Constant", [], ["w"], name="const", value=w),
                 helper.make_node("MatMul", ["x", "w"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y])
    elif tensor_site == "sparse":
        indices = numpy_helper.from_array(np.array([0], np.int64), "w_idx")
        sparse = helper.make_sparse_tensor(w, indices, [16, 16])
        graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y],
                                  sparse_initializer=[sparse])
    elif tensor_site == "subgraph":
        then = helper.make_graph([helper.make_node("Identity", ["w"], ["t"])], "then", [],
                                 [helper.make_tensor_value_info("t", F, [16, 16])], [w])
        other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                  [helper.make_tensor_value_info("e", F, [4, 16])])
        cond = numpy_helper.from_array(np.array(True), "cond")
        nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)]
        graph = helper.make_graph(nodes, "g", [x], [y], [cond])
    else:  # a local function's Constant
        fn = helper.make_function("local", "Weights", [], ["o"],
                                  [helper.make_node("Constant", [], ["o"], value=w)], opsets)
        nodes = [helper.make_node("Weights", [], ["w"], domain="local"),
                 helper.make_node("MatMul", ["x", "w"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y])
        local = helper.make_opsetid("local", 1)
        return helper.make_model(graph, opset_imports=[*opsets, local], functions=[fn])
    return helper.make_model(graph, opset_imports=opsets)


@pytest.mark.parametrize("site", ["initializer", "constant", "sparse", "subgraph", "function"])
@pytest.mark.parametrize("location", HOSTILE_LOCATIONS)
def test_external_data_outside_the_model_folder_is_refused(tmp_path, site, location):
    nbperf.load_arch("npu4000")  # warm up: a worker's first preset lookup imports the presets package
    path = tmp_path / "m.onnx"
    path.write_bytes(_graph_with(site, location).SerializeToString())
    caught: list[ModelError] = []

    def run() -> None:
        try:
            nbperf.estimate(path)
        except ModelError as e:
            caught.append(e)

    events = _record(run)
    assert caught, "the model was accepted"
    assert "outside the model's folder" in caught[0].message, caught[0].message
    assert "\n" not in caught[0].message
    opened = {Path(str(a[0])).name for ev, a in events if ev == "open"}
    assert opened <= {"m.onnx", "npu4000.yaml"}, opened
