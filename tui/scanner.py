"""The scan thread's work: every page under the given paths, with what the store holds for it.

Hashing every file takes a while on a large folder, so the app runs this off the UI thread and
gets the result as one message.
"""

from __future__ import annotations

from pathlib import Path

from mlx_edugraph.model.fingerprint import model_fingerprint
from mlx_edugraph.model.versions import choose
from mlx_edugraph.pages.worksheets import discover
from mlx_edugraph.store.page_states import build_entries
from mlx_edugraph.store.sqlite_store import Store

from .labeler import Settings
from .messages import EntriesFound


def scan(
    paths: list[Path], pages: range | None, settings: Settings, fingerprint: str | None
) -> EntriesFound:
    """The pages and this model's predictions for them. Without a `fingerprint`, that of a
    local model folder; failing that (a repo id), the newest prediction of any model."""
    if fingerprint is None:
        fingerprint = _local_fingerprint(settings.model)
    refs = list(discover(paths, pages=pages))
    with Store(settings.db) as store:
        entries = build_entries(refs, store, fingerprint)
    return EntriesFound(entries, fingerprint)


def _local_fingerprint(model: str | None) -> str | None:
    """The fingerprint of the version of a local model folder that labeling will use."""
    if model and (Path(model) / "config.json").is_file():
        return model_fingerprint(Path(model), choose(model).adapter)
    return None
