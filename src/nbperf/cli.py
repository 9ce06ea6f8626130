"""The ``nbperf`` command line.

User errors end in one line on stderr and exit code 2; a bug in nbperf (``InternalError`` or any
unexpected exception) ends in one line that says so, and exit code 3 (NBPERF_DEBUG=1 for the
traceback).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from nbperf.errors import InternalError, NbperfError, UsageError

HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Estimate how fast a neural network runs on a tiled NPU.", context_settings=HELP)
arch_app = typer.Typer(no_args_is_help=True, help="List and show architecture presets.",
                       context_settings=HELP)
app.add_typer(arch_app, name="arch")


def _version(value: bool) -> None:
    if value:
        from nbperf.version import __version__

        stdout.print(f"nbperf {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """Estimate how fast a neural network runs on a tiled NPU."""

# The table fits the terminal; piped output fits COLUMNS when it is set, else 200 columns (rich
# would squeeze it to 80). No colour unless stdout is a terminal (rich's own rule; NO_COLOR too).
PIPE_WIDTH = 200


class _TrimmedLines:
    """sys.stdout (whatever it is at the time: tests swap it) without the spaces rich pads lines
    with, which make diffs and pipes noisy."""

    def __init__(self) -> None:
        self.pending = ""

    @property
    def stream(self):
        return sys.stdout

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(self.pending.rstrip(" "))
            self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


stdout = Console(highlight=False, file=_TrimmedLines())


def _fit_stdout() -> None:
    """The width the tables fit, decided per run (not at import): COLUMNS, else the terminal's,
    else PIPE_WIDTH for a pipe or file."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        stdout.width = int(columns)
    elif sys.stdout.isatty():
        stdout.width = shutil.get_terminal_size().columns
    else:
        stdout.width = PIPE_WIDTH
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def parse_input_shape(item: str) -> tuple[str, tuple[int, ...]]:
    """``name=1x3x224x224`` -> ("name", (1, 3, 224, 224))."""
    name, sep, dims = item.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d <= 0 for d in shape):
        raise UsageError(f"--input-shape {item!r} must look like name=1x3x224x224 with positive dimensions")
    return name, shape


def parse_strategy(item: str) -> tuple[str, str]:
    """``LAYER=SOK`` or ``all=SOH`` -> (layer, strategy)."""
    layer, sep, strategy = item.rpartition("=")
    if not sep or not layer or not strategy:
        raise UsageError(f"--strategy {item!r} must look like LAYER=SOK or all=SOH")
    return layer, strategy


ModelArg = Annotated[Path, typer.Argument(
    metavar="MODEL",
    help="ONNX model, or OpenVINO IR .xml (its .bin beside it, or none: weightless); weights may be absent")]
ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", metavar="ARCH", help="preset name or YAML file (default: npu4000)", show_default=False)]
PrecisionOpt = Annotated[Literal["int8", "fp16"] | None, typer.Option(
    case_sensitive=False,
    help="int8: quantize as NNCF does for the NPU (SHAVE ops stay fp16); fp16: every op in fp16 "
         "(default: as the model's Q/DQ say)")]
