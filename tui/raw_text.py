"""The model's raw answer for a page, exactly as it was generated."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class RawText(ModalScreen[None]):
    """Shows raw text; escape or t closes it (q quits, as everywhere)."""

    BINDINGS = [
        Binding("escape,t", "dismiss(None)", "Close"),
        Binding("q", "app.quit", "Quit"),  # a modal screen hides the app's bindings
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="raw"):
            yield Static(self.title_text, id="raw-title")
            yield Static(
                self.text or "(empty: the model produced no text)", id="raw-body", markup=False
            )
