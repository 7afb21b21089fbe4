"""How values go into SQLite and come back: file names that are not UTF-8, and timestamps."""

from __future__ import annotations

import os
from datetime import datetime, timezone


def now() -> str:
    """The time of a write, UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sql_text(value: str) -> str | bytes:
    """A path for SQLite: file names that are not UTF-8 (str with surrogates) go in as their
    original bytes, so they are kept exactly instead of failing the insert."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(value)
    return value


def sql_path(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value
