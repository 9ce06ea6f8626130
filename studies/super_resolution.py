"""Can FSRCNN and an EDSR-like network upscale video x2 in real time on NPU 3720 and NPU 4000?

    python3 studies/super_resolution.py [--out-dir docs/studies/img] [--quick]

Builds two x2 super-resolution networks with ``nbperf.nas.NetBuilder`` (weightless, as the
builder's ``weights="external"`` makes them: nbperf reads shapes, not values):

- FSRCNN (d=56, s=12, m=4) on a one-channel (luma) input: conv 5x5 1->56, conv 1x1 56->12,
  4 x conv 3x3 12->12, conv 1x1 12->56, each followed by a per-channel PReLU, then a 9x9
  ConvTranspose, stride 2, padding 4, output padding 1, 56->1. The same graph as
  examples/models/fsrcnn_x2_540p.onnx (PyTorch's export) at 960x540.
- EDSR-baseline on an RGB input: conv 3x3 3->64, 16 residual blocks (conv 3x3, ReLU, conv 3x3, add
  the block's input), conv 3x3 64->64 and the global skip (add the first conv's output), the x2
  upsampler (conv 3x3 64->256, DepthToSpace 2 in PyTorch's pixel-shuffle mode, CRD), conv 3x3
  64->3. EDSR's MeanShift layers (fixed 1x1 colour shifts) are left out.

Each runs at 960x540 (540p -> 1080p) and 1920x1080 (1080p -> 4K), on npu4000 and npu3720, fp16
and int8 (``precision="int8"``: quantized as NNCF does), with ``nbperf.estimate`` (math cost
model, optimal policy, layer-serial schedule; the emulator once more as a cross-check). Latency
is latency mode: one synchronous request on every tile, with the host's share; FPS is its
inverse. Throughput mode (the requests OpenVINO keeps in flight) is shown beside it. Then
``nbperf.compare`` prices what-ifs against each base part, as ``--set`` does on the command line
(``arch_overrides``, here in the label syntax ``npu4000+cmx.bytes_per_tile=...``): twice the CMX,
twice the DDR bandwidth, twice the MACs per tile (the ``npu4000-4k`` preset; ``npu3720`` with
``dpu.macs_per_tile=4096``), all three together, and a compiler what-if, the sub-pixel form of a
strided ConvTranspose (``compiler.deconv_as_subpixel_conv=true``), alone and with the three.

It prints markdown tables (whole model per point with 30 / 60 FPS verdicts; time by bound; at the
low resolution on both parts, time per group of alike layers and the slowest layers; what-if
speedups and the layer each changes most) and writes two PNGs (matplotlib): FPS per point against
the 30 / 60 FPS lines, and per-layer time at the low resolution on npu4000 fp16. ``--quick`` runs
smaller inputs (640x360 and 1280x720), one what-if and no emulator, for the test (inputs
much smaller than these are slower to plan: their tensors fit CMX, so the strategy search has
more to weigh).
Written for docs/studies/super-resolution.md; ``main(argv)`` is what its test runs.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

# studies/study_output.py, beside this script
from study_output import bound_label, duration_us, shown, table

import nbperf
from nbperf.nas import NetBuilder
from nbperf.report.records import layer_record

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO / "docs" / "studies" / "img"

ARCHS = ("npu4000", "npu3720")
PRECISIONS = ("fp16", "int8")
TARGETS_FPS = (30, 60)
TOP_LAYERS = 8
GROUP_SHARE = 0.02  # layer groups under this share of the latency are summed as "the rest"
SUBPIXEL = "compiler.deconv_as_subpixel_conv=true"
TWICE_MACS = {"npu4000": "npu4000-4k", "npu3720": "npu3720+dpu.macs_per_tile=4096"}


@dataclass(frozen=True)
class Resolution:
    label: str
    width: int  # of the input; the output is twice as wide and tall
    height: int


WHAT_IFS = ("2x CMX", "2x DDR BW", "2x MACs", "all three", "sub-pixel deconv", "all + sub-pixel")
FPS_SHOWN = ("all three", "sub-pixel deconv", "all + sub-pixel")  # what-ifs with their FPS in the table


@dataclass(frozen=True)
class Setup:
    """What one run covers: the inputs, the what-ifs (labels of ``what_ifs``) and whether the
    emulator cross-checks each base point."""

    resolutions: tuple[Resolution, ...]
    what_ifs: tuple[str, ...]
    emulator: bool


FULL = Setup((Resolution("540p→1080p", 960, 540), Resolution("1080p→4K", 1920, 1080)), WHAT_IFS, True)
QUICK = Setup((Resolution("360p→720p", 640, 360), Resolution("720p→1440p", 1280, 720)),
              ("sub-pixel deconv",), False)


# -- the networks -----------------------------------------------------------------------------

def fsrcnn(height: int, width: int, d: int = 56, s: int = 12, m: int = 4) -> onnx.ModelProto:
    """FSRCNN x2 (Dong et al. 2016): feature extraction, shrinking, m mapping layers, expanding,
    each conv followed by a per-channel PReLU, and a 9x9 stride-2 deconvolution to one channel."""
    b = NetBuilder(f"fsrcnn_d{d}_s{s}_m{m}_x2_{width}x{height}", (1, 1, height, width), weights="external")
    x = b.prelu(b.conv(b.input, d, 5, name="feature/conv"), name="feature/prelu")
    x = b.prelu(b.conv(x, s, 1, name="shrink/conv"), name="shrink/prelu")
    for i in range(1, m + 1):
        x = b.prelu(b.conv(x, s, 3, name=f"map{i}/conv"), name=f"map{i}/prelu")
    x = b.prelu(b.conv(x, d, 1, name="expand/conv"), name="expand/prelu")
    return b.build([b.conv_transpose(x, 1, 9, 2, padding=4, output_padding=1, name="deconv")])


def edsr(height: int, width: int, features: int = 64, blocks: int = 16) -> onnx.ModelProto:
    """EDSR-baseline x2 (Lim et al. 2017) without its MeanShift layers: head conv, residual blocks
    (conv-ReLU-conv + input), body conv + global skip, conv to 4x the features + pixel shuffle,
    tail conv to RGB."""
    b = NetBuilder(f"edsr_f{features}_b{blocks}_x2_{width}x{height}", (1, 3, height, width),
                   weights="external")
    head = b.conv(b.input, features, 3, name="head")
    x = head
    for i in range(blocks):
        r = b.conv(x, features, 3, act="relu", name=f"body{i}/conv1")
        x = b.add(b.conv(r, features, 3, name=f"body{i}/conv2"), x, name=f"body{i}/add")
    x = b.add(b.conv(x, features, 3, name="body/conv"), head, name="body/skip")
    x = b.depth_to_space(b.conv(x, 4 * features, 3, name="up/conv"), 2, mode="CRD", name="up/shuffle")
    return b.build([b.conv(x, 3, 3, name="tail")])


NETWORKS = (("FSRCNN", fsrcnn), ("EDSR-baseline", edsr))


# -- the what-ifs -----------------------------------------------------------------------------

def what_ifs(arch: str, labels: Sequence[str] = WHAT_IFS) -> list[tuple[str, str]]:
    """(label, arch point) of the what-ifs ``labels`` against ``arch``, in nbperf.compare's label
    syntax."""
    spec = nbperf.load_arch(arch)
    cmx = f"cmx.bytes_per_tile={2 * spec.cmx.bytes_per_tile}"
    ddr = f"dma.ddr_bandwidth_gbps={2 * spec.dma.ddr_bandwidth_gbps:g}"
    points = [("2x CMX", f"{arch}+{cmx}"), ("2x DDR BW", f"{arch}+{ddr}"), ("2x MACs", TWICE_MACS[arch]),
              ("all three", f"{TWICE_MACS[arch]}+{cmx}+{ddr}"),
              ("sub-pixel deconv", f"{arch}+{SUBPIXEL}"),
              ("all + sub-pixel", f"{TWICE_MACS[arch]}+{cmx}+{ddr}+{SUBPIXEL}")]
    assert [label for label, _ in points] == list(WHAT_IFS)
    return [(label, point) for label, point in points if label in labels]


# -- running the estimates --------------------------------------------------------------------

Key = tuple[str, str, str, str]  # (network, resolution label, arch, precision)


@dataclass
class Point:
    base: dict[str, Any]  # the base part's JSON record (serial schedule)
    emulated_ms: float
    throughput_fps: float
    peak_macs_per_s: float  # of the base part at the point's precision
    what_ifs: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)  # label -> (x, record)


@dataclass
class Study:
    setup: Setup
    points: dict[Key, Point] = field(default_factory=dict)

    @property
    def resolutions(self) -> tuple[Resolution, ...]:
        return self.setup.resolutions

    @property
    def low(self) -> Resolution:
        return self.resolutions[0]


def brief(est: nbperf.Estimate) -> dict[str, Any]:
    """The figures of a what-if the tables use: latency mode and the layer records (the JSON
    report's, without its throughput and -hint latency figures, which estimate again)."""
    return {"latency_ms": est.latency_ms, "fps": est.fps,
            "layers": [layer_record(task, est) for task in est.schedule.tasks]}


def run(setup: Setup) -> Study:
    study = Study(setup)
    for net, build in NETWORKS:
        for res in setup.resolutions:
            loaded = nbperf.load(build(res.height, res.width))  # frontend once
            for arch in ARCHS:
                sides = what_ifs(arch, setup.what_ifs)
                for precision in PRECISIONS:
                    comparison = nbperf.compare([loaded], [arch, *(point for _, point in sides)],
                                                precision=precision)
                    base = comparison.estimates[0]
                    emulated_ms = math.nan
                    if setup.emulator:
                        emulated_ms = nbperf.estimate(loaded, arch, precision=precision,
                                                      schedule="emulator").latency_ms
                    point = Point(base.to_dict(), emulated_ms, base.throughput.fps,
                                  base.arch.peak_tops(precision) * 1e12 / 2)
                    for i, (label, _) in enumerate(sides, start=1):
                        point.what_ifs[label] = (comparison.total_speedup(i),
                                                 brief(comparison.estimates[i]))
                    study.points[net, res.label, arch, precision] = point
    return study


# -- tables -----------------------------------------------------------------------------------

def lowering_label(rec: dict[str, Any]) -> str:
    """How an upsampling op was lowered, in a word or two (the record's sentence has the detail)."""
    text = rec.get("lowering") or ""
    for start, label in (("SE pointers", "SE pointers"), ("a dense stride-1 conv", "materialised input"),
                         ("DMA copies", "DMA copies"), ("what-if sub-pixel", "sub-pixel conv"),
                         ("the zero-inserted", "zero insertion")):
        if text.startswith(start):
            return label
    return " ".join(text.split()[:3]) if text else ""


def verdict(fps: float) -> str:
    return "60 and 30" if fps >= 60 else "30 only" if fps >= 30 else "neither"


def needed(latency_ms: float, fps: int) -> str:
    """How many times faster a point must get to reach ``fps`` ("-" when it does)."""
    x = latency_ms * fps / 1e3
    return f"{x:.2f}x" if x > 1 else "-"


def points_in_order(study: Study):
    for net, _ in NETWORKS:
        for res in study.resolutions:
            for arch in ARCHS:
                for precision in PRECISIONS:
                    yield (net, res.label, arch, precision), study.points[net, res.label, arch, precision]


def low_points(study: Study):
    """((network, arch, precision), point) at the low resolution, in table order."""
    for net, _ in NETWORKS:
        for arch in ARCHS:
            for precision in PRECISIONS:
                yield (net, arch, precision), study.points[net, study.low.label, arch, precision]


def totals_table(study: Study) -> str:
    header = ["network", "resolution", "arch", "precision", "GMACs", "latency ms", "FPS", "real time (30/60)",
              "to 30 FPS", "to 60 FPS", "throughput FPS", "throughput real time", "throughput runs",
              "-hint latency ms (tiles)", "emulator ms", "host ms", "activation DDR MB"]
    rows = []
    for (net, res, arch, precision), p in points_in_order(study):
        rec = p.base
        tp, hint = rec["throughput"], rec["latency_hint"]
        rows.append([net, res, arch, precision, f"{rec['macs'] / 1e9:.2f}", f"{rec['latency_ms']:.3f}",
                     f"{rec['fps']:.2f}", verdict(rec["fps"]), needed(rec["latency_ms"], 30),
                     needed(rec["latency_ms"], 60), f"{p.throughput_fps:.2f}", verdict(p.throughput_fps),
                     f"{tp['concurrent']} x {tp['tiles_per_request']} tiles",
                     f"{hint['latency_ms']:.3f} ({hint['tiles']})",
                     "-" if math.isnan(p.emulated_ms) else f"{p.emulated_ms:.3f}",
                     f"{rec['host_us'] / 1e3:.3f}", f"{rec['activation_ddr_bytes'] / 1e6:,.1f}"])
    return table(header, rows)


def bounds_of(rec: dict[str, Any]) -> dict[str, float]:
    per: dict[str, float] = {}
    for layer in rec["layers"]:
        label = bound_label(layer)
        per[label] = per.get(label, 0.0) + duration_us(layer)
    return per


def bound_table(study: Study) -> str:
    """Layer-serial time (ms) by what bounds each layer, and the host's share."""
    per = {key: bounds_of(p.base) for key, p in points_in_order(study)}
    totals: dict[str, float] = {}
    for bounds in per.values():
        for label, us in bounds.items():
            totals[label] = totals.get(label, 0.0) + us
    labels = sorted(totals, key=lambda label: -totals[label])
    header = ["network", "resolution", "arch", "precision", *labels, "host"]
    rows = [[*key, *(f"{per[key].get(label, 0.0) / 1e3:.3f}" for label in labels),
             f"{study.points[key].base['host_us'] / 1e3:.3f}"] for key, _ in points_in_order(study)]
    return table(header, rows)


def top_table(study: Study, net: str, arch: str, precision: str) -> str:
    """The slowest layers of one point at the low resolution, the rest summed."""
    p = study.points[net, study.low.label, arch, precision]
    layers = sorted(p.base["layers"], key=lambda r: -duration_us(r))
    latency_us = p.base["latency_ms"] * 1e3
    header = ["layer", "op", "engine", "lowered as", "time us", "latency share", "bound", "compute us",
              "DMA us", "act DDR MB", "GMACs", "MAC util (compute)", "MAC util (layer time)",
              "channel padding"]
    rows = []
    for rec in layers[:TOP_LAYERS]:
        t = duration_us(rec)
        util = rec["mac_utilisation"]
        peak = p.peak_macs_per_s if rec["precision"] == precision else \
            nbperf.load_arch(arch).peak_tops(rec["precision"]) * 1e12 / 2
        over_time = rec["macs"] / (t * 1e-6 * peak) if rec["macs"] and t else None
        rows.append([rec["name"], rec["op_type"], rec["engine"], lowering_label(rec) or "-", f"{t:,.1f}",
                     f"{t / latency_us:.1%}", bound_label(rec), f"{rec['compute_us']:,.1f}",
                     f"{rec['dma_us']:,.1f}", f"{rec['activation_ddr_bytes'] / 1e6:,.1f}",
                     f"{rec['macs'] / 1e9:.3f}", "-" if util is None else f"{util:.1%}",
                     "-" if over_time is None else f"{over_time:.1%}",
                     f"{rec['channel_padding_share']:.1%}"])
    rest = layers[TOP_LAYERS:]
    if rest:
        t = sum(duration_us(r) for r in rest)
        rows.append([f"other {len(rest)} layers", "", "", "", f"{t:,.1f}", f"{t / latency_us:.1%}",
                     "", "", "", "", f"{sum(r['macs'] for r in rest) / 1e9:.3f}", "", "", ""])
    host = p.base["host_us"]
    rows.append(["host (overhead + I/O)", "", "", "", f"{host:,.1f}", f"{host / latency_us:.1%}",
                 "", "", "", "", "", "", "", ""])
    macs = p.base["macs"]
    rows.append(["**whole model**", "", "", "", f"{latency_us:,.1f}", "100.0%", "", "", "", "",
                 f"{macs / 1e9:.3f}", "", f"{macs / (latency_us * 1e-6 * p.peak_macs_per_s):.1%}", ""])
    return table(header, rows)


def group_of(name: str) -> str:
    """Layers alike but for their index share a group: ``body7/add`` -> ``body*/add``."""
    return re.sub(r"\d+(?=/)", "*", name)


def group_table(study: Study) -> str:
    """At the low resolution: layer-serial time per group of alike layers (the repeated blocks
    summed), with what bounds its layers and how busy it keeps the MAC array."""
    header = ["network", "arch", "precision", "group", "layers", "time ms", "latency share", "bound",
              "GMACs", "MAC util (layer time)"]
    rows = []
    for (net, arch, precision), p in low_points(study):
        groups: dict[str, list[dict[str, Any]]] = {}
        for rec in p.base["layers"]:
            groups.setdefault(group_of(rec["name"]), []).append(rec)
        latency_us = p.base["latency_ms"] * 1e3
        small: list[dict[str, Any]] = []
        for name, recs in sorted(groups.items(), key=lambda g: -sum(duration_us(r) for r in g[1])):
            t = sum(duration_us(r) for r in recs)
            if t < GROUP_SHARE * latency_us:
                small += recs
                continue
            macs = sum(r["macs"] for r in recs)
            bounds: dict[str, int] = {}
            for r in recs:
                bounds[bound_label(r)] = bounds.get(bound_label(r), 0) + 1
            bound = ", ".join(label if n == len(recs) else f"{label} ({n})"
                              for label, n in bounds.items())
            util = f"{macs / (t * 1e-6 * p.peak_macs_per_s):.1%}" if macs and t else "-"
            rows.append([net, arch, precision, name, len(recs), f"{t / 1e3:.3f}",
                         f"{t / latency_us:.1%}", bound, f"{macs / 1e9:.2f}", util])
        if small:
            t, macs = sum(duration_us(r) for r in small), sum(r["macs"] for r in small)
            rows.append([net, arch, precision, "the rest", len(small), f"{t / 1e3:.3f}",
                         f"{t / latency_us:.1%}", "", f"{macs / 1e9:.2f}", ""])
    return table(header, rows)


def what_if_labels(study: Study) -> list[str]:
    return list(study.setup.what_ifs)


def what_if_table(study: Study) -> str:
    """Latency-mode speedup of every what-if over its base part, and the FPS it reaches."""
    labels = what_if_labels(study)
    combined = [label for label in FPS_SHOWN if label in labels]
    header = ["network", "resolution", "arch", "precision", "base ms", "base FPS", *labels,
              *(f"FPS with {label}" for label in combined)]
    rows = []
    for key, p in points_in_order(study):
        rows.append([*key, f"{p.base['latency_ms']:.3f}", f"{p.base['fps']:.2f}",
                     *(f"{p.what_ifs[label][0]:.3f}x" for label in labels),
                     *(f"{p.what_ifs[label][1]['fps']:.2f}" for label in combined)])
    return table(header, rows)


def change_table(study: Study) -> str:
    """At the low resolution: per what-if, the layer whose time changes most, before and after."""
    header = ["network", "arch", "precision", "what-if", "speedup", "layer changed most", "base us",
              "what-if us", "bound: base → what-if"]
    rows = []
    for (net, arch, precision), p in low_points(study):
        base = {r["name"]: r for r in p.base["layers"]}
        for label in what_if_labels(study):
            speedup, rec = p.what_ifs[label]
            other = {r["name"]: r for r in rec["layers"]}
            names = set(base) | set(other)

            def change(name: str, base=base, other=other) -> float:
                before = duration_us(base[name]) if name in base else 0.0
                after = duration_us(other[name]) if name in other else 0.0
                return abs(before - after)

            name = max(sorted(names), key=change)
            if change(name) < 0.05:
                rows.append([net, arch, precision, label, f"{speedup:.3f}x", "(none)", "-", "-", "-"])
                continue
            b, o = base.get(name), other.get(name)
            rows.append([net, arch, precision, label, f"{speedup:.3f}x", name,
                         f"{duration_us(b):,.1f}" if b else "(absent)",
                         f"{duration_us(o):,.1f}" if o else "(absent)",
                         f"{bound_label(b) if b else '-'} → {bound_label(o) if o else '-'}"])
    return table(header, rows)


def render(study: Study) -> str:
    parts = [
        "## x2 super-resolution: FSRCNN (d=56, s=12, m=4) and EDSR-baseline (64 features, 16 blocks)", "",
        f"Inputs: {', '.join(f'{r.label} ({r.width}x{r.height} in)' for r in study.resolutions)}. "
        f"Estimates: nbperf {nbperf.__version__}, math cost model, optimal policy, layer-serial schedule "
        "unless the column says emulator. Latency is latency mode (one synchronous request on every "
        "tile, host share included); FPS = 1000 / latency ms; throughput FPS is throughput mode "
        "(OpenVINO's requests in flight). \"to 30 FPS\": how many times faster the point must get. "
        "MB = 10^6 B.", "",
        "### Whole model", "", totals_table(study), "",
        "### Time by bound (ms, layer-serial)", "", bound_table(study), "",
        f"### Time by layer group at {study.low.label} (alike layers summed, layer-serial)", "",
        group_table(study), "",
    ]
    for net, arch, precision in (key for key, _ in low_points(study)):
        parts += [f"### {net}, {study.low.label}, {arch}, {precision}: the {TOP_LAYERS} slowest "
                  "layers", "", top_table(study, net, arch, precision), ""]
    points = what_ifs("npu4000", study.setup.what_ifs)
    parts += ["### What-ifs: latency-mode speedup over the base part", "",
              "Points: " + "; ".join(f"{label}: `{point}`" for label, point in points)
              + "; on npu3720 the same fields doubled, 2x MACs as `" + TWICE_MACS["npu3720"] + "`.", "",
              what_if_table(study), "",
              f"### What-ifs at {study.low.label}: the layer each changes most", "", change_table(study), ""]
    return "\n".join(parts)


# -- plots ------------------------------------------------------------------------------------

COLOURS = {("npu4000", "fp16"): "#4c72b0", ("npu4000", "int8"): "#8fa9d6",
           ("npu3720", "fp16"): "#dd8452", ("npu3720", "int8"): "#f0b88f"}
BOUND_COLOURS = {"dma-activations": "#c44e52", "dma-weights": "#8172b3", "dma-copy": "#937860",
                 "MAC": "#4c72b0", "CMX-read": "#64b5cd", "PPE": "#55a868", "SHAVE": "#dd8452",
                 "transition": "#8c8c8c", "overhead": "#cccccc"}


def plot_fps(study: Study, path: Path) -> None:
    """Latency-mode FPS (bars) and throughput-mode FPS (markers) per point, with the 30 and 60 FPS lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(net, res.label) for net, _ in NETWORKS for res in study.resolutions]
    configs = [(arch, precision) for arch in ARCHS for precision in PRECISIONS]
    width = 0.8 / len(configs)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for j, (arch, precision) in enumerate(configs):
        xs = [i + (j - (len(configs) - 1) / 2) * width for i in range(len(groups))]
        fps = [study.points[net, res, arch, precision].base["fps"] for net, res in groups]
        tput = [study.points[net, res, arch, precision].throughput_fps for net, res in groups]
        ax.bar(xs, fps, width, color=COLOURS[arch, precision], label=f"{arch} {precision} (latency mode)")
        ax.scatter(xs, tput, marker="_", s=250, color="black", zorder=3,
                   label="throughput mode" if j == 0 else None)
        for x, value in zip(xs, fps, strict=True):
            ax.annotate(f"{value:.1f}", (x, value), ha="center", va="bottom", fontsize=7)
    for target, style in zip(TARGETS_FPS, ("--", ":"), strict=True):
        ax.axhline(target, color="black", linestyle=style, linewidth=1)
        ax.annotate(f"{target} FPS", (len(groups) - 0.5, target), ha="right", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(top=150)
    ax.set_xticks(range(len(groups)), [f"{net}\n{res}" for net, res in groups])
    ax.set_ylabel("frames per second (log scale)")
    ax.set_title("x2 super-resolution on NPU 4000 and NPU 3720: FPS per point (nbperf, layer-serial)",
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=3, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_layers(study: Study, path: Path) -> None:
    """Per-layer layer-serial time of both networks at the low resolution on npu4000 fp16, coloured
    by what bounds each layer."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, len(NETWORKS), figsize=(16, 5.5),
                             gridspec_kw={"width_ratios": [1, 2.6]})
    seen: dict[str, str] = {}
    for ax, (net, _) in zip(axes, NETWORKS, strict=True):
        p = study.points[net, study.low.label, "npu4000", "fp16"]
        layers = p.base["layers"]
        colours = []
        for rec in layers:
            label = bound_label(rec)
            seen[label] = BOUND_COLOURS.get(label, "#333333")
            colours.append(seen[label])
        ax.bar(range(len(layers)), [duration_us(r) / 1e3 for r in layers], color=colours)
        ax.set_xticks(range(len(layers)), [r["name"] for r in layers], rotation=80, fontsize=7)
        ax.set_ylabel("layer time, ms (layer-serial)")
        ax.set_title(f"{net}, {study.low.label}, npu4000 fp16: latency {p.base['latency_ms']:.2f} ms",
                     fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend([Patch(color=c) for c in seen.values()], list(seen), fontsize=8, title="bound")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = (("super-resolution-fps.png", plot_fps), ("super-resolution-layers.png", plot_layers))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the PNGs go")
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs, one what-if, no emulator (for the test)")
    args = parser.parse_args(argv)
    study = run(QUICK if args.quick else FULL)
    print(render(study))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, plot in PLOTS:
        plot(study, args.out_dir / name)
        print(f"wrote {shown(args.out_dir / name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
