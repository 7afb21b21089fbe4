"""The review keys (accept, flag, add, remove, undo, next): each change is in the store, one
transaction, before the screen shows it."""

from __future__ import annotations

from collections.abc import Callable

from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.page_states import Entry

from .term_picker import TermPicker


class ReviewCommands:
    """Mixed into the review app: its actions for the review keys (see keymap.py)."""

    def _reviewable(self) -> Entry | None:
        entry = self.current
        if not self.review.reviewable(entry):
            self.notify("nothing to review here: the page has no labels yet", timeout=3)
            return None
        return entry

    def _reviewed(self, entry: Entry | None, act: Callable[..., None], *args: str) -> None:
        if entry is not None:
            act(entry, *args)
            self._refresh_entry(entry)
            self._collection_changed()

    def action_accept(self) -> None:
        """Accept the shown labels (corrections included) and go to the next unreviewed."""
        entry = self._reviewable()
        self._reviewed(entry, self.review.accept)
        if entry is not None:
            self.action_next_unreviewed()

    def action_flag(self) -> None:
        self._reviewed(self._reviewable(), self.review.flag)

    def action_add_term(self) -> None:
        entry = self._reviewable()
        if entry is None:
            return
        shown = self.labels_pane.highlighted
        dimension = shown.dimension if shown else DIMENSIONS[0]

        def picked(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self._reviewed(entry, self.review.add_term, *choice)

        exclude = set(self.review.labels_of(entry)[dimension])
        self.push_screen(TermPicker(self.ontology, dimension, exclude), picked)

    def action_remove_term(self) -> None:
        if not self.labels_pane.has_focus_within:  # never a label the user did not point at
            self.notify("x removes the highlighted label: tab to the labels first", timeout=4)
            return
        entry = self._reviewable()
        shown = self.labels_pane.highlighted
        if shown is not None:
            self._reviewed(entry, self.review.remove_term, shown.dimension, shown.term)

    def action_undo(self) -> None:
        if not self.review.can_undo:
            self.notify("nothing to undo", timeout=2)
            return
        entry = self.review.undo(self.entries)
        if entry is not None:
            self._refresh_entry(entry)
            self.notify(f"undone: {entry.ref.path.name}", timeout=2)

    def action_next_unreviewed(self) -> None:
        if not self.worklist.table.select_next_unreviewed(self._visible(), self.selected):
            self.notify("every labeled page is reviewed", timeout=3)
