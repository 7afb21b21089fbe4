"""Every key of the app, with what it does."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

RESEARCH_NOTICE = (
    "Research use only: the EduGraph model's card says it is not for classroom decisions "
    "about children. Labels are suggestions for a person to review."
)


KEYS_IN_BOXES = (
    "In a text box (the filter, a term search, the export path) every letter is text, q too: "
    "esc leaves the box (the filter is cleared), ctrl+c quits from anywhere. Esc closes any "
    "window; q quits from every screen without a text box."
)
"""Where q is a letter and how to leave: the answer to "how do I get out of here"."""

MORE_KEYS = [
    ("j / k, arrows", "Move in the list"),
    ("z / Z", "Zoom in / out: whole page, page width, 2x to 16x; the page takes the keys"),
    ("arrows, h j k l, pgup / pgdn", "Pan the zoomed page"),
    ("esc (zoomed)", "Whole page; the keys go back to the list"),
    ("tab", "Switch list / labels"),
    ("enter (list over the page)", "Show the chosen page"),
    ("ctrl+p", "Command palette"),
]
"""Keys that belong to the widgets rather than to the app's bindings."""


def key_names(keys: str) -> str:
    """A binding's keys as people write them: "plus,i" -> "+ / i"."""
    names = {"question_mark": "?", "slash": "/", "plus": "+", "delete": "del"}
    return " / ".join(names.get(key, key) for key in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """Lists the app's key bindings (also in the command palette, ctrl+p)."""

    BINDINGS = [
        Binding("escape,question_mark", "dismiss(None)", "Close"),
        Binding("q", "app.quit", "Quit"),  # a modal screen hides the app's bindings
    ]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__()
        self.keys = [(key_names(b.key), b.tooltip or b.description) for b in bindings] + MORE_KEYS

    def compose(self) -> ComposeResult:
        table = Table(title="mlx-edugraph review: keys", expand=True, show_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        for key, description in self.keys:
            table.add_row(key, description)
        with VerticalScroll(id="help"):
            yield Static(RESEARCH_NOTICE, id="help-notes")
            yield Static(KEYS_IN_BOXES, id="help-keys")
            yield Static(table)
            yield Static("Mouse: click a worksheet or a label. ctrl+p: command palette.")
