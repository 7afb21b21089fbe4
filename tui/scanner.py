"""The scan thread's work: every page under the given paths with its review, then, once the app
knows which model labels, what that model already stored for each page.

Hashing every file takes a while on a large folder, so the app runs both off the UI thread and
gets each result as one message. The pages do not wait for the model: the demo model may take a
minute to build before anyone knows its fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlx_edugraph.pages.worksheets import discover
from mlx_edugraph.store.page_states import build_entries, predictions_of
from mlx_edugraph.store.sqlite_store import Store

from .messages import EntriesFound, PredictionsFound


def scan(paths: list[Path], pages: range | None, db: Path) -> EntriesFound:
    """The pages under `paths`, hashed, with their reviews."""
    refs = list(discover(paths, pages=pages))
    with Store(db) as store:
        return EntriesFound(build_entries(refs, store))


def look_up(
    pages: Iterable[tuple[str, int]], db: Path, fingerprint: str | None
) -> PredictionsFound:
    """The stored predictions of the model with `fingerprint` (None: of any model, the newest)."""
    with Store(db) as store:
        return PredictionsFound(predictions_of(pages, store, fingerprint), fingerprint)
