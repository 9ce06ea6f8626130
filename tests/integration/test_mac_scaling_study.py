"""The MAC-scaling study (studies/mac_scaling.py, docs/studies/mac-scaling.md) runs on a small model
set: doubling the MACs per tile never slows a model down and at most doubles its speed, 16
accumulator contexts are never faster than 64, and both plots are written."""

from __future__ import annotations

import re

import pytest
from tests.conftest import EXAMPLES, load_study

pytest.importorskip("matplotlib", reason="the study draws PNGs (the sweep extra)")


def _study():
    return load_study("mac_scaling.py")


def _latency_rows(text: str) -> list[list[str]]:
    section = text.split("### Latency and the 4K/2K speedup", 1)[1].split("\n### ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| model") and not line.startswith("| ---")]
    return [r for r in rows if not r[0].startswith("**")]


def test_resnet50_fp16(tmp_path, capsys):
    study = _study()
    argv = [str(EXAMPLES / "resnet50.onnx"), "--precision", "fp16", "--img-dir", str(tmp_path)]
    assert study.main(argv) == 0
    out = capsys.readouterr().out

    rows = _latency_rows(out)
    assert [r[:2] for r in rows] == [["resnet50", "fp16"]]
    for row in rows:
        lat = dict(zip(study.POINTS, (float(v) for v in row[2:6]), strict=True))
        for contexts in study.CONTEXTS:
            speedup = lat[f"2K/{contexts}"] / lat[f"4K/{contexts}"]
            assert 1.0 <= speedup <= 2.0, (contexts, speedup)
            assert 1.0 <= float(row[6 if contexts == 64 else 7]) <= 2.0
        for macs in ("2K", "4K"):
            assert lat[f"{macs}/16"] >= lat[f"{macs}/64"], macs  # 16 contexts never faster
            assert float(row[8 if macs == "2K" else 9]) >= 1.0

    assert "### resnet50, fp16: layers that gain and layers that do not" in out
    assert not re.search(r"\(whole model\)", out), "a whole-model anomaly: see the study's anomaly table"
    for name in ("mac-scaling-speedup.png", "mac-scaling-resnet50-intensity.png"):
        png = tmp_path / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_whole_model_checks_on_the_runs():
    """The same checks on the study's own numbers, not its printed rounding."""
    study = _study()
    run = study.run_model(EXAMPLES / "resnet50.onnx", "fp16")
    for contexts in study.CONTEXTS:
        assert 1.0 <= run.speedup(contexts) <= 2.0
    for macs in ("2K", "4K"):
        assert run.context_cost(macs) >= 1.0
    assert not [a for a in study.anomalies([run]) if a.layer == "(whole model)"]
