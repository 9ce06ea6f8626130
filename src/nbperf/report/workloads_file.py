"""``nbperf workloads`` files: every DPU workload and DMA transfer of a plan, one row each.

CSV columns follow VPUNN's flat workload naming (``input_0_width`` ... ``kernel_pad_top`` ...,
as its tools write DPUWorkload tables); JSON lines carry the descriptor nested, enum members by
name. Every row has a ``key`` (what its cost depends on: the row a ``--cost table:`` file needs)
and a ``row_id`` (layer and position: unique in the file). Add a ``cycles`` column and the file
is a cost table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nbperf.cost.descriptors import DMAWorkload, DPUWorkload, VPUTensor, to_plain
from nbperf.cost.inventory import WorkloadRow
from nbperf.errors import UsageError
from nbperf.report.atomic import write_text_atomic

_META = ("row_id", "kind", "key", "layer", "op_type", "strategy", "tiles", "count", "math_cycles", "role")


def _tensor(prefix: str, tensor: VPUTensor) -> dict[str, Any]:
    w, h, c, b = tensor.shape
    return {f"{prefix}_width": w, f"{prefix}_height": h, f"{prefix}_channels": c, f"{prefix}_batch": b,
            f"{prefix}_datatype": tensor.dtype.name, f"{prefix}_layout": tensor.layout.name,
            f"{prefix}_sparsity": tensor.sparsity}


def flat_descriptor(desc: DPUWorkload | DMAWorkload) -> dict[str, Any]:
    """A descriptor as one flat row, VPUNN's column names."""
    if isinstance(desc, DMAWorkload):
        return {"device": desc.device.name, **_tensor("input_0", desc.input),
                **_tensor("output_0", desc.output), "input_location": desc.input_location.name,
                "output_location": desc.output_location.name,
                "output_write_tiles": desc.output_write_tiles}
    halo = desc.halo.input_0_halo
    return {
        "device": desc.device.name, "operation": desc.op.name,
        **_tensor("input_0", desc.inputs[0]), **_tensor("output_0", desc.outputs[0]),
        "kernel_width": desc.kernels[0], "kernel_height": desc.kernels[1],
        "kernel_stride_width": desc.strides[0], "kernel_stride_height": desc.strides[1],
        "kernel_pad_top": desc.padding[0], "kernel_pad_bottom": desc.padding[1],
        "kernel_pad_left": desc.padding[2], "kernel_pad_right": desc.padding[3],
        "execution_order": desc.execution_order.name, "activation_function": desc.activation_function.name,
        "act_sparsity": desc.act_sparsity, "weight_sparsity": desc.weight_sparsity,
        "input_0_swizzling": desc.input_swizzling[0].name, "input_1_swizzling": desc.input_swizzling[1].name,
        "output_0_swizzling": desc.output_swizzling[0].name, "output_write_tiles": desc.output_write_tiles,
        "offsets_0": desc.offsets[0], "offsets_1": desc.offsets[1], "offsets_2": desc.offsets[2],
        "offsets_3": desc.offsets[3], "isi_strategy": desc.isi_strategy.name,
        "weight_sparsity_enabled": desc.weight_sparsity_enabled,
        "halo_input_0_top": halo.top, "halo_input_0_bottom": halo.bottom,
        "halo_input_0_left": halo.left, "halo_input_0_right": halo.right,
        "weight_type": desc.weight_type.name if desc.weight_type is not None else "",
        "layer_info": desc.layer_info,
    }


def _meta(row: WorkloadRow) -> dict[str, Any]:
    return {"row_id": row.row_id, "kind": row.kind, "key": row.descriptor.key, "layer": row.layer,
            "op_type": row.op_type, "strategy": row.strategy, "tiles": row.tiles, "count": row.count,
            "math_cycles": row.math_cycles, "role": row.role}


def workloads_csv(rows: Sequence[WorkloadRow]) -> str:
    records = [{**_meta(r), **flat_descriptor(r.descriptor)} for r in rows]
    columns = list(_META)
    for record in records:  # DPU columns first (in order), then what only DMA rows have
        columns += [k for k in record if k not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def workloads_jsonl(rows: Sequence[WorkloadRow]) -> str:
    return "".join(json.dumps({**_meta(r), "descriptor": to_plain(r.descriptor)}) + "\n" for r in rows)


def write_workloads(rows: Sequence[WorkloadRow], path: Path) -> None:
    """``.jsonl`` as JSON lines, anything else as CSV."""
    if path.suffix not in (".csv", ".jsonl"):
        raise UsageError(f"--out {path}: use a .csv or .jsonl file")
    text = workloads_jsonl(rows) if path.suffix == ".jsonl" else workloads_csv(rows)
    write_text_atomic(path, text)
