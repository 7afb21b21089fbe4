"""The app's notices in one line, in the status bar's row: a toast would cover the page on a
small terminal, and one that waits for a key is easy to miss. Each notice times out."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from .lifetime import live

STYLES = {"information": "", "warning": "bold yellow", "error": "bold red"}

WAITING = 4
"""At most this many notices are kept; older ones are dropped unseen."""


@dataclass(frozen=True)
class Notice:
    message: str
    title: str
    severity: str
    timeout: float


class NoticeLine(Static):
    """Shows the newest notice in place of `covers` (the status bar), one line, cut with an
    ellipsis, for its timeout; then the one it hid, for its whole timeout again, so a notice
    said at start is not lost under a later one. With none left the status bar is back; the
    page never moves."""

    def __init__(self, covers: Widget, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.covers = covers
        self.notices: list[Notice] = []
        """The notices still to show, oldest first; the last one is on screen."""
        self._timer: Timer | None = None

    def say(
        self, message: str, *, title: str = "", severity: str = "information", timeout: float
    ) -> None:
        self.notices.append(Notice(" ".join(str(message).split()), title, severity, timeout))
        del self.notices[:-WAITING]
        self._show_newest()

    def on_mount(self) -> None:
        self._show_newest()  # a notice told before the line was there

    def _expire(self) -> None:
        if self.notices:
            self.notices.pop()
        self._show_newest()

    def _show_newest(self) -> None:
        if not live(self):  # not composed yet (on_mount shows it), or the app is closing
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        shown = bool(self.notices)
        self.display = shown
        self.covers.display = not shown
        if not shown:
            return
        notice = self.notices[-1]
        text = Text(f"{notice.title}: " if notice.title else "", style="bold")
        text.append(notice.message, style=STYLES.get(notice.severity, ""))
        self.set_classes(f"-{notice.severity}")
        self.update(text)
        self._timer = self.set_timer(notice.timeout, self._expire)
