"""``nbperf sweep-report``: Pareto fronts, the geomean over models, reading and plotting results.

Every results frame here is SYNTHETIC: hand-made rows in the column layout ``nbperf sweep`` writes,
with numbers chosen to exercise the analysis, not estimates of any real model or design.
"""

from __future__ import annotations

import math
import random
import sys

import pytest
from rich.console import Console

from nbperf.errors import UsageError
from nbperf.report.sweep_report import (
    GEOMEAN,
    Front,
    FrontPoint,
    axis,
    pareto_mask,
    read_results,
    render,
    sweep_report,
    write_html,
    write_png,
)

NO_PANDAS = "pandas is absent: sweep results need the sweep extra (pip install 'nbperf[sweep]')"
NO_PYARROW = "pyarrow is absent: Parquet results need the sweep extra (pip install 'nbperf[sweep]')"
NO_MATPLOTLIB = "matplotlib is absent: the PNG plot needs it (pip install matplotlib)"
NO_PLOTLY = "plotly is absent: the HTML plot needs the html extra (pip install 'nbperf[html]')"

# The hand-made front (both metrics lower is better):
#   I (0.5, 12), A (1, 10), B (2, 5), E (4, 2), F (4, 2) = E's duplicate, H (6, 1)  on the front
#   C (2, 7): same x as B, worse y;  D (3, 5): same y as B, worse x;  G (5, 3): dominated by E
HAND = {"A": (1, 10), "B": (2, 5), "C": (2, 7), "D": (3, 5), "E": (4, 2), "F": (4, 2), "G": (5, 3),
        "H": (6, 1), "I": (0.5, 12)}
HAND_FRONT = {"I", "A", "B", "E", "F", "H"}


def _dominated_brute(xs, ys, i):
    return any(xs[j] <= xs[i] and ys[j] <= ys[i] and (xs[j] < xs[i] or ys[j] < ys[i]) for j in range(len(xs)))


def test_hand_made_front_with_dominated_duplicate_and_tie_points():
    names = list(HAND)
    mask = pareto_mask([HAND[n][0] for n in names], [HAND[n][1] for n in names])
    assert {n for n, on in zip(names, mask, strict=True) if on} == HAND_FRONT


def test_maximised_metric_flips_the_direction():
    """The same points with y as a throughput (1/y, higher is better) have the same front."""
    names = list(HAND)
    mask = pareto_mask([HAND[n][0] for n in names], [1 / HAND[n][1] for n in names], maximise_y=True)
    assert {n for n, on in zip(names, mask, strict=True) if on} == HAND_FRONT
    # Maximising x instead (y still minimised): H has the largest x and the best y, so it beats all.
    mask = pareto_mask([HAND[n][0] for n in names], [HAND[n][1] for n in names], maximise_x=True)
    assert {n for n, on in zip(names, mask, strict=True) if on} == {"H"}


def test_front_agrees_with_brute_force_on_random_points_with_many_ties():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(0, 25)
        xs = [rng.randint(0, 6) for _ in range(n)]  # small ranges: many equal x, equal y, duplicates
        ys = [rng.randint(0, 6) for _ in range(n)]
        assert pareto_mask(xs, ys) == [not _dominated_brute(xs, ys, i) for i in range(n)]


def test_axis_directions():
    assert axis("latency_ms").maximise is False
    assert axis("throughput_fps").maximise is True
    assert axis("area_proxy_macs").label.startswith("area proxy")
    assert axis("grid.tiles:min") == axis("grid.tiles:min") and axis("grid.tiles:max").maximise
    with pytest.raises(UsageError, match=r"grid\.tiles:min or grid\.tiles:max"):
        axis("grid.tiles")  # no known direction: say it rather than guess


# ---------------------------------------------------------------------------------------------
# Synthetic results files


