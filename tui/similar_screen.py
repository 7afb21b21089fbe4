"""The pages most like the one on screen, by the model's page vectors; choosing one moves the
list's cursor to it. The app finds them on a worker thread and opens this with the result."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from mlx_edugraph.store.similar_pages import DUPLICATE_THRESHOLD

HINT = "enter: go to the page · esc: back"


@dataclass
class SimilarRow:
    """One similar page: its name, similarity, and its row key in the list (None: the page is
    in the store but not among the pages the app shows)."""

    name: str
    similarity: float
    row_key: str | None


def _prompt(row: SimilarRow) -> Text:
    text = Text(f"{row.similarity:.4f}  ", style="bold")
    text.append(row.name, style="" if row.row_key else "dim")
    if row.similarity >= DUPLICATE_THRESHOLD:
        text.append("  near-duplicate", style="bold magenta")
    if row.row_key is None:
        text.append("  (not in this list)", style="dim")
    return text


class SimilarScreen(ModalScreen[str | None]):
    """Dismissed with the chosen page's row key, or None."""

    BINDINGS = [
        Binding("escape,m", "dismiss(None)", "Back"),
        Binding("q", "app.quit", "Quit"),  # a modal screen hides the app's bindings
    ]

    def __init__(self, title: str, rows: list[SimilarRow]) -> None:
        super().__init__()
        self.title_line = Static(title, id="similar-title")
        self.rows = rows
        self.options = OptionList(
            *[Option(_prompt(row), id=str(i)) for i, row in enumerate(rows)], id="similar-list"
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="similar"):
            yield self.title_line
            yield self.options
            yield Static(HINT, id="similar-hint")

    def on_mount(self) -> None:
        self.options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        row = self.rows[int(event.option.id)]
        if row.row_key is not None:
            self.dismiss(row.row_key)
        else:
            self.notify("that page is not among the pages this app shows", timeout=5)
