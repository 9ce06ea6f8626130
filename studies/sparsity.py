"""What do 50% and 75% magnitude-pruned weights buy on NPU 4000 and NPU 3720?

    python3 studies/sparsity.py [--out-dir docs/studies/img] [--quick]

Builds a ResNet-18 at 224x224 with onnx.helper and real weights (numpy, seed 0: He-normal
convolution and classifier weights, zero biases; batch norm is taken as folded into the convs, as
in a deployed graph), then magnitude-prunes it per layer to 50% and 75% zeros: in every conv and
the classifier the smallest |w| of that layer are set to zero; biases and the first conv (3 input
channels, 9.4k weights) stay dense, as pruning practice leaves them. The three variants (dense,
50%, 75%) are estimated with ``nbperf.estimate`` on npu4000 and npu3720, in fp16 and in int8
(``precision="int8"``: quantized as NNCF does), with the layer-serial schedule (the per-layer
figures) and the emulator (a second whole-model latency). nbperf measures each layer's share of
zero weights from the file, compresses the weights where the compiler would, and prices the MAC
cycles with the arch's ``dpu.weight_sparsity_cycles`` curve.

It prints markdown tables: the network with each layer's weights raw and stored; the stored bytes
nbperf assumes (zeros spread evenly over the output channels) against the same rule on the actual
per-channel counts; whole-model totals per variant; time per stage; time by what bounds it; and,
dense against 75%, the weight-heavy layers (dense weights >= 2% of the model's). It writes two PNGs
(matplotlib): per-layer latency dense / 50% / 75%, and weight bytes per layer.
``--quick`` runs a small network (64x64 input, one block per stage) for the test.
Written for docs/studies/sparsity.md; ``main(argv)`` is what its test runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# studies/study_output.py, beside this script
from study_output import bound_label, duration_us, shown, table

import nbperf
from nbperf.lower.rules import WEIGHT_SET_ALIGNMENT_BYTES, WEIGHT_SPARSITY_THRESHOLD

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO / "docs" / "studies" / "img"

ARCHS = ("npu4000", "npu3720")
PRECISIONS = ("fp16", "int8")
VARIANTS = (("dense", 0.0), ("50%", 0.5), ("75%", 0.75))
VALUE_BYTES = {"fp16": 2, "int8": 1}
HEAVY_SHARE = 0.02  # a layer is weight-heavy when its dense weights are >= this share of the model's
SEED = 0


@dataclass(frozen=True)
class Net:
    """A ResNet-18-style network: stem (7x7/2 conv, 3x3/2 max pool), four stages of basic blocks
    (two 3x3 convs and a shortcut, 1x1/2 conv where the shape changes), global pool, classifier."""

    hw: int
    widths: tuple[int, ...]
    blocks: int
    classes: int

    @property
    def label(self) -> str:
        return (f"ResNet-18-style, {self.hw}x{self.hw} input, stages {'/'.join(map(str, self.widths))}, "
                f"{self.blocks} blocks per stage, {self.classes} classes")


FULL = Net(hw=224, widths=(64, 128, 256, 512), blocks=2, classes=1000)  # ResNet-18
QUICK = Net(hw=64, widths=(32, 64, 128, 256), blocks=1, classes=100)


@dataclass(frozen=True)
class Layer:
    """A layer with weights: its name (the ONNX node), weight tensor, MACs and output size."""

    name: str
    weight: str
    shape: tuple[int, ...]
    macs: int
    out_hw: int
    pruned: bool


@dataclass
class Model:
    net: Net
    graph: onnx.GraphProto
    layers: list[Layer]
    weights: dict[str, np.ndarray]  # dense weights by initializer name

    def variant(self, share: float) -> onnx.ModelProto:
        """The model with every prunable layer's smallest ``share`` of |w| set to zero."""
        graph = onnx.GraphProto()
        graph.CopyFrom(self.graph)
        pruned = {layer.weight: magnitude_prune(self.weights[layer.weight], share)
                  for layer in self.layers if layer.pruned and share > 0}
        for init in graph.initializer:
            if init.name in pruned:
                init.CopyFrom(numpy_helper.from_array(pruned[init.name], init.name))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def magnitude_prune(w: np.ndarray, share: float) -> np.ndarray:
    """``w`` with exactly round(share x size) of its smallest-magnitude values set to zero."""
    k = round(share * w.size)
    out = w.copy()
    if k:
        flat = out.reshape(-1)
        flat[np.argpartition(np.abs(flat), k - 1)[:k]] = 0.0
    return out


