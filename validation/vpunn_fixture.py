"""Cost every shared model's DPU workloads with Intel's VPUNN and store them as a labelled fixture.

Needs VPUNN's Python module (``import vpunn``: built by hand, docs/cost-backends.md) and its
models folder. For each part (npu3720 with ``vpu_2_7.vpunn``, npu4000 with ``vpu_4_0.vpunn``),
precision (the model's own, and int8) and shared model, the plan nbperf picks with the math model
is exported (``nbperf.workloads``) and every DPU workload of it is priced by VPUNN in each MPE
mode the part offers for its precision, the cheapest valid one kept, as the ``vpunn`` backend
does. Rows VPUNN refuses keep its error and no cycles.

    PYTHONPATH=/opt/vpunn/site python validation/vpunn_fixture.py \\
        --models ../shared/models --vpunn-models /opt/vpunn/src/models --commit 8a2ae92bc74e...

writes tests/data/vpunn/workloads.csv (the DPU rows, with a ``cycles`` column: a ``--cost table:``
file), tests/data/vpunn/dma.csv (every plain DMA transfer of the plans' task graphs, priced by
VPUNN's DMA networks dma_2_7.vpunn / dma_4_0.vpunn; also a table) and tests/data/vpunn/fixture.json
(what produced them).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import io
import json
import sys
from pathlib import Path

import nbperf
from nbperf.cost.vpunn_backend import VpunnBackend
from nbperf.report.workloads_file import flat_descriptor

PARTS = {"npu3720": "vpu_2_7.vpunn", "npu4000": "vpu_4_0.vpunn"}
PRECISIONS = (None, "int8")  # the model's own (fp16 unless it has Q/DQ), and NNCF-like int8
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "vpunn"


DMA_MODELS = {"npu3720": "dma_2_7.vpunn", "npu4000": "dma_4_0.vpunn"}


def dma_record(arch, model, precision, row, backend, spec) -> dict:
    """One DMA transfer of a plan's task graph and VPUNN's DMA network's cycles for it."""
    d = row.descriptor
    found = backend.lookup_dma(d, spec)
    error = found if isinstance(found, str) else ""
    return {
        "part": arch,
        "model": model,
        "precision": precision or "model",
        "row_id": row.row_id,
        "role": row.role,
        "key": d.key,
        "bytes": d.input.shape[0],
        "direction": f"{d.input_location.name}->{d.output_location.name}",
        "math_cycles": row.math_cycles,
        "cycles": "" if error else found,
        "vpunn_error": error,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=Path, required=True, help="folder of .onnx models")
    parser.add_argument("--vpunn-models", type=Path, required=True, help="VPUNN's models/ folder")
    parser.add_argument(
        "--commit", required=True, help="the intel/npu-nn-cost-model commit VPUNN was built at"
    )
    args = parser.parse_args()
    records, dmas, sources = [], [], {}
    for arch, model_file in PARTS.items():
        path = args.vpunn_models / model_file
        dma_file = args.vpunn_models / DMA_MODELS[arch]
        sources[arch] = {
            "vpunn_model": model_file,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "vpunn_dma_model": DMA_MODELS[arch],
            "dma_sha256": hashlib.sha256(dma_file.read_bytes()).hexdigest(),
        }
        backend = VpunnBackend(str(path))
        for onnx_path in sorted(args.models.glob("*.onnx")):
            for precision in PRECISIONS:
                result = nbperf.estimate(onnx_path, arch, precision=precision)
                for row in nbperf.workloads(result):
                    d = row.descriptor
                    if row.kind == "DMA":
                        if not row.permuted:  # a permute DMA is the DMA model's, whoever prices DMAs
                            dmas.append(
                                dma_record(arch, onnx_path.stem, precision, row, backend, result.arch)
                            )
                        continue
                    found = backend.price(d, result.arch)
                    error = found if isinstance(found, str) else ""
                    records.append(
                        {
                            "part": arch,
                            "model": onnx_path.stem,
                            "precision": precision or "model",
                            "row_id": row.row_id,
                            "op_type": row.op_type,
                            "key": d.key,
                            "count": row.count,
                            "math_cycles": row.math_cycles,
                            "math_mode": d.execution_order.name,
                            "cycles": "" if error else found[0],
                            "vpunn_mode": "" if error else found[1],
                            "vpunn_error": error,
                            **flat_descriptor(d),
                        }
                    )
                print(
                    f"{arch} {onnx_path.stem} {precision or 'model'}: {len(records)} rows so far",
                    file=sys.stderr,
                )
    OUT.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    (OUT / "workloads.csv").write_text(buffer.getvalue())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dmas[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(dmas)
    (OUT / "dma.csv").write_text(buffer.getvalue())
    meta = {
        "what": "DPU workload and DMA transfer cycles of every shared model's plan, costed by Intel VPUNN "
        "(not silicon)",
        "vpunn_repository": "https://github.com/intel/npu-nn-cost-model",
        "vpunn_commit": args.commit,
        "vpunn_python_module": "built from source with FlatBuffers v24.3.25 (docs/cost-backends.md)",
        "parts": sources,
        "precisions": [p or "model" for p in PRECISIONS],
        "nbperf_version": nbperf.__version__,
        "date": datetime.date.today().isoformat(),
        "rows": len(records),
        "rows_with_vpunn_error": sum(1 for r in records if r["vpunn_error"]),
        "dma_rows": len(dmas),
        "dma_rows_with_vpunn_error": sum(1 for r in dmas if r["vpunn_error"]),
        "generated_by": "validation/vpunn_fixture.py",
    }
    (OUT / "fixture.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{OUT / 'workloads.csv'}: {len(records)} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
