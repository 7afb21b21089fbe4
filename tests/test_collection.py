"""The whole collection: `find` (a term and its descendants), `report` (coverage trees, gaps,
co-occurrence, confidence, review progress) and the store's term index behind them.

Stores are real SQLite files filled by the generator (`benchmarks.collection_store`) or by
hand; the commands run in a subprocess as users run them; the report is opened in headless
Chromium where it is installed (CI installs Debian's package).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlx_edugraph.benchmarks.collection_store import fill_store, generated_pages
from mlx_edugraph.evaluation.coverage import coverage, walk
from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.collection import find, pages
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store
from tests.browser import CHROMIUM, visit
from tests.conftest import ONTOLOGY_V04_TTL
from tests.run_cli import cli

ONTOLOGY = ("--ontology", str(ONTOLOGY_V04_TTL))


def _prediction(path: Path, sha256: str, labels: dict, fingerprint="m1", confidence=0.9):
    found = [
        Label(term, dimension, "known", False, confidence)
        for dimension, terms in labels.items()
        for term in terms
    ]
    provenance = Provenance("m", fingerprint, "v0.4.0", "t", "", "base")
    return Prediction(str(path), 0, sha256, "labeled", found, provenance=provenance)


ADD = {
    "Area": ["IntegerAddition"],
    "Scope": ["NumbersSmaller20"],
    "Ability": ["ProcedureExecution"],
}
MUL = {"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller100"], "Ability": []}
CLOCK = {"Area": ["MeasuringTime"], "Scope": ["AnalogClock"], "Ability": ["VisualRecognition"]}


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    """Five pages on disk: add (reviewed as-is), mul (corrected to clock), clock (low
    confidence), re-labeled (a newer model says mul), gone (its file deleted)."""
    folder = tmp_path / "ws"
    folder.mkdir()
    db = tmp_path / "labels.sqlite"
    with Store(db) as store:
        for name, labels, confidence in (
            ("add", ADD, 0.9),
            ("mul", MUL, 0.9),
            ("clock", CLOCK, 0.3),
            ("relabeled", ADD, 0.9),
            ("gone", CLOCK, 0.9),
        ):
            path = folder / f"{name}.png"
            path.write_bytes(name.encode())
            store.put(_prediction(path, name * 4, labels, confidence=confidence))
        store.put(_prediction(folder / "relabeled.png", "relabeled" * 4, MUL, fingerprint="m2"))
        store.put_review(Review("add" * 4, 0, str(folder / "add.png"), "accepted", dict(ADD)))
        store.put_review(Review("mul" * 4, 0, str(folder / "mul.png"), "corrected", dict(CLOCK)))
    (folder / "gone.png").unlink()
    return db


def _names(found) -> list[str]:
    return sorted(Path(page.path).stem for page in found)


def test_find_uses_final_labels_and_descendants(small_store: Path) -> None:
    ontology = load_ontology(ONTOLOGY_V04_TTL)
    arithmetic = {"Arithmetic"} | ontology.descendants("Arithmetic")
    with Store(small_store) as store:
        # The corrected review wins over mul's prediction; relabeled's newest prediction (m2) wins.
        assert _names(find(store, {"Area": arithmetic})) == ["add", "relabeled"]
        assert _names(find(store, {"Area": {"MeasuringTime"}})) == ["clock", "gone", "mul"]
        # Dimensions combine with AND, terms of one dimension with OR.
        both = {"Area": {"MeasuringTime"}, "Ability": {"VisualRecognition"}}
        assert _names(find(store, both)) == ["clock", "gone", "mul"]
        assert _names(find(store, {"Area": {"MeasuringTime"}, "Scope": {"NumbersSmaller20"}})) == []
        assert _names(find(store, {"Area": {"MeasuringTime"}}, reviewed=True)) == ["mul"]
        assert _names(find(store, {"Area": {"MeasuringTime"}}, min_confidence=0.5)) == [
            "gone",
            "mul",
        ]
        gone = next(p for p in pages(store) if Path(p.path).stem == "gone")
        assert not gone.exists and gone.source == "predicted"


def test_find_command(small_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = cli("find", "--db", small_store, "--area", "Arithmetic", *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [Path(line.split("\t")[0]).stem for line in lines] == ["add", "relabeled"]
    assert "reviewed" in lines[0] and "IntegerAddition" in lines[0]
    assert "2 page(s) match" in run.stderr
    run = cli("find", "--db", small_store, "--scope", "TimeMeasurement", "--json", *ONTOLOGY,
              home=home)  # fmt: skip
    records = json.loads(run.stdout)
    assert {Path(r["path"]).stem for r in records} == {"clock", "gone", "mul"}
    gone = next(r for r in records if Path(r["path"]).stem == "gone")
    assert gone["exists"] is False and "1 whose file is gone" in run.stderr
    # Mistakes get a specific message and exit 2.
    run = cli("find", "--db", small_store, "--area", "IntegerAdition", *ONTOLOGY, home=home)
    assert run.returncode == 2 and "did you mean IntegerAddition" in run.stderr
    run = cli("find", "--db", small_store, "--scope", "MeasuringTime", *ONTOLOGY, home=home)
    assert run.returncode == 2 and "use --area MeasuringTime" in run.stderr
    assert cli("find", "--db", small_store, *ONTOLOGY, home=home).returncode == 2
    run = cli("find", "--db", tmp_path / "none.sqlite", "--area", "Arithmetic", home=home)
    assert run.returncode == 2 and "no store at" in run.stderr
    run = cli("find", tmp_path / "elsewhere", "--db", small_store, "--area", "Arithmetic",
              *ONTOLOGY, home=home)  # fmt: skip
    assert run.returncode == 0 and "no stored pages under" in run.stderr and not run.stdout


def test_coverage_counts_along_the_hierarchy(small_store: Path) -> None:
    ontology = load_ontology(ONTOLOGY_V04_TTL)
    with Store(small_store) as store:
        found = coverage(pages(store), ontology)
    assert (found.pages, found.reviewed, found.flagged, found.unreviewed, found.gone) == (
        5,
        2,
        0,
        3,
        1,
    )
    nodes = {node.term: node for _, node in walk(found.trees["Area"])}
    # relabeled counts with its newest prediction (multiplication), mul with its review (clock).
    assert (nodes["IntegerAddition"].at, nodes["IntegerAddition"].below) == (1, 1)
    assert nodes["IntegerMultiplication"].below == 1
    assert (nodes["Arithmetic"].at, nodes["Arithmetic"].below) == (0, 2)
    assert nodes["MeasuringTime"].below == 3 and nodes["Mathematics"].below == 5
    assert "IntegerMultiplication" not in found.gaps["Area"]["Arithmetic"]
    assert "RationalsArithmetic" in found.gaps["Area"]["Arithmetic"]
    assert found.gaps["Area"].get("Geometry") in (["Geometry"], None)
    assert found.cooccurrence[("MeasuringTime", "AnalogClock")] == 3
    assert sum(found.confidence) == 3  # the predicted pages; reviewed ones have no confidence


def test_report_html_is_self_contained_and_draws_in_a_browser(tmp_path: Path) -> None:
    db = fill_store(tmp_path / "labels.sqlite", 400, seed=3)
    out = tmp_path / "report.html"
    run = cli("report", "--db", db, "--out", out, *ONTOLOGY, home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "400 page(s)" in run.stderr
    html = out.read_text()
    for absent in ("<script", "http://", "https://", "@import", "url("):
        assert absent not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for part in (
        "Area coverage",
        "Area gaps",
        "Area &times; Scope",
        "Confidence",
        "InventedSkill",
    ):
        assert part in html
    assert "Terms not in the ontology" in html  # InventedSkill is listed apart
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (CI installs Debian's package): browser check")
    seen = visit(out, screenshot=True)
    assert seen.errors == []
    # Progress, Area x Scope and confidence charts, each drawn with a size.
    assert len(seen.sizes) == 3 and all(w > 100 and h > 40 for w, h in seen.sizes)
    assert seen.screenshot.startswith(b"\x89PNG")


def test_report_sections_markdown_and_bad_input(small_store: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = Path(next(iter(generated_pages(1)))[0].path).parent  # not in this store
    out = tmp_path / "report.md"
    ws = next(small_store.parent.glob("ws"))
    run = cli("report", ws, folder, "--db", small_store, "--out", out, *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    assert f"no stored pages under {folder}" in run.stderr
    text = out.read_text()
    assert f"## {ws}" in text and "1 whose file is gone (still counted)" in text
    assert "- IntegerAddition: 1 (1 at this term)" in text
    empty = tmp_path / "empty.sqlite"
    Store(empty).close()
    run = cli("report", "--db", empty, "--out", tmp_path / "e.html", *ONTOLOGY, home=home)
    assert run.returncode == 2 and "has no labeled pages yet" in run.stderr
    run = cli("find", "--db", empty, "--area", "Arithmetic", *ONTOLOGY, home=home)
    assert run.returncode == 2 and "has no labeled pages yet" in run.stderr
    run = cli("report", "--db", tmp_path / "none.sqlite", home=home)
    assert run.returncode == 2 and "no store at" in run.stderr


def test_an_older_store_gets_its_term_index(tmp_path: Path) -> None:
    """A store written before the index (schema 3) is indexed when opened: find sees its pages."""
    import sqlite3

    from mlx_edugraph.store.schema import MIGRATIONS

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        for version, script in enumerate(MIGRATIONS[:3], start=1):
            conn.executescript(script)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
        for index, labels in enumerate((ADD, CLOCK)):
            record = _prediction(tmp_path / f"{index}.png", f"k{index}", labels).to_dict()
            conn.execute(
                "INSERT INTO predictions VALUES (?, 0, 'm1', ?, 'labeled', 0.9, ?, ?)",
                (f"k{index}", record["path"], json.dumps(record), f"2026-01-0{index + 1}"),
            )
        review = Review("k1", 0, "1.png", "corrected", dict(ADD))
        conn.execute(
            "INSERT INTO reviews VALUES ('k1', 0, 'corrected', ?, 'then')",
            (json.dumps(review.to_dict()),),
        )
    with Store(db) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert _names(find(store, {"Area": {"IntegerAddition"}})) == ["0", "1"]
        assert _names(find(store, {"Area": {"MeasuringTime"}})) == []