def build(net: Net, seed: int = SEED) -> Model:
    """The dense network with He-normal weights (std sqrt(2 / fan_in)) and zero biases."""
    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    layers: list[Layer] = []
    weights: dict[str, np.ndarray] = {}

    def conv(x: str, cin: int, cout: int, k: int, s: int, hw_in: int, name: str, relu: bool,
             pruned: bool = True) -> tuple[str, int]:
        w = (rng.standard_normal((cout, cin, k, k)) * math.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        weights[f"{name}.weight"] = w
        inits.append(numpy_helper.from_array(w, f"{name}.weight"))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.bias"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [name], name=name,
                                      kernel_shape=[k, k], pads=[k // 2] * 4, strides=[s, s]))
        hw = (hw_in + 2 * (k // 2) - k) // s + 1
        layers.append(Layer(name, f"{name}.weight", w.shape, w.size * hw * hw, hw, pruned))
        if not relu:
            return name, hw
        nodes.append(helper.make_node("Relu", [name], [f"{name}.relu"], name=f"{name}.relu"))
        return f"{name}.relu", hw

    x, hw = conv("input", 3, net.widths[0], 7, 2, net.hw, "conv1", relu=True, pruned=False)
    nodes.append(helper.make_node("MaxPool", [x], ["maxpool"], name="maxpool", kernel_shape=[3, 3],
                                  pads=[1] * 4, strides=[2, 2]))
    x, hw, cin = "maxpool", (hw + 2 - 3) // 2 + 1, net.widths[0]
    for stage, width in enumerate(net.widths, start=1):
        for block in range(net.blocks):
            stride = 2 if block == 0 and stage > 1 else 1
            p = f"layer{stage}.{block}"
            y, out_hw = conv(x, cin, width, 3, stride, hw, f"{p}.conv1", relu=True)
            y, _ = conv(y, width, width, 3, 1, out_hw, f"{p}.conv2", relu=False)
            shortcut = x
            if stride != 1 or cin != width:
                shortcut, _ = conv(x, cin, width, 1, stride, hw, f"{p}.downsample", relu=False)
            nodes.append(helper.make_node("Add", [y, shortcut], [f"{p}.add"], name=f"{p}.add"))
            nodes.append(helper.make_node("Relu", [f"{p}.add"], [f"{p}.out"], name=f"{p}.relu"))
            x, hw, cin = f"{p}.out", out_hw, width
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["avgpool"], name="avgpool"))
    nodes.append(helper.make_node("Flatten", ["avgpool"], ["flatten"], name="flatten", axis=1))
    w = (rng.standard_normal((net.classes, cin)) * math.sqrt(2.0 / cin)).astype(np.float32)
    weights["fc.weight"] = w
    inits += [numpy_helper.from_array(w, "fc.weight"),
              numpy_helper.from_array(np.zeros(net.classes, np.float32), "fc.bias")]
    nodes.append(helper.make_node("Gemm", ["flatten", "fc.weight", "fc.bias"], ["logits"], name="fc",
                                  transB=1))
    layers.append(Layer("fc", "fc.weight", w.shape, w.size, 1, True))
    graph = helper.make_graph(
        nodes, "resnet18_style",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, net.hw, net.hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, net.classes])], inits)
    return Model(net, graph, layers, weights)


# -- running the estimates --------------------------------------------------------------------

Key = tuple[str, str, str]  # (arch, precision, variant)


@dataclass
class Study:
    model: Model
    records: dict[Key, dict[str, Any]] = field(default_factory=dict)  # serial schedule, JSON report
    emulated_ms: dict[Key, float] = field(default_factory=dict)
    zeros: dict[tuple[str, str], float] = field(default_factory=dict)  # (variant, weight) -> share

    def layers(self, key: Key) -> dict[str, dict[str, Any]]:
        return {rec["name"]: rec for rec in self.records[key]["layers"]}


