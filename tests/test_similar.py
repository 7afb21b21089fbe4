"""Similar pages: vectors from the prefill, their index, the measures on the taught tiny model,
and the `similar`, `duplicates` and `embed` commands run as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.store.similar_pages import (
    DUPLICATE_THRESHOLD,
    NoVectors,
    VectorIndex,
    choose_model,
    unit_rows,
)
from mlx_edugraph.store.sqlite_store import MIGRATIONS, Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.run_cli import cli


def _stored(
    store: Store, key: str, vector, fingerprint: str = "m1", path: str | None = None
) -> None:
    store.put(
        Prediction(
            path=path or f"{key}.png",
            page=0,
            sha256=key,
            outcome="labeled",
            provenance=Provenance(model_fingerprint=fingerprint),
            embedding=None if vector is None else unit_rows(np.array([vector], float))[0],
        )
    )


def test_index_finds_nearest_and_groups_duplicates(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        _stored(store, "a", [1, 0, 0])
        _stored(store, "a-copy", [1, 0.01, 0])
        _stored(store, "b", [0, 1, 0])
        _stored(store, "c", [0.6, 0.8, 0])
        _stored(store, "other-model", [1, 0, 0], fingerprint="m2")
        index = VectorIndex.load(store, "m1")
    assert len(index) == 4
    found = index.nearest(index.vector_of(("a", 0)), 2, skip=("a", 0))
    assert [n.page[0] for n in found] == ["a-copy", "c"]
    assert found[0].similarity == pytest.approx(1.0, abs=1e-3)
    groups = index.duplicate_groups(0.99)
    assert [[n.page[0] for n in group] for group in groups] == [["a", "a-copy"]]
    assert index.duplicate_groups(0.99, among={("a", 0), ("b", 0)}) == []


def test_vectors_of_other_models_and_missing_vectors_are_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(NoVectors, match="no pages yet"):
            choose_model(store, None)
        _stored(store, "served", None)
        with pytest.raises(NoVectors, match="embed"):
            choose_model(store, "m1")
        _stored(store, "local", [1, 2, 3], fingerprint="m-old")
        with pytest.raises(NoVectors, match="never compared"):
            choose_model(store, "m-new")
        assert choose_model(store, None) == "m-old"


def test_an_older_store_gains_the_vector_table(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at)")
        for version, script in enumerate(MIGRATIONS[:4], start=1):
            conn.executescript(script)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
    with Store(db) as store:
        assert store.schema_version == len(MIGRATIONS)
        _stored(store, "k", [0.6, 0.8])
        pages, blob, count = store.vectors("m1")
    assert pages == [("k", 0)] and count == 1
    assert np.frombuffer(blob, "<f2").tolist() == pytest.approx([0.6, 0.8], abs=1e-3)


def _sheet(kind: str, seed: int = 3) -> LoadedWorksheet:
    image = make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=seed)
    return LoadedWorksheet(WorksheetRef(Path(f"{kind}.png")), sha256=kind, image=image)


@pytest.fixture(scope="module")
def engines(taught_mlx_model: Path):
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    return {
        embed: MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=None, embed=embed)
        for embed in (True, False)
    }


def test_the_vector_comes_with_the_labels_and_changes_none_of_them(engines) -> None:
    from mlx_edugraph.model import vlm

    sheet = _sheet("clock")
    with_vector, without = engines[True].label(sheet), engines[False].label(sheet)
    assert with_vector.raw_text == without.raw_text
    assert [lab.confidence for lab in with_vector.labels] == [
        lab.confidence for lab in without.labels
    ]
    assert without.embedding is None
    vector = with_vector.embedding
    assert vector.dtype == np.float16 and vector.shape == (vlm.hidden_size(engines[True].vlm),)
    # The prefill alone (`embed`) gives the same vector as labeling does.
    assert np.array_equal(engines[True].embed(sheet), vector)
    assert "embedding" not in with_vector.to_dict()


def test_kinds_separate_and_copies_are_duplicates_on_the_taught_model(engines) -> None:
    from mlx_edugraph.benchmarks.similarity import measure_separation

    engine = engines[True]
    rows = measure_separation(engine, seeds=range(3), k=2)
    used = next(r for r in rows if r.depth == engine.embed_depth and r.pooling == "mean")
    assert used.recall == 1.0
    assert used.same_kind > used.other_kind
    assert min(used.copies_min.values()) >= DUPLICATE_THRESHOLD
    assert used.other_kind_max < DUPLICATE_THRESHOLD


def test_similar_duplicates_and_embed_commands(taught_mlx_model: Path, tmp_path: Path) -> None:
    from mlx_edugraph.benchmarks.similarity import COPIES

    pages, home, db = tmp_path / "pages", tmp_path / "home", tmp_path / "s.sqlite"
    pages.mkdir()
    for kind in ("addition", "clock", "picture"):
        make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=1).save(pages / f"{kind}.png")
    COPIES["jpeg"](make_worksheet("clock", size=DEMO_PAGE_SIZE, seed=1)).save(
        pages / "clock-scan.png"
    )
    model = ("--model", taught_mlx_model, "--db", db)
    assert cli("similar", pages / "clock.png", *model, home=home).returncode == 2  # no store
    assert cli("label", pages, *model, home=home).returncode == 0

    run = cli("similar", pages / "clock.png", "-k", "2", "--json", *model, home=home)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found[0]["path"].endswith("clock-scan.png")
    assert found[0]["similarity"] >= DUPLICATE_THRESHOLD

    new = tmp_path / "new-addition.png"
    make_worksheet("addition", size=DEMO_PAGE_SIZE, seed=1).save(new, "JPEG", quality=70)
    run = cli("similar", new, "-k", "1", *model, home=home)
    assert run.returncode == 0 and "addition.png\tnear-duplicate" in run.stdout, run.stderr

    run = cli("duplicates", "--json", "--db", db, home=home)
    groups = [sorted(Path(p["path"]).name for p in group) for group in json.loads(run.stdout)]
    assert ["clock-scan.png", "clock.png"] in groups
    assert not any("picture.png" in group and "clock.png" in group for group in groups)

    report = tmp_path / "report.md"
    assert cli("report", "--db", db, "--out", report, home=home).returncode == 0
    section = report.read_text(encoding="utf-8").split("## Near-duplicates", 1)[1]
    assert "clock-scan.png" in section and "picture.png" not in section

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    run = cli("similar", broken, *model, home=home)
    assert run.returncode == 2 and "cannot read" in run.stderr

    # A page labeled through a server has no vector: said so, then `embed` makes it.
    served = pages / "served.png"
    make_worksheet("counting", size=DEMO_PAGE_SIZE, seed=1).save(served)
    from mlx_edugraph.model.fingerprint import model_fingerprint
    from mlx_edugraph.pages.worksheets import file_sha256

    with Store(db) as store:
        _stored(store, file_sha256(served), None, model_fingerprint(taught_mlx_model), str(served))
    run = cli("similar", served, *model, home=home)
    assert run.returncode == 2 and "without a vector" in run.stderr and "embed" in run.stderr
    run = cli("embed", *model, home=home)
    assert run.returncode == 0 and "1 page(s) embedded" in run.stdout, run.stderr
    assert cli("similar", served, *model, home=home).returncode == 0


def _bad_input_store(db: Path, case: str, model: str, broken: Path) -> Path:
    """The store of one bad-input case, and the page `similar` is asked about."""
    page = broken.parent / "page.png"
    make_worksheet("clock", size=DEMO_PAGE_SIZE, seed=4).save(page)
    from mlx_edugraph.pages.worksheets import file_sha256

    with Store(db) as store:
        if case == "empty":
            return page
        other = "0123456789abcdef" if case == "other version" else model
        _stored(store, "k", [1.0, 0.0], fingerprint=other)
        if case == "no vector":
            _stored(store, file_sha256(page), None, fingerprint=other, path=str(page))
    return broken if case == "unreadable" else page


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            "no vector",
            marks=pytest.mark.reliability("Inputs", "`similar` on a page that has no vector"),
        ),
        pytest.param(
            "other version",
            marks=pytest.mark.reliability(
                "Inputs", "`similar` with only another model version's vectors"
            ),
        ),
        pytest.param(
            "empty", marks=pytest.mark.reliability("Inputs", "`similar` on an empty store")
        ),
        pytest.param(
            "unreadable",
            marks=pytest.mark.reliability("Inputs", "`similar` on an image that cannot be read"),
        ),
    ],
)
def test_similar_says_why_it_cannot_answer_and_changes_nothing(
    case: str, taught_mlx_model: Path, tmp_path: Path, capsys, outcome
) -> None:
    from mlx_edugraph.cli import main
    from mlx_edugraph.model.fingerprint import model_fingerprint

    db, broken = tmp_path / "s.sqlite", tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    asked = _bad_input_store(db, case, model_fingerprint(taught_mlx_model), broken)
    before = db.read_bytes()
    code = main(["similar", str(asked), "--db", str(db), "--model", str(taught_mlx_model)])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("error: ")
    assert db.read_bytes() == before  # nothing written, nothing lost
    message = error.removeprefix("error: ").replace(str(tmp_path), "<dir>")
    message = message.replace(model_fingerprint(taught_mlx_model), "<this model>")
    outcome(f"exit 2, the store unchanged: {message}")


def test_bench_figures_are_measured(taught_mlx_model: Path, tmp_path: Path) -> None:
    """`bench --similar`'s two measures on small inputs: both paths timed, the store left."""
    from mlx_edugraph.benchmarks.similarity import (
        format_queries,
        measure_labeling_cost,
        measure_query,
    )

    query = measure_query(2_000, 16, naive_sample=500)
    assert query.query_s > 0 and query.naive_s > 0 and query.load_s > 0
    assert "| 2,000 | 16 |" in format_queries([query])
    page = tmp_path / "page.png"
    make_worksheet("clock", size=DEMO_PAGE_SIZE, seed=1).save(page)
    cost = measure_labeling_cost(taught_mlx_model, [page], answer_tokens=4, rounds=1)
    assert cost.pages == 1 and cost.with_s > 0 and cost.without_s > 0
