"""Wall time and peak memory of the emulator (task graph + feasible memory schedule + event run).

    python3 benchmarks/bench_emulator.py

Each model runs in a fresh child process so that peak RSS (ru_maxrss) is its own. Goals: issue 5,
ResNet-50 on npu4000 under 1 s, BERT-base under 2 s; issue 9, the emulator grows linearly: a
64-layer 1.3B-parameter decoder (``decoder_lm(layers=64, d_model=1280, heads=16, ffn=5120)``)
under 3 s and 300 MB peak RSS. The stage columns come from ``Estimate.stage_seconds``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench!r})
import nbperf
path, arch = sys.argv[1], sys.argv[2]
start = time.perf_counter()
result = nbperf.estimate(path, arch, schedule="emulator")
wall = time.perf_counter() - start
print(json.dumps({{"wall_s": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "latency_ms": result.latency_ms, "tasks": len(result.emulation.graph.tasks),
                   "stages": result.stage_seconds}}))
"""


REPEAT = 3  # fresh processes per row; the row is the run with the median wall time


def run(path: Path, arch: str) -> dict:
    code = CHILD.format(bench=str(REPO / "benchmarks"))
    runs = []
    for _ in range(REPEAT):
        out = subprocess.run([sys.executable, "-c", code, str(path), arch], capture_output=True, text=True,
                             check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["wall_s"])
    median = runs[len(runs) // 2]
    median["wall_range"] = (runs[0]["wall_s"], runs[-1]["wall_s"])
    return median


def main() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import onnx

    from model_builders import decoder_lm, parameter_count

    with tempfile.TemporaryDirectory() as tmp:
        decoders = {"decoder_64L_1.3b": decoder_lm(layers=64, d_model=1280, heads=16, ffn=5120),
                    "decoder_24L_1.3b": decoder_lm()}
        paths = {}
        for name, model in decoders.items():
            paths[name] = Path(tmp) / f"{name}.onnx"
            onnx.save(model, paths[name])
            print(f"{name}: {parameter_count(model) / 1e9:.2f} G parameters, seq 512, "
                  f"{len(model.graph.node)} nodes")
        cases = [(SHARED / "resnet50.onnx", "npu4000"), (SHARED / "bert_base_s128.onnx", "npu4000"),
                 (SHARED / "vit_b_16.onnx", "npu4000"), (paths["decoder_64L_1.3b"], "npu4000"),
                 (paths["decoder_64L_1.3b"], "npu3720"), (paths["decoder_24L_1.3b"], "npu4000")]
        print(f"each row: the median of {REPEAT} fresh processes; wall = load + lower + strategy + task "
              "graph + emulation (min-max of the runs in brackets)")
        print(f"{'model':<24} {'arch':<9} {'strategy s':>10} {'graph s':>8} {'emulate s':>9} {'wall s':>7} "
              f"{'wall range':>11} {'peak RSS MB':>12} {'tasks':>7} {'latency ms':>11}")
        for path, arch in cases:
            if not path.exists():
                print(f"{path.stem:<24} {arch:<9} (absent)")
                continue
            try:
                r = run(path, arch)
            except subprocess.CalledProcessError as exc:
                print(f"{path.stem:<24} {arch:<9} failed: {exc.stderr.strip().splitlines()[-1]}")
                continue
            st = r["stages"]
            print(f"{path.stem:<24} {arch:<9} {st['strategy']:>10.2f} {st['task graph']:>8.2f} "
                  f"{st['emulation']:>9.2f} {r['wall_s']:>7.2f} {r['wall_range'][0]:>5.2f}-"
                  f"{r['wall_range'][1]:<5.2f} {r['rss_mb']:>12.0f} {r['tasks']:>7} "
                  f"{r['latency_ms']:>11.3f}")

if __name__ == "__main__":
    main()
