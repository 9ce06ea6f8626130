"""Per-layer measured times: benchmark_app's counters reports and a plain CSV.

The benchmark_app layouts are those its Python report writer produces
(``openvino/tools/benchmark/utils/statistics_report.py`` in the openvino wheel, 2025.4):

- ``benchmark_detailed_counters_report.csv`` / ``benchmark_average_counters_report.csv``:
  ``;``-separated, header ``layerName;execStatus;layerType;execType;realTime (ms);cpuTime (ms)``,
  one block per request (detailed) or one (average), each closed by a ``Total`` row;
- ``benchmark_sorted_report.csv``: written with ``csv.writer`` (comma-separated), a
  ``proportion (%)`` column, and ``Total time: ... milliseconds`` lines at the end;
- the JSON versions: ``report_type`` detailed / average / sorted, with ``nodes`` lists.

Times are milliseconds with three decimals in all of them; nbperf keeps microseconds. (The
2025.4 writer's average JSON report holds only the first layer: it passes each averaged layer as
a request and keeps the first. nbperf reads what the file holds.)
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbperf.errors import UsageError
from nbperf.measured.text import number, read_text

_COUNTER_HEADER = ["layerName", "execStatus", "layerType", "execType", "realTime (ms)", "cpuTime (ms)"]
_STATUSES = {"EXECUTED", "NOT_RUN", "OPTIMIZED_OUT"}
LAYOUTS = ("benchmark_app counters reports (detailed, average or sorted; CSV or JSON), or a CSV with "
           "columns layer,time_us[,op_type]")


@dataclass(frozen=True)
class MeasuredLayer:
    name: str
    time_us: float  # realTime for benchmark_app files
    op_type: str = ""  # layerType / node_type, or the plain CSV's op_type
    exec_type: str = ""  # the NPU plugin writes DPU, Shave (older: SW) or DMA
    status: str = "EXECUTED"  # EXECUTED, NOT_RUN or OPTIMIZED_OUT
    cpu_time_us: float | None = None


@dataclass(frozen=True)
class MeasuredLayers:
    source: str
    format: str
    layers: tuple[MeasuredLayer, ...]  # one per name, in order of first appearance
    requests: int = 1  # requests averaged (a detailed report has one block per request)
    total_us: float | None = None  # the report's own total real time (per request)


def read_layer_times(path: str | Path) -> MeasuredLayers:
    """The per-layer times in ``path``, whatever layout of ``LAYOUTS`` it has."""
    text = read_text(path)
    source = str(path)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _from_json(text, source)
    first = _first_line(text)
    if first.startswith("layerName;"):
        return _from_counters_csv(text, source)
    if first.startswith("layerName,"):
        return _from_sorted_csv(text, source)
    header = [h.strip() for h in first.split(",")]
    if "layer" in header and "time_us" in header:
        return _from_plain_csv(text, source)
    raise UsageError(f"measured file {source}: unknown layout (first line {first[:60]!r}); nbperf reads "
                     f"{LAYOUTS}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return ""


def _status(raw: str, source: str, where: str) -> str:
    """``Status.EXECUTED`` (str of the OpenVINO enum) or ``EXECUTED`` -> ``EXECUTED``."""
    word = raw.strip().rsplit(".", 1)[-1].upper()
    if word not in _STATUSES:
        raise UsageError(f"measured file {source}: {where}: status {raw!r} is not one of "
                         f"{', '.join(sorted(_STATUSES))}")
    return word


def _averaged(blocks: list[list[MeasuredLayer]]) -> tuple[MeasuredLayer, ...]:
    """One layer per name, averaged over the blocks (requests) it appears in, in first-seen order."""
    if len(blocks) == 1:
        return _unique(blocks[0])
    sums: dict[str, list[Any]] = {}
    for block in blocks:
        for layer in block:
            entry = sums.setdefault(layer.name, [layer, 0.0, 0.0, 0])
            entry[1] += layer.time_us
            entry[2] += layer.cpu_time_us or 0.0
            entry[3] += 1
    return tuple(MeasuredLayer(first.name, real / n, first.op_type, first.exec_type, first.status, cpu / n)
                 for first, real, cpu, n in sums.values())


def _unique(layers: list[MeasuredLayer]) -> tuple[MeasuredLayer, ...]:
    seen: dict[str, MeasuredLayer] = {}
    for layer in layers:
        if layer.name in seen:  # one request lists a layer once; twice is a merged file, added up
            old = seen[layer.name]
            seen[layer.name] = MeasuredLayer(old.name, old.time_us + layer.time_us, old.op_type,
                                             old.exec_type, old.status, None)
        else:
            seen[layer.name] = layer
    return tuple(seen.values())


def _from_counters_csv(text: str, source: str) -> MeasuredLayers:
    blocks: list[list[MeasuredLayer]] = []
    totals: list[float] = []
    current: list[MeasuredLayer] | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(";")
        if cells[0] == "layerName":
            if [c.strip() for c in cells] != _COUNTER_HEADER:
                raise UsageError(f"measured file {source}: line {lineno}: header {line!r} is not "
                                 f"benchmark_app's {';'.join(_COUNTER_HEADER)}")
            current = []
            blocks.append(current)
            continue
        if current is None:
            raise UsageError(f"measured file {source}: line {lineno}: a row before the header")
        if len(cells) != len(_COUNTER_HEADER):
            raise UsageError(f"measured file {source}: line {lineno}: {len(cells)} fields, expected "
                             f"{len(_COUNTER_HEADER)}")
        where = f"line {lineno}"
        if cells[0] == "Total":
            totals.append(number(cells[4], source, where, "realTime (ms)") * 1e3)
            continue
        current.append(MeasuredLayer(
            name=cells[0], status=_status(cells[1], source, where), op_type=cells[2], exec_type=cells[3],
            time_us=number(cells[4], source, where, "realTime (ms)") * 1e3,
            cpu_time_us=number(cells[5], source, where, "cpuTime (ms)") * 1e3))
    blocks = [b for b in blocks if b]
    if not blocks:
        raise UsageError(f"measured file {source}: no layer rows")
    # one block: an average report, or a detailed one of a single request (its name tells)
    kind = "detailed_counters" if len(blocks) > 1 or "detailed" in Path(source).name else "average_counters"
    total = sum(totals) / len(totals) if totals else None
    return MeasuredLayers(source, f"benchmark_app {kind} csv", _averaged(blocks), len(blocks), total)


def _from_sorted_csv(text: str, source: str) -> MeasuredLayers:
    layers: list[MeasuredLayer] = []
    total = None
    rows = csv.reader(io.StringIO(text))
    header = next(rows)
    if [h.strip() for h in header[:6]] != _COUNTER_HEADER:
        raise UsageError(f"measured file {source}: header {','.join(header)[:80]!r} is not benchmark_app's "
                         "sorted report")
    for index, cells in enumerate(rows, 2):
        if not cells or not "".join(cells).strip():
            continue
        if cells[0].startswith("Total time:"):
            total = number(cells[0].removeprefix("Total time:").removesuffix("milliseconds"), source,
                           f"row {index}", "total time") * 1e3
            continue
        if cells[0].startswith("Total CPU time:"):
            continue
        if len(cells) < 6:
            raise UsageError(f"measured file {source}: row {index}: {len(cells)} fields, expected 7")
        where = f"row {index}"
        layers.append(MeasuredLayer(
            name=cells[0], status=_status(cells[1], source, where), op_type=cells[2], exec_type=cells[3],
            time_us=number(cells[4], source, where, "realTime (ms)") * 1e3,
            cpu_time_us=number(cells[5], source, where, "cpuTime (ms)") * 1e3))
    if not layers:
        raise UsageError(f"measured file {source}: no layer rows")
    return MeasuredLayers(source, "benchmark_app sorted csv", _unique(layers), 1, total)


def _from_plain_csv(text: str, source: str) -> MeasuredLayers:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    fields = [f.strip() for f in reader.fieldnames or []]
    if len(set(fields)) != len(fields):
        raise UsageError(f"measured file {source}: a column name is repeated in its header")
    reader.fieldnames = fields
    layers = []
    for index, row in enumerate(reader, 2):
        if None in row:  # DictReader's key for cells past the header: a shifted row, not extra data
            raise UsageError(f"measured file {source}: row {index}: more fields than the header has")
        name = (row.get("layer") or "").strip()
        if not name:
            raise UsageError(f"measured file {source}: row {index}: empty layer name")
        us = number(row.get("time_us"), source, f"row {index}", "time_us")
        layers.append(MeasuredLayer(name, us, (row.get("op_type") or "").strip()))
    if not layers:
        raise UsageError(f"measured file {source}: no layer rows")
    return MeasuredLayers(source, "plain csv", _unique(layers))


def _from_json(text: str, source: str) -> MeasuredLayers:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"measured file {source}: not valid JSON: {exc}") from None
    kind = data.get("report_type") if isinstance(data, dict) else None
    if kind == "detailed" and isinstance(data.get("detailed_performance"), list):
        requests = data["detailed_performance"]
    elif kind in ("average", "sorted") and isinstance(data.get("avg_performance"), dict):
        requests = [data["avg_performance"]]
    else:
        raise UsageError(f"measured file {source}: a JSON report nbperf does not know (report_type "
                         f"{kind!r}); nbperf reads {LAYOUTS}")
    blocks, totals = [], []
    for r, request in enumerate(requests):
        nodes = request.get("nodes") if isinstance(request, dict) else None
        if not isinstance(nodes, list):
            raise UsageError(f"measured file {source}: request {r}: no 'nodes' list")
        block = []
        for i, node in enumerate(nodes):
            where = f"request {r} node {i}"
            if not isinstance(node, dict) or not isinstance(node.get("name"), str):
                raise UsageError(f"measured file {source}: {where}: not a node with a name")
            block.append(MeasuredLayer(
                name=node["name"], status=_status(str(node.get("status", "EXECUTED")), source, where),
                op_type=str(node.get("node_type", "")), exec_type=str(node.get("exec_type", "")),
                time_us=number(node.get("real_time"), source, where, "real_time") * 1e3,
                cpu_time_us=number(node.get("cpu_time", "0"), source, where, "cpu_time") * 1e3))
        blocks.append(block)
        if "total_real_time" in request:
            totals.append(number(request["total_real_time"], source, f"request {r}", "total_real_time") * 1e3)
    blocks = [b for b in blocks if b]
    if not blocks:
        raise UsageError(f"measured file {source}: no layer rows")
    total = sum(totals) / len(totals) if totals else None
    return MeasuredLayers(source, f"benchmark_app {kind} json", _averaged(blocks), len(blocks), total)
