"""End to end: the taught 4-bit tiny model behind the real `mlx-edugraph label` command.

The command runs in a subprocess, as a user runs it: real model loading and generation, a real
SQLite store, real files. Expected labels are the exact taught answers.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_RDF

pytestmark = pytest.mark.xdist_group("label-cli")
"""One worker runs this module (`--dist loadgroup`): its first labeling run is made once."""

KINDS = ("addition", "multiplication", "counting", "clock", "picture")


def label(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlx_edugraph", "label", *map(str, args)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )


def _kind(path: str, page: int) -> str:
    """The worksheet kind `write_samples` wrote at this path (and PDF page)."""
    if path.endswith(".pdf"):
        return KINDS[(5 + page - 1) % len(KINDS)]  # the PDF continues the cycle after 5 images
    return Path(path).stem.split("-", 1)[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five images (PNG and JPEG, every kind), a 2-page PDF and a corrupt PNG."""
    folder = tmp_path_factory.mktemp("worksheets")
    write_samples(
        folder, 5, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=500, formats=("png", "jpg"), pdf_pages=2
    )
    (folder / "scanned-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return folder


@pytest.fixture(scope="module")
def first_run(folder: Path, taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    db = out / "labels.sqlite"
    result = label(
        folder,
        "--model",
        taught_mlx_model,
        "--ontology",
        ONTOLOGY_V04_RDF,
        "--db",
        db,
        "--out",
        out / "labels.jsonl",
    )
    return result, db, out


def test_first_run_labels_every_page_exactly(first_run) -> None:
    result, _, out = first_run
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert len(records) == 8  # 5 images + 2 PDF pages + 1 corrupt file
    by_outcome: dict[str, list[dict]] = {}
    for record in records:
        by_outcome.setdefault(record["outcome"], []).append(record)
    assert len(by_outcome["labeled"]) == 6
    assert len(by_outcome["unsupported"]) == 1
    (broken,) = by_outcome["error"]
    assert broken["path"].endswith("scanned-broken.png")
    assert "scanned-broken.png" in result.stderr and broken["error"]
    for record in by_outcome["labeled"] + by_outcome["unsupported"]:
        kind = _kind(record["path"], record["page"])
        assert record["raw_text"] == TAUGHT_ANSWERS[kind], record["path"]
        if kind != "picture":
            assert record["answer"] == json.loads(TAUGHT_ANSWERS[kind])
            assert all(lab["status"] == "known" for lab in record["labels"])
            assert all(0 < lab["confidence"] <= 1 for lab in record["labels"])
    pdf_pages = sorted(r["page"] for r in records if r["path"].endswith(".pdf"))
    assert pdf_pages == [1, 2]


def test_progress_and_summary_are_printed(first_run) -> None:
    result, _, _ = first_run
    assert "8/8" in result.stderr
    assert (
        "labeled 6, unsupported 1, unparseable 0, file errors 1, model failures 0" in result.stderr
    )
    assert "median seconds per worksheet:" in result.stderr


def test_every_prediction_is_in_the_store(first_run) -> None:
    _, db, _ = first_run
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT outcome, count(*) FROM predictions GROUP BY outcome")
        assert dict(rows.fetchall()) == {"labeled": 6, "unsupported": 1, "error": 1}
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_second_run_skips_what_is_labeled_and_exports_csv(
    first_run, folder: Path, taught_mlx_model: Path
) -> None:
    _, db, out = first_run
    result = label(
        folder,
        "--model",
        taught_mlx_model,
        "--ontology",
        ONTOLOGY_V04_RDF,
        "--db",
        db,
        "--out",
        out / "labels.csv",
    )
    assert result.returncode == 0, result.stderr
    # The corrupt file is tried again (it may have been replaced); the rest is resumed.
    assert "skipped (already labeled) 7" in result.stderr
    rows = list(csv.DictReader((out / "labels.csv").open()))
    assert len(rows) == 8
    addition = next(r for r in rows if r["path"].endswith("addition.png"))
    assert addition["Scope"] == "NumbersSmaller20;NumbersWithoutZero"
    assert addition["outcome"] == "labeled"


def test_missing_default_model_says_which_command_creates_it(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    result = label(tmp_path)
    assert result.returncode == 2
    assert "mlx-edugraph convert" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
