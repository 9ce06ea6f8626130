"""The weight-sparsity study (studies/sparsity.py, docs/studies/sparsity.md) on its small network:
pruning moves fewer weight bytes at 75% than at 50% than dense, a pruned layer's stored weights are
under 0.6x raw at 50% (fp16), latency never rises with sparsity, and both plots are written."""

from __future__ import annotations

import pytest
from tests.conftest import load_study

pytest.importorskip("matplotlib", reason="the study draws PNGs (the sweep extra)")


def _study():
    return load_study("sparsity.py")


def _rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the markdown table under ``### heading``."""
    section = text.split(f"### {heading}", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_quick_study(tmp_path, capsys):
    study = _study()
    assert study.main(["--quick", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    totals = _rows(out, "Whole model")
    by_case: dict[tuple[str, str], dict[str, list[str]]] = {}
    for row in totals:
        by_case.setdefault((row[0], row[1]), {})[row[2]] = row
    assert set(by_case) == {(a, p) for a in study.ARCHS for p in study.PRECISIONS}
    for case, rows in by_case.items():
        assert list(rows) == ["dense", "50%", "75%"], case
        weights = [_number(rows[v][8]) for v in rows]
        assert weights[2] < weights[1] < weights[0], (case, weights)
        latency = [_number(rows[v][3]) for v in rows]
        assert latency[2] <= latency[1] <= latency[0], (case, latency)

    network = _rows(out, "The network and its weights")
    layers = {row[0]: row for row in network if not row[0].startswith("**")}
    assert layers["conv1"][5] == "0.0% / 0.0%"  # the first conv stays dense
    assert layers["conv1"][6] == layers["conv1"][8]
    pruned = [row for name, row in layers.items() if name != "conv1"]
    assert all(row[5] == "50.0% / 75.0%" for row in pruned)
    large = [row for row in pruned if _number(row[6]) >= 50]  # fp16 raw kB
    assert large
    for row in large:
        raw, half, quarter = _number(row[6]), _number(row[7]), _number(row[8])
        assert quarter < half < 0.6 * raw, row

    for name, _ in study.PLOTS:
        png = tmp_path / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
