"""The pages related to the one on screen, and the pages after and before it on a learning
path, each with why; choosing one moves the list's cursor to it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

HINT = "enter: go to the page · esc: back"


@dataclass
class RelatedRow:
    """One page: its name, how close its competences are, why it is listed, and its row key in
    the list (None: the page is in the store but not among the pages the app shows)."""

    name: str
    score: float
    why: str
    row_key: str | None


def _prompt(row: RelatedRow) -> Table:
    """The score in its own column, so the name and a wrapped why line up beside it."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    text = Text(row.name, style="" if row.row_key else "dim")
    if row.row_key is None:
        text.append("  (not in this list)", style="dim")
    text.append(f"\n{row.why}", style="italic")
    grid.add_row(Text(f"{row.score:.2f}", style="bold"), text)
    return grid


class RelatedScreen(ModalScreen[str | None]):
    """Dismissed with the chosen page's row key, or None."""

    BINDINGS = [
        Binding("escape,g", "dismiss(None)", "Back"),
        Binding("q", "app.quit", "Quit"),  # a modal screen hides the app's bindings
    ]

    def __init__(self, title: str, lists: dict[str, list[RelatedRow]]) -> None:
        super().__init__()
        self.title_line = Static(title, id="related-title")
        self.lists = lists
        self.rows: dict[str, RelatedRow] = {}
        options: list[Option] = []
        for heading, rows in lists.items():
            count = f"{len(rows)} page(s)" if rows else "none in the store"
            options.append(Option(Text(f"{heading}: {count}", style="bold"), disabled=True))
            for i, row in enumerate(rows):
                self.rows[f"{heading}-{i}"] = row
                options.append(Option(_prompt(row), id=f"{heading}-{i}"))
        self.options = OptionList(*options, id="related-list")

    def compose(self) -> ComposeResult:
        with Vertical(id="related"):
            yield self.title_line
            yield self.options
            yield Static(HINT, id="related-hint")

    def on_mount(self) -> None:
        self.options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        row = self.rows[event.option.id]
        if row.row_key is not None:
            self.dismiss(row.row_key)
        else:
            self.notify("that page is not among the pages this app shows", timeout=5)
