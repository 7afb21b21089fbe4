"""The similar-pages work the app runs on worker threads: each opens its own store connection
(SQLite connections belong to their thread) and answers with a message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates
from mlx_edugraph.store.sheet_grouping import Stopped
from mlx_edugraph.store.similar_pages import NoVectors, Page, VectorIndex, choose_model
from mlx_edugraph.store.sqlite_store import Store

from .messages import DuplicatesFound, SimilarFound

SIMILAR_COUNT = 10
"""Pages the similar-pages list shows."""


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


def find_duplicates(
    db: Path, pages: dict[Page, str], should_stop: Callable[[], bool]
) -> DuplicatesFound | None:
    """Which of `pages` (page -> path) are the same printed sheet as another listed page, by
    the stored sheet signatures (the labeler makes them; none is made here). None when
    `should_stop` said so first: the first look at a large store compares for minutes, and
    the app must quit at once (the comparisons made are stored for the next look)."""
    with Store(db) as store:
        sheets = [SheetPage(key, number, path) for (key, number), path in pages.items()]
        try:
            found = sheet_duplicates(sheets, store, make_missing=False, should_stop=should_stop)
        except Stopped:
            return None
    return DuplicatesFound(found.pages)
