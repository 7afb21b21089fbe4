"""A person's review actions on a page: accept, flag, add or remove a term, and undo.

Each action is written to the store (one transaction) before it returns, so a screen shows only
what is saved; the model's own labels stay untouched beside the review. UI-free: the TUI binds
keys to these, and tests can call them without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.page_states import Entry
from mlx_edugraph.store.review import Review, ReviewStatus, review_from
from mlx_edugraph.store.sqlite_store import Store


class ReviewActions:
    """Review actions on worklist entries, saved to `store`, with an undo stack."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._undo: list[tuple[tuple[str, int], Review | None]] = []

    @staticmethod
    def reviewable(entry: Entry | None) -> bool:
        """Only a page that has the model's labels can be reviewed."""
        return (
            entry is not None
            and entry.prediction is not None
            and entry.prediction.outcome != "error"
        )

    @staticmethod
    def labels_of(entry: Entry) -> dict[str, list[str]]:
        """The labels shown for a page: its review's where it has one, else the model's."""
        if entry.review is not None:
            return {d: list(entry.review.labels.get(d, [])) for d in DIMENSIONS}
        return {d: entry.prediction.terms(d) for d in DIMENSIONS}

    def accept(self, entry: Entry) -> None:
        """The shown labels (corrections included) are right."""
        self._review(entry, "accepted", self.labels_of(entry))

    def flag(self, entry: Entry) -> None:
        """Set the page aside for a second look."""
        self._review(entry, "flagged", self.labels_of(entry))

    def add_term(self, entry: Entry, dimension: str, term: str) -> None:
        labels = self.labels_of(entry)
        if term not in labels[dimension]:
            labels[dimension].append(term)
        self._review(entry, "corrected", labels)

    def remove_term(self, entry: Entry, dimension: str, term: str) -> None:
        labels = self.labels_of(entry)
        labels[dimension] = [t for t in labels[dimension] if t != term]
        self._review(entry, "corrected", labels)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self, entries: Iterable[Entry]) -> Entry | None:
        """Put back the review that the last action replaced (none: the review is deleted).
        Returns that page's entry, or None when it is no longer among `entries`."""
        key, previous = self._undo.pop()
        entry = next((e for e in entries if e.key == key), None)
        if entry is not None:
            self._save(entry, previous)
        return entry

    def _review(self, entry: Entry, status: ReviewStatus, labels: dict[str, list[str]]) -> None:
        self._undo.append((entry.key, entry.review))
        self._save(entry, review_from(entry.prediction, status, labels))

    def _save(self, entry: Entry, review: Review | None) -> None:
        if review is None:
            self.store.delete_review(entry.sha256, entry.ref.page)
        else:
            review.path = str(entry.ref.path)
            review = self.store.put_review(review)
        entry.review = review
