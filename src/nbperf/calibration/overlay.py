"""Write a calibration as an arch overlay: ``base:`` the arch it was fitted on, and only the
``calibration`` section (``nbperf.arch.loader`` merges it over the base)."""

from __future__ import annotations

from pathlib import Path

import yaml

from nbperf.arch.loader import preset_names
from nbperf.calibration.session import CalibrationSession
from nbperf.report.atomic import write_text_atomic
from nbperf.version import __version__


def overlay_text(session: CalibrationSession, arch: str, name: str | None) -> str:
    fit = session.fit
    base = arch if arch in preset_names() else str(Path(arch).resolve())
    files = ", ".join(f"{m.name} <- {p}" for m, p in zip(session.models, session.measured, strict=True))
    held = fit.held_before, fit.held_after
    fitted_from = (f"nbperf {__version__} calibrate: {fit.train_after.count} training layers of {files}; "
                   f"held-out MAPE {held[0].mape_pct:.1f}% -> {held[1].mape_pct:.1f}%, within 10% "
                   f"{held[0].within_10_pct:.1f}% -> {held[1].within_10_pct:.1f}% ({held[1].count} layers)")
    calibration = fit.calibration
    section: dict[str, object] = {}
    if calibration.dpu:
        section["dpu"] = dict(sorted(calibration.dpu.items()))
    if calibration.shave:
        section["shave"] = dict(sorted(calibration.shave.items()))
    section["fitted_from"] = fitted_from
    data = {"base": base, "name": name or f"{session.estimates[0].arch.name}-calibrated",
            "calibration": section}
    header = ("# Arch overlay written by `nbperf calibrate`: per-op-class compute time factors (silicon /\n"
              "# model) over the base arch. Pass this file as --arch.\n")
    return header + yaml.safe_dump(data, sort_keys=False, width=110)


def write_overlay(path: str | Path, session: CalibrationSession, arch: str, name: str | None) -> None:
    write_text_atomic(path, overlay_text(session, arch, name))
