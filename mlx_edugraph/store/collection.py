"""The store as a collection: each page's final labels, and the pages that carry given terms.

A page's final labels are its review's where a person accepted or corrected them, else its
newest prediction's (of any model); every row says which. The questions are answered by SQLite
from the term index (`prediction_terms`, `review_terms`), so they stay fast at 100,000 pages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.sqlite_store import Store

_NEWEST = """
    newest AS (
        SELECT p.key, p.page, p.model_fingerprint, p.path, p.outcome, p.min_confidence
        FROM newest_predictions AS n JOIN predictions AS p
            ON p.key = n.key AND p.page = n.page AND p.model_fingerprint = n.model_fingerprint
    ),
    truth AS (SELECT key, page FROM reviews WHERE status IN ('accepted', 'corrected')),
    final AS (
        SELECT t.key, t.page, t.dimension, t.term FROM review_terms AS t
        JOIN truth USING (key, page)
        UNION ALL
        SELECT t.key, t.page, t.dimension, t.term FROM prediction_terms AS t
        JOIN newest_predictions AS n
            ON t.key = n.key AND t.page = n.page AND t.model_fingerprint = n.model_fingerprint
        WHERE NOT EXISTS (SELECT 1 FROM truth AS r WHERE r.key = t.key AND r.page = t.page)
    )
"""
"""Common table expressions: each page's newest prediction, the settled reviews, and the
final (dimension, term) rows of every page."""

_HAVING_TERM = """
    SELECT t.key, t.page FROM prediction_terms AS t
    JOIN newest_predictions AS n
        ON n.key = t.key AND n.page = t.page AND n.model_fingerprint = t.model_fingerprint
    WHERE t.dimension = ? AND t.term IN ({marks}) AND NOT EXISTS (
        SELECT 1 FROM reviews AS r WHERE r.key = t.key AND r.page = t.page
        AND r.status IN ('accepted', 'corrected')
    )
    UNION
    SELECT t.key, t.page FROM review_terms AS t
    JOIN reviews AS r ON r.key = t.key AND r.page = t.page
    WHERE t.dimension = ? AND t.term IN ({marks}) AND r.status IN ('accepted', 'corrected')