InputShapeOpt = Annotated[list[str] | None, typer.Option(
    "--input-shape", metavar="NAME=1x3x224x224", help="dynamic input shape (repeatable)")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", metavar="SECTION.FIELD=VALUE", help="arch override, e.g. dpu.macs_per_tile=4096 (repeatable)")]
CostOpt = Annotated[str, typer.Option(
    metavar="MODEL[:ARG]",
    help="per-workload cost model: math (closed form, default), table:FILE (cycles per workload key, "
         "math for the rest), vpunn[:MODEL.vpunn] (Intel VPUNN, when installed), or one registered by a "
         "plug-in; 'list' shows what is available. 'emulator' is accepted for --schedule emulator")]
ScheduleOpt = Annotated[Literal["serial", "emulator"], typer.Option(
    case_sensitive=False,
    help="serial (layer by layer, the strategy search's own objective) or emulator (the task graph with "
         "CMX allocation, prefetch and barriers, run event by event); both use the same costs")]
PolicyOpt = Annotated[Literal["optimal", "compiler"], typer.Option(
    case_sensitive=False,
    help="strategy choice: optimal (whole-graph search) or compiler (the NPU compiler's greedy rule)")]
ModeOpt = Annotated[Literal["latency", "throughput"], typer.Option(
    case_sensitive=False,
    help="headline: latency (one synchronous request, as benchmark_app -hint latency -api sync) or "
         "throughput (several requests in flight, as -hint throughput); the report gives both")]
StrategyOpt = Annotated[list[str] | None, typer.Option(
    "--strategy", metavar="LAYER=STRATEGY",
    help="force a strategy (SOH, SOW, SOK, HKSwitch, Clustering) on a layer, or all=SOH (repeatable)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="print only the headline line")]
WeightSparsityOpt = Annotated[float | None, typer.Option(
    metavar="SHARE", help="share of zero weights (0 .. <1) of layers whose weights the file lacks "
                          "(a weightless model); weights in the file are measured")]
ActivationSparsityOpt = Annotated[str | None, typer.Option(
    metavar="SHARE|measure", help="zeros of the activations, as the compiler's runtime statistics: "
                                  "a share at every ReLU output, or 'measure' (run the model with "
                                  "onnxruntime on a seeded random input; needs its weights)")]
SparsityFileOpt = Annotated[Path | None, typer.Option(
    metavar="FILE", help="YAML of zero shares by name: 'weights' by layer, 'activations' by tensor "
                         "or layer (docs/modelling.md)")]


def check_cost(cost: str) -> None:
    """``--cost list`` prints the cost models and ends the command."""
    if cost.lower() != "list":
        return
    from nbperf.cost import available

    for model in available():
        name = f"{model.name}:{model.argument}" if model.argument else model.name
        stdout.print(f"{name:<20} {model.summary}", markup=False)
    raise typer.Exit(0)


def one_arch(arch: list[str] | None, command: str) -> str:
    """The one --arch of a single-arch command; several are a mistake, not 'keep the last'."""
    if arch and len(arch) > 1:
        sides = " ".join("--arch " + a for a in arch)
        raise UsageError(f"{command} takes one --arch, got {len(arch)} ({', '.join(arch)}); "
                         f"nbperf compare MODEL {sides} shows them side by side")
    return arch[0] if arch else "npu4000"


def _run(model: Path, arch: str, precision: str | None, input_shape: list[str] | None,
         set_: list[str] | None, cost: str, schedule: str, policy: str, strategy: list[str] | None,
         quiet: bool = False, **extra):
    from nbperf.api import estimate as run_estimate

    check_cost(cost)
    shapes = dict(parse_input_shape(s) for s in input_shape or [])
    forced = dict(parse_strategy(s) for s in strategy or [])
    with _working(f"estimating {model.name} on {arch}", quiet):
        return run_estimate(model, arch, precision=precision, input_shapes=shapes,  # type: ignore[arg-type]
                            arch_overrides=set_ or [], cost_model=cost, schedule=schedule, policy=policy,
                            strategies=forced, **extra)


def _sparsity_options(weight_share: float | None, activation: str | None,
                      path: Path | None) -> dict[str, object]:
    """``weight_sparsity`` and ``activation_sparsity`` for the API from the three options."""
    from nbperf.frontend.activation_sparsity import MEASURE
    from nbperf.frontend.sparsity_file import read_sparsity_file

    sections = read_sparsity_file(path) if path is not None else {}
    if weight_share is not None and "weights" in sections:
        raise UsageError("give --weight-sparsity or a 'weights' section in --sparsity, not both")
    if activation is not None and "activations" in sections:
        raise UsageError("give --activation-sparsity or an 'activations' section in --sparsity, not both")
    activation_value: object = sections.get("activations")
    if activation is not None:
        try:
            activation_value = activation if activation == MEASURE else float(activation)
        except ValueError:
            raise UsageError(f"--activation-sparsity must be a share or '{MEASURE}', "
                             f"got {activation!r}") from None
    return {"weight_sparsity": sections.get("weights", weight_share),
            "activation_sparsity": activation_value}


@contextlib.contextmanager
def _working(what: str, quiet: bool):
    """A spinner on stderr while the work runs (only on a terminal, never with --quiet): a large
    model's search or emulation takes seconds, which should not look like a hang."""
    if quiet or not stderr.is_terminal:
        yield
        return
    with stderr.status(what + " ...", spinner="dots"):
        yield


def _emit_json(record: object, path: Path) -> bool:
    """Write ``record`` as JSON to ``path``, or to stdout for '-' (then True: it is the output)."""
    import json

    text = json.dumps(record, indent=2) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        return True
    from nbperf.report.atomic import write_text_atomic

    write_text_atomic(path, text)
    return False


def _check_outputs(outputs: dict[str, Path | None]) -> None:
    """Fail before the work, and before any file is written: a missing folder, or one path for two
    outputs."""
    seen: dict[Path, str] = {}
    for option, out in outputs.items():
        if out is None:
            continue
        if not out.parent.is_dir():
            raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")
        same = seen.get(out.resolve())
        if same is not None:
            raise UsageError(f"{same} and {option} both write {out}: give each its own file")
        seen[out.resolve()] = option


@app.command(epilog="Example: nbperf estimate examples/models/resnet50.onnx --arch npu3720 --precision int8 "
                     "--top 10 --html report.html")
def estimate(
    model: ModelArg,
    arch: ArchOpt = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    mode: ModeOpt = "latency",
    weight_sparsity: WeightSparsityOpt = None,
    activation_sparsity: ActivationSparsityOpt = None,
    sparsity: SparsityFileOpt = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE",
        help="write the JSON report here ('-': to stdout, instead of the table)")] = None,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="write one CSV row per layer here")] = None,
    html_path: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="write a self-contained HTML report here (plots, sortable table; "
                                       "works offline)")] = None,
    trace_path: Annotated[Path | None, typer.Option(
        "--trace", metavar="FILE", help="write a Perfetto / Chrome trace here (engines and tiles with "
                                        "--schedule emulator, else one track per engine)")] = None,
    prefetch_depth: Annotated[int | None, typer.Option(
        metavar="N", help="emulator: ops ahead whose first loads may be prefetched (default 1)")] = None,
    barriers: Annotated[int | None, typer.Option(
        metavar="N", help="emulator: override the arch's barrier count")] = None,
    top: Annotated[int | None, typer.Option(metavar="N", help="the table lists the N slowest layers, slowest "
                                                              "first")] = None,
    quiet: QuietOpt = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", metavar="", help="every column (the why of each layer too) and where the "
                                            "estimate's own time went")] = False,
) -> None:
    """Estimate latency, FPS and per-layer cost of MODEL on an NPU."""
    from nbperf.report import print_report, write_csv, write_json

    if top is not None and top <= 0:
        raise UsageError(f"--top must be a positive number of layers, got {top}")
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other: give one")
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path, "--csv": csv_path,
                    "--html": html_path, "--trace": trace_path})
    if html_path is not None:
        from nbperf.report.html import require_plotly

        require_plotly()
    result = _run(model, one_arch(arch, "estimate"), precision, input_shape, set_, cost, schedule, policy,
                  strategy, quiet or json_to_stdout, prefetch_depth=prefetch_depth, barriers=barriers,
                  mode=mode, **_sparsity_options(weight_sparsity, activation_sparsity, sparsity))
    if result.unknown_ops:
        stderr.print(f"nbperf: warning: {len(result.unknown_ops)} op(s) nbperf does not know were costed "
                     f"as generic SHAVE element-wise: {', '.join(result.unknown_ops)}", markup=False)
    unmeasured = result.graph.unmeasured_weights
    if unmeasured and not quiet:
        stderr.print(f"nbperf: warning: the file holds no weights for {len(unmeasured)} layer(s): "
                     f"priced dense (no weight sparsity); give --weight-sparsity SHARE or a --sparsity "
                     f"file for pruned weights", markup=False)
    if json_to_stdout:  # the JSON is the output: no table around it
        from nbperf.report import to_json

        sys.stdout.write(to_json(result))
    elif json_path:
        write_json(result, json_path)
    if csv_path:
        write_csv(result, csv_path)
    if trace_path:
        from nbperf.report.trace import write_trace

        write_trace(result, trace_path)
    if html_path:
        from nbperf.report.html import write_html

        with _working(f"writing {html_path}", quiet or json_to_stdout):
            write_html(result, html_path)
    if json_to_stdout:
        return
    if quiet:
        line = (f"{result.model} on {result.arch_label}: {result.throughput_fps:,.1f} FPS in throughput mode"
                if result.mode == "throughput" else
                f"{result.model} on {result.arch_label}: {result.latency_ms:.3f} ms, {result.fps:,.1f} FPS")
        stdout.print(line, markup=False)
    else:
        print_report(result, stdout, top, verbose)
        if verbose:
            spent = ", ".join(f"{stage} {seconds:.3f} s" for stage, seconds in result.stage_seconds.items())
            stdout.print(f"estimate's own time: {spent}", markup=False, style="dim")


