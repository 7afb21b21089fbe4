"""The one way a command fails for a reason the user can fix, and the exit codes it documents.

Commands raise `UserError`; `cli.main` prints `error: <message>` on stderr and exits with its
code. The README's exit-code table is this module's `ExitCode`, row by row.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a command's exit status means (README, "Exit codes")."""

    OK = 0
    INCOMPLETE = 1
    """A given path is missing, or the store or an output file could not be written; the work
    that could be done was done and kept."""
    REFUSED = 2
    """Nothing was done: bad arguments, no model, no worksheets, an unusable file."""
    MODEL_FAILED = 3
    """The model failed on at least one page; those pages are stored as errors."""
    INTERRUPTED = 130
    """Ctrl-C; everything finished before is kept."""


class UserError(Exception):
    """A problem the user can fix; the message says what and how, the code is the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.REFUSED):
        super().__init__(message)
        self.code = code
