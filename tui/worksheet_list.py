"""The list of worksheet pages, one row each with its state mark and least confidence, under a
filter box; the filter and the sort order decide which pages show."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.store.page_states import (
    Entry,
    collection_page,
    least_confident_first,
    matches,
)

from .filter_box import FilterBox

MARKS: dict[str, tuple[str, str]] = {
    "queued": ("·", "dim"),
    "labeling": ("…", "bold yellow"),
    "labeled": ("✓", "green"),
    "needs review": ("?", "bold magenta"),
    "reviewed": ("★", "bold green"),
    "unsupported": ("∅", "cyan"),
    "error": ("✗", "bold red"),
}
"""State -> (mark, style): the glyph says the state at a glance, the word says it plainly."""


DUPLICATE_MARK = "≈"
"""Before the name of a page that is the same printed sheet as another page in the list."""

NAME_WIDTH = 26
"""Fixed, so the list never waits for a width pass (the caption shows the full path)."""


def ref_key(ref: WorksheetRef) -> str:
    """A page's row key (path and page number)."""
    return f"{ref.path}\0{ref.page}"


def entry_key(entry: Entry) -> str:
    return ref_key(entry.ref)


def _cells(entry: Entry, compact: bool = False) -> tuple[Text, Text, Text]:
    """The row's cells; compact: the state's mark without its word."""
    mark, style = MARKS[entry.state]
    name = entry.ref.path.name + (f" p{entry.ref.page}" if entry.ref.page else "")
    if entry.duplicate:
        name = f"{DUPLICATE_MARK} {name}"
    confidence = entry.confidence
    shown = "" if confidence is None else f"{confidence:.0%}"
    state = mark if compact else f"{mark} {entry.state}"
    return Text(state, style=style), Text(name), Text(shown, justify="right")


class WorksheetList(DataTable):
    """Worksheet pages; the highlighted row is the app's selection."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.compact = False
        """Narrow: the state column shows only the mark."""
        self._entries: list[Entry] = []

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._add_columns()

    def _add_columns(self) -> None:
        self.add_column(
            "state" if not self.compact else "", key="state", width=14 - 12 * self.compact
        )
        self.add_column("worksheet", key="name", width=NAME_WIDTH - 4 * self.compact)
        self.add_column("conf", key="conf", width=4)

    def set_compact(self, compact: bool) -> None:
        """Show the state in words (wide) or as its mark only, keeping the rows and cursor."""
        if compact == self.compact:
            return
        self.compact = compact
        keep = self.selected_key
        self.clear(columns=True)
        self._add_columns()
        self.show(self._entries, keep)

    def show(self, entries: list[Entry], keep: str | None = None) -> None:
        """Replace the rows with `entries`, keeping the cursor on `keep` when it is listed."""
        self.clear()
        self._entries = entries
        for entry in entries:
            self.add_row(*_cells(entry, self.compact), key=entry_key(entry))
        if keep is not None and entries:
            try:
                self.move_cursor(row=self.get_row_index(keep), animate=False)
            except Exception:  # the kept row was filtered out: stay at the top
                self.move_cursor(row=0, animate=False)

    def update_entry(self, entry: Entry) -> None:
        """Redraw one row (its state or confidence changed); no-op when filtered out."""
        key = entry_key(entry)
        if key not in self.rows:
            return
        state, name, confidence = _cells(entry, self.compact)
        self.update_cell(key, "state", state)
        self.update_cell(key, "name", name)
        self.update_cell(key, "conf", confidence)

    def step(self, by: int) -> None:
        """Move the cursor `by` rows, staying in the list."""
        if self.row_count:
            self.move_cursor(row=max(0, min(self.row_count - 1, self.cursor_row + by)))

    def select_next_unreviewed(self, entries: list[Entry], selected: str | None) -> bool:
        """Move to the next unreviewed page of `entries` after `selected`, wrapping around;
        False when there is none."""
        keys = [entry_key(e) for e in entries]
        start = keys.index(selected) + 1 if selected in keys else 0
        for entry in entries[start:] + entries[:start]:
            if entry.unreviewed and entry_key(entry) != selected:
                self.move_cursor(row=self.get_row_index(entry_key(entry)))
                return True
        return False

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value


@dataclass(frozen=True)
class TermFilter:
    """Pages whose final labels hold `term` or a term part of it (`terms`), in `dimension`."""

    dimension: str
    term: str
    terms: frozenset[str]

    def admits(self, entry: Entry) -> bool:
        page = collection_page(entry)
        return page is not None and bool(page.terms[self.dimension] & self.terms)


class Worklist(Vertical):
    """The filter box (shown by `/`) above the list of pages."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.by_confidence = False
        """Least confident first instead of by path."""
        self.term_filter: TermFilter | None = None
        """Set from the coverage screen: pages at or below one term."""
        self.filter_box = FilterBox(
            placeholder="filter: state, name or term (esc: clear)", id="filter"
        )
        self.table = WorksheetList(id="worksheets")

    def compose(self) -> ComposeResult:
        yield self.filter_box
        yield self.table

    def on_mount(self) -> None:
        self.filter_box.display = False

    def visible(self, entries: list[Entry]) -> list[Entry]:
        """The entries the filter (and the coverage screen's term) let through, in the
        chosen order."""
        needle = self.filter_box.value.strip().lower()
        shown = [entry for entry in entries if not needle or matches(entry, needle)]
        if self.term_filter is not None:
            shown = [entry for entry in shown if self.term_filter.admits(entry)]
        return least_confident_first(shown) if self.by_confidence else shown

    def clear_filters(self) -> bool:
        """No filter of either kind, the box hidden; False when there was none to clear."""
        box = self.filter_box
        if self.term_filter is None and not box.value and not box.display:
            return False
        self.term_filter = None
        box.value, box.display = "", False
        return True

    def open_filter(self) -> None:
        self.filter_box.display = True
        # Now, not after the queued messages (`focus()`): keys typed right after `/` are text.
        self.screen.set_focus(self.filter_box)

    @on(FilterBox.Left)
    def _filter_left(self, message: FilterBox.Left) -> None:
        message.stop()
        self.table.focus()

    @on(Input.Submitted)
    def _filter_done(self) -> None:
        self.filter_box.display = bool(self.filter_box.value)
        self.table.focus()
