"""The store's duplicate-sheet tables (schema step 6): each page's sheet signature and the
verdict of each pair of pages compared. Mixed into `Store`, whose connection they use."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from mlx_edugraph.store.sql_values import now, sql_path, sql_text

Page = tuple[str, int]
"""A stored page: (content key, page number)."""


class SheetTables:
    """Reads and writes of `sheet_signatures` and `sheet_verdicts`."""

    _db: sqlite3.Connection

    def put_sheet_signatures(self, items: Iterable[tuple[tuple[str, int], Any]]) -> None:
        """Store pages' sheet signatures, ((key, page), `SheetSignature`) each, in one
        transaction (replacing older ones)."""
        written = now()
        with self._db:
            for (key, page), signature in items:
                self._put_signature(key, page, signature, written)
                # A new signature makes the page's comparisons stale.
                self._db.execute(
                    "DELETE FROM sheet_verdicts WHERE (key = ? AND page = ?) "
                    "OR (other_key = ? AND other_page = ?)",
                    (sql_text(key), page, sql_text(key), page),
                )

    def _put_signature(self, key: str, page: int, signature, written: str) -> None:
        from mlx_edugraph.pages.sheet_signature import SIGNATURE_VERSION

        self._db.execute(
            "INSERT OR REPLACE INTO sheet_signatures VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sql_text(key),
                page,
                SIGNATURE_VERSION,
                int(signature.blank),
                signature.phash,
                signature.to_bytes(),
                written,
            ),
        )

    def sheet_hashes(self, version: int) -> dict[tuple[str, int], tuple[bool, bytes]]:
        """Every page's (blank, 32-byte hash) from signatures of this version."""
        rows = self._db.execute(
            "SELECT key, page, blank, hash FROM sheet_signatures WHERE version = ?", (version,)
        )
        return {(sql_path(k), p): (bool(b), h) for k, p, b, h in rows}

    def sheet_verdicts(self, version: int) -> dict[tuple[Page, Page], tuple[bool, int]]:
        """Every stored comparison of two pages by this method version:
        ((page, other page), (aligned, difference))."""
        rows = self._db.execute(
            "SELECT key, page, other_key, other_page, aligned, difference FROM sheet_verdicts "
            "WHERE version = ?",
            (version,),
        )
        return {((sql_path(k), p), (sql_path(ok), op)): (bool(a), d) for k, p, ok, op, a, d in rows}

    def put_sheet_verdicts(
        self, version: int, items: Iterable[tuple[tuple[Page, Page], tuple[bool, int]]]
    ) -> None:
        """Store comparisons of two pages, ((page, other page), (aligned, difference)) each,
        in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO sheet_verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (sql_text(one[0]), one[1], sql_text(other[0]), other[1], version, int(a), d)
                    for (one, other), (a, d) in items
                ),
            )

    def sheet_signature(self, key: str, page: int) -> bytes | None:
        """A page's stored sheet signature (`SheetSignature.to_bytes`), or None."""
        row = self._db.execute(
            "SELECT signature FROM sheet_signatures WHERE key = ? AND page = ?",
            (sql_text(key), page),
        ).fetchone()
        return row[0] if row else None
