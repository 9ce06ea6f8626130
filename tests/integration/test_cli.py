"""The command line: happy paths, and every bad input of issue 3 ends in one stderr line, exit 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper
from tests.conftest import EXAMPLES, REPO_ROOT
from tests.onnx_builders import chain_model, conv_model, save

from nbperf.cli import main

RESNET = str(EXAMPLES / "resnet50.onnx")


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    assert lines[0].startswith("nbperf: error: ")
    return lines[0]


def test_estimate_prints_table_and_totals(capsys):
    code, out, err = run(capsys, "estimate", RESNET, "--arch", "npu3720", "--top", "5")
    assert code == 0, err
    assert "5 slowest of" in out and "latency" in out and "FPS" in out and "TOPS" in out
    assert "layer-serial schedule on up to 2 tiles" in out


def test_json_and_csv_outputs_agree(capsys, tmp_path):
    code, _, err = run(capsys, "estimate", RESNET, "--json", str(tmp_path / "r.json"),
                       "--csv", str(tmp_path / "r.csv"), "-q")
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    for key in ("model", "arch", "precision", "latency_ms", "fps", "macs", "ddr_bytes", "layers"):
        assert key in report
    required = {"name", "op_type", "engine", "strategy", "macs", "weight_bytes", "input_bytes",
                "output_bytes", "compute_cycles", "dma_cycles", "start_us", "end_us", "bound"}
    assert required <= set(report["layers"][0])
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(rows) == len(report["layers"])
    assert [r["name"] for r in rows] == [layer["name"] for layer in report["layers"]]
    assert sum(int(r["macs"]) for r in rows) == report["macs"]
    assert report["layers"][-1]["end_us"] == pytest.approx(report["latency_ms"] * 1e3
                                                            - report["host_us"], abs=1e-3)


def test_arch_list_and_show(capsys):
    code, out, _ = run(capsys, "arch", "list")
    assert code == 0 and "npu4000-4k" in out and "vpu2.0" in out
    code, out, _ = run(capsys, "arch", "show", "npu3720")
    assert code == 0 and "platform_resources.hpp" in out and "macs_per_tile: 2048" in out


def test_set_override_and_input_shape(capsys, tmp_path):
    dyn = conv_model(3, 16, 32, 3)
    dyn.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    path = save(dyn, tmp_path)
    code, out, err = run(capsys, "estimate", str(path), "--input-shape", "x=2x3x32x32",
                         "--set", "dpu.macs_per_tile=4096", "-q")
    assert code == 0, err
    assert "ms" in out


def _cyclic_model(path):
    a = helper.make_node("Relu", ["x2"], ["x1"], name="a")
    b = helper.make_node("Relu", ["x1"], ["x2"], name="b")
    c = helper.make_node("Relu", ["x"], ["y"], name="c")
    info = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])]
    out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]
    model = chain_model([c, a, b], info, out)
    onnx.save(model, path)


def _bad_inputs(tmp_path):
    missing = tmp_path / "missing.onnx"
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((EXAMPLES / "resnet50.onnx").read_bytes()[:5000])
    cyclic = tmp_path / "cyclic.onnx"
    _cyclic_model(cyclic)
    dynamic = conv_model(3, 8, 16, 3)
    dynamic.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    dyn_path = save(dynamic, tmp_path, "dynamic.onnx")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text((REPO_ROOT / "src/nbperf/arch/presets/npu4000.yaml").read_text()
                        .replace("macs_per_tile: 2048", "macs_per_tile: -5"))
    return [
        (["estimate", str(missing)], "model file not found"),
        (["estimate", str(text)], "is not a valid ONNX model"),
        (["estimate", str(truncated)], "is not a valid ONNX model"),
        (["estimate", str(cyclic)], "cycle"),
        (["estimate", RESNET, "--arch", "npu9999"], "unknown arch 'npu9999'"),
        (["estimate", RESNET, "--arch", str(bad_yaml)], "dpu.macs_per_tile = -5"),
        (["estimate", RESNET, "--set", "dpu.fp16_rate=2"], "dpu.fp16_rate = 2"),
        (["estimate", str(dyn_path)], "dynamic dimension 'height'"),
        (["estimate", RESNET, "--input-shape", "x=1xtwo"], "--input-shape"),
        (["estimate", RESNET, "--precision", "int4"], "'int4' is not one of 'int8', 'fp16'"),
        (["estimate", RESNET, "--cost", "magic"],
         "unknown cost model 'magic'; available: math, table:FILE, vpunn"),
    ]


def test_each_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    for argv, message in _bad_inputs(tmp_path):
        code, out, err = run(capsys, *argv)
        line = one_error_line(err)
        assert code == 2, (argv, err)
        assert message in line, (argv, line)
        assert "Traceback" not in err + out


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    for argv, message in _bad_inputs(tmp_path)[:4]:
        proc = subprocess.run([sys.executable, "-m", "nbperf", *argv], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_op_is_warned_once_on_stderr(capsys, tmp_path):
    node = helper.make_node("Det", ["x"], ["y"], name="odd")  # a determinant: no NPU lowering
    model = chain_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8, 8])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    code, out, err = run(capsys, "estimate", str(save(model, tmp_path)), "--json", str(tmp_path / "o.json"))
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("nbperf: warning:")]
    assert len(warnings) == 1 and "odd (Det)" in warnings[0]
    assert json.loads((tmp_path / "o.json").read_text())["unknown_ops"] == ["odd (Det)"]
    assert "unknown ops" in out


def test_explain_one_layer_lists_every_candidate(capsys):
    code, out, err = run(capsys, "explain", RESNET, "--arch", "npu3720", "--layer",
                         "/layer3/layer3.0/conv2/Conv")
    assert code == 0, err
    for word in ("Clustering", "SOH", "SOW", "SOK", "HKSwitch", "cycles", "compute", "DMA", "in and out",
                 "lowest whole-graph cost", "whole graph +", "SOK>dup"):
        assert word in out, word
    assert out.count("yes") >= 3
    # 7 output rows over 6 tiles: rows per tile aligned as the compiler does leave the last tile none.
    code, out, err = run(capsys, "explain", RESNET, "--arch", "npu4000", "--layer",
                         "/layer4/layer4.1/conv2/Conv")
    assert code == 0, err
    assert "leave none" in " ".join(out.split()).replace("│", "")


def test_explain_without_a_layer_lists_every_layer_and_bad_layer_is_one_line(capsys):
    code, out, _ = run(capsys, "explain", RESNET, "--arch", "npu4000")
    assert code == 0 and "/fc/Gemm" in out and "legal alternatives" in out
    code, _, err = run(capsys, "explain", RESNET, "--layer", "/fc/Gem")
    assert code == 2 and "did you mean '/fc/Gemm'" in one_error_line(err)
    code, _, err = run(capsys, "estimate", RESNET, "--strategy", "/fc/Gemm=SOH")
    assert code == 2 and "SOH needs output height >= 6 (tiles), has 1" in one_error_line(err)


def test_bare_command_prints_help_and_a_missing_output_folder_fails_before_any_write(capsys, tmp_path):
    code, out, err = run(capsys)
    assert code == 0 and "Usage" in out and "error" not in err
    good = tmp_path / "r.json"
    missing = tmp_path / "no" / "r.csv"
    code, _, err = run(capsys, "estimate", RESNET, "--json", str(good), "--csv", str(missing))
    assert code == 2 and "folder" in one_error_line(err)
    assert not good.exists()


def test_throughput_mode_is_the_headline_and_both_modes_are_reported(capsys, tmp_path):
    code, out, err = run(capsys, "estimate", RESNET, "--mode", "throughput",
                         "--json", str(tmp_path / "r.json"), "-q")
    assert code == 0, err
    assert "FPS in throughput mode" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["mode"] == "throughput" and report["throughput_fps"] > 0 and report["latency_ms"] > 0
    assert report["throughput"]["requests"] == 8 and report["throughput"]["tiles_per_request"] == 2
    assert report["fps"] == pytest.approx(1000 / report["latency_ms"], rel=1e-3)


def test_version_and_short_help(capsys):
    from nbperf import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"nbperf {__version__}"
    code, out, _ = run(capsys, "estimate", "-h")
    assert code == 0 and "--mode" in out and "--precision" in out


def test_choices_are_case_insensitive(capsys):
    code, out, err = run(capsys, "estimate", RESNET, "--precision", "INT8", "--schedule", "Serial",
                         "--policy", "OPTIMAL", "--mode", "Latency", "-q")
    assert code == 0 and "resnet50.onnx on npu4000" in out, err


def test_json_dash_writes_only_the_json_to_stdout(capsys):
    code, out, err = run(capsys, "estimate", RESNET, "--json", "-")
    assert code == 0, err
    assert json.loads(out)["model"] == "resnet50.onnx"


def test_two_outputs_to_one_path_are_refused_before_any_work(capsys, tmp_path):
    target = tmp_path / "r.out"
    code, _, err = run(capsys, "estimate", RESNET, "--json", str(target), "--csv", str(target))
    assert code == 2 and "--json and --csv both write" in one_error_line(err)
    assert not target.exists()


def test_top_lists_the_slowest_layers_slowest_first(capsys, tmp_path):
    code, _, err = run(capsys, "estimate", RESNET, "--json", str(tmp_path / "r.json"), "-q")
    assert code == 0, err
    layers = json.loads((tmp_path / "r.json").read_text())["layers"]
    # slowest first; equal times (to the rounding of the JSON) keep execution order
    slowest = sorted(layers, key=lambda layer: -round(layer["end_us"] - layer["start_us"], 3))[:3]
    code, out, _ = run(capsys, "estimate", RESNET, "--top", "3")
    rows = [line for line in out.splitlines() if line.startswith("│ /")]
    assert [row.split("│")[1].strip() for row in rows] == [layer["name"] for layer in slowest]
