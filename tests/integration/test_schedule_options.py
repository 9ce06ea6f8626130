"""Schedule options on the command line: emulator-only options are usage errors with the serial
schedule, the report shows what the emulator ran with, explain words the compiler policy's pick
honestly, and a failure inside the emulator is reported as nbperf's bug (exit 3), not the user's."""

from __future__ import annotations

import json

import pytest
from tests.conftest import EXAMPLES
from tests.integration.test_cli import one_error_line, run

import nbperf
from nbperf.errors import InternalError, UsageError

RESNET = str(EXAMPLES / "resnet50.onnx")


@pytest.mark.parametrize("option", [["--barriers", "8"], ["--prefetch-depth", "2"]])
def test_emulator_options_with_the_serial_schedule_are_usage_errors(capsys, option):
    code, _, err = run(capsys, "estimate", RESNET, *option)
    assert code == 2
    assert "needs --schedule emulator" in one_error_line(err)
    with pytest.raises(UsageError):
        nbperf.estimate(RESNET, "npu4000", barriers=8)


def test_the_report_shows_the_forced_barrier_count(capsys, tmp_path):
    path = tmp_path / "r.json"
    code, out, err = run(capsys, "estimate", RESNET, "--arch", "npu4000", "--schedule", "emulator",
                         "--barriers", "12", "--json", str(path))
    assert code == 0, err
    assert "of 12 in flight at most" in out  # the arch has 96; the run had 12
    emulation = json.loads(path.read_text())["emulation"]
    assert emulation["barriers_available"] == 12 and emulation["barriers_used"] <= 12


def test_cost_emulator_is_still_accepted_for_the_emulator_schedule(capsys):
    code, out, err = run(capsys, "explain", RESNET, "--cost", "emulator", "--layer",
                         "/layer1/layer1.0/conv2/Conv")
    assert code == 0, err
    assert "(emulated)" in out


def test_explain_under_the_compiler_policy_never_prints_a_negative_increase(capsys):
    code, out, err = run(capsys, "explain", RESNET, "--arch", "npu4000", "--policy", "compiler", "--layer",
                         "/layer3/layer3.0/conv2/Conv")
    assert code == 0, err
    text = " ".join(out.split())
    assert "+-" not in text and "lowest whole-graph cost" not in text
    assert "the compiler's greedy pick" in text
    cells = " ".join(text.replace("│", " ").split())
    assert "better than the compiler policy's pick" in cells


def _break_the_barrier_free_order(monkeypatch):
    """Make every task wait for the one after it: a dependency cycle no hardware can run."""
    import nbperf.schedule.emulator as emulator

    def cyclic(tasks, engine):
        return [[i + 1] if i + 1 < len(tasks) else [] for i in range(len(tasks))]

    monkeypatch.setattr(emulator, "reduce_dependencies", cyclic)


def test_an_emulator_deadlock_is_an_internal_error_not_bad_input(monkeypatch, capsys):
    _break_the_barrier_free_order(monkeypatch)
    with pytest.raises(InternalError, match="deadlocked"):
        nbperf.estimate(RESNET, "npu4000", schedule="emulator")
    code, _, err = run(capsys, "estimate", RESNET, "--schedule", "emulator")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 3 and len(lines) == 1
    assert "internal error" in lines[0] and "a bug in nbperf" in lines[0]
