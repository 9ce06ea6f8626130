"""Write output files atomically: a failing run never leaves a half-written file behind.

The text goes to a temporary file beside the target, is flushed to disk, and is renamed over the
target in one step, so readers see the old file or the new one, never a part. A failure at any
point removes the temporary file and leaves an existing target untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from nbperf.errors import UsageError

_MAX_PREFIX = 64  # of the target's name in the temporary file's name (names are at most 255 bytes)


def write_text_atomic(path: str | Path, text: str) -> None:
    """``write_bytes_atomic`` of ``text`` in UTF-8, line endings as given."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    A symlink target is written through (the file it points at is replaced). The new file gets
    the existing file's permissions, or the usual ones for a new file (0666 less the umask)
    rather than the private 0600 of a temporary file.
    """
    try:  # every step may raise OSError: a name too long, a loop of symlinks, no permission...
        target = Path(path)
        if target.is_symlink():
            target = Path(os.path.realpath(target))
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"cannot write {path}: folder {folder} does not exist")
        if target.is_dir():
            raise UsageError(f"cannot write {path}: it is a directory")
        mode = _mode_for(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_MAX_PREFIX]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (os.umask is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
