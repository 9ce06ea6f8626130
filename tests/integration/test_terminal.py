"""The terminal report reads well at any width: the bound column is always there, the table fits,
no line is padded with spaces, --top sorts, choices ignore case, --verbose shows every column."""

from __future__ import annotations

import re

import pytest
from tests.conftest import EXAMPLES

from nbperf.cli import main

RESNET = str(EXAMPLES / "resnet50.onnx")
FSRCNN = str(EXAMPLES / "fsrcnn_x2_540p.onnx")


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _header(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


@pytest.mark.parametrize("columns", [80, 100, 120, 200])
def test_table_fits_and_keeps_bound(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run(capsys, "estimate", RESNET)
    assert code == 0, err
    header = _header(out)
    assert {"layer", "time us", "bound"} <= set(header), header
    assert max(len(line) for line in out.splitlines()) <= columns
    assert not any(line.endswith(" ") for line in out.splitlines())
    if columns < 200:
        assert "not shown at this width" in out
    assert "time us: the layer's whole time" in out  # the legend


def test_narrow_terminal_drops_the_least_useful_columns_first(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    wide = set(_header(run(capsys, "estimate", RESNET)[1]))
    assert "cycles" not in wide and "why" not in wide  # the first to go
    assert "util" in wide  # among the last


def test_verbose_shows_why_and_the_stage_times(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run(capsys, "estimate", FSRCNN, "--verbose", "--top", "1")
    assert code == 0 and "why" in _header(out)
    assert "56->1 channels padded to 64->16" in " ".join(out.replace("│", " ").split())
    assert "estimate's own time: frontend" in out


def test_top_lists_slowest_first_with_times(capsys):
    code, out, _ = run(capsys, "estimate", RESNET, "--top", "5")
    assert code == 0 and "the 5 slowest of 72 layers, slowest first" in out.replace("\n", " ")
    rows = [line for line in out.splitlines() if line.startswith("│") and "/" in line]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    index = _header(out).index("time us")
    times = [float(c[index].replace(",", "")) for c in cells if c[index]]
    assert len(times) == 5 and times == sorted(times, reverse=True)


@pytest.mark.parametrize("argv", [["--precision", "INT8"], ["--policy", "Compiler"], ["--schedule", "SERIAL"],
                                  ["--mode", "Throughput"]])
def test_choices_ignore_case(capsys, argv):
    code, _, err = run(capsys, "estimate", FSRCNN, "-q", *argv)
    assert code == 0, err


@pytest.mark.parametrize("command", ["estimate", "explain", "compare", "sweep", "sweep-report"])
def test_help_lists_choices_and_an_example_without_python_types(capsys, command):
    code, out, _ = run(capsys, command, "-h")
    assert code == 0 and "Example: nbperf " + command in out.replace("\n", " ").replace("  ", " ")
    ours = "\n".join(line for line in out.splitlines() if "--help" not in line)  # typer's own flag
    assert not re.search(r"<(list\[str\]|str|int|bool)>", ours), out
    if command == "estimate":
        assert "<int8|fp16>" in out and "<optimal|compiler>" in out


def test_quiet_and_verbose_contradict(capsys):
    code, _, err = run(capsys, "estimate", FSRCNN, "-q", "-v")
    assert code == 2 and "contradict" in err


def test_explain_json_to_stdout(capsys):
    import json

    code, out, err = run(capsys, "explain", RESNET, "--layer", "/conv1/Conv", "--json", "-")
    assert code == 0, err
    record = json.loads(out)
    assert record["layer"] == "/conv1/Conv" and sum(c["chosen"] for c in record["candidates"]) == 1
    code, out, _ = run(capsys, "explain", RESNET, "--json", "-")
    assert code == 0 and len(json.loads(out)["layers"]) == 72


@pytest.mark.parametrize("columns", [80, 100, 150, 200])
def test_explain_never_breaks_a_header_and_keeps_the_reasons(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(capsys, "explain", RESNET, "--layer", "/conv1/Conv")
    assert code == 0
    header = [cell.strip() for cell in next(line for line in out.splitlines() if "strategy" in line
                                               and line.startswith("┃")).strip("┃").split("┃")]
    assert header[:4] == ["strategy", "legal", "CMX/tile", "fits"]
    assert "lowest whole-graph cost" in out.replace("\n", " ").replace("│", " ") or "SOH:" in out
    assert max(len(line) for line in out.splitlines()) <= columns
