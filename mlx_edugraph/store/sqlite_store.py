"""The results store: one SQLite file holding every prediction, keyed by content and model.

A worksheet's key is the SHA-256 of its bytes plus the page number, and the model's
fingerprint: renaming a file does not relabel it, a new model does. Each prediction is
committed as soon as it is made, so a crash loses at most the worksheet in flight.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mlx_edugraph.prediction import Prediction
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.schema import MIGRATIONS
from mlx_edugraph.store.sheet_tables import SheetTables
from mlx_edugraph.store.sql_values import now as _now
from mlx_edugraph.store.sql_values import sql_path as _path
from mlx_edugraph.store.sql_values import sql_text as _text

BUSY_TIMEOUT_MS = 30_000

CLAIM_STALE_S = 900.0
"""A claim older than this is void: longer than any page's retries through servers take."""


class StoreError(Exception):
    """The store file cannot be used; the message names it."""


def labeler_id() -> str:
    """A name for one labeling run in claims: host, process id, and a token of its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(owner: str) -> bool:
    """False when the claim's process is known to be gone (it ran on this host and exited)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def key_of(prediction: Prediction) -> str:
    """The content key: the file's SHA-256, or its path when its bytes could not be read."""
    return prediction.sha256 or f"path:{prediction.path}"


def _json(record: dict) -> str:
    """JSON text; ASCII escapes only when the record holds non-UTF-8 file names."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record)
    return text


class Store(SheetTables):
    """Predictions in a SQLite file (WAL, busy timeout: several processes may share it)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # A damaged page may sit anywhere: find it before writing anything, not halfway
            # through a long batch.
            problem = self._db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()  # also removes the empty -wal/-shm files SQLite made beside it
            raise StoreError(
                f"{self.path} is not a usable mlx-edugraph store ({' '.join(str(exc).split())}); "
                "it was left untouched: move it away or pass another --db"
            ) from exc

    def _migrate(self) -> None:
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        # BEGIN IMMEDIATE takes the write lock first, so two processes opening a new store
        # at once apply each step once: the second one sees the first one's version.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            current = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
            ).fetchone()[0]
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} was written by a newer mlx-edugraph (schema {current}); upgrade"
                )
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, _now()))
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    @property
    def schema_version(self) -> int:
        """The number of migrations applied to this file."""
        return self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, prediction: Prediction) -> None:
        """Insert or replace one prediction and remember the path it was seen under."""
        with self._db:
            self._insert(prediction, _now())

    def put_many(self, predictions: Iterable[Prediction]) -> None:
        """`put` for many predictions in one transaction (imports, generated stores)."""
        now = _now()
        with self._db:
            for prediction in predictions:
                self._insert(prediction, now)

    def _insert(self, prediction: Prediction, now: str) -> None:
        key = key_of(prediction)
        fingerprint = prediction.provenance.model_fingerprint
        if prediction.embedding is not None:
            self._put_vector(key, prediction.page, fingerprint, prediction.embedding, now)
        if prediction.signature is not None:
            self._put_signature(key, prediction.page, prediction.signature, now)
        self._db.execute(
            "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _text(key),
                prediction.page,
                fingerprint,
                _text(prediction.path),
                prediction.outcome,
                prediction.min_confidence,
                _json(prediction.to_dict()),
                now,
            ),
        )
        self._db.execute(
            "INSERT OR IGNORE INTO worksheet_paths VALUES (?, ?, ?, ?)",
            (_text(key), prediction.page, _text(prediction.path), now),
        )
        self._db.execute(
            "INSERT OR REPLACE INTO newest_predictions VALUES (?, ?, ?)",
            (_text(key), prediction.page, fingerprint),
        )
        self._db.execute(
            "DELETE FROM prediction_terms WHERE key = ? AND page = ? AND model_fingerprint = ?",
            (_text(key), prediction.page, fingerprint),
        )
        self._db.executemany(
            "INSERT INTO prediction_terms VALUES (?, ?, ?, ?, ?)",
            [
                (_text(key), prediction.page, fingerprint, label.dimension, label.term)
                for label in prediction.labels
            ],
        )

    def _put_vector(self, key: str, page: int, fingerprint: str, vector, now: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO page_vectors VALUES (?, ?, ?, ?, ?)",
            (fingerprint, _text(key), page, vector.astype("<f2").tobytes(), now),
        )

    def put_vectors(self, model_fingerprint: str, items: Iterable[tuple[str, int, Any]]) -> None:
        """Store pages' vectors, (key, page, unit-length numpy array) each, kept as float16,
        made by one model (`embed`, generated stores), in one transaction."""
        now = _now()
        with self._db:
            for key, page, vector in items:
                self._put_vector(key, page, model_fingerprint, vector, now)

    def vectors(self, model_fingerprint: str) -> tuple[list[tuple[str, int]], bytes, int]:
        """Every page vector of one model: their (key, page) pairs, the float16 bytes of all
        vectors end to end (in that order), and how many there are."""
        rows = self._db.execute(
            # No ORDER BY: sorting 100,000 blobs of 5 KB took longer than reading them. The
            # primary key (model first) finds one model's rows.
            "SELECT key, page, vector FROM page_vectors WHERE model_fingerprint = ?",
            (model_fingerprint,),
        ).fetchall()
        return [(_path(k), p) for k, p, _ in rows], b"".join(r[2] for r in rows), len(rows)

    def vector_models(self) -> list[str]:
        """Fingerprints of the models whose vectors the store holds, newest vector first."""
        # A replaced vector gets a new rowid, so the largest rowid is the newest; the primary
        # key's index answers this without reading a vector.
        rows = self._db.execute(
            "SELECT model_fingerprint FROM page_vectors GROUP BY model_fingerprint "
            "ORDER BY MAX(rowid) DESC"
        )
        return [row[0] for row in rows]

    def remember_path(self, sha256: str, page: int, path: str) -> None:
        """Record another name of an already-labeled worksheet (same bytes, other file)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO worksheet_paths VALUES (?, ?, ?, ?)",
                (sha256, page, _text(path), _now()),
            )

    def get(self, sha256: str, page: int, model_fingerprint: str) -> Prediction | None:
        """The stored prediction of a worksheet page by a model, if any."""
        row = self._db.execute(
            "SELECT record FROM predictions WHERE key = ? AND page = ? AND model_fingerprint = ?",
            (sha256, page, model_fingerprint),
        ).fetchone()
        return Prediction.from_dict(json.loads(row[0])) if row else None

    def latest(self, sha256: str, page: int) -> Prediction | None:
        """The newest prediction of a worksheet page by any model (when the model is unknown)."""
        row = self._db.execute(
            "SELECT record FROM predictions WHERE key = ? AND page = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (sha256, page),
        ).fetchone()
        return Prediction.from_dict(json.loads(row[0])) if row else None

    def is_done(self, sha256: str, page: int, model_fingerprint: str) -> bool:
        """True when this model has a result for the page that is not an error (resume)."""
        row = self._db.execute(
            "SELECT 1 FROM predictions WHERE key = ? AND page = ? AND model_fingerprint = ? "
            "AND outcome != 'error'",
            (sha256, page, model_fingerprint),
        ).fetchone()
        return row is not None

    def claim(self, sha256: str, page: int, model_fingerprint: str, owner: str) -> str:
        """Take a page to label so that another process labeling the same folder (through
        other servers) leaves it alone: "claimed" (ours now), "done" (a result is in), or
        "taken" (another live labeler's claim is younger than `CLAIM_STALE_S`)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self.is_done(sha256, page, model_fingerprint):
                state = "done"
            else:
                row = self._db.execute(
                    "SELECT owner, claimed_at FROM claims "
                    "WHERE key = ? AND page = ? AND model_fingerprint = ?",
                    (sha256, page, model_fingerprint),
                ).fetchone()
                fresh = row is not None and row[1] > time.time() - CLAIM_STALE_S
                if fresh and row[0] != owner and _alive(row[0]):
                    state = "taken"
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                        (sha256, page, model_fingerprint, owner, time.time()),
                    )
                    state = "claimed"
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        return state

    def release(self, sha256: str, page: int, model_fingerprint: str, owner: str) -> None:
        """Drop our claim on a page (its result is stored, or we gave up on it)."""
        with self._db:
            self._db.execute(
                "DELETE FROM claims WHERE key = ? AND page = ? AND model_fingerprint = ? "
                "AND owner = ?",
                (sha256, page, model_fingerprint, owner),
            )

    def paths_of(self, sha256: str, page: int) -> list[str]:
        """Every path the worksheet page has been seen under, oldest first."""
        rows = self._db.execute(
            "SELECT path FROM worksheet_paths WHERE key = ? AND page = ? ORDER BY seen_at, path",
            (sha256, page),
        )
        return [_path(row[0]) for row in rows]

    def keys_at(self, path: str, page: int) -> list[str]:
        """Content keys of the pages seen at `path`, the newest sighting first."""
        rows = self._db.execute(
            "SELECT key FROM worksheet_paths WHERE path = ? AND page = ? ORDER BY seen_at DESC",
            (_text(path), page),
        )
        return [_path(row[0]) for row in rows]

    def query(self, sql: str, args: Iterable = ()) -> sqlite3.Cursor:
        """Run a read query on the store's connection (the collection's questions, which join
        the term index); it may fill TEMP tables, which live outside the file."""
        return self._db.execute(sql, tuple(args))

    def fill_temp(self, sql: str, rows: Iterable[tuple]) -> None:
        """`executemany` into a TEMP table (the pages a collection query is about)."""
        self._db.executemany(sql, rows)

    def terms(self) -> dict[str, set[str]]:
        """Per dimension, every term a stored prediction or review names (what completion
        offers when no ontology is at hand)."""
        found: dict[str, set[str]] = {}
        rows = self._db.execute(
            "SELECT dimension, term FROM prediction_terms "
            "UNION SELECT dimension, term FROM review_terms"
        )
        for dimension, term in rows:
            found.setdefault(dimension, set()).add(term)
        return found

    def is_empty(self) -> bool:
        """True when no page has a prediction yet."""
        return self._db.execute("SELECT 1 FROM predictions LIMIT 1").fetchone() is None

    def labeled_by(self, fingerprints: Iterable[str]) -> list[tuple[str, int]]:
        """Pages (content key, page number) that any of these models labeled, in path order."""
        wanted = sorted(set(fingerprints))
        marks = ", ".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT key, page, MIN(path) AS first FROM predictions "
            f"WHERE model_fingerprint IN ({marks}) AND outcome != 'error' "
            "GROUP BY key, page ORDER BY first, page",
            wanted,
        )
        return [(_path(key), page) for key, page, _ in rows]

    def predictions(self, model_fingerprint: str | None = None) -> Iterator[Prediction]:
        """All stored predictions (of one model, if given), in path order."""
        query = "SELECT record FROM predictions"
        args: tuple = ()
        if model_fingerprint is not None:
            query += " WHERE model_fingerprint = ?"
            args = (model_fingerprint,)
        for (record,) in self._db.execute(query + " ORDER BY path, page", args).fetchall():
            yield Prediction.from_dict(json.loads(record))

    def put_review(self, review: Review) -> Review:
        """Save a person's review at once (one transaction); returns it with its timestamp."""
        review.updated_at = _now()
        with self._db:
            self._write_review(review)
        return review

    def put_reviews(self, reviews: Iterable[Review]) -> None:
        """Save reviews made elsewhere (imported), each with its own timestamp, in one
        transaction: an interrupted import leaves the store as it was."""
        with self._db:
            for review in reviews:
                self._write_review(review)

    def _write_review(self, review: Review) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?)",
            (
                review.sha256,
                review.page,
                review.status,
                _json(review.to_dict()),
                review.updated_at,
            ),
        )
        self._db.execute(
            "DELETE FROM review_terms WHERE key = ? AND page = ?", (review.sha256, review.page)
        )
        self._db.executemany(
            "INSERT INTO review_terms VALUES (?, ?, ?, ?)",
            [
                (review.sha256, review.page, dimension, term)
                for dimension, terms in review.labels.items()
                for term in terms
            ],
        )

    def delete_review(self, sha256: str, page: int) -> None:
        """Forget the review of a page (undo of its first review)."""
        with self._db:
            self._db.execute("DELETE FROM reviews WHERE key = ? AND page = ?", (sha256, page))
            self._db.execute("DELETE FROM review_terms WHERE key = ? AND page = ?", (sha256, page))

    def review(self, sha256: str, page: int) -> Review | None:
        """The review of a worksheet page, if a person made one."""
        row = self._db.execute(
            "SELECT record FROM reviews WHERE key = ? AND page = ?", (sha256, page)
        ).fetchone()
        return Review.from_dict(json.loads(row[0])) if row else None

    def reviews(self) -> Iterator[Review]:
        """Every review, in path order."""
        rows = self._db.execute("SELECT record FROM reviews").fetchall()
        found = [Review.from_dict(json.loads(record)) for (record,) in rows]
        yield from sorted(found, key=lambda r: (r.path, r.page))
