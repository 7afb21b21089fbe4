"""Stopping long model work when asked (the review app quitting): checked between steps (a
teaching step, a page prepared, a token), since MLX cannot be interrupted inside one."""

from __future__ import annotations

from collections.abc import Callable

StopCheck = Callable[[], bool]
"""Asked between steps: True once the work should stop."""


class Stopped(BaseException):
    """The work stopped when asked, keeping nothing half-done.

    A BaseException, like KeyboardInterrupt: the handlers that turn one page's failure into its
    error record, or a failed demo build into a message, must let a stop through.
    """


def check(stop: StopCheck | None) -> None:
    """Raise `Stopped` if `stop` says so (None: never)."""
    if stop is not None and stop():
        raise Stopped
