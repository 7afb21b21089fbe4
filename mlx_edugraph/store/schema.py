"""The store's schema, as the ordered steps that build it: a file made by an older version is
brought up to date step by step when it is opened (`Store._migrate`), never rebuilt."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE predictions (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        model_fingerprint TEXT NOT NULL,
        path TEXT NOT NULL,
        outcome TEXT NOT NULL,
        min_confidence REAL,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (key, page, model_fingerprint)
    );
    CREATE TABLE worksheet_paths (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        path TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (key, page, path)
    );
    """,
    """
    CREATE TABLE reviews (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        status TEXT NOT NULL,
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (key, page)
    );
    """,
    """
    CREATE TABLE claims (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        model_fingerprint TEXT NOT NULL,
        owner TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        PRIMARY KEY (key, page, model_fingerprint)
    );
    """,
    """
    CREATE TABLE prediction_terms (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        model_fingerprint TEXT NOT NULL,
        dimension TEXT NOT NULL,
        term TEXT NOT NULL
    );
    CREATE INDEX prediction_terms_by_term ON prediction_terms (term);
    CREATE INDEX prediction_terms_by_page ON prediction_terms (key, page, model_fingerprint);
    INSERT INTO prediction_terms
        SELECT p.key, p.page, p.model_fingerprint,
               json_extract(l.value, '$.dimension'), json_extract(l.value, '$.term')
        FROM predictions AS p, json_each(p.record, '$.labels') AS l;
    CREATE TABLE review_terms (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        dimension TEXT NOT NULL,
        term TEXT NOT NULL
    );
    CREATE INDEX review_terms_by_term ON review_terms (term);
    CREATE INDEX review_terms_by_page ON review_terms (key, page);
    INSERT INTO review_terms
        SELECT r.key, r.page, d.key, t.value
        FROM reviews AS r, json_each(r.record, '$.labels') AS d, json_each(d.value) AS t;
    CREATE TABLE newest_predictions (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        model_fingerprint TEXT NOT NULL,
        PRIMARY KEY (key, page)
    );
    INSERT INTO newest_predictions
        SELECT key, page, model_fingerprint FROM (
            SELECT key, page, model_fingerprint, ROW_NUMBER() OVER (
                PARTITION BY key, page ORDER BY created_at DESC, rowid DESC
            ) AS rank FROM predictions
        ) WHERE rank = 1
    """,
    """
    CREATE TABLE page_vectors (
        model_fingerprint TEXT NOT NULL,
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        vector BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (model_fingerprint, key, page)
    )
    """,
    """
    CREATE TABLE sheet_signatures (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        version INTEGER NOT NULL,
        blank INTEGER NOT NULL,
        hash BLOB NOT NULL,
        signature BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (key, page)
    );
    CREATE TABLE sheet_verdicts (
        key TEXT NOT NULL,
        page INTEGER NOT NULL,
        other_key TEXT NOT NULL,
        other_page INTEGER NOT NULL,
        version INTEGER NOT NULL,
        aligned INTEGER NOT NULL,
        difference INTEGER NOT NULL,
        PRIMARY KEY (key, page, other_key, other_page)
    );
    CREATE INDEX sheet_verdicts_by_other ON sheet_verdicts (other_key, other_page)
    """,
)
"""Ordered schema steps; the number applied is recorded in the database itself. Step 4 indexes
every label by term (of predictions and of reviews) and keeps each page's newest prediction, so
questions about a whole collection ("which pages practise X?") are answered by SQLite, not by
reading every record. Step 5 keeps each page's vector (float16 bytes) per model, for `similar`
and `similar`: vectors of different models are never compared. Step 6 keeps each page's sheet
signature (`pages.sheet_signature`), which tells a copy of a sheet from a sibling sheet: it
depends on the page alone, not on a model; and the verdict of each pair of pages compared, so
that grouping again (the TUI's marks after labeling) compares only pairs it has not seen."""
