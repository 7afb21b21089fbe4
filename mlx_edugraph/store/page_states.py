"""The review worklist: each worksheet page with its prediction, its review and its state.

UI-free, so the TUI shows what this decides and tests can check it without a screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mlx_edugraph.pages.worksheets import WorksheetError, WorksheetRef, file_sha256
from mlx_edugraph.prediction import DIMENSIONS, Prediction
from mlx_edugraph.store.collection import CollectionPage
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store

State = Literal["queued", "labeling", "labeled", "needs review", "reviewed", "unsupported", "error"]

REVIEW_BELOW = 0.5
"""A labeled page whose least certain term is below this confidence needs a person's look."""


@dataclass
class Entry:
    """One worksheet page of the worklist."""

    ref: WorksheetRef
    sha256: str = ""
    prediction: Prediction | None = None
    review: Review | None = None
    labeling: bool = False
    problem: str | None = None
    """Why the file could not even be read (hashing failed); shown as an error."""
    duplicate: bool = False
    """Another listed page is the same printed sheet (by the stored sheet signatures)."""

    @property
    def key(self) -> tuple[str, int]:
        return (str(self.ref.path), self.ref.page)

    @property
    def state(self) -> State:
        """What the list shows for this page."""
        if self.labeling:
            return "labeling"
        if self.review is not None:
            return "reviewed" if self.review.is_truth else "needs review"
        if self.problem is not None:
            return "error"
        prediction = self.prediction
        if prediction is None:
            return "queued"
        if prediction.outcome == "error":
            return "error"
        if prediction.outcome == "unsupported":
            return "unsupported"
        if prediction.outcome != "labeled" or needs_review(prediction):
            return "needs review"
        return "labeled"

    @property
    def confidence(self) -> float | None:
        """The least certain term's confidence (the review queue's order)."""
        return self.prediction.min_confidence if self.prediction else None

    @property
    def unreviewed(self) -> bool:
        """Labeled by the model but not yet settled by a person."""
        done = self.review is not None and self.review.is_truth
        return self.prediction is not None and self.prediction.outcome != "error" and not done


def needs_review(prediction: Prediction) -> bool:
    """Unknown or misplaced terms, or a term the model was unsure of."""
    if any(label.status in ("unknown", "wrong_dimension") for label in prediction.labels):
        return True
    confidence = prediction.min_confidence
    return confidence is not None and confidence < REVIEW_BELOW


def build_entries(refs: Iterable[WorksheetRef], store: Store) -> list[Entry]:
    """Entries for `refs` with their hashes and reviews; their predictions come from
    `predictions_of` once the model that labels them is known."""
    entries = []
    for ref in refs:
        entry = Entry(ref)
        try:
            entry.sha256 = file_sha256(ref.path)
        except WorksheetError as exc:
            entry.problem = str(exc)
            entries.append(entry)
            continue
        entry.review = store.review(entry.sha256, ref.page)
        entries.append(entry)
    return entries


def predictions_of(
    pages: Iterable[tuple[str, int]], store: Store, model_fingerprint: str | None
) -> dict[tuple[str, int], Prediction]:
    """What the store holds for each (SHA-256, page): the prediction of the model with this
    fingerprint, or with None (no model labels here) the newest of any model."""
    found = {}
    for sha256, page in pages:
        if model_fingerprint:
            prediction = store.get(sha256, page, model_fingerprint)
        else:
            prediction = store.latest(sha256, page)
        if prediction is not None:
            found[(sha256, page)] = prediction
    return found


def matches(entry: Entry, needle: str) -> bool:
    """The list's filter: a state ("needs review", "error"), part of the file's path, or part of
    a predicted or reviewed term; `needle` in lower case."""
    if needle in entry.state or needle in str(entry.ref.path).lower():
        return True
    terms = [lab.term for lab in entry.prediction.labels] if entry.prediction else []
    if entry.review is not None:
        terms += [t for ts in entry.review.labels.values() for t in ts]
    return any(needle in term.lower() for term in terms)


def least_confident_first(entries: Iterable[Entry]) -> list[Entry]:
    """Pages to review first: unreviewed before reviewed, then by the least certain term."""

    def order(entry: Entry) -> tuple:
        confidence = entry.confidence
        return (not entry.unreviewed, confidence is None, confidence or 0.0, entry.key)

    return sorted(entries, key=order)


def collection_page(entry: Entry) -> CollectionPage | None:
    """The entry as a page of the collection, with its final labels (a person's where they
    accepted or corrected them, else the prediction's); None before it has either."""
    prediction, review = entry.prediction, entry.review
    if prediction is None and review is None:
        return None
    terms: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    if review is not None and review.is_truth:
        for dimension in DIMENSIONS:
            terms[dimension].update(review.labels.get(dimension, ()))
    elif prediction is not None:
        for label in prediction.labels:
            terms.setdefault(label.dimension, set()).add(label.term)
    return CollectionPage(
        entry.sha256,
        entry.ref.page,
        str(entry.ref.path),
        prediction.outcome if prediction else "labeled",
        review.status if review else "",
        prediction.min_confidence if prediction else None,
        terms,
        exists=entry.problem is None,
    )


def collection_pages(entries: Iterable[Entry]) -> list[CollectionPage]:
    """`collection_page` of every entry that has results."""
    return [page for entry in entries if (page := collection_page(entry)) is not None]