def _row(model: str, point: str, tiles: int, macs_per_tile: int, latency_ms: float | None,
         error: str = "") -> dict:
    """One SYNTHETIC results row with every column nbperf sweep writes."""
    ok = not error

    def num(value):
        return value if ok else None  # a failed row's figures are null

    fps = 1e3 / latency_ms if latency_ms else None
    return {
        "model": model, "model_path": f"/synthetic/{model}", "point": point,
        "arch": f"npu4000+dpu.macs_per_tile={macs_per_tile}+tiles={tiles}", "error": error,
        "grid.dpu.macs_per_tile": macs_per_tile, "grid.tiles": tiles, "grid.precision": "int8",
        "precision": "int8", "latency_ms": num(latency_ms), "fps": num(fps), "device_ms": num(latency_ms),
        "host_us": num(10.0), "throughput_fps": num(fps), "latency_hint_ms": num(latency_ms),
        "macs": num(1_000_000), "achieved_tops": num(1.0), "peak_tops": num(10.0),
        "mac_utilisation": num(0.5), "ddr_bytes": num(1e6), "weight_ddr_bytes": num(5e5),
        "activation_ddr_bytes": num(5e5), "spilled_bytes": num(0.0), "peak_cmx_bytes": num(1e5),
        "layers": num(3), "uncosted_ops": num(0), "tiles": num(tiles), "macs_per_tile": num(macs_per_tile),
        "area_proxy_macs": num(tiles * macs_per_tile), "cmx_bytes_per_tile": num(2 ** 21),
        "ddr_bandwidth_gbps": num(64.0), "dpu_frequency_mhz": num(1850.0),
        "input_shapes": "input=1x3x8x8", "strategies": "", "policy": "greedy", "cost_model": "analytic",
        "schedule": "serial", "strategy_search_exact": True, "nbperf_version": "0.0.0+synthetic",
    }


def _label(tiles: int, mpt: int) -> str:
    return f"dpu.macs_per_tile={mpt},tiles={tiles},precision=int8"


# SYNTHETIC latencies (ms) per (tiles, macs_per_tile). Model a: (2, 2048) and (4, 1024) have the same
# area and latency (a duplicate on the front); (4, 2048) has the area of (2, 4096) and a worse latency
# (a tie in x, dominated); (6, 4096) is bigger and slower than (4, 4096). Model b fails at (4, 4096)
# and lacks (6, 4096) altogether.
LAT_A = {(2, 1024): 4.0, (2, 2048): 2.5, (4, 1024): 2.5, (4, 2048): 2.2, (2, 4096): 2.0, (4, 4096): 1.5,
         (6, 4096): 1.6}
LAT_B = {(2, 1024): 9.0, (2, 2048): 5.0, (4, 1024): 6.0, (4, 2048): 3.0, (2, 4096): 4.0}


def _frame():
    pd = pytest.importorskip("pandas", reason=NO_PANDAS)
    rows = [_row("a.onnx", _label(t, m), t, m, lat) for (t, m), lat in LAT_A.items()]
    rows += [_row("b.onnx", _label(t, m), t, m, lat) for (t, m), lat in LAT_B.items()]
    rows.append(_row("b.onnx", _label(4, 4096), 4, 4096, None, error="infeasible: does not fit CMX"))
    return pd.DataFrame(rows)


@pytest.fixture
def results_parquet(tmp_path):
    pytest.importorskip("pyarrow", reason=NO_PYARROW)
    path = tmp_path / "results.parquet"
    _frame().to_parquet(path, index=False)
    return path


def _front(report, name) -> Front:
    return next(f for f in report.fronts if f.name == name)


def test_model_fronts_from_a_results_file(results_parquet):
    report = sweep_report(results_parquet)
    assert report.models == ("a.onnx", "b.onnx") and report.fronts[-1].name == GEOMEAN
    a = _front(report, "a.onnx")
    assert [p.x for p in a.points] == sorted(p.x for p in a.points)  # sorted by x
    assert {p.point for p in a.front} == {_label(2, 1024), _label(2, 2048), _label(4, 1024),
                                          _label(2, 4096), _label(4, 4096)}
    # Equal x: the best y first (the dominated point last); equal x and y: by label, as text.
    assert [p.point for p in a.points if p.x == 8192] == [_label(2, 4096), _label(4, 2048)]
    assert [p.point for p in a.points if p.x == 4096] == [_label(4, 1024), _label(2, 2048)]
    slowest = next(p for p in a.points if p.point == _label(2, 1024))
    fastest = next(p for p in a.points if p.point == _label(4, 4096))
    assert slowest.speedup == 1.0 and fastest.speedup == pytest.approx(4.0 / 1.5)
    assert dict(fastest.grid) == {"dpu.macs_per_tile": 4096, "tiles": 4, "precision": "int8"}
    assert report.grid_keys == ("dpu.macs_per_tile", "tiles", "precision")