"""
"""Pages whose final labels hold one of some terms of a dimension, found through the term
indexes (the filter inside each branch, not after the union)."""


@dataclass
class CollectionPage:
    """One page of the collection with its final labels."""

    key: str
    page: int
    path: str
    outcome: str
    review: str
    """"accepted", "corrected", "flagged", or "" (not reviewed)."""
    min_confidence: float | None
    terms: dict[str, set[str]] = field(default_factory=lambda: {d: set() for d in DIMENSIONS})
    exists: bool = True
    """Whether the file is still where the store last saw it (gone pages are still counted)."""

    @property
    def source(self) -> str:
        """Which labels count: "reviewed" (a person settled them) or "predicted"."""
        return "reviewed" if self.review in ("accepted", "corrected") else "predicted"

    @property
    def label(self) -> str:
        return f"{self.path} p{self.page}" if self.page else self.path


def pages(store: Store, under: Iterable[Path] = ()) -> list[CollectionPage]:
    """Every page in the store (or under the folders and files `under`), in path order."""
    found = _load(store, None)
    return under_paths(found, under) if under else found


def find(
    store: Store,
    wanted: dict[str, set[str]],
    *,
    reviewed: bool = False,
    min_confidence: float | None = None,
) -> list[CollectionPage]:
    """Pages whose final labels hold, in each dimension of `wanted`, one of its terms (callers
    expand terms to their descendants). `reviewed`: settled pages only. `min_confidence`:
    predicted pages whose least confident label reaches it (settled pages always pass)."""
    selects, args = [], []
    for dimension, terms in wanted.items():
        if terms:
            marks = ", ".join("?" * len(terms))
            # Compound selects chain left to right: each dimension's union is its own subquery.
            selects.append(f"SELECT key, page FROM ({_HAVING_TERM.format(marks=marks)})")
            args += [dimension, *sorted(terms)] * 2
    if not selects:
        raise ValueError("give at least one term")
    keys = store.query(" INTERSECT ".join(selects), args).fetchall()
    matched = _load(store, keys)
    if reviewed:
        matched = [p for p in matched if p.source == "reviewed"]
    if min_confidence is not None:
        matched = [
            p
            for p in matched
            if p.source == "reviewed"
            or (p.min_confidence is not None and p.min_confidence >= min_confidence)
        ]
    return matched


def _load(store: Store, keys: list[tuple[str, int]] | None) -> list[CollectionPage]:
    """The pages with these (key, page) pairs (None: all of them), with their final labels."""
    if keys is None:
        pages_sql = f"WITH {_NEWEST} SELECT key, page, path, outcome, min_confidence FROM newest"
        terms_sql = f"WITH {_NEWEST} SELECT key, page, dimension, term FROM final"
        reviews_sql = "SELECT key, page, status FROM reviews"
    else:
        # Only the chosen pages, each looked up by its index: no pass over the whole store.
        store.query("CREATE TEMP TABLE IF NOT EXISTS chosen (key TEXT, page INTEGER)")
        store.query("DELETE FROM chosen")
        store.fill_temp("INSERT INTO chosen VALUES (?, ?)", keys)
        pages_sql = """
            SELECT p.key, p.page, p.path, p.outcome, p.min_confidence
            FROM chosen AS c JOIN newest_predictions AS n ON n.key = c.key AND n.page = c.page
            JOIN predictions AS p
                ON p.key = n.key AND p.page = n.page AND p.model_fingerprint = n.model_fingerprint
        """
        terms_sql = """
            SELECT t.key, t.page, t.dimension, t.term
            FROM chosen AS c JOIN reviews AS r ON r.key = c.key AND r.page = c.page
            JOIN review_terms AS t ON t.key = r.key AND t.page = r.page
            WHERE r.status IN ('accepted', 'corrected')
            UNION ALL
            SELECT t.key, t.page, t.dimension, t.term
            FROM chosen AS c JOIN newest_predictions AS n ON n.key = c.key AND n.page = c.page
            JOIN prediction_terms AS t
                ON t.key = n.key AND t.page = n.page AND t.model_fingerprint = n.model_fingerprint
            WHERE NOT EXISTS (
                SELECT 1 FROM reviews AS r WHERE r.key = c.key AND r.page = c.page
                AND r.status IN ('accepted', 'corrected')
            )
        """
        reviews_sql = (
            "SELECT r.key, r.page, r.status FROM chosen AS c "
            "JOIN reviews AS r ON r.key = c.key AND r.page = c.page"
        )
    reviews = {(key, page): status for key, page, status in store.query(reviews_sql)}
    found: dict[tuple[str, int], CollectionPage] = {}
    for key, page, path, outcome, confidence in store.query(pages_sql):
        name = os.fsdecode(path)
        found[(key, page)] = CollectionPage(
            key,
            page,
            name,
            outcome,
            reviews.get((key, page), ""),
            confidence,
            exists=os.path.exists(name),
        )
    for key, page, dimension, term in store.query(terms_sql):
        entry = found.get((key, page))
        if entry is not None and dimension in entry.terms:
            entry.terms[dimension].add(term)
    if keys is not None:
        store.query("DELETE FROM chosen")
    return sorted(found.values(), key=lambda p: (p.path, p.page))


def under_paths(found: list[CollectionPage], roots: Iterable[Path]) -> list[CollectionPage]:
    """The pages of `found` at or under any of the files and folders `roots`. Pages are stored
    under the paths they were labeled by (`label worksheets/` keeps them relative), so a root
    matches as given, made absolute, and with its links resolved."""
    prefixes = {
        spelled
        for root in roots
        for spelled in (
            os.path.normpath(root),
            str(Path(root).absolute()),
            str(Path(root).resolve()),
        )
    }
    return [
        page
        for page in found
        if any(page.path == p or page.path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes)
    ]
