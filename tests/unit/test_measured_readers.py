"""Readers of measured timings (issue 16). The benchmark_app fixtures in tests/data/measured were
written by OpenVINO's own report writer from synthetic counters (tests/data/measured/generate.py):
they are not silicon measurements."""

from __future__ import annotations

import filecmp
import re

import pytest
from tests.conftest import REPO_ROOT

from nbperf.errors import UsageError
from nbperf.measured import read_layer_times, read_runs

DATA = REPO_ROOT / "tests" / "data" / "measured"
NAMES = ["/conv1/Conv", "/relu/Relu", "/maxpool/MaxPool", "/layer1/layer1.0/conv1/Conv",
         "/layer1/layer1.0/conv2/Conv", "/layer1/layer1.0/conv3/Conv",
         "/layer1/layer1.0/downsample/downsample.0/Conv", "/layer1/layer1.0/Add",
         "/avgpool/GlobalAveragePool", "/Flatten", "/fc/Gemm"]
COUNTERS = "layerName;execStatus;layerType;execType;realTime (ms);cpuTime (ms)\n"
RUNS = "model,arch,precision,mode,latency_ms,fps\n"


@pytest.mark.parametrize("name, label, requests, total_us", [
    ("benchmark_detailed_counters_report.csv", "benchmark_app detailed_counters csv", 2, 235.5),
    ("benchmark_average_counters_report.csv", "benchmark_app average_counters csv", 1, 234.0),
    ("benchmark_detailed_counters_report.json", "benchmark_app detailed json", 2, 235.5),
    ("benchmark_sorted_report.json", "benchmark_app sorted json", 1, 224.0),
])
def test_counters_reports_parse(name, label, requests, total_us):
    m = read_layer_times(DATA / name)
    assert (m.format, m.requests, m.total_us) == (label, requests, pytest.approx(total_us))
    by_name = {layer.name: layer for layer in m.layers}
    assert sorted(by_name) == sorted(NAMES)
    conv = by_name["/conv1/Conv"]
    # detailed: requests at 96 and 106 us (the second 10% slower, rounded); average: the writer's 0.101 ms
    assert conv.time_us == pytest.approx(96.0 if "sorted" in name else 101.0)
    assert (conv.op_type, conv.exec_type, conv.status) == ("Convolution", "DPU", "EXECUTED")
    assert by_name["/relu/Relu"].status == "OPTIMIZED_OUT" and by_name["/relu/Relu"].time_us == 0
    assert by_name["/avgpool/GlobalAveragePool"].exec_type == "Shave"


def test_detailed_report_keeps_file_order():
    m = read_layer_times(DATA / "benchmark_detailed_counters_report.csv")
    assert [layer.name for layer in m.layers] == NAMES


def test_sorted_csv_with_its_quoted_header():
    m = read_layer_times(DATA / "benchmark_sorted_report.csv")
    assert m.format == "benchmark_app sorted csv"
    assert m.total_us == pytest.approx(220.0)  # "Total time: 0.22 milliseconds"
    assert [layer.name for layer in m.layers][:2] == ["/conv1/Conv", "/layer1/layer1.0/conv2/Conv"]  # sorted
    assert m.layers[1].time_us == pytest.approx(35.0)


def test_average_json_as_the_writer_leaves_it():
    """OpenVINO 2025.4's average JSON writer keeps only the first averaged layer; nbperf reads it."""
    m = read_layer_times(DATA / "benchmark_average_counters_report.json")
    assert [(layer.name, layer.time_us) for layer in m.layers] == [("/conv1/Conv", pytest.approx(101.0))]