def test_error_rows_are_excluded_and_counted(results_parquet):
    report = sweep_report(results_parquet)
    assert report.rows == len(LAT_A) + len(LAT_B) + 1
    assert report.error_rows == 1
    assert report.error_reasons == (("infeasible: does not fit CMX", 1),)
    b = _front(report, "b.onnx")
    assert len(b.points) == len(LAT_B) and _label(4, 4096) not in {p.point for p in b.points}
    assert any("1 point failed" in n for n in b.notes)
    text = _rendered(report)
    assert "1 failed row excluded: 1 x infeasible: does not fit CMX" in text


def test_geomean_ignores_points_missing_on_some_model_and_says_so(results_parquet):
    report = sweep_report(results_parquet)
    geo = report.geomean
    assert geo is not None
    common = sorted(set(LAT_A) & set(LAT_B))
    assert sorted(p.point for p in geo.points) == sorted(_label(t, m) for t, m in common)
    # (4, 4096) failed on b and (6, 4096) is absent from b: both dropped, and named.
    assert set(report.dropped_from_geomean) == {f"{_label(4, 4096)} (not on b.onnx)",
                                                f"{_label(6, 4096)} (not on b.onnx)"}
    assert any("2 points dropped, not successful on every model" in n for n in geo.notes)
    for p in geo.points:
        t, m = dict(p.grid)["tiles"], dict(p.grid)["dpu.macs_per_tile"]
        assert p.x == t * m  # the same on both models: exact, not exp(mean(log)) rounded
        assert p.y == pytest.approx(math.sqrt(LAT_A[(t, m)] * LAT_B[(t, m)]))
    # geomeans: (2,1024) 6.0, (2,2048) 3.54, (4,1024) 3.87, (4,2048) 2.57, (2,4096) 2.83
    assert {p.point for p in geo.front} == {_label(2, 1024), _label(2, 2048), _label(4, 2048)}
    assert "2 points dropped" in _rendered(report)


def test_one_model_has_no_geomean(tmp_path):
    pytest.importorskip("pyarrow", reason=NO_PYARROW)
    frame = _frame()
    path = tmp_path / "one.parquet"
    frame[frame["model"] == "a.onnx"].to_parquet(path, index=False)
    report = sweep_report(path)
    assert report.geomean is None and [f.name for f in report.fronts] == ["a.onnx"]


def test_throughput_front_takes_its_direction(results_parquet):
    by_latency = sweep_report(results_parquet)
    by_throughput = sweep_report(results_parquet, y="throughput_fps")
    assert by_throughput.y.maximise
    for lat, thr in zip(by_latency.fronts, by_throughput.fronts, strict=True):
        assert {p.point for p in lat.front} == {p.point for p in thr.front}


def test_repeated_rows_keep_the_first(tmp_path):
    pytest.importorskip("pyarrow", reason=NO_PYARROW)
    pd = pytest.importorskip("pandas", reason=NO_PANDAS)
    frame = _frame()
    again = frame.iloc[[0]].assign(latency_ms=0.1)  # the same (model, point), a different figure
    path = tmp_path / "twice.parquet"
    pd.concat([frame, again]).to_parquet(path, index=False)
    report = sweep_report(path)
    first = next(p for p in _front(report, "a.onnx").points if p.point == frame.iloc[0]["point"])
    assert first.y == frame.iloc[0]["latency_ms"]
    assert any("1 repeated (model, point) rows ignored" in n for n in report.notes)


def test_parquet_and_csv_read_back_the_same(tmp_path):
    pytest.importorskip("pyarrow", reason=NO_PYARROW)
    frame = _frame()
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    frame.to_csv(tmp_path / "r.csv", index=False)
    pq, csv = read_results(tmp_path / "r.parquet"), read_results(tmp_path / "r.csv")
    assert list(pq.columns) == list(csv.columns) == list(frame.columns)
    for got in (pq, csv):
        assert (got["error"] == "").sum() == len(frame) - 1  # empty, never null, where it succeeded
        assert got["point"].tolist() == frame["point"].tolist()
        assert got["latency_ms"].tolist()[:3] == frame["latency_ms"].tolist()[:3]
    assert sweep_report(tmp_path / "r.parquet").fronts == sweep_report(tmp_path / "r.csv").fronts


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "r.csv"
    _frame().drop(columns=["point", "latency_ms"]).to_csv(path, index=False)
    with pytest.raises(UsageError, match=r"lacks the columns point, latency_ms"):
        sweep_report(path)
    with pytest.raises(UsageError, match=r"lacks the column point "):
        read_results(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("absent.parquet", None, "no such file"),
    ("garbage.parquet", b"not parquet at all", "cannot read"),
    ("empty.csv", b"", "cannot read"),
    ("results.json", b"{}", "expected a .parquet or .csv file"),
])
def test_unreadable_files_are_one_usage_error(tmp_path, name, content, message):
    pytest.importorskip("pandas", reason=NO_PANDAS)
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow", reason=NO_PYARROW)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        read_results(path)


