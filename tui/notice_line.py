"""The app's notices in one line, in the status bar's row: a toast would cover the page on a
small terminal, and one that waits for a key is easy to miss. Each notice times out."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

STYLES = {"information": "", "warning": "bold yellow", "error": "bold red"}


@dataclass(frozen=True)
class Notice:
    message: str
    title: str
    severity: str


class NoticeLine(Static):
    """Shows the newest live notice in place of `covers` (the status bar), one line, cut with
    an ellipsis; when the last one times out, the status bar is back. No layout moves."""

    def __init__(self, covers: Widget, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.covers = covers
        self.notices: list[Notice] = []
        """The live notices, oldest first."""

    def say(
        self, message: str, *, title: str = "", severity: str = "information", timeout: float
    ) -> None:
        notice = Notice(" ".join(str(message).split()), title, severity)
        self.notices.append(notice)
        self.set_timer(timeout, lambda: self._expire(notice))
        self._paint()

    def _expire(self, notice: Notice) -> None:
        if notice in self.notices:
            self.notices.remove(notice)
        self._paint()

    def _paint(self) -> None:
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
