"""The SQLite results store and the atomic exports."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlx_edugraph.prediction import Label, Prediction, Provenance, Timings
from mlx_edugraph.store.export_predictions import export, safe_cell, to_csv
from mlx_edugraph.store.sqlite_store import MIGRATIONS, Store, StoreError


def _prediction(sha="a" * 64, page=0, fingerprint="f1", path="x.png") -> Prediction:
    return Prediction(
        path=path,
        page=page,
        sha256=sha,
        outcome="labeled",
        labels=[
            Label("IntegerAddition", "Area", "known", False, 0.9),
            Label("NumbersSmaller20", "Scope", "known", False, 0.5),
            Label("Mystery", "Ability", "unknown", False, 0.7),
        ],
        raw_text='{"Area": ["IntegerAddition"]}',
        image_size=(850, 1100),
        timings=Timings(prompt_tokens=10, total_s=1.5),
        provenance=Provenance("m", fingerprint, "v0.4.0", "p1"),
    )


def test_round_trip_and_resume_keys(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.put(_prediction())
        assert store.get("a" * 64, 0, "f1") == _prediction()
        assert store.is_done("a" * 64, 0, "f1")
        assert not store.is_done("a" * 64, 0, "other-model")
        assert not store.is_done("a" * 64, 1, "f1")


def test_errors_are_not_done_so_a_rerun_retries_them(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        failed = _prediction()
        failed.outcome, failed.labels, failed.error = "error", [], "not a readable image"
        store.put(failed)
        assert not store.is_done("a" * 64, 0, "f1")


def test_same_bytes_under_two_names_is_one_row_with_both_paths(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.put(_prediction(path="one.png"))
        store.remember_path("a" * 64, 0, "two.png")
        assert sorted(store.paths_of("a" * 64, 0)) == ["one.png", "two.png"]
        assert len(list(store.predictions())) == 1


def test_schema_version_is_recorded_and_reopen_is_idempotent(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite").close()
    with Store(tmp_path / "s.sqlite") as store:
        assert store.schema_version == len(MIGRATIONS)
    rows = sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT version FROM schema_migrations")
    assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))


@pytest.mark.xdist_group("corrupt-store")  # shares its temp name prefix, see there
def test_corrupt_store_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=str(path)):
        Store(path)
    assert path.read_bytes() == before


text = st.text(max_size=30)


@settings(max_examples=40, deadline=None)
@given(
    terms=st.lists(st.tuples(text, st.sampled_from(["Area", "Scope", "Ability"])), max_size=6),
    raw=text,
    path=text.filter(bool),
    confidence=st.none() | st.floats(0, 1),
)
def test_store_round_trip_property(tmp_path_factory, terms, raw, path, confidence) -> None:
    prediction = _prediction(path=path)
    prediction.labels = [Label(t, d, "unknown", False, confidence) for t, d in terms]
    prediction.raw_text = raw
    with Store(tmp_path_factory.mktemp("db") / "s.sqlite") as store:
        store.put(prediction)
        assert store.get(prediction.sha256, 0, "f1") == prediction


def test_jsonl_export_is_one_record_per_page(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    assert export([_prediction(), _prediction(page=2)], out) == 2
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["page"] for r in records] == [0, 2]
    assert Prediction.from_dict(records[0]) == _prediction()


def test_csv_export_joins_terms_per_dimension(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    export([_prediction()], out, "csv")
    (row,) = csv.DictReader(io.StringIO(out.read_text()))
    assert row["Area"] == "IntegerAddition"
    assert row["Ability"] == "Mystery"
    assert row["unknown_terms"] == "Mystery"
    assert row["min_confidence"] == "0.5000"


def test_csv_cells_that_spreadsheets_would_run_are_escaped() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("@cmd") == "'@cmd"
    prediction = _prediction(path="=cmd|' /C calc'!A0")
    assert "'=cmd" in to_csv([prediction])


def test_failed_export_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "labels.jsonl"
    export([_prediction()], out)
    before = out.read_text()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mlx_edugraph.paths.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        export([_prediction(), _prediction(page=3)], out)
    assert out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]


def test_reviews_are_kept_beside_predictions_and_survive_reopening(tmp_path: Path) -> None:
    from mlx_edugraph.store.review import review_from

    path = tmp_path / "s.sqlite"
    prediction = _prediction()
    with Store(path) as store:
        store.put(prediction)
        accepted = store.put_review(review_from(prediction, "accepted"))
        assert accepted.status == "accepted" and accepted.updated_at
        corrected = review_from(
            prediction, "accepted", {"Area": ["IntegerAddition"], "Scope": [], "Ability": []}
        )
        store.put_review(corrected)
    with Store(path) as store:
        review = store.review("a" * 64, 0)
        assert review.status == "corrected"
        assert review.labels == {"Area": ["IntegerAddition"], "Scope": [], "Ability": []}
        assert review.model_fingerprint == "f1" and review.is_truth
        assert store.get("a" * 64, 0, "f1") == prediction  # the prediction is untouched
        assert [r.path for r in store.reviews()] == ["x.png"]
        store.delete_review("a" * 64, 0)
        assert store.review("a" * 64, 0) is None
