"""The related-pages work the app runs on a worker thread: its own store connection (SQLite
connections belong to their thread), the collection's competence index, one message back."""

from __future__ import annotations

from pathlib import Path

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.store.competence_index import CompetenceIndex
from mlx_edugraph.store.sqlite_store import Store

from .messages import RelatedFound

RELATED_COUNT = 8
"""Pages each of the three lists (related, next, before) shows."""


def find_related(db: Path, key: str, page: tuple[str, int], ontology: Ontology | None):
    """The pages related to `page` (row `key`), and those after and before it on a learning
    path; or why there are none."""
    with Store(db) as store:
        index = CompetenceIndex.load(store, ontology)
    labels = index.labels_of(page)
    if labels is None:
        return RelatedFound(key, {}, "this page has no labels yet (or is unsupported material)")
    lists = {"Related": index.related(labels, RELATED_COUNT, skip=page)}
    if ontology is not None:
        lists["Next"] = index.steps(labels, RELATED_COUNT, after=True, skip=page)
        lists["Before"] = index.steps(labels, RELATED_COUNT, after=False, skip=page)
    return RelatedFound(key, lists)
