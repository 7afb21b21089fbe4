"""The pages an earlier version of the model labeled and the current one has not: what
`label --redo-older` relabels after a model is tuned or switched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlx_edugraph.pages.worksheets import WorksheetError, WorksheetRef, file_sha256
from mlx_edugraph.store.sqlite_store import Store


@dataclass
class OlderPages:
    refs: list[WorksheetRef] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Pages whose files are gone or hold other bytes now (they cannot be relabeled)."""


def older_pages(store: Store, family: dict[str, str], current: str) -> OlderPages:
    """Pages labeled by a model of `family` (fingerprint -> version name) other than
    `current` (a fingerprint), not yet by `current`, found under a path with the same bytes."""
    found = OlderPages()
    others = [fingerprint for fingerprint in family if fingerprint != current]
    if not others:
        return found
    for key, page in store.labeled_by(others):
        if store.is_done(key, page, current):
            continue
        paths = store.paths_of(key, page)
        for path in paths:
            try:
                same = file_sha256(Path(path)) == key
            except WorksheetError:
                continue
            if same:
                found.refs.append(WorksheetRef(Path(path), page))
                break
        else:
            found.missing.append((paths[0] if paths else key) + (f" p{page}" if page else ""))
    return found
