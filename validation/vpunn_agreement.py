"""The math model's per-workload agreement with Intel's VPUNN, from the stored fixture.

Reads tests/data/vpunn/workloads.csv (made by validation/vpunn_fixture.py) and prints, per part
and op class, how many workloads the math model prices within +-10% and +-25% of VPUNN, the median
and the run-weighted ratio math / VPUNN, and the workloads furthest apart. ``--write`` puts the
tables into docs/validation.md between its vpunn-agreement markers; ``--check`` fails when the page
is not what the fixture gives.

    python validation/vpunn_agreement.py --write
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "vpunn"
PAGE = ROOT / "docs" / "validation.md"
BEGIN, END = "<!-- vpunn-agreement:begin -->", "<!-- vpunn-agreement:end -->"
WORST = 12


def op_class(row: dict[str, str]) -> str:
    """The workload's class: VPUNN's operation, convolutions split by kernel and matmuls apart."""
    op = row["operation"]
    if row["op_type"] in ("MatMul", "Gemm"):
        return "matmul"
    if op == "CONVOLUTION":
        return "conv 1x1" if row["kernel_width"] == row["kernel_height"] == "1" else "conv kxk"
    return {
        "CM_CONVOLUTION": "conv <16 ch",
        "DW_CONVOLUTION": "depthwise",
        "MAXPOOL": "pool",
        "ELTWISE": "eltwise",
    }.get(op, op.lower())


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def report(rows: list[dict[str, str]], meta: dict) -> str:
    priced = [r for r in rows if r["cycles"]]
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in priced:
        groups[(r["part"], op_class(r))].append(r)
        groups[(r["part"], "all")].append(r)
    models = ", ".join(f"{part}: {source['vpunn_model']}" for part, source in meta["parts"].items())
    lines = [
        f"Fixture: {len(rows)} plan workloads of the shared models on npu3720 and npu4000, at the model's "
        f"own precision and at int8, costed by VPUNN at intel/npu-nn-cost-model@{meta['vpunn_commit'][:7]} "
        f"({models}) on {meta['date']}; "
        f"{meta['rows_with_vpunn_error']} of them VPUNN refused (below). Ratio = math / VPUNN cycles of one "
        "workload (< 1: the math model is faster); weighted = the ratio of their sums over every run "
        "(`count`), what a layer's time sees.",
        "",
        "| part | op class | workloads | within ±10% | within ±25% | median ratio | weighted ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (part, cls), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
        ratios = [int(r["math_cycles"]) / int(r["cycles"]) for r in group]
        within10 = sum(1 for x in ratios if abs(x - 1) <= 0.10)
        within25 = sum(1 for x in ratios if abs(x - 1) <= 0.25)
        runs_math = sum(int(r["math_cycles"]) * max(1, int(r["count"])) for r in group)
        runs_vpunn = sum(int(r["cycles"]) * max(1, int(r["count"])) for r in group)
        label = f"**{cls}**" if cls == "all" else cls
        lines.append(
            f"| {part} | {label} | {len(group)} | {_pct(within10, len(group))} | "
            f"{_pct(within25, len(group))} | {statistics.median(ratios):.2f} | "
            f"{runs_math / runs_vpunn:.2f} |"
        )
    lines += [
        "",
        f"The {WORST} workloads furthest apart (by |log ratio|, one per key):",
        "",
        "| part | model | layer | class | output WxHxCxB | kernel | mode (math / VPUNN) "
        "| math | VPUNN | ratio |",
        "|---|---|---|---|---|---|---|---:|---:|---:|",
    ]
    seen: set[str] = set()
    for r in sorted(priced, key=lambda r: -abs(math.log(int(r["math_cycles"]) / int(r["cycles"])))):
        if r["key"] in seen:
            continue
        seen.add(r["key"])
        shape = "x".join(r[f"output_0_{d}"] for d in ("width", "height", "channels", "batch"))
        lines.append(
            f"| {r['part']} | {r['model']} | `{r['layer_info']}` | {op_class(r)} | {shape} | "
            f"{r['kernel_width']}x{r['kernel_height']}/{r['kernel_stride_width']} | "
            f"{r['math_mode']} / {r['vpunn_mode']} | {int(r['math_cycles']):,} | {int(r['cycles']):,} | "
            f"{int(r['math_cycles']) / int(r['cycles']):.2f} |"
        )
        if len(seen) == WORST:
            break
    errors: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["vpunn_error"]:
            errors[f"{r['part']}, {op_class(r)}: {r['vpunn_error'].split(':')[0]}"] += 1
    lines += [
        "",
        "Workloads VPUNN refused (the `vpunn` backend prices these with the math model and says why):",
        "",
    ]
    lines += [f"- {what}: {n}" for what, n in sorted(errors.items(), key=lambda kv: -kv[1])] or ["- none"]
    return "\n".join(lines) + "\n"


SIZES = ((4096, "< 4 kB"), (65536, "4-64 kB"), (1 << 20, "64 kB-1 MB"), (float("inf"), ">= 1 MB"))


def dma_report(rows: list[dict[str, str]]) -> str:
    """The DMA model against VPUNN's DMA networks, transfer by transfer."""
    priced = [r for r in rows if r["cycles"]]
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in priced:
        ratio = int(r["math_cycles"]) / int(r["cycles"])
        size = next(label for limit, label in SIZES if int(r["bytes"]) < limit)
        groups[(r["part"], r["direction"], size)].append(ratio)
        groups[(r["part"], "all", "all")].append(ratio)
    order = {label: i for i, (_, label) in enumerate(SIZES)}
    lines = [
        f"DMA: {len(rows)} plain transfers of the same plans' task graphs (permute DMAs left out: nbperf "
        f"prices them element by element whatever the cost model), priced by VPUNN's DMA networks; "
        f"{len(rows) - len(priced)} refused. Ratio = the DMA model's time for the transfer alone (set-up, "
        "DDR latency, its channel's rate) / VPUNN's, both in DPU cycles.",
        "",
        "| part | direction | size | transfers | within ±10% | within ±25% | median ratio |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for (part, direction, size), ratios in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1], order.get(kv[0][2], 9))
    ):
        within10 = sum(1 for x in ratios if abs(x - 1) <= 0.10)
        within25 = sum(1 for x in ratios if abs(x - 1) <= 0.25)
        label = "**all**" if direction == "all" else direction
        lines.append(
            f"| {part} | {label} | {size} | {len(ratios)} | {_pct(within10, len(ratios))} | "
            f"{_pct(within25, len(ratios))} | {statistics.median(ratios):.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="update docs/validation.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/validation.md is stale")
    args = parser.parse_args()
    rows = list(csv.DictReader((FIXTURE / "workloads.csv").open(encoding="utf-8")))
    meta = json.loads((FIXTURE / "fixture.json").read_text(encoding="utf-8"))
    dma = list(csv.DictReader((FIXTURE / "dma.csv").open(encoding="utf-8")))
    text = report(rows, meta) + "\n" + dma_report(dma)
    if not (args.write or args.check):
        sys.stdout.write(text)
        return 0
    page = PAGE.read_text(encoding="utf-8")
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    updated = f"{head}{BEGIN}\n{text}{END}{tail}"
    if args.check:
        if updated != page:
            print(
                f"{PAGE} is not what {FIXTURE / 'workloads.csv'} gives: run {sys.argv[0]} --write",
                file=sys.stderr,
            )
            return 1
        return 0
    PAGE.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
