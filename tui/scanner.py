"""The scan thread's work: every page under the given paths, with what the store holds for it.

Hashing every file takes a while on a large folder, so the app runs this off the UI thread and
gets the result as one message.
"""

from __future__ import annotations

from pathlib import Path

from mlx_edugraph.pages.worksheets import discover
from mlx_edugraph.store.page_states import build_entries
from mlx_edugraph.store.sqlite_store import Store

from .messages import EntriesFound


def scan(paths: list[Path], pages: range | None, db: Path, fingerprint: str | None) -> EntriesFound:
    """The pages and the predictions the model with `fingerprint` made of them (None: no
    model labels here; the newest prediction of any model)."""
    refs = list(discover(paths, pages=pages))
    with Store(db) as store:
        entries = build_entries(refs, store, fingerprint)
    return EntriesFound(entries, fingerprint)
