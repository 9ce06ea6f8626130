"""User-facing errors.

Every problem caused by the user's input (model file, arch file, command line) is raised as an
``NbperfError``. The CLI prints its message as one line on stderr and exits with ``exit_code``;
anything else escaping is a bug in nbperf.
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