@app.command(epilog="Example: nbperf workloads examples/models/resnet50.onnx --arch npu3720 -o workloads.csv")
def workloads(
    model: ModelArg,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE",
                                      help="where to write: .csv (VPUNN's column names) or .jsonl")],
    arch: ArchOpt = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    dma: Annotated[bool, typer.Option("--dma/--no-dma", help="also export every DMA transfer")] = True,
    searched: Annotated[bool, typer.Option(
        "--searched", help="also every other DPU workload and DMA transfer the strategy search priced "
                           "(layer '(searched)', count 0): a table made from them drives the search "
                           "too")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Export every DPU workload and DMA transfer of MODEL's plan as VPUNN workload descriptors.

    Each row has a key: give the file a 'cycles' column (measured, simulated, or costed by VPUNN)
    and --cost table:FILE prices the same workloads with it."""
    from nbperf.api import workloads as plan_workloads
    from nbperf.report.workloads_file import write_workloads

    if out.suffix not in (".csv", ".jsonl"):
        raise UsageError(f"--out {out}: use a .csv or .jsonl file")
    _check_outputs({"--out": out})
    result = _run(model, one_arch(arch, "workloads"), precision, input_shape, set_, cost, "serial", policy,
                  strategy, quiet)
    rows = plan_workloads(result, dma, searched)
    write_workloads(rows, out)
    if not quiet:
        dpu = [r for r in rows if r.kind == "DPU" and r.count]
        keys = len({r.descriptor.key for r in dpu})
        extra = sum(1 for r in rows if not r.count)
        dmas = sum(1 for r in rows if r.kind == "DMA" and r.count)
        more = f", {extra:,} more the search priced" if extra else ""
        stdout.print(f"{out}: {len(dpu):,} DPU workloads ({keys:,} distinct keys, "
                     f"{sum(r.count for r in dpu):,} runs){more} and {dmas:,} DMA transfers of "
                     f"{result.model} on {result.arch_label}", markup=False)


@app.command(epilog="Example: nbperf explain examples/models/resnet50.onnx --layer /conv1/Conv --json -")
def explain(
    model: ModelArg,
    arch: ArchOpt = None,
    layer: Annotated[str | None, typer.Option(
        metavar="LAYER", help="the layer to explain; without it, every layer's choice")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", help="write the explanation as JSON here ('-': to stdout)")] = None,
) -> None:
    """Explain the split strategy of one layer (every candidate and why) or of every layer.

    Each alternative of a layer is priced for the whole graph under the chosen schedule."""
    from nbperf.api import explain as explain_layer
    from nbperf.report.explain_table import candidates_record, candidates_table, plan_record, plan_table

    to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if to_stdout else json_path})
    result = _run(model, one_arch(arch, "explain"), precision, input_shape, set_, cost, schedule, policy,
                  strategy, to_stdout)
    explained = None
    if layer is not None:
        forced = dict(parse_strategy(s) for s in strategy or [])
        with _working(f"pricing every candidate of {layer}", to_stdout):
            explained = explain_layer(result, layer, forced)
    if json_path is not None:
        record = plan_record(result) if explained is None else candidates_record(explained, result.arch_label)
        if _emit_json(record, json_path):
            return
    stdout.print(plan_table(result) if explained is None
                 else candidates_table(explained, result.arch_label, stdout.width))


@app.command(epilog="Example: nbperf compare resnet50.onnx -a npu4000 -a npu4000+dpu.macs_per_tile=4096")
def compare(
    model: Annotated[Path | None, typer.Argument(
        metavar="MODEL", help="the model to compare on several archs (or give --model twice)",
        show_default=False)] = None,
    arch: Annotated[list[str] | None, typer.Option(
        "--arch", "-a", metavar="ARCH[+FIELD=VALUE...]",
        help="an arch side: preset or YAML file, with overrides as npu4000+"
             "dpu.macs_per_tile=4096 (repeatable; the first is the baseline)")] = None,
    models: Annotated[list[Path] | None, typer.Option(
        "--model", "-m", metavar="MODEL",
        help="a model side, on one arch (repeatable; the first is the baseline)")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    weight_sparsity: WeightSparsityOpt = None,
    activation_sparsity: ActivationSparsityOpt = None,
    sparsity: SparsityFileOpt = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE",
        help="write the comparison as JSON here ('-': to stdout, instead of the tables)")] = None,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="write one CSV row per layer here")] = None,
    html_path: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="write a self-contained HTML page of the comparison here")] = None,
    top: Annotated[int, typer.Option(
        metavar="N", help="table rows: the N layers whose time changes most (0: all)")] = 25,
) -> None:
    """Compare per-layer and total time of one model on several archs, or of several models on one
    arch: side by side, speedup per layer and in total, what bounds each layer, largest change first."""
    from nbperf.compare import compare as run_compare
    from nbperf.compare import comparison_record, comparison_rows
    from nbperf.report.atomic import write_text_atomic
    from nbperf.report.compare_table import layers_table, totals_table

    check_cost(cost)
    if top < 0:
        raise UsageError(f"--top must be >= 0 (0 shows every layer), got {top}")
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path, "--csv": csv_path, "--html": html_path})
    if html_path is not None:
        from nbperf.report.html import require_plotly

        require_plotly()
    sides = ([model] if model is not None else []) + list(models or [])
    with _working(f"estimating {max(len(sides), 1) * max(len(arch or []), 1)} sides", json_to_stdout):
        result = run_compare(sides, list(arch or ["npu4000"]), arch_overrides=set_ or [], precision=precision,
                             input_shapes=dict(parse_input_shape(s) for s in input_shape or []),
                             cost_model=cost, schedule=schedule, policy=policy,
                             strategies=dict(parse_strategy(s) for s in strategy or []),
                             **_sparsity_options(weight_sparsity, activation_sparsity, sparsity))
    if html_path is not None:
        from nbperf.report.compare_html import write_html

        write_html(result, html_path)
    if json_path is not None and _emit_json(comparison_record(result), json_path):
        return
    if csv_path is not None:
        write_text_atomic(csv_path, _csv_text(comparison_rows(result)))
    stdout.print(totals_table(result))
    stdout.print(layers_table(result, top or None))


@app.command(epilog="Example: nbperf correlate resnet50.onnx --arch npu4000 --measured "
                    "benchmark_average_counters_report.csv --html corr.html")
def correlate(
    model: Annotated[Path | None, typer.Argument(
        metavar="MODEL", help="the model the per-layer measurements are of", show_default=False)] = None,
    arch: ArchOpt = None,
    measured: Annotated[Path | None, typer.Option(
        "--measured", metavar="FILE",
        help="measured per-layer times: a benchmark_app counters report (detailed, average or sorted; CSV or "
             "JSON) or a CSV with layer,time_us[,op_type]")] = None,
    models: Annotated[list[Path] | None, typer.Option(
        "--models", "-m", metavar="MODEL",
        help="whole-model mode: a model the --runs measure (repeatable)")] = None,
    runs: Annotated[list[Path] | None, typer.Option(
        "--runs", metavar="FILE",
        help="whole-model measurements: benchmark_report.csv/.json, or a CSV with model,arch,precision,mode,"
             "latency_ms,fps (repeatable)")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", help="write the correlation as JSON here ('-': to stdout)")] = None,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="write one CSV row per compared layer here")] = None,
    html_path: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="write an HTML page with the log-log scatter plot here")] = None,
    top: Annotated[int, typer.Option(metavar="N", help="layer rows shown, largest miss first (0: all)")] = 20,
) -> None:
    """Compare an estimate with measured timings: per layer (MAPE, share within +-10% and +-20%, by op
    class and engine) with --measured, or whole models in their measured mode (latency or throughput)
    with --runs."""
    arch_name = one_arch(arch, "correlate")
    check_cost(cost)
    if top < 0:
        raise UsageError(f"--top must be >= 0 (0 shows every layer), got {top}")
    if runs:
        _correlate_runs([*([model] if model else []), *(models or [])], runs, arch_name, precision,
                        input_shape, set_, cost, schedule, policy, strategy, json_path)
        return
    if model is None or measured is None:
        raise UsageError("correlate needs MODEL and --measured FILE (per layer), or --models and --runs FILE "
                         "(whole models)")
    from nbperf.calibration.correlate import correlate as run_correlate
    from nbperf.measured import read_layer_times
    from nbperf.report.atomic import write_text_atomic
    from nbperf.report.correlate_report import (
        correlation_record,
        layer_rows,
        layers_table,
        matching_lines,
        summary_table,
        total_line,
    )

    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path, "--csv": csv_path, "--html": html_path})
    if html_path is not None:
        from nbperf.report.html import require_plotly

        require_plotly()
    times = read_layer_times(measured)
    result = _run(model, arch_name, precision, input_shape, set_, cost, schedule, policy, strategy,
                  quiet=json_to_stdout)
    corr = run_correlate(result, times)
    if html_path is not None:
        from nbperf.report.correlate_html import write_html

        write_html(corr, html_path)
    if csv_path is not None:
        write_text_atomic(csv_path, _csv_text(layer_rows(corr)))
    if json_path is not None and _emit_json(correlation_record(corr), json_path):
        return
    stdout.print(summary_table(corr))
    stdout.print(layers_table(corr, top or None))
    stdout.print(total_line(corr), markup=False)
    for line in matching_lines(corr):
        stderr.print(f"nbperf: note: {line}", markup=False)


def _csv_text(rows: list[dict]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["layer"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _correlate_runs(models: list[Path], runs: list[Path], arch: str, precision: str | None,
                    input_shape: list[str] | None, set_: list[str] | None, cost: str, schedule: str,
                    policy: str, strategy: list[str] | None, json_path: Path | None) -> None:
    """``nbperf correlate --models ... --runs ...``: each run against the estimate of its mode."""
    from nbperf.calibration.runs import correlate_runs
    from nbperf.measured import read_runs

    if not models:
        raise UsageError("--runs needs the models they measure: --models MODEL (repeatable)")
    measured = [run for path in runs for run in read_runs(path)]
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path})

    def estimate_of(path: str, run_arch: str, run_precision: str | None):
        return _run(Path(path), run_arch, run_precision or precision, input_shape, set_, cost, schedule,
                    policy, strategy, quiet=json_to_stdout)

    result = correlate_runs([str(m) for m in models], measured, arch, estimate_of)
    record = {
        "runs": [{"model": r.run.model, "model_path": r.model_path, "arch": r.arch,
                  "precision": r.run.precision, "mode": r.run.mode, "unit": r.unit,
                  "estimated": round(r.estimated, 4), "measured": round(r.measured, 4),
                  "time_ratio": round(r.time_ratio, 4), "source": r.run.source}
                 for r in result.rows],
        "geomean_time_ratio": round(result.geomean_ratio, 4),
        "geomean_error_pct": round(result.geomean_error_pct, 2),
        "unpaired_runs": [r.model for r in result.unpaired_runs],
        "unused_models": list(result.unused_models),
    }
    if json_path is not None and _emit_json(record, json_path):
        return
    table = Table(title="whole models: each run against the estimate of its mode", header_style="bold",
                  title_justify="left")
    for col in ("model", "arch", "precision", "mode", "estimated", "measured", "est/meas time"):
        numeric = col in ("estimated", "measured", "est/meas time")
        table.add_column(col, justify="right" if numeric else "left")
    for r in result.rows:
        table.add_row(r.run.model, r.arch, r.run.precision or "-", r.run.mode, f"{r.estimated:,.3f} {r.unit}",
                      f"{r.measured:,.3f} {r.unit}", f"{r.time_ratio:.3f}")
    stdout.print(table)
    stdout.print(f"geomean est/meas time {result.geomean_ratio:.3f}; geomean error "
                 f"{result.geomean_error_pct:.1f}% over {len(result.rows)} runs", markup=False)
    for run in result.unpaired_runs:
        stderr.print(f"nbperf: note: measured run {run.model!r} ({run.source}) names none of the models "
                     "given", markup=False)
    for path in result.unused_models:
        stderr.print(f"nbperf: note: no measured run of {path}", markup=False)


@app.command(epilog="Example: nbperf calibrate resnet50.onnx mobilenet_v2.onnx --arch npu4000 "
                    "--measured r50.csv --measured mnv2.csv --out npu4000-calibrated.yaml")
def calibrate(
    models: Annotated[list[Path], typer.Argument(metavar="MODEL...", help="the measured models")],
    arch: ArchOpt = None,
    measured: Annotated[list[Path] | None, typer.Option(
        "--measured", metavar="FILE", help="per-layer measured times of each MODEL, in the same order "
                                           "(benchmark_app counters report or layer,time_us CSV)")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE.yaml", help="the arch overlay to write (--arch accepts it)")] = None,
    name: Annotated[str | None, typer.Option(
        metavar="NAME", help="the calibrated arch's name (default: ARCH-calibrated)")] = None,
    holdout: Annotated[float, typer.Option(
        metavar="SHARE", help="share of layers held out of the fit to measure it (0 .. <1)")] = 0.25,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    cost: CostOpt = "math",
    policy: PolicyOpt = "optimal",
    json_path: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", help="write the fit as JSON here ('-': to stdout)")] = None,
) -> None:
    """Fit per-op-class compute time factors to measured layers (robust least squares, bounded, the plans
    fixed) and write an arch overlay YAML that --arch accepts; error before and after, on held-out layers
    too."""
    from nbperf.calibration.overlay import write_overlay
    from nbperf.calibration.session import calibrate as run_calibrate
    from nbperf.report.correlate_report import fit_record, fit_tables

    arch_name = one_arch(arch, "calibrate")
    check_cost(cost)
    if out is None:
        raise UsageError("calibrate needs --out FILE.yaml: the overlay it writes")
    if not measured or len(measured) != len(models):
        raise UsageError(f"calibrate needs one --measured file per model, in order: got {len(models)} "
                         f"models and {len(measured or [])} --measured files")
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--out": out, "--json": None if json_to_stdout else json_path})
    shapes = dict(parse_input_shape(s) for s in input_shape or [])
    with _working(f"fitting {len(models)} models on {arch_name}", json_to_stdout):
        session = run_calibrate(models, measured, arch_name, holdout=holdout, precision=precision,
                                input_shapes=shapes, cost_model=cost, policy=policy)
        write_overlay(out, session, arch_name, name)
        after = session.re_estimate(out)
    record = fit_record(session.fit, arch_name, str(out))
    record["models"] = [{"model": b.model, "latency_ms_before": round(b.latency_ms, 6),
                         "latency_ms_after": round(a.latency_ms, 6)} for b, a in zip(session.estimates, after,
                                                                                      strict=True)]
    if json_path is not None and _emit_json(record, json_path):
        return
    for table in fit_tables(session.fit):
        stdout.print(table)
    for b, a in zip(session.estimates, after, strict=True):
        stdout.print(f"{b.model}: {b.latency_ms:.3f} ms -> {a.latency_ms:.3f} ms with the overlay "
                     "(re-planned)", markup=False)
    stdout.print(f"wrote {out}: use it as --arch {out}", markup=False)


@app.command(epilog="Example: nbperf sweep --models examples/models --grid dpu.macs_per_tile=2048,4096 "
                     "--grid tiles=2,4,6 --out results.parquet")
def sweep(
    models: Annotated[list[str], typer.Option(
        "--models", "-m", metavar="PATH|DIR|GLOB",
        help="model files, folders (their .onnx / .xml) or glob patterns (repeatable)")],
    out: Annotated[Path, typer.Option(
        metavar="FILE",
        help="results file, .parquet or .csv; an existing one is resumed (its points are skipped)")],
    arch: Annotated[str, typer.Option(
        "--arch", "-a", metavar="ARCH", help="the base arch: preset or YAML file")] = "npu4000",
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", "-g", metavar="KEY=V1,V2",
        help="a swept parameter, key=v1,v2: an arch field (dpu.macs_per_tile, tiles, "
             "cmx.bytes_per_tile, dma.ddr_bandwidth_gbps, ...) or precision (int8, fp16, "
             "model), policy, schedule, weight_sparsity, activation_sparsity (share or measure) "
             "(repeatable; points: the cartesian product)")] = None,
    executor: Annotated[Literal["pool", "ray", "serial"], typer.Option(
        case_sensitive=False,
        help="pool (local processes), ray (a Ray cluster: --address, or a local one) or serial")] = "pool",
    workers: Annotated[int | None, typer.Option(
        metavar="N",
        help="processes (pool) or CPUs (local Ray) (default: all cores)", show_default=False)] = None,
    address: Annotated[str | None, typer.Option(
        metavar="HOST:PORT", help="Ray cluster address (with --executor ray)")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    modes: Annotated[bool, typer.Option(
        "--modes/--no-modes", metavar="",
        help="add throughput-mode FPS and the -hint latency compile to each row "
             "(each may estimate again on fewer tiles)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="no progress bar")] = False,
) -> None:
    """Estimate every model at every point of a design-space grid; one row per (model, point) with
    every summary figure and each swept parameter as its own column (grid.KEY)."""
    from nbperf.sweep import sweep as run_sweep

    check_cost(cost)
    options: dict[str, object] = {"cost_model": cost}
    swept = {g.partition("=")[0].strip() for g in grid or []}
    for key, value in (("precision", precision), ("schedule", schedule), ("policy", policy)):
        if key not in swept:  # a swept option takes its values from the grid, not the default
            options[key] = value
    if input_shape:
        options["input_shapes"] = dict(parse_input_shape(s) for s in input_shape)
    with _progress(quiet) as progress:
        run = run_sweep(models, arch, grid or [], out=out, executor=executor, workers=workers,
                        address=address, arch_overrides=set_ or [], modes=modes, on_progress=progress,
                        **options)
    failed, internal = run.failed, [r for r in run.failed if r["error"].startswith("internal error")]
    rate = f" ({run.ran / run.seconds:.1f}/s)" if run.seconds > 0 and run.ran else ""
    stderr.print(f"nbperf: {out}: {len(run.rows)} rows; {run.ran} estimated in {run.seconds:.1f} s{rate}, "
                 f"{run.skipped} already there, {len(failed)} failed", markup=False)
    for row in failed[:3]:
        stderr.print(f"nbperf: warning: {row['model']} at {row['point']}: {row['error']}", markup=False)
    if internal:
        raise InternalError(f"{len(internal)} sweep point(s) hit a bug in nbperf (their rows say so)")


@app.command("sweep-report", epilog="Example: nbperf sweep-report results.parquet --png pareto.png "
                                    "--html pareto.html")
def sweep_report(
    results: Annotated[Path, typer.Argument(
        metavar="RESULTS", help="a results file of nbperf sweep (.parquet or .csv)")],
    png: Annotated[Path | None, typer.Option(metavar="FILE",
        help="write the Pareto plots as a PNG here")] = None,
    html: Annotated[Path | None, typer.Option(
        metavar="FILE",
        help="write them as a self-contained HTML page here (plotly.js inside, works offline)")] = None,
    x: Annotated[str, typer.Option(
        metavar="COLUMN",
        help="cost axis: a results column (area_proxy_macs = tiles x MACs per tile); lower is better "
             "unless it is a known higher-is-better figure or ends in ':max'")] = "area_proxy_macs",
    y: Annotated[str, typer.Option(
        metavar="COLUMN",
        help="performance axis: latency_ms, device_ms, throughput_fps (higher is better), or "
             "COLUMN:min|max")] = "latency_ms",
) -> None:
    """Pareto fronts of a sweep: per model and over the geometric mean of all models, the points
    no other point beats on both axes, as tables (and PNG / HTML plots)."""
    from nbperf.report.sweep_report import render
    from nbperf.report.sweep_report import sweep_report as make_report

    _check_outputs({"--png": png, "--html": html})
    for renderable in render(make_report(results, png=png, html=html, x=x, y=y)):
        stdout.print(renderable)


class _progress:
    """A rich progress bar on stderr with rate and ETA (none with --quiet or when stderr is not a
    terminal); called with (done, total) as sweep rows arrive."""

    def __init__(self, quiet: bool) -> None:
        self.bar = None if quiet or not stderr.is_terminal else _make_bar()
        self.task = None

    def __enter__(self) -> _progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task("sweep", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _make_bar():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:  # estimates per second
            return Text(f"{task.speed:.1f}/s" if task.speed else "-/s")

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=stderr)


@arch_app.command("list", epilog="Example: nbperf arch list")
def arch_list() -> None:
    """List the shipped architecture presets."""
    from nbperf.arch import load_arch, preset_names

    table = Table(header_style="bold")
    for col in ("name", "tiles", "int8 MACs/tile", "DPU MHz", "CMX/tile", "DDR GB/s", "peak int8 TOPS",
                "description"):
        table.add_column(col)
    for name in preset_names():
        a = load_arch(name)
        table.add_row(name, str(a.tiles), str(a.dpu.macs_per_tile), f"{a.dpu.frequency_mhz:g}",
                      f"{a.cmx.bytes_per_tile / 1e6:.2f} MB", f"{a.dma.ddr_bandwidth_gbps:g}",
                      f"{a.peak_tops('int8'):.1f}", a.description)
    stdout.print(table)


@arch_app.command("show", epilog="Example: nbperf arch show npu4000 > my_part.yaml")
def arch_show(name: Annotated[str, typer.Argument(metavar="ARCH", help="preset name or YAML file")]) -> None:
    """Print a preset's YAML with the source of every number (or a file's validated fields)."""
    from nbperf.arch import load_arch, preset_names, preset_text

    if name in preset_names():
        stdout.print(preset_text(name), markup=False, end="")
        return
    import yaml

    spec = load_arch(name)
    stdout.print(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False), markup=False, end="")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI, turning errors into one stderr line."""
    _fit_stdout()
    try:
        app(args=argv, prog_name="nbperf", standalone_mode=False)
    except NbperfError as exc:
        stderr.print(f"nbperf: error: {exc.message}", markup=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        stderr.print("nbperf: aborted", markup=False)
        return 130
    except Exception as exc:  # click usage errors and, if ever, bugs
        if callable(getattr(exc, "format_message", None)):  # click's, or typer's vendored click's, errors
            message = exc.format_message()
            if not message.strip():  # bare `nbperf` or a bare group: the help was printed
                return 0
            stderr.print(f"nbperf: error: {message}", markup=False)
            return 2
        if os.environ.get("NBPERF_DEBUG"):
            raise
        return _internal_error(exc)
    return 0


def _internal_error(exc: BaseException) -> int:
    """A bug in nbperf: say so in one line, never blame the input, exit 3."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    kind = "" if isinstance(exc, InternalError) else f"{type(exc).__name__}: "
    stderr.print(f"nbperf: internal error: {kind}{reason} (a bug in nbperf, not in your input; please report "
                 "it with the command and model; NBPERF_DEBUG=1 shows the traceback)", markup=False)
    return InternalError.exit_code


if __name__ == "__main__":
    sys.exit(main())
