"""Every nbperf command in the README's "Using it" block runs as written on the shipped models."""

from __future__ import annotations

import re
import shlex

import pytest
from tests.conftest import REPO_ROOT

from nbperf.cli import main


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using it"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's Using it section has no bash block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("nbperf ")]


def test_the_readme_has_commands():
    commands = readme_commands()
    assert len(commands) >= 15
    assert {c.split()[1] for c in commands} >= {"estimate", "explain", "compare", "sweep", "sweep-report",
                                                "arch", "correlate", "calibrate"}


def test_readme_commands_run_verbatim(tmp_path, monkeypatch, capsys):
    """In order, in a scratch folder that sees the repository's examples and test data (outputs
    land there)."""
    pytest.importorskip("pyarrow", reason="the README's sweep writes Parquet (the sweep extra)")
    pytest.importorskip("plotly", reason="the README writes an HTML report (the html extra)")
    pytest.importorskip("matplotlib", reason="the README's sweep-report draws a PNG (the sweep extra)")
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    (tmp_path / "tests").symlink_to(REPO_ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    for command in readme_commands():
        code = main(shlex.split(command, comments=True)[1:])
        err = capsys.readouterr().err
        assert code == 0, f"{command}: {err}"
    for made in ("out.json", "out.csv", "report.html", "trace.json", "results.parquet", "pareto.png",
                 "pareto.html", "workloads.csv", "corr.html", "npu4000-cal.yaml"):
        assert (tmp_path / made).stat().st_size > 0, made
