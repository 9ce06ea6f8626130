"""The ``table`` backend: cycles per workload key from a file measured or simulated elsewhere.

``--cost table:costs.csv`` reads a CSV (or ``.jsonl``) with a ``key`` and a ``cycles`` column per
row, the keys being those ``nbperf workloads`` exports, DPU workloads and DMA transfers alike
(every other column is ignored: an exported file with a ``cycles`` column added is a table).
Cycles are DPU-clock cycles of one run, set-up included, as VPUNN counts DPU and DMA time. This
is how silicon-profiled, RTL-simulated or VPUNN-costed workloads enter nbperf. A workload whose
key is not in the table is priced by the math model (a transfer by the DMA model) and counted as a
fallback.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from nbperf.arch.model import ArchSpec
from nbperf.cost.descriptors import DMAWorkload, DPUWorkload
from nbperf.cost.external import ExternalBackend
from nbperf.cost.workload import DpuWorkload
from nbperf.errors import UsageError


def read_cycles(path: Path) -> tuple[dict[str, int], set[str]]:
    """``key`` -> ``cycles`` from a CSV or JSON-lines file, and the keys of rows left without cycles
    (not measured; an error where they came from); bad files are one-line errors."""
    if not path.is_file():
        raise UsageError(f"cost table {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cost table {path} cannot be read: {exc}") from None
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise UsageError(f"cost table {path} line {number} is not JSON: {exc.msg}") from None
    else:
        reader = csv.DictReader(text.splitlines())
        missing = {"key", "cycles"} - set(reader.fieldnames or ())
        if missing:
            raise UsageError(f"cost table {path} has no {' or '.join(sorted(missing))} column "
                             f"(it needs 'key' and 'cycles'; columns: {', '.join(reader.fieldnames or [])})")
        rows = [(number, row) for number, row in enumerate(reader, 2)]
    table: dict[str, tuple[int, int]] = {}
    blank: set[str] = set()
    for number, row in rows:
        key, raw = row.get("key"), row.get("cycles")
        if not key:
            raise UsageError(f"cost table {path} line {number} has no key")
        if raw in (None, ""):  # a workload left without a figure (not measured, an error): not a cost
            blank.add(str(key))
            continue
        try:
            cycles = round(float(raw))
        except (TypeError, ValueError):
            raise UsageError(f"cost table {path} line {number}: cycles {raw!r} is not a number") from None
        if cycles < 0:
            raise UsageError(f"cost table {path} line {number}: negative cycles {cycles}")
        seen = table.get(key)
        if seen is not None and seen[0] != cycles:
            raise UsageError(f"cost table {path}: key {key} has {seen[0]} cycles on line {seen[1]} "
                             f"and {cycles} on line {number}")
        table.setdefault(key, (cycles, number))
    return {key: cycles for key, (cycles, _) in table.items()}, blank - set(table)


class TableBackend(ExternalBackend):
    """Cycles per workload key from a file; the math model for keys it does not have."""

    name = "table"

    def __init__(self, path: str | None = None) -> None:
        super().__init__()
        if not path:
            raise UsageError("the table cost model needs a file: --cost table:costs.csv")
        self.path = Path(path)
        self.cycles, self.blank = read_cycles(self.path)
        self._digest = hashlib.sha1(self.path.read_bytes()).hexdigest()[:12]

    @property
    def cache_key(self) -> str:
        return f"table:{self.path.resolve()}@{self._digest}"

    def lookup_dma(self, descriptor: DMAWorkload, arch: ArchSpec) -> int | str:
        return self.lookup(descriptor, None, arch)

    def lookup(self, descriptor: DPUWorkload | DMAWorkload, workload: DpuWorkload | None,
               arch: ArchSpec) -> int | str:
        found = self.cycles.get(descriptor.key)
        if found is not None:
            return found
        return f"{'no cycles in its row' if descriptor.key in self.blank else 'no row'} for {descriptor.key}"