def run(model: Model) -> Study:
    study = Study(model)
    for variant, share in VARIANTS:
        proto = model.variant(share)
        for init in proto.graph.initializer:
            if init.name in model.weights:
                study.zeros[variant, init.name] = float(np.mean(numpy_helper.to_array(init) == 0))
        loaded = nbperf.load(proto)  # frontend once; each precision lowered once
        for arch in ARCHS:
            for precision in PRECISIONS:
                key = (arch, precision, variant)
                serial = nbperf.estimate(loaded, arch, precision=precision, schedule="serial")
                study.records[key] = serial.to_dict()
                emulated = nbperf.estimate(loaded, arch, precision=precision, schedule="emulator")
                study.emulated_ms[key] = emulated.latency_ms
    return study


# -- tables -----------------------------------------------------------------------------------

def kb(nbytes: float) -> str:
    return f"{nbytes / 1e3:,.1f}"


def mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:.3f}"


def ratio(new: float, old: float) -> str:
    return f"{new / old:.3f}" if old else "-"


def stage(name: str) -> str:
    if name.startswith("layer"):
        return name.split(".", 1)[0]
    return "head" if name in {"avgpool", "flatten", "fc"} else "stem"


def network_table(study: Study) -> str:
    """Every layer with weights: shape, MACs, zeros, and its weights raw and stored per precision
    (serial estimates on npu4000; the stored bytes do not depend on the arch)."""
    header = ["layer", "weights", "params", "MMACs", "out", "zeros 50% / 75%",
              "fp16 kB raw", "fp16 kB 50%", "fp16 kB 75%", "int8 kB raw", "int8 kB 50%", "int8 kB 75%"]
    rows = []
    by_key = {(p, v): study.layers(("npu4000", p, v)) for p in PRECISIONS for v, _ in VARIANTS}
    for layer in study.model.layers:
        zeros = " / ".join(f"{study.zeros[v, layer.weight]:.1%}" for v, s in VARIANTS if s)
        cells = []
        for precision in PRECISIONS:
            raw = by_key[precision, "dense"][layer.name]["weight_bytes"]
            cells += [kb(raw), *(kb(by_key[precision, v][layer.name]["weight_bytes"])
                                 for v, share in VARIANTS if share)]
        rows.append([layer.name, "x".join(map(str, layer.shape)), f"{math.prod(layer.shape):,}",
                     f"{layer.macs / 1e6:.1f}", f"{layer.out_hw}x{layer.out_hw}", zeros, *cells])
    totals = []
    for precision in PRECISIONS:
        for variant, _ in VARIANTS:
            totals.append(kb(sum(r["weight_bytes"] for r in by_key[precision, variant].values())))
    params = sum(math.prod(layer.shape) for layer in study.model.layers)
    macs = sum(layer.macs for layer in study.model.layers)
    rows.append(["**all**", "", f"{params:,}", f"{macs / 1e6:.1f}", "", "", *totals])
    return table(header, rows)


