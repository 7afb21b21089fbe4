"""The similar-pages work the app runs on worker threads: each opens its own store connection
(SQLite connections belong to their thread) and answers with a message."""

from __future__ import annotations

from pathlib import Path

from mlx_edugraph.store.similar_pages import (
    DUPLICATE_THRESHOLD,
    NoVectors,
    Page,
    VectorIndex,
    choose_model,
)
from mlx_edugraph.store.sqlite_store import Store

from .messages import DuplicatesFound, SimilarFound

SIMILAR_COUNT = 10
"""Pages the similar-pages list shows."""

DUPLICATE_LIMIT = 10_000
"""Above this many vectors the list marks no duplicates (comparing every pair grows with the
square: `mlx-edugraph duplicates` does it on demand)."""


def find_similar(db: Path, key: str, page: Page, fingerprint: str | None) -> SimilarFound:
    """The pages nearest to `page` (row `key`) among the vectors of `fingerprint`'s model
    (None: the model of the newest vectors), or the reason there are none."""
    with Store(db) as store:
        try:
            model = choose_model(store, fingerprint)
        except NoVectors as exc:
            return SimilarFound(key, [], {}, str(exc))
        index = VectorIndex.load(store, model)
        vector = index.vector_of(page)
        if vector is None:
            return SimilarFound(
                key,
                [],
                {},
                f"this page has no vector from model {model} (not labeled yet, labeled through "
                "a server, or by another model version): run `mlx-edugraph embed`",
            )
        found = index.nearest(vector, SIMILAR_COUNT, skip=page)
        names = {}
        for neighbour in found:
            paths = store.paths_of(*neighbour.page)
            names[neighbour.page] = paths[0] if paths else neighbour.page[0]
    return SimilarFound(key, found, names)


def find_duplicates(db: Path, pages: set[Page], fingerprint: str | None) -> DuplicatesFound:
    """Which of `pages` have a near-duplicate among them (none above `DUPLICATE_LIMIT`)."""
    with Store(db) as store:
        try:
            index = VectorIndex.load(store, choose_model(store, fingerprint))
        except NoVectors:
            return DuplicatesFound(set())
    among = pages & set(index.pages)
    if len(among) > DUPLICATE_LIMIT:
        return DuplicatesFound(set())
    groups = index.duplicate_groups(DUPLICATE_THRESHOLD, among)
    return DuplicatesFound({n.page for group in groups for n in group})
