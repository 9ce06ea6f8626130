"""User-facing errors.

Every problem caused by the user's input (model file, arch file, command line) is raised as an
``NbperfError``. The CLI prints its message as one line on stderr and exits with ``exit_code`` (2).
A bug in nbperf is never one of these: code that detects its own inconsistency raises
``InternalError``, and the CLI reports it, like any other unexpected exception, as an internal
error with exit code 3 and a request to report it.
"""

from __future__ import annotations


class NbperfError(Exception):
    """A problem with the user's input, reported as one line and a non-zero exit code."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line


class ModelError(NbperfError):
    """The model file is missing, unreadable, malformed or has shapes nbperf cannot resolve."""


class ArchError(NbperfError):
    """The architecture preset or file is unknown or has an invalid field."""


class UsageError(NbperfError):
    """A command-line option has an invalid value."""


class InfeasibleError(NbperfError):
    """No feasible schedule exists (e.g. a task does not fit CMX even after tiling)."""


class InternalError(Exception):
    """nbperf broke its own invariants: a bug to report, never the user's fault (exit code 3)."""

    exit_code: int = 3
