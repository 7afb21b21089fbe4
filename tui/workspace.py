"""The review screen's body, page first: the page is the largest thing at every terminal size,
and the list and the labels take what is left.

- wide (>= WIDE_FROM columns): list | page | labels, the list with each page's state in words;
- medium: the same with a compact list (state mark, name, confidence) and narrower sides;
- narrow (< MEDIUM_FROM, e.g. Terminal.app's 80x24): the list folds into one line above the
  page ("page 3 of 40 · ✓ labeled · 98%"); `w` shows the whole list in the page's place until
  a page is chosen (Enter) or `w`/Esc closes it. The labels sit beside the page, 30 columns.

At any width `w` swaps between the two: a wide terminal can fold the list away too, so the
page gets its room. Short terminals give the label's definition fewer rows.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import DataTable, Static

from mlx_edugraph.store.page_states import Entry

from .labels_pane import LabelsPane
from .preview import Preview
from .worksheet_list import MARKS, Worklist

MEDIUM_FROM = 110
"""Columns from which the list stays beside the page (compact)."""

WIDE_FROM = 160
"""Columns from which the list shows each page's state in words."""

TALL_FROM = 36
"""Rows from which the label's definition gets its full height."""


def layout_for(width: int) -> str:
    """The layout class for a terminal `width` columns wide."""
    if width >= WIDE_FROM:
        return "-wide"
    return "-medium" if width >= MEDIUM_FROM else "-narrow"


def page_line(entry: Entry | None, position: int, count: int) -> Text:
    """The folded list in one line: where the page is in the list, its state, confidence."""
    if entry is None:
        return Text(f"no page shown · {count} in the list · w: list", style="dim")
    mark, style = MARKS[entry.state]
    line = Text(f"page {position} of {count} · ")
    line.append(f"{mark} {entry.state}", style=style)
    if entry.confidence is not None:
        line.append(f" · {entry.confidence:.0%}")
    if entry.duplicate:
        line.append(" · ≈ duplicate sheet")
    line.append(" · j/k: page · w: list", style="dim")
    return line


class Workspace(Vertical):
    """The folded list's line over the list, the page and its labels, laid out for the width."""

    def __init__(self, worklist: Worklist, preview: Preview, labels: LabelsPane, **kwargs):
        super().__init__(**kwargs)
        self.worklist = worklist
        self.preview = preview
        self.labels_pane = labels
        self.layout_class = ""
        self.swapped = False
        """`w` was pressed: the list is shown when it would be folded, or folded when shown."""
        self._line = Static("", id="page-line")

    def compose(self) -> ComposeResult:
        yield self._line
        with Horizontal(id="main"):
            yield self.worklist
            yield self.preview
            yield self.labels_pane

    def on_resize(self, event: Resize) -> None:
        width, height = self.app.size
        layout = layout_for(width)
        self.set_class(height < TALL_FROM, "-short")
        if layout == self.layout_class:
            return
        self.layout_class = layout
        self.swapped = False
        self.set_classes(["-short"] * (height < TALL_FROM) + [layout])
        self.worklist.table.set_compact(layout != "-wide")
        self.labels_pane.show_crumbs(layout == "-wide")
        self._arrange()

    @property
    def list_folded(self) -> bool:
        """The list is one line above the page."""
        return (self.layout_class == "-narrow") != self.swapped

    @property
    def list_over_page(self) -> bool:
        """The list is shown in the page's place (narrow terminals)."""
        return self.layout_class == "-narrow" and self.swapped

    def toggle_list(self, focus: bool = True) -> None:
        """`w`: show the folded list (and give it the keys, unless not to `focus`), or fold
        the shown one."""
        self.swapped = not self.swapped
        self._arrange()
        if not self.list_folded and focus:
            self.worklist.table.focus()
        elif self.worklist.has_focus_within:
            self.labels_pane.focus_labels()

    def close_list(self) -> bool:
        """Put the page back where the list covered it; False when it did not."""
        if not self.list_over_page:
            return False
        self.toggle_list()
        return True

    def _arrange(self) -> None:
        self.set_class(self.list_folded, "-folded")
        self.set_class(self.list_over_page, "-list-over-page")
        if self.list_folded and self.worklist.table.has_focus:
            self.labels_pane.focus_labels()

    def focus_home(self) -> None:
        """The keys start on the list, or on the labels while the list is folded (decided
        from the terminal's width: called at mount, before the first resize)."""
        if (layout_for(self.app.size.width) == "-narrow") != self.swapped:
            self.labels_pane.focus_labels()
        else:
            self.worklist.table.focus()

    @on(DataTable.RowSelected)
    def _row_chosen(self) -> None:
        """Enter on a page in the list shown over the page: read that page."""
        self.close_list()

    def show_selection(self, entry: Entry | None) -> None:
        """Repaint the folded list's line for the selected page."""
        table = self.worklist.table
        position = table.cursor_row + 1 if table.row_count else 0
        self._line.update(page_line(entry, position, table.row_count))