def per_channel_stored(w: np.ndarray, precision: str) -> int:
    """The compiler's compressed size of ``w`` (nbperf's rule in lower/rules.py) on the actual
    non-zeros of each output channel instead of their mean: each channel's non-zero values and its
    one-bit-per-weight map, each aligned to 16 B; dense when the values save less than the
    threshold or the compressed form is not smaller."""
    value_bytes = VALUE_BYTES[precision]
    channels = w.shape[0]
    per_channel = w.size // channels
    dense = w.size * value_bytes
    nonzeros = np.count_nonzero(w.reshape(channels, -1), axis=1)
    align = WEIGHT_SET_ALIGNMENT_BYTES
    values = int(np.sum(-(-nonzeros * value_bytes // align) * align))
    if nonzeros.sum() == w.size or 1 - values / dense < WEIGHT_SPARSITY_THRESHOLD[precision]:
        return dense
    stored = values + channels * (-(-math.ceil(per_channel / 8) // align) * align)
    return stored if stored < dense else dense


def alignment_table(study: Study) -> str:
    """nbperf's stored weight bytes (mean non-zeros per output channel) against the same rule on
    each channel's actual non-zeros, summed over the model's weight tensors."""
    header = ["precision", "variant", "nbperf stored MB", "per-channel rule MB", "difference"]
    rows = []
    for precision in PRECISIONS:
        for variant, share in VARIANTS:
            if not share:
                continue
            layers = study.layers(("npu4000", precision, variant))
            dense = study.layers(("npu4000", precision, "dense"))
            ours = exact = 0
            for layer in study.model.layers:
                tensor = math.prod(layer.shape) * VALUE_BYTES[precision]
                extra = dense[layer.name]["weight_bytes"] - tensor  # bias and weight table
                ours += layers[layer.name]["weight_bytes"] - extra
                w = study.model.weights[layer.weight]
                exact += per_channel_stored(magnitude_prune(w, share) if layer.pruned else w, precision)
            rows.append([precision, variant, mb(ours), mb(exact), f"{(ours - exact) / exact:+.2%}"])
    return table(header, rows)


def totals_table(study: Study) -> str:
    header = ["arch", "precision", "variant", "latency ms", "vs dense", "FPS", "emulator ms", "vs dense",
              "weight DDR MB", "vs dense", "activation DDR MB", "peak CMX KiB", "host us"]
    rows = []
    for arch in ARCHS:
        for precision in PRECISIONS:
            base = study.records[arch, precision, "dense"]
            base_emu = study.emulated_ms[arch, precision, "dense"]
            for variant, _ in VARIANTS:
                key = (arch, precision, variant)
                rec = study.records[key]
                rows.append([arch, precision, variant, f"{rec['latency_ms']:.4f}",
                             ratio(rec["latency_ms"], base["latency_ms"]), f"{rec['fps']:.1f}",
                             f"{study.emulated_ms[key]:.4f}", ratio(study.emulated_ms[key], base_emu),
                             mb(rec["weight_ddr_bytes"]),
                             ratio(rec["weight_ddr_bytes"], base["weight_ddr_bytes"]),
                             mb(rec["activation_ddr_bytes"]), f"{rec['peak_cmx_bytes'] / 1024:,.0f}",
                             f"{rec['host_us']:.1f}"])
    return table(header, rows)


def stages(study: Study) -> list[str]:
    return list(dict.fromkeys(stage(r["name"]) for r in study.records[ARCHS[0], "fp16", "dense"]["layers"]))


def stage_table(study: Study) -> str:
    """Layer-serial time per stage of the network, per variant, and where the 75% saving comes from."""
    header = ["arch", "precision", "stage", "dense us", "50% us", "75% us", "75% saves us", "share of saving"]
    rows = []
    for arch in ARCHS:
        for precision in PRECISIONS:
            sums = {}
            for variant, _ in VARIANTS:
                per: dict[str, float] = {}
                for rec in study.records[arch, precision, variant]["layers"]:
                    per[stage(rec["name"])] = per.get(stage(rec["name"]), 0.0) + duration_us(rec)
                sums[variant] = per
            saved_total = sum(sums["dense"].values()) - sum(sums["75%"].values())
            for name in stages(study):
                saved = sums["dense"][name] - sums["75%"][name]
                rows.append([arch, precision, name, *(f"{sums[v][name]:.1f}" for v, _ in VARIANTS),
                             f"{saved:.1f}", f"{saved / saved_total:.1%}" if saved_total else "-"])
    return table(header, rows)


BOUNDS = ("dma-weights", "dma-activations", "MAC", "CMX-read", "PPE", "SHAVE", "overhead", "transition")


def bound_table(study: Study) -> str:
    """Layer-serial time (us) by what bounds each layer."""
    header = ["arch", "precision", "variant", *BOUNDS, "other"]
    rows = []
    for arch in ARCHS:
        for precision in PRECISIONS:
            for variant, _ in VARIANTS:
                per: dict[str, float] = {}
                for rec in study.records[arch, precision, variant]["layers"]:
                    label = bound_label(rec)
                    label = label if label in BOUNDS else "other"
                    per[label] = per.get(label, 0.0) + duration_us(rec)
                rows.append([arch, precision, variant,
                             *(f"{per.get(b, 0.0):.1f}" for b in (*BOUNDS, "other"))])
    return table(header, rows)


def gain_table(study: Study) -> str:
    """Layers grouped by what bounds them dense and whether their weights are pruned, with their
    layer-serial time per variant; the host time (inference overhead and I/O) closes the latency."""
    header = ["arch", "precision", "bound (dense)", "weights", "layers", "dense us", "50% us", "75% us",
              "75% / dense"]
    pruned = {layer.name for layer in study.model.layers if layer.pruned}
    unpruned = {layer.name for layer in study.model.layers if not layer.pruned}
    rows = []
    for arch in ARCHS:
        for precision in PRECISIONS:
            recs = {v: study.layers((arch, precision, v)) for v, _ in VARIANTS}
            groups: dict[tuple[str, str], list[str]] = {}
            for name, rec in recs["dense"].items():
                weights = "pruned" if name in pruned else "dense" if name in unpruned else "none"
                groups.setdefault((bound_label(rec), weights), []).append(name)
            order = sorted(groups, key=lambda g: -sum(duration_us(recs["dense"][n]) for n in groups[g]))
            for bound, weights in order:
                names = groups[bound, weights]
                times = [sum(duration_us(recs[v][n]) for n in names) for v, _ in VARIANTS]
                rows.append([arch, precision, bound, weights, len(names), *(f"{t:.1f}" for t in times),
                             ratio(times[-1], times[0])])
            host = [study.records[arch, precision, v]["host_us"] for v, _ in VARIANTS]
            rows.append([arch, precision, "host", "", "", *(f"{t:.1f}" for t in host),
                         ratio(host[-1], host[0])])
    return table(header, rows)


def heavy_layers(study: Study) -> list[Layer]:
    dense = study.layers(("npu4000", "fp16", "dense"))
    total = sum(dense[layer.name]["weight_bytes"] for layer in study.model.layers)
    return [layer for layer in study.model.layers if dense[layer.name]["weight_bytes"] >= HEAVY_SHARE * total]


def _pair(a: Any, b: Any) -> str:
    return f"{a} → {b}"


def layer_table(study: Study, arch: str, precision: str) -> str:
    """Dense → 75% for the weight-heavy layers, the rest summed, and the whole model."""
    header = ["layer", "weights kB (raw → stored)", "own DMA us", "act DDR kB", "CMX kB/tile", "compute us",
              "time us", "latency share", "bound"]
    dense, sparse = study.layers((arch, precision, "dense")), study.layers((arch, precision, "75%"))
    lat = {v: study.records[arch, precision, v]["latency_ms"] * 1e3 for v in ("dense", "75%")}
    rows = []
    heavy = heavy_layers(study)
    for layer in heavy:
        d, s = dense[layer.name], sparse[layer.name]
        rows.append([layer.name, _pair(kb(d["weight_dense_bytes"]), kb(s["weight_bytes"])),
                     _pair(f"{d['dma_us']:.1f}", f"{s['dma_us']:.1f}"),
                     _pair(kb(d["activation_ddr_bytes"]), kb(s["activation_ddr_bytes"])),
                     _pair(kb(d["cmx_bytes_per_tile"]), kb(s["cmx_bytes_per_tile"])),
                     _pair(f"{d['compute_us']:.1f}", f"{s['compute_us']:.1f}"),
                     _pair(f"{duration_us(d):.1f}", f"{duration_us(s):.1f}"),
                     _pair(f"{duration_us(d) / lat['dense']:.1%}", f"{duration_us(s) / lat['75%']:.1%}"),
                     _pair(bound_label(d), bound_label(s))])
    names = {layer.name for layer in heavy}
    for label, keep in ((f"other {len(dense) - len(names)} layers", lambda n: n not in names),
                        ("**whole model**", lambda n: True)):
        chosen = [n for n in dense if keep(n)]
        wd = sum(dense[n]["weight_dense_bytes"] for n in chosen)
        ws = sum(sparse[n]["weight_bytes"] for n in chosen)
        td = sum(duration_us(dense[n]) for n in chosen)
        ts = sum(duration_us(sparse[n]) for n in chosen)
        rows.append([label, _pair(kb(wd), kb(ws)), "", "", "", "", _pair(f"{td:.1f}", f"{ts:.1f}"),
                     _pair(f"{td / lat['dense']:.1%}", f"{ts / lat['75%']:.1%}"), ""])
    return table(header, rows)


def curve_table() -> str:
    """The arch curves the MAC cycles follow, at the two pruning levels."""
    header = ["arch", "MAC cycles at 50%", "MAC cycles at 75%", "curve points (sparsity, ratio)"]
    rows = []
    for arch in ARCHS:
        dpu = nbperf.load_arch(arch).dpu
        points = ", ".join(f"({s:g}, {r:g})" for s, r in dpu.weight_sparsity_cycles)
        rows.append([arch, f"{dpu.weight_sparsity_ratio(0.5):.2f}", f"{dpu.weight_sparsity_ratio(0.75):.2f}",
                     points])
    return table(header, rows)


def render(study: Study) -> str:
    net = study.model.net
    parts = [f"## {net.label}", "",
             "Weights: He-normal (seed 0), biases zero; pruned: every conv but conv1, and fc, to exactly "
             "50% / 75% zeros by magnitude, per layer. Estimates: nbperf "
             f"{nbperf.__version__}, math cost model, optimal policy; layer-serial schedule unless "
             "the column says emulator. kB = 1000 B, MB = 10^6 B.", "",
             "### The arch curves (MAC cycles relative to dense)", "", curve_table(), "",
             "### The network and its weights, raw and stored (npu4000; the bytes include the "
             "16 B/channel weight table and the bias)", "", network_table(study), "",
             "### Stored weights: nbperf's mean per channel against each channel's own non-zeros", "",
             alignment_table(study), "",
             "### Whole model", "", totals_table(study), "",
             "### Time per stage (layer-serial)", "", stage_table(study), "",
             "### Who gains: layers by their bound when dense (layer-serial)", "", gain_table(study), "",
             "### Time by bound (us, layer-serial)", "", bound_table(study), ""]
    for arch in ARCHS:
        for precision in PRECISIONS:
            parts += [f"### {arch}, {precision}: weight-heavy layers, dense → 75%", "",
                      layer_table(study, arch, precision), ""]
    return "\n".join(parts)


# -- plots ------------------------------------------------------------------------------------

COLOURS = {"dense": "#4c72b0", "50%": "#dd8452", "75%": "#55a868"}


def plot_layer_latency(study: Study, path: Path) -> None:
    """Per-layer layer-serial time, dense / 50% / 75%, for each arch and precision."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [layer.name for layer in study.model.layers] + ["other ops"]
    x = np.arange(len(names))
    fig, axes = plt.subplots(len(ARCHS), len(PRECISIONS), figsize=(16, 9), sharex=True)
    for i, arch in enumerate(ARCHS):
        for j, precision in enumerate(PRECISIONS):
            ax = axes[i][j]
            for k, (variant, _) in enumerate(VARIANTS):
                recs = study.layers((arch, precision, variant))
                weighted = [duration_us(recs[n]) for n in names[:-1]]
                other = sum(duration_us(r) for n, r in recs.items() if n not in set(names))
                ax.bar(x + (k - 1) * 0.28, [*weighted, other], 0.28, label=variant, color=COLOURS[variant])
            lat = " / ".join(f"{study.records[arch, precision, v]['latency_ms']:.3f}" for v, _ in VARIANTS)
            ax.set_title(f"{arch}, {precision}: latency {lat} ms (dense / 50% / 75%)", fontsize=10)
            ax.set_ylabel("layer time, us (layer-serial)")
            ax.grid(axis="y", alpha=0.3)
            if i == len(ARCHS) - 1:
                ax.set_xticks(x, names, rotation=75, fontsize=7)
    axes[0][0].legend()
    fig.suptitle(f"Per-layer time with magnitude-pruned weights: {study.model.net.label}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_weight_bytes(study: Study, path: Path) -> None:
    """Per-layer weight bytes: raw (dense) and stored at 50% and 75%, fp16 and int8."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [layer.name for layer in study.model.layers]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, len(PRECISIONS), figsize=(16, 5), sharey=True)
    for j, precision in enumerate(PRECISIONS):
        ax = axes[j]
        for k, (variant, _) in enumerate(VARIANTS):
            recs = study.layers(("npu4000", precision, variant))
            values = [recs[n]["weight_bytes"] / 1e6 for n in names]
            total = sum(r["weight_bytes"] for r in recs.values()) / 1e6
            ax.bar(x + (k - 1) * 0.28, values, 0.28, color=COLOURS[variant],
                   label=f"{variant} ({'raw' if variant == 'dense' else 'stored'}): {total:.2f} MB")
        ax.set_title(f"{precision} weights per layer", fontsize=10)
        ax.set_xticks(x, names, rotation=75, fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("weight bytes, MB (values + sparsity map + weight table)")
    fig.suptitle(f"Weights moved per layer, dense and compressed: {study.model.net.label}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = (("sparsity-layer-latency.png", plot_layer_latency), ("sparsity-weight-bytes.png", plot_weight_bytes))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the PNGs go")
    parser.add_argument("--quick", action="store_true", help="a small network (for the test)")
    args = parser.parse_args(argv)
    study = run(build(QUICK if args.quick else FULL))
    print(render(study))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, plot in PLOTS:
        plot(study, args.out_dir / name)
        print(f"wrote {shown(args.out_dir / name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