@pytest.mark.parametrize(("module", "suffix", "message"), [
    ("pandas", ".csv", r"needs pandas: pip install 'nbperf\[sweep\]'"),
    ("pyarrow", ".parquet", r"needs pyarrow: pip install 'nbperf\[sweep\]'"),
])
def test_a_missing_library_names_the_extra(tmp_path, monkeypatch, module, suffix, message):
    if module == "pyarrow":
        pytest.importorskip("pandas", reason=NO_PANDAS)  # read first, so its absence would be named
    path = tmp_path / f"r{suffix}"
    path.write_bytes(b"model,point,error\n")
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    with pytest.raises(UsageError, match=message):
        read_results(path)


def test_plots_without_their_library_are_a_usage_error(tmp_path, monkeypatch):
    front = Front("a.onnx", axis("area_proxy_macs"), axis("latency_ms"), ())
    # hide the package and every submodule another test may have imported already (a cached
    # submodule imports even when its package is hidden)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"matplotlib: pip install .nbperf\[sweep\]."):
        write_png([front], tmp_path / "f.png")
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(UsageError, match=r"pip install 'nbperf\[html\]'"):
        write_html([front], tmp_path / "f.html")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_x_and_y_must_differ(results_parquet):
    with pytest.raises(UsageError, match="both latency_ms"):
        sweep_report(results_parquet, x="latency_ms", y="latency_ms")


def test_axis_must_be_numeric(results_parquet):
    with pytest.raises(UsageError, match=r"grid\.precision is not numeric"):
        sweep_report(results_parquet, x="grid.precision:min")


def _rendered(report) -> str:
    console = Console(record=True, width=250, color_system=None)
    for item in render(report):
        console.print(item)
    return console.export_text()


def test_render_lists_every_point_and_marks_the_front(results_parquet):
    text = _rendered(sweep_report(results_parquet))
    # A row in a's table and the geomean's note that dropped it: b failed there.
    assert text.count(_label(4, 4096)) == 2 and f"{_label(4, 4096)} (not on b.onnx)" in text
    assert "a.onnx: 5 of 7 points on the front" in text
    assert "geometric mean over models: 3 of 5 points on the front" in text
    assert "area_proxy_macs" in text and "latency_ms" in text and "speedup" in text


# ---------------------------------------------------------------------------------------------
# Plots


def test_png_is_written_and_is_a_png(results_parquet, tmp_path):
    pytest.importorskip("matplotlib", reason=NO_MATPLOTLIB)
    png = tmp_path / "fronts.png"
    report = sweep_report(results_parquet, png=png)
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    write_png(report.fronts, tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == data  # deterministic


def test_html_is_self_contained_and_names_the_points(results_parquet, tmp_path):
    pytest.importorskip("plotly", reason=NO_PLOTLY)
    html = tmp_path / "fronts.html"
    report = sweep_report(results_parquet, html=html)
    text = html.read_text(encoding="utf-8")
    assert "plotly.js v" in text and len(text) > 1_000_000  # the bundle itself is inlined
    assert 'src="https://cdn.plot.ly' not in text and "src='https://cdn.plot.ly" not in text
    for t, m in LAT_A:
        assert _label(t, m) in text
    assert "model: a.onnx" in text and "geometric mean over models" in text
    write_html(report.fronts, tmp_path / "again.html")
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == text  # deterministic


def test_plots_of_a_front_without_points(tmp_path):
    """A model whose every point failed still gets a panel (saying so), not a crash."""
    pytest.importorskip("matplotlib", reason=NO_MATPLOTLIB)
    pytest.importorskip("plotly", reason=NO_PLOTLY)
    empty = Front("c.onnx", axis("area_proxy_macs"), axis("latency_ms"), ())
    one = Front("d.onnx", empty.x, empty.y, (FrontPoint("p", (), 1.0, 2.0, True, 1.0),))
    write_png([empty, one], tmp_path / "e.png")
    write_html([empty, one], tmp_path / "e.html")
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    assert "model: c.onnx" in (tmp_path / "e.html").read_text(encoding="utf-8")
