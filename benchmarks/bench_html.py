"""The HTML report (issue 13): file size and how long headless Chromium takes to open it.

    python3 benchmarks/bench_html.py [--repeat 3] [--screenshot docs/img/report.png]

For every model in examples/models and BERT-base from ../shared/models (when present), both
schedules: the report's size in MB and the time from navigation to the load event with every plot
drawn, the median of ``--repeat`` loads, each in a fresh browser context (goals: BERT-base
emulated under 10 MB and under 3 s). The first row is plotly.js alone: the floor no report can go
under on this machine. ``--screenshot PATH`` also saves a full-page screenshot of the ResNet-50
report (emulated schedule) at 1400 px wide.

Needs plotly, playwright (``pip install playwright``; no ``playwright install``) and Chromium at
/usr/bin/chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbperf
from nbperf.report.html import page, write_html

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "models"
BERT = REPO.parent / "shared" / "models" / "bert_base_s128.onnx"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
ALL_PLOTS_DRAWN = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .every(d => d.querySelector('svg.main-svg, canvas'))"""


def load_seconds(browser: Any, path: Path) -> float:
    """Navigation to the load event with every plot drawn, in a fresh offline context."""
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    try:
        tab = context.new_page()
        start = time.perf_counter()
        tab.goto(path.resolve().as_uri(), wait_until="load")
        tab.wait_for_function(ALL_PLOTS_DRAWN, timeout=120_000)
        return time.perf_counter() - start
    finally:
        context.close()


def screenshot(browser: Any, model: Path, out: Path, folder: Path) -> None:
    html = folder / "screenshot.html"
    write_html(nbperf.estimate(model, schedule="emulator"), html)
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, offline=True)
    try:
        tab = context.new_page()
        tab.goto(html.resolve().as_uri(), wait_until="load")
        tab.wait_for_function(ALL_PLOTS_DRAWN, timeout=120_000)
        tab.screenshot(path=str(out), full_page=True)
    finally:
        context.close()
    print(f"screenshot of {model.name} (emulated): {out} ({out.stat().st_size / 1e3:.0f} kB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="loads per report; the median is shown")
    parser.add_argument("--screenshot", type=Path, help="save a full-page screenshot of the ResNet-50 report")
    args = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("bench_html needs playwright: pip install playwright (the browser is /usr/bin/chromium)")
    if not CHROMIUM.exists():
        sys.exit(f"bench_html needs Chromium at {CHROMIUM}: apt-get install chromium")
    models = sorted(EXAMPLES.glob("*.onnx")) + ([BERT] if BERT.exists() else [])
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        print(f"load: navigation to load event with every plot drawn, headless Chromium {browser.version}, "
              f"median of {args.repeat} (min-max in brackets)")
        print(f"{'report':<28} {'schedule':<9} {'layers':>6} {'tasks':>6} {'MB':>6} {'load s':>7} "
              f"{'range s':>12}")
        floor = folder / "plotly-only.html"
        floor.write_text(page("plotly.js alone", []), encoding="utf-8")
        rows: list[tuple[str, str, str, str, Path]] = [("(plotly.js alone)", "-", "-", "-", floor)]
        for model in models:
            for schedule in ("serial", "emulator"):
                estimate = nbperf.estimate(model, schedule=schedule)
                path = folder / f"{model.stem}.{schedule}.html"
                write_html(estimate, path)
                tasks = len(estimate.emulation.graph.tasks) if estimate.emulation is not None else "-"
                rows.append((model.stem, schedule, str(len(estimate.schedule.tasks)), str(tasks), path))
        for name, schedule, layers, tasks, path in rows:
            times = sorted(load_seconds(browser, path) for _ in range(args.repeat))
            print(f"{name:<28} {schedule:<9} {layers:>6} {tasks:>6} {path.stat().st_size / 1e6:>6.2f} "
                  f"{statistics.median(times):>7.2f} {f'({times[0]:.2f}-{times[-1]:.2f})':>12}")
        if args.screenshot is not None:
            screenshot(browser, EXAMPLES / "resnet50.onnx", args.screenshot, folder)
        browser.close()


if __name__ == "__main__":
    main()
