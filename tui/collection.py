"""The pages the review app shows and what is known of each: the scan's entries, the store's
labels, the labeler's progress, duplicate sheets. No widgets: the app asks it what changed and
redraws that, so the order of the threads' messages is decided in one place."""

from __future__ import annotations

from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import Prediction
from mlx_edugraph.store.page_states import Entry

from .worksheet_list import entry_key, ref_key

Page = tuple[str, int]
"""A page as the store knows it: the file's SHA-256 and the page number."""


class Collection:
    """Entries by row key, and the steps from a scan to a queued labeling run.

    The stored labels are looked up once the pages are scanned and the labeling model is known
    (its fingerprint says which labels are current); the unlabeled pages are queued once the
    model is ready and the store was consulted.
    """

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.scanned = False
        self.chosen: tuple[str | None] | None = None
        """The labeling model's fingerprint, once told (a tuple: None is a fingerprint too)."""
        self.looked_up = False
        self.submitted = False

    def found(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.by_key = {entry_key(entry): entry for entry in entries}
        self.scanned = True

    def to_look_up(self) -> tuple[list[Page], str | None] | None:
        """The pages to read from the store, and under which fingerprint; None: not yet."""
        if not self.scanned or self.chosen is None:
            return None
        return [(e.sha256, e.ref.page) for e in self.entries if e.sha256], self.chosen[0]

    def predictions_found(self, predictions: dict[Page, Prediction]) -> None:
        for entry in self.entries:
            if entry.sha256:
                entry.prediction = predictions.get((entry.sha256, entry.ref.page))
        self.looked_up = True

    def to_submit(self, fingerprint: str | None) -> list[WorksheetRef] | None:
        """Once, when the model is ready and the store was read: the pages without labels (or
        with an error record) to label; None: not now."""
        if self.submitted or fingerprint is None or not self.looked_up:
            return None
        self.submitted = True
        return [
            e.ref for e in self.entries if e.prediction is None or e.prediction.outcome == "error"
        ]

    def unlabeled(self) -> list[WorksheetRef]:
        """Pages neither labeled nor in the labeler's hands."""
        return [e.ref for e in self.entries if e.prediction is None and not e.labeling]

    def entry_for(self, ref: WorksheetRef) -> Entry | None:
        return self.by_key.get(ref_key(ref))

    def page_started(self, ref: WorksheetRef) -> Entry | None:
        entry = self.entry_for(ref)
        if entry is not None:
            entry.labeling = True
        return entry

    def page_done(self, ref: WorksheetRef, prediction: Prediction) -> Entry | None:
        entry = self.entry_for(ref)
        if entry is not None:
            entry.labeling = False
            entry.prediction = prediction
            entry.sha256 = entry.sha256 or prediction.sha256
        return entry

    def labeling_stopped(self) -> list[Entry]:
        """The run ended or was cancelled: the pages it still held, no longer in its hands."""
        held = [entry for entry in self.entries if entry.labeling]
        for entry in held:
            entry.labeling = False
        return held

    def paths(self) -> dict[Page, str]:
        """The listed pages the store knows, with their paths."""
        return {(e.sha256, e.ref.page): str(e.ref.path) for e in self.entries if e.sha256}

    def mark_duplicates(self, duplicates: set[Page]) -> list[Entry]:
        """Mark the pages that are the same sheet as another; the entries whose mark changed."""
        changed = []
        for entry in self.entries:
            duplicate = (entry.sha256, entry.ref.page) in duplicates
            if entry.duplicate != duplicate:
                entry.duplicate = duplicate
                changed.append(entry)
        return changed

    def keys_of(self) -> dict[Page, str]:
        """Row keys by page, for the pages the store knows."""
        return {(e.sha256, e.ref.page): entry_key(e) for e in self.entries if e.sha256}
