"""The ``nbperf`` command line.

User errors end in one line on stderr and exit code 2; a bug in nbperf (``InternalError`` or any
unexpected exception) ends in one line that says so, and exit code 3 (NBPERF_DEBUG=1 for the
traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

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

# Piped output keeps whole rows: rich would squeeze the table to 80 columns otherwise.
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
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
    help="ONNX model, or OpenVINO IR .xml (its .bin beside it, or none: weightless); weights may be absent")]
ArchOpt = Annotated[list[str] | None, typer.Option(
    "--arch", "-a", help="preset name or YAML file [default: npu4000]", show_default=False)]
PrecisionOpt = Annotated[str | None, typer.Option(
    help="int8: quantize as NNCF does for the NPU (SHAVE ops stay fp16); fp16: every op in fp16")]
InputShapeOpt = Annotated[list[str] | None, typer.Option(
    "--input-shape", help="dynamic input shape, name=1x3x224x224 (repeatable)")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="arch override, e.g. dpu.macs_per_tile=4096 (repeatable)")]
CostOpt = Annotated[str, typer.Option(
    help="per-workload cost backend: math (closed form); 'emulator' is accepted for --schedule emulator")]
ScheduleOpt = Annotated[str, typer.Option(
    help="serial (layer by layer, the strategy search's own objective) or emulator (the task graph with "
         "CMX allocation, prefetch and barriers, run event by event); both use the same costs")]
PolicyOpt = Annotated[str, typer.Option(
    help="strategy choice: optimal (whole-graph search) or compiler (the NPU compiler's greedy rule)")]
ModeOpt = Annotated[str, typer.Option(
    help="headline: latency (one synchronous request, as benchmark_app -hint latency -api sync) or "
         "throughput (several requests in flight, as -hint throughput); the report gives both")]
StrategyOpt = Annotated[list[str] | None, typer.Option(
    "--strategy", help="force a strategy: LAYER=SOK, or all=SOH (repeatable)")]


def one_arch(arch: list[str] | None, command: str) -> str:
    """The one --arch of a single-arch command; several are a mistake, not 'keep the last'."""
    if arch and len(arch) > 1:
        sides = " ".join("--arch " + a for a in arch)
        raise UsageError(f"{command} takes one --arch, got {len(arch)} ({', '.join(arch)}); "
                         f"nbperf compare MODEL {sides} shows them side by side")
    return arch[0] if arch else "npu4000"


def _run(model: Path, arch: str, precision: str | None, input_shape: list[str] | None,
         set_: list[str] | None, cost: str, schedule: str, policy: str, strategy: list[str] | None, **extra):
    from nbperf.api import estimate as run_estimate

    precision = precision.lower() if precision else precision  # choices are case-insensitive
    cost, schedule, policy = cost.lower(), schedule.lower(), policy.lower()
    if precision not in (None, "int8", "fp16"):
        raise UsageError(f"--precision must be int8 or fp16, got {precision!r}")
    shapes = dict(parse_input_shape(s) for s in input_shape or [])
    forced = dict(parse_strategy(s) for s in strategy or [])
    return run_estimate(model, arch, precision=precision, input_shapes=shapes,  # type: ignore[arg-type]
                        arch_overrides=set_ or [], cost_model=cost, schedule=schedule, policy=policy,
                        strategies=forced, **extra)


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


@app.command()
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
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="write the JSON report here ('-': to stdout, instead of the table)")] = None,
    trace_path: Annotated[Path | None, typer.Option(
        "--trace", help="write a Perfetto / Chrome trace here (needs --schedule emulator)")] = None,
    prefetch_depth: Annotated[int | None, typer.Option(
        help="emulator: ops ahead whose first loads may be prefetched (default 1)")] = None,
    barriers: Annotated[int | None, typer.Option(help="emulator: override the arch's barrier count")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="write one CSV row per layer here")] = None,
    top: Annotated[int | None, typer.Option(help="table shows only the N slowest layers")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the latency line")] = False,
) -> None:
    """Estimate latency, FPS and per-layer cost of MODEL on an NPU."""
    from nbperf.report import print_report, write_csv, write_json

    if top is not None and top <= 0:
        raise UsageError(f"--top must be a positive number of layers, got {top}")
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path, "--csv": csv_path,
                    "--trace": trace_path})
    if trace_path is not None and schedule != "emulator" and cost != "emulator":
        raise UsageError("--trace needs --schedule emulator: the layer-serial schedule has no per-engine "
                         "timeline")
    result = _run(model, one_arch(arch, "estimate"), precision, input_shape, set_, cost, schedule, policy,
                  strategy, prefetch_depth=prefetch_depth, barriers=barriers, mode=mode.lower())
    if result.unknown_ops:
        stderr.print(f"nbperf: warning: {len(result.unknown_ops)} op(s) nbperf does not know were costed "
                     f"as generic SHAVE element-wise: {', '.join(result.unknown_ops)}", markup=False)
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
    if json_to_stdout:
        return
    if quiet:
        line = (f"{result.model} on {result.arch_label}: {result.throughput_fps:,.1f} FPS in throughput mode"
                if result.mode == "throughput" else
                f"{result.model} on {result.arch_label}: {result.latency_ms:.3f} ms, {result.fps:,.1f} FPS")
        stdout.print(line, markup=False)
    else:
        print_report(result, stdout, top)


@app.command()
def explain(
    model: ModelArg,
    arch: ArchOpt = None,
    layer: Annotated[str | None, typer.Option(
        help="the layer to explain; without it, every layer's choice")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
) -> None:
    """Explain the split strategy of one layer (every candidate and why) or of every layer.

    Each alternative of a layer is priced for the whole graph under the chosen schedule."""
    from nbperf.api import explain as explain_layer
    from nbperf.report.explain_table import candidates_table, plan_table

    result = _run(model, one_arch(arch, "explain"), precision, input_shape, set_, cost, schedule, policy,
                  strategy)
    if layer is None:
        stdout.print(plan_table(result))
        return
    forced = dict(parse_strategy(s) for s in strategy or [])
    stdout.print(candidates_table(explain_layer(result, layer, forced), result.arch_label))


@app.command(epilog="Example: nbperf compare resnet50.onnx -a npu4000 -a npu4000+dpu.macs_per_tile=4096")
def compare(
    model: Annotated[Path | None, typer.Argument(
        help="the model to compare on several archs (or give --model twice)", show_default=False)] = None,
    arch: Annotated[list[str] | None, typer.Option(
        "--arch", "-a", help="an arch side: preset or YAML file, with overrides as npu4000+"
                             "dpu.macs_per_tile=4096 (repeatable; the first is the baseline)")] = None,
    models: Annotated[list[Path] | None, typer.Option(
        "--model", "-m", help="a model side, on one arch (repeatable; the first is the baseline)")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    strategy: StrategyOpt = None,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="write the comparison as JSON here ('-': to stdout, instead of the tables)")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="write one CSV row per layer here")] = None,
    top: Annotated[int, typer.Option(help="table rows: the N layers whose time changes most (0: all)")] = 25,
) -> None:
    """Compare per-layer and total time of one model on several archs, or of several models on one
    arch: side by side, speedup per layer and in total, what bounds each layer, largest change first."""
    from nbperf.compare import compare as run_compare
    from nbperf.compare import comparison_record, comparison_rows
    from nbperf.report.atomic import write_text_atomic
    from nbperf.report.compare_table import layers_table, totals_table

    if top < 0:
        raise UsageError(f"--top must be >= 0 (0 shows every layer), got {top}")
    json_to_stdout = json_path is not None and str(json_path) == "-"
    _check_outputs({"--json": None if json_to_stdout else json_path, "--csv": csv_path})
    sides = ([model] if model is not None else []) + list(models or [])
    precision = precision.lower() if precision else precision
    if precision not in (None, "int8", "fp16"):
        raise UsageError(f"--precision must be int8 or fp16, got {precision!r}")
    result = run_compare(sides, list(arch or ["npu4000"]), arch_overrides=set_ or [], precision=precision,
                         input_shapes=dict(parse_input_shape(s) for s in input_shape or []),
                         cost_model=cost.lower(), schedule=schedule.lower(), policy=policy.lower(),
                         strategies=dict(parse_strategy(s) for s in strategy or []))
    if json_path is not None:
        import json

        text = json.dumps(comparison_record(result), indent=2) + "\n"
        if json_to_stdout:
            sys.stdout.write(text)
            return
        write_text_atomic(json_path, text)
    if csv_path is not None:
        import csv
        import io

        rows = comparison_rows(result)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["layer"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(csv_path, buffer.getvalue())
    stdout.print(totals_table(result))
    stdout.print(layers_table(result, top or None))


@app.command(epilog="Example: nbperf sweep --models examples/models --grid dpu.macs_per_tile=2048,4096 "
                     "--grid tiles=2,4,6 --out results.parquet")
def sweep(
    models: Annotated[list[str], typer.Option(
        "--models", "-m", help="model files, folders (their .onnx / .xml) or glob patterns (repeatable)")],
    out: Annotated[Path, typer.Option(
        help="results file, .parquet or .csv; an existing one is resumed (its points are skipped)")],
    arch: Annotated[str, typer.Option("--arch", "-a", help="the base arch: preset or YAML file")] = "npu4000",
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", "-g", help="a swept parameter, key=v1,v2: an arch field (dpu.macs_per_tile, tiles, "
                             "cmx.bytes_per_tile, dma.ddr_bandwidth_gbps, ...) or precision (int8, fp16, "
                             "model), policy, schedule (repeatable; points: the cartesian product)")] = None,
    executor: Annotated[str, typer.Option(
        help="pool (local processes), ray (a Ray cluster: --address, or a local one) or serial")] = "pool",
    workers: Annotated[int | None, typer.Option(
        help="processes (pool) or CPUs (local Ray) [default: all cores]", show_default=False)] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (with --executor ray)")] = None,
    precision: PrecisionOpt = None,
    input_shape: InputShapeOpt = None,
    set_: SetOpt = None,
    cost: CostOpt = "math",
    schedule: ScheduleOpt = "serial",
    policy: PolicyOpt = "optimal",
    modes: Annotated[bool, typer.Option(
        "--modes/--no-modes", help="add throughput-mode FPS and the -hint latency compile to each row "
                                   "(each may estimate again on fewer tiles)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Estimate every model at every point of a design-space grid; one row per (model, point) with
    every summary figure and each swept parameter as its own column (grid.KEY)."""
    from nbperf.sweep import sweep as run_sweep

    options: dict[str, object] = {"cost_model": cost.lower()}
    swept = {g.partition("=")[0].strip() for g in grid or []}
    for key, value in (("precision", precision), ("schedule", schedule), ("policy", policy)):
        if key not in swept:  # a swept option takes its values from the grid, not the default
            options[key] = value.lower() if value else value
    if input_shape:
        options["input_shapes"] = dict(parse_input_shape(s) for s in input_shape)
    with _progress(quiet) as progress:
        run = run_sweep(models, arch, grid or [], out=out, executor=executor.lower(), workers=workers,
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
    results: Annotated[Path, typer.Argument(help="a results file of nbperf sweep (.parquet or .csv)")],
    png: Annotated[Path | None, typer.Option(help="write the Pareto plots as a PNG here")] = None,
    html: Annotated[Path | None, typer.Option(
        help="write them as a self-contained HTML page here (plotly.js inside, works offline)")] = None,
    x: Annotated[str, typer.Option(
        help="cost axis: a results column (area_proxy_macs = tiles x MACs per tile); lower is better "
             "unless it is a known higher-is-better figure or ends in ':max'")] = "area_proxy_macs",
    y: Annotated[str, typer.Option(
        help="performance axis: latency_ms, device_ms, throughput_fps (higher is better), or COLUMN:min|max")]
        = "latency_ms",
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


@arch_app.command("list")
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
                      f"{a.cmx.bytes_per_tile // 1024} KB", f"{a.dma.ddr_bandwidth_gbps:g}",
                      f"{a.peak_tops('int8'):.1f}", a.description)
    stdout.print(table)


@arch_app.command("show")
def arch_show(name: Annotated[str, typer.Argument(help="preset name or YAML file")]) -> None:
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
