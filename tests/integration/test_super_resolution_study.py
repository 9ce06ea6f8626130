"""The super-resolution study (studies/super_resolution.py, docs/studies/super-resolution.md) on its
smaller inputs: every point has a finite positive latency, the larger input costs more than the
smaller, EDSR has more MACs than FSRCNN, the builder's FSRCNN is the shipped example model, the
what-ifs print as speedups, and both plots are written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tests.conftest import load_study

import nbperf

pytest.importorskip("matplotlib", reason="the study draws PNGs (the sweep extra)")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "models" / "fsrcnn_x2_540p.onnx"


def _rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the markdown table under ``### heading``."""
    section = text.split(f"### {heading}", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def _number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("x"))


def test_quick_study(tmp_path, capsys):
    study = load_study("super_resolution.py")
    assert study.main(["--quick", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    networks = [net for net, _ in study.NETWORKS]
    low, high = (r.label for r in study.QUICK.resolutions)
    totals = {tuple(row[:4]): row for row in _rows(out, "Whole model")}
    points = {(n, r, a, p) for n in networks for r in (low, high)
              for a in study.ARCHS for p in study.PRECISIONS}
    assert set(totals) == points
    for key, row in totals.items():
        gmacs, latency, fps, throughput = (_number(row[i]) for i in (4, 5, 6, 10))
        assert all(math.isfinite(v) and v > 0 for v in (gmacs, latency, fps, throughput)), key
        assert fps == pytest.approx(1e3 / latency, abs=0.006), key
        assert row[7] == study.verdict(fps)
    for net in networks:
        for arch in study.ARCHS:
            for precision in study.PRECISIONS:
                small, large = totals[net, low, arch, precision], totals[net, high, arch, precision]
                assert _number(large[5]) > _number(small[5]), (net, arch, precision)  # 4x the pixels
                assert _number(large[4]) == pytest.approx(4 * _number(small[4]), rel=0.01)
        assert len({totals[net, low, a, p][4] for a in study.ARCHS for p in study.PRECISIONS}) == 1
    assert _number(totals["EDSR-baseline", low, "npu4000", "fp16"][4]) > \
        20 * _number(totals["FSRCNN", low, "npu4000", "fp16"][4])

    # every what-if of every point is a finite positive speedup
    what_ifs = _rows(out, "What-ifs: latency-mode speedup over the base part")
    assert {tuple(row[:4]) for row in what_ifs} == points
    for row in what_ifs:
        speedups = [_number(c) for c in row[6:6 + len(study.QUICK.what_ifs)]]
        assert all(math.isfinite(x) and x > 0 for x in speedups), row
    # the sub-pixel form removes FSRCNN's inserted zeros: its deconvolution gets faster on both parts
    changes = {tuple(r[:4]): r for r in _rows(out, f"What-ifs at {low}: the layer each changes most")}
    for arch in study.ARCHS:
        row = changes["FSRCNN", arch, "fp16", "sub-pixel deconv"]
        assert row[5] == "deconv" and _number(row[7]) < _number(row[6])

    slowest = _rows(out, f"FSRCNN, {low}, npu4000, fp16: the {study.TOP_LAYERS} slowest layers")
    assert slowest[0][0] == "deconv" and slowest[-1][0] == "**whole model**"

    for name, _ in study.PLOTS:
        png = tmp_path / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_builders_fsrcnn_is_the_shipped_example():
    """The study builds FSRCNN itself; at 960x540 it is examples/models/fsrcnn_x2_540p.onnx (PyTorch's
    export) layer for layer, so both estimate alike."""
    study = load_study("super_resolution.py")
    ours = nbperf.estimate(nbperf.load(study.fsrcnn(540, 960)), "npu4000", precision="fp16")
    shipped = nbperf.estimate(str(EXAMPLE), "npu4000", precision="fp16")
    assert ours.macs == shipped.macs
    assert ours.latency_ns == pytest.approx(shipped.latency_ns, rel=1e-9)
    assert [t.duration_ns for t in ours.schedule.tasks] == \
        pytest.approx([t.duration_ns for t in shipped.schedule.tasks], rel=1e-9)
