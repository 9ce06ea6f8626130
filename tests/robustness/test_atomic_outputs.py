"""Atomic outputs: JSON, CSV and trace files are written to a temporary file and renamed.

A failure injected at any point of the write (mid-write, at fsync, at the rename; an OSError, a bug
or Ctrl-C) leaves an existing target byte-identical and no temporary file behind. Through the CLI,
a failing run neither creates nor destroys its --json / --csv targets.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat

import pytest
from robustness_helpers import EXAMPLES

import nbperf
from nbperf.cli import main
from nbperf.errors import UsageError
from nbperf.report import atomic, write_csv, write_json
from nbperf.report.trace import write_trace

MODEL = EXAMPLES / "fsrcnn_x2_540p.onnx"
OLD = "previous report, must survive\n"


@pytest.fixture(scope="module")
def result():
    return nbperf.estimate(MODEL, "npu4000", schedule="emulator")


WRITERS = {"json": write_json, "csv": write_csv, "trace": write_trace}


class _HalfThenFail(io.BufferedWriter):
    """A file whose write puts half the bytes on disk, then fails like a full disk (or ``error``)."""

    error: BaseException = OSError(errno.ENOSPC, "No space left on device")

    def write(self, data: bytes) -> int:
        super().write(data[: len(data) // 2])
        self.flush()
        raise self.error


def _fdopen_failing(error: BaseException):
    def fdopen(fd, mode="rb", *args, **kwargs):
        wrapper = _HalfThenFail(io.FileIO(fd, "wb", closefd=True))
        wrapper.error = error
        return wrapper
    return fdopen


def _only(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


FAILURES = {
    "disk full mid-write": ("fdopen", OSError(errno.ENOSPC, "No space left on device"), UsageError),
    "bug mid-write": ("fdopen", RuntimeError("boom"), RuntimeError),
    "Ctrl-C mid-write": ("fdopen", KeyboardInterrupt(), KeyboardInterrupt),
    "fsync fails": ("fsync", OSError(errno.EIO, "Input/output error"), UsageError),
    "rename fails": ("replace", OSError(errno.EXDEV, "Invalid cross-device link"), UsageError),
}


def _inject(monkeypatch, where: str, error: BaseException) -> None:
    if where == "fdopen":
        monkeypatch.setattr(atomic.os, "fdopen", _fdopen_failing(error))
        return

    def fail(*_args, **_kwargs):
        raise error
    monkeypatch.setattr(atomic.os, where, fail)


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, result, writer, failure):
    where, error, raised = FAILURES[failure]
    target = tmp_path / f"report.{writer}"
    target.write_text(OLD)
    _inject(monkeypatch, where, error)
    with pytest.raises(raised) as e:
        WRITERS[writer](result, target)
    monkeypatch.undo()
    assert target.read_text() == OLD
    assert _only(tmp_path) == [target.name], "a temporary file was left behind"
    if raised is UsageError:
        assert e.value.message.startswith(f"cannot write {target}: ") and e.value.exit_code == 2


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_failed_write_of_a_new_file_creates_nothing(tmp_path, monkeypatch, result, writer):
    _inject(monkeypatch, "fdopen", OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(UsageError):
        WRITERS[writer](result, tmp_path / "new.out")
    assert _only(tmp_path) == []


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_successful_write_is_complete(tmp_path, result, writer):
    target = tmp_path / f"report.{writer}"
    target.write_text(OLD)
    WRITERS[writer](result, target)
    text = target.read_text()
    assert text.endswith("\n") and text != OLD
    if writer != "csv":
        json.loads(text)
    assert _only(tmp_path) == [target.name]


def test_new_file_gets_normal_permissions_and_old_file_keeps_its_own(tmp_path, result):
    """Was: reports came out 0600 (the temporary file's private mode) whatever the umask."""
    umask = os.umask(0o022)
    try:
        write_json(result, tmp_path / "new.json")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644
    kept = tmp_path / "kept.json"
    kept.write_text(OLD)
    kept.chmod(0o640)
    write_json(result, kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_symlink_target_is_written_through(tmp_path, result):
    real = tmp_path / "real.json"
    real.write_text(OLD)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_json(result, link)
    assert link.is_symlink() and json.loads(real.read_text())["model"] == MODEL.name


def test_long_file_name_is_writable(tmp_path, result):
    """Was: OSError (file name too long) from mkstemp, outside the error handling: exit 3."""
    target = tmp_path / ("r" * 250 + ".json")
    write_json(result, target)
    assert json.loads(target.read_text())["model"] == MODEL.name


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing" / "r.json", "does not exist"),
    (lambda p: p, "it is a directory"),
])
def test_unwritable_targets_are_usage_errors(tmp_path, result, make, message):
    with pytest.raises(UsageError, match=message):
        write_json(result, make(tmp_path))
    assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------------------------------
# through the CLI


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.parametrize("argv,message", [
    (["--arch", "npu9999"], "unknown arch 'npu9999'"),
    (["--set", "dpu.macs_per_tile=-1"], "dpu.macs_per_tile = -1"),
    (["--precision", "int4"], "'int4' is not one of 'int8', 'fp16'"),
])
def test_failed_run_neither_creates_nor_destroys_outputs(tmp_path, capsys, argv, message):
    kept = tmp_path / "kept.json"
    kept.write_text(OLD)
    before = _snapshot(tmp_path)
    new = tmp_path / "new.csv"
    code = main(["estimate", str(MODEL), *argv, "--json", str(kept), "--csv", str(new), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert _snapshot(tmp_path) == before, "the failed run touched its output files"


def test_failed_model_neither_creates_nor_destroys_outputs(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(MODEL.read_bytes()[:100])
    kept = tmp_path / "kept.csv"
    kept.write_text(OLD)
    before = _snapshot(tmp_path)
    code = main(["estimate", str(bad), "--json", str(tmp_path / "new.json"), "--csv", str(kept), "-q"])
    assert code == 2 and "is not a valid ONNX model" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_write_failure_through_the_cli_is_one_line_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    kept = tmp_path / "kept.json"
    kept.write_text(OLD)
    _inject(monkeypatch, "fdopen", OSError(errno.ENOSPC, "No space left on device"))
    code = main(["estimate", str(MODEL), "--json", str(kept), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"nbperf: error: cannot write {kept}: No space left on device"
    assert kept.read_text() == OLD and _only(tmp_path) == ["kept.json"]


def test_too_long_name_is_a_usage_error(tmp_path, result):
    """Was: OSError (file name too long) from Path.is_symlink, outside the error handling: exit 3."""
    with pytest.raises(UsageError, match=r"^cannot write .*: File name too long$"):
        write_json(result, tmp_path / ("r" * 300 + ".json"))
    assert _only(tmp_path) == []


def test_symlink_loop_is_replaced_by_the_report(tmp_path, result):
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    write_json(result, loop)
    assert not loop.is_symlink() and json.loads(loop.read_text())["model"] == MODEL.name