def test_plain_csv(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("\ufeff# synthetic\nlayer,time_us,op_type,extra\n/conv1/Conv,12.5,Convolution,x\n\n"
                    "/fc/Gemm,3,,y\n")
    m = read_layer_times(path)
    assert m.format == "plain csv" and m.requests == 1 and m.total_us is None
    assert [(x.name, x.time_us, x.op_type) for x in m.layers] == [("/conv1/Conv", 12.5, "Convolution"),
                                                                 ("/fc/Gemm", 3.0, "")]


def test_plain_layers_fixture():
    m = read_layer_times(DATA / "layers_plain.csv")  # a '#' line, a blank line, an ignored column
    assert (m.format, m.requests, m.total_us) == ("plain csv", 1, None)
    assert [(x.name, x.time_us, x.op_type) for x in m.layers] == [
        ("/conv1/Conv", 96.5, "Conv"), ("/maxpool/MaxPool", 21.0, "MaxPool"),
        ("/layer1/layer1.0/conv1/Conv", 12.25, "Conv"), ("/layer1/layer1.0/Add", 9.0, "Add"),
        ("/fc/Gemm", 8.0, "Gemm")]
    assert all(x.status == "EXECUTED" and x.cpu_time_us is None for x in m.layers)


def test_plain_runs_fixture():
    runs = read_runs(DATA / "runs_plain.csv")
    assert [(r.model, r.arch, r.precision, r.mode, r.latency_ms, r.fps) for r in runs] == [
        ("resnet50", "npu4000", "int8", "latency", 1.85, 540.5),
        ("resnet50", "npu4000", "int8", "throughput", None, 2105.0),
        ("mobilenetv2", "npu3720", "fp16", "latency", 0.92, None)]


@pytest.mark.parametrize("name", ["benchmark_report.csv", "benchmark_report.json"])
def test_benchmark_report_is_one_run(name):
    (run,) = read_runs(DATA / name)
    assert (run.model, run.arch, run.precision, run.mode) == ("resnet50", "NPU", None, "latency")
    assert (run.latency_ms, run.fps) == (2.41, 399.94)


def test_mode_follows_the_hint_then_the_api(tmp_path):
    text = (DATA / "benchmark_report.csv").read_text()
    path = tmp_path / "benchmark_report.csv"
    path.write_text(text.replace("-hint;latency", "-hint;tput"))
    assert read_runs(path)[0].mode == "throughput"
    path.write_text(text.replace("-hint;latency\n", ""))
    assert read_runs(path)[0].mode == "latency"  # API sync
    path.write_text(text.replace("-hint;latency\n", "").replace("API;sync", "API;async"))
    assert read_runs(path)[0].mode == "throughput"


def test_hint_none_leaves_the_mode_to_the_api(tmp_path):
    """benchmark_app's main.py: without a hint (or with -hint none) the API picks sync or async."""
    text = (DATA / "benchmark_report.csv").read_text()
    path = tmp_path / "benchmark_report.csv"
    path.write_text(text.replace("-hint;latency", "-hint;none").replace("API;sync", "API;async"))
    assert read_runs(path)[0].mode == "throughput"


def test_missing_target_device_is_no_arch(tmp_path):
    path = tmp_path / "benchmark_report.csv"
    path.write_text((DATA / "benchmark_report.csv").read_text().replace("target device;NPU\n", ""))
    assert read_runs(path)[0].arch is None


def test_plain_runs_table(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("model,arch,precision,mode,latency_ms,fps\nresnet50,npu4000,INT8,latency,1.2,\n"
                    "resnet50,npu4000,int8,throughput,,2100\n")
    runs = read_runs(path)
    assert [(r.mode, r.precision, r.latency_ms, r.fps) for r in runs] == [
        ("latency", "int8", 1.2, None), ("throughput", "int8", None, 2100.0)]


@pytest.mark.parametrize("reader, content, message", [
    ("layers", None, "measured file not found"),
    ("layers", "", "is empty"),
    ("layers", "name;value\na;1\n", "unknown layout"),
    ("layers", "layer,time_us\n/conv1/Conv,fast\n", "row 2: time_us 'fast' is not a number"),
    ("layers", "layer,time_us\n/conv1/Conv,-3\n", "must be a finite number >= 0"),
    ("layers", "layer,time_ms\n/conv1/Conv,3\n", "unknown layout"),
    ("layers", "layer,time_us,layer\na,1,b\n", "repeated"),
    ("layers", COUNTERS + "a;Status.EXECUTED;X;DPU;x;1\n", "line 2: realTime (ms) 'x' is not a number"),
    ("layers", COUNTERS + "a;Status.DONE;X;DPU;1;1\n", "status 'Status.DONE'"),
    ("layers", COUNTERS + "a;Status.EXECUTED;X;DPU;1\n", "line 2: 5 fields, expected 6"),
    ("layers", '{"report_type": "weird"}', "JSON report nbperf does not know"),
    ("layers", "{not json", "not valid JSON"),
    ("runs", RUNS + "r50,npu4000,,latency,,\n", "neither latency_ms nor fps"),
    ("runs", RUNS + "r50,npu4000,,fast,1,\n", "must be latency or throughput"),
    ("runs", "Execution results\nthroughput;x\n", "'x' is not a number"),
    ("runs", "layer,time_us\na,1\n", "unknown layout"),
    ("layers", "layer,time_us\n/conv1/Conv,1,2\n", "row 2: more fields than the header has"),
    ("runs", RUNS + "r50,npu4000,,latency,1,2,3\n", "row 2: more fields than the header has"),
    ("runs", "model,arch,mode\nr50,npu4000,latency\n", "lacks the column latency_ms or fps"),
])
def test_bad_files_are_one_line_errors(tmp_path, reader, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    read = read_layer_times if reader == "layers" else read_runs
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        read(path)
    assert "\n" not in info.value.message and "bad.csv" in info.value.message


def test_fixtures_are_what_openvinos_writer_writes(tmp_path):
    """The committed fixtures are byte for byte what the installed OpenVINO writes from the same
    synthetic counters (skipped without the openvino package)."""
    pytest.importorskip("openvino", reason="regenerating needs the openvino package's report writer")
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_measured", DATA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.generate(tmp_path)
    assert len(written) == 8
    for path in written:
        assert filecmp.cmp(path, DATA / path.name, shallow=False), path.name
