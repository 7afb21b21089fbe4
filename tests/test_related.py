"""`related`, `next`, `before` and `export --vectors` on a generated collection with known labels,
ranked over the real v0.4.0 relations when `../shared` has them, else the demo's subset (which
holds the release's links among its terms)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlx_edugraph.labels.competence import label_set
from mlx_edugraph.labels.demo_ontology import demo_ontology
from mlx_edugraph.labels.learning_paths import LearningPaths
from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.pages.worksheets import file_sha256
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.competence_index import CompetenceIndex
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store
from tests.conftest import ONTOLOGY_V04_TTL, REAL_ONTOLOGY
from tests.ontology_files import SMALL_EXPANDS, SMALL_ONTOLOGY

ASKED = {
    "Area": ["IntegerAddition"],
    "Scope": ["NumbersSmaller20"],
    "Ability": ["ProcedureExecution"],
}
KINDS: dict[str, dict[str, list[str]]] = {
    "same": ASKED,
    "specific": {  # the same Area and Ability; a sibling Scope
        "Area": ["IntegerAddition"],
        "Scope": ["NumbersSmaller10"],
        "Ability": ["ProcedureExecution"],
    },
    "general": {  # only shared parents: IntegerArithmetic, NumericRange, ProcedureApplication
        "Area": ["IntegerMultiplication"],
        "Scope": ["NumbersSmaller100"],
        "Ability": ["ProcedureIdentification"],
    },
    "root": {"Area": ["MeasuringTime"], "Scope": ["AnalogClock"], "Ability": ["VisualRecognition"]},
    "wider": {  # the next Scope, the same Area
        "Area": ["IntegerAddition"],
        "Scope": ["NumbersSmaller100"],
        "Ability": ["ProcedureExecution"],
    },
}
RANK = ("same", "specific", "wider", "general", "root")
"""The order `related` must give the kinds in, from the asked page (a "same" one)."""


@pytest.fixture(scope="module")
def ontology():
    return load_ontology(ONTOLOGY_V04_TTL) if REAL_ONTOLOGY else demo_ontology()


def _prediction(path: Path, answer: dict[str, list[str]], fingerprint: str = "gen") -> Prediction:
    provenance = Provenance("generated", fingerprint, "v0.4.0", "generated", "", "base")
    if not answer:
        return Prediction(str(path), 0, file_sha256(path), "unsupported", provenance=provenance)
    labels = [Label(t, d, "known", False, 0.9) for d, terms in answer.items() for t in terms]
    return Prediction(str(path), 0, file_sha256(path), "labeled", labels, provenance=provenance)


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Three pages of each kind (one "same" page settled by a person's correction of a wrong
    prediction, one by a newer prediction), one unsupported page, one without labels; and the
    kind of each stored page by path."""
    folder = tmp_path_factory.mktemp("related")
    db, kinds, predictions = folder / "labels.sqlite", {}, []
    for kind in KINDS:
        for i in range(3):
            path = folder / f"{kind}-{i}.png"
            path.write_bytes(f"{kind} {i}".encode())
            kinds[str(path)] = kind
            predictions.append(_prediction(path, KINDS[kind]))
    for name, answer in (("unsupported.png", {}), ("blank.png", {"Area": []})):
        (folder / name).write_bytes(name.encode())
        predictions.append(_prediction(folder / name, answer))
    with Store(db) as store:
        store.put_many(predictions)
        reviewed = folder / "same-1.png"  # predicted as root, corrected by a person to ASKED
        store.put_many([_prediction(reviewed, KINDS["root"], "older")])
        store.put_review(Review(file_sha256(reviewed), 0, str(reviewed), "corrected", ASKED))
    return db, kinds


def _main(capsys, *argv) -> tuple[int, str, str]:
    from mlx_edugraph.cli import main

    given = ["--ontology", str(ONTOLOGY_V04_TTL)] if REAL_ONTOLOGY else ["--demo"]
    code = main([*map(str, argv), *given])
    out, err = capsys.readouterr()
    return code, out, err


def test_related_ranks_identical_then_specific_then_root_only(collection, capsys) -> None:
    db, kinds = collection
    asked = next(path for path, kind in kinds.items() if kind == "same")
    code, out, _ = _main(capsys, "related", asked, "--db", db, "-k", "20", "--json")
    assert code == 0
    found = json.loads(out)
    order = [kinds[m["path"]] for m in found]
    assert asked not in [m["path"] for m in found]
    assert order == sorted(order, key=RANK.index) and len(order) == 14  # no unlabeled page
    assert found[0]["score"] == pytest.approx(1.0) and found[0]["why"] == "same labels"
    scores = {kinds[m["path"]]: m["score"] for m in found}
    assert scores["specific"] > scores["general"] > scores["root"] > 0
    why = {kinds[m["path"]]: m["why"] for m in found}
    assert why["specific"].startswith("shares IntegerAddition, ProcedureExecution")
    assert "Scope: both part of NumericRange" in why["specific"]
    assert "Area: both part of IntegerArithmetic" in why["general"]
    assert why["root"].startswith("Area: both part of Mathematics") and "differs in" in why["root"]


def test_related_from_terms_and_the_final_labels_count(collection, capsys) -> None:
    db, kinds = collection
    code, out, _ = _main(
        capsys, "related", "--db", db, "-k", "3", "--area", "IntegerAddition",
        "--scope", "NumbersSmaller20", "--ability", "ProcedureExecution",
    )  # fmt: skip
    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    # same-1 was predicted as "root" by an older model, and corrected by a person
    assert [kinds[name] for _, name, _ in lines] == ["same"] * 3
    assert all(why == "same labels" for *_, why in lines)


def test_next_and_before_follow_expands_links_and_the_scope_order(
    collection, ontology, capsys
) -> None:
    db, kinds = collection
    asked = next(path for path, kind in kinds.items() if kind == "same")
    code, out, _ = _main(capsys, "next", asked, "--db", db, "--json", "-k", "50")
    assert code == 0
    after = json.loads(out)
    assert {kinds[m["path"]] for m in after} == {"general", "wider"}
    for match in after:  # only Areas that expand the page's Area, or the next Scope
        expands = any("IntegerAddition" in ontology.get(a).expands for a in match["Area"])
        next_scope = match["Area"] == ["IntegerAddition"] and match["Scope"] == [
            "NumbersSmaller100"
        ]
        assert expands or next_scope, match
    why = {kinds[m["path"]]: m["why"] for m in after}
    assert why["general"] == "IntegerMultiplication expands IntegerAddition"
    assert why["wider"] == "same Areas, wider Scope: NumbersSmaller100 expands NumbersSmaller20"
    code, out, _ = _main(capsys, "before", asked, "--db", db, "--json")
    assert {kinds[m["path"]] for m in json.loads(out)} == {"specific"}
    general = next(path for path, kind in kinds.items() if kind == "general")
    code, out, _ = _main(capsys, "before", general, "--db", db, "--json", "-k", "50")
    assert {kinds[m["path"]] for m in json.loads(out)} == {"same", "specific", "wider"}


def test_steps_follow_the_part_of_hierarchy(ontology) -> None:
    paths = LearningPaths(ontology)
    after = paths.areas(["IntegerArithmetic"], after=True)
    assert after["IntegerMultiplication"] == (
        "IntegerMultiplication expands IntegerAddition (IntegerAddition is part of "
        "IntegerArithmetic)"
    )
    assert "IntegerMultiplication" not in paths.areas(  # practised already: no step
        ["IntegerAddition", "IntegerMultiplication"], after=True
    )
    before = paths.areas(["IntegerMultiplication"], after=False)
    assert before["IntegerAddition"] == "IntegerMultiplication expands IntegerAddition"
    assert paths.scopes(["NumbersSmaller20"], after=True) == {
        "NumbersSmaller100": "NumbersSmaller100 expands NumbersSmaller20",
        **(
            {"NumbersLarger20": "NumbersLarger20 expands NumbersSmaller20"} if REAL_ONTOLOGY else {}
        ),
    }


@pytest.mark.skipif(not REAL_ONTOLOGY, reason="needs ../shared/ontology/edugraph-v0.4.0.ttl")
def test_v04_expands_links_are_read(ontology) -> None:
    links = [(t.name, base) for t in ontology.terms.values() for base in t.expands]
    assert len({name for name, _ in links}) == 34 and len(links) == 56  # on 34 terms
    assert ("DecimalAddition", "IntegerAddition") in links
    names = {name for terms in SMALL_ONTOLOGY.values() for name in terms}
    among = {n: tuple(b for b in ontology.get(n).expands if b in names) for n in names}
    assert {n: links for n, links in among.items() if links} == SMALL_EXPANDS  # the stand-in's
    v021 = load_ontology(Path(ONTOLOGY_V04_TTL).parent / "edugraph-v0.21.0-math.rdf")
    assert "NumbersSmaller10" in v021.get("NumbersSmaller20").expands  # the plain form


@pytest.mark.parametrize(
    "argv, message",
    [
        (["related", "{dir}/nowhere.png"], "no such file: {dir}/nowhere.png"),
        (["related", "{dir}/stranger.png"], "{dir}/stranger.png is not in the store: label it"),
        (["next", "{dir}/unsupported.png"], "is unsupported material"),
        (["before", "{dir}/blank.png"], "has no labels (its newest prediction is labeled)"),
        (["related", "--area", "IntegerAdition"], "IntegerAdition is not a term of the EduGraph"),
        (["related", "--scope", "IntegerAddition"], "IntegerAddition is an Area term"),
        (["related"], "give a page, or at least one --area"),
        (["export", "--vectors", "{dir}/v.txt"], "name it .npy"),
    ],
)
def test_bad_input_is_exit_2_with_the_reason(collection, capsys, argv, message) -> None:
    db, _ = collection
    folder = db.parent
    (folder / "stranger.png").write_bytes(b"never labeled")
    before = db.read_bytes()
    argv = [a.replace("{dir}", str(folder)) for a in argv]
    code, _, err = _main(capsys, *argv, "--db", db)
    assert code == 2 and err.startswith("error: ")
    assert message.replace("{dir}", str(folder)) in err
    assert db.read_bytes() == before


def test_export_vectors_numpy_and_parquet(collection, capsys, tmp_path) -> None:
    db, kinds = collection
    code, _, err = _main(capsys, "export", "--vectors", tmp_path / "v.npy", "--db", db)
    assert code == 0 and "wrote 15 page vector(s)" in err
    matrix = np.load(tmp_path / "v.npy")
    index = json.loads((tmp_path / "v.json").read_text())
    assert matrix.shape == (15, len(index["columns"])) and matrix.dtype == np.float32
    rows = {page["path"]: page["row"] for page in index["pages"]}
    same = [rows[p] for p, kind in kinds.items() if kind == "same"]
    root = next(rows[p] for p, kind in kinds.items() if kind == "root")
    assert matrix[same[0]] @ matrix[same[1]] == pytest.approx(1.0)  # the dot product is `related`'s
    assert matrix[same[0]] @ matrix[root] < 0.2
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    import pyarrow.parquet as pq

    code, _, _ = _main(capsys, "export", "--vectors", tmp_path / "v.parquet", "--db", db)
    table = pq.read_table(tmp_path / "v.parquet")
    assert code == 0 and table.num_rows == 15
    assert np.allclose(np.array(table["vector"].to_pylist(), dtype=np.float32), matrix)


def test_index_groups_pages_by_label_set(collection, ontology) -> None:
    db, _ = collection
    with Store(db) as store:
        index = CompetenceIndex.load(store, ontology)
    assert len(index) == 15 and len(index.sets) == 5
    assert index.labels_of(("nope", 0)) is None
    assert index.related(label_set(ASKED), 1)[0].why == "same labels"


def test_bench_times_every_query_on_a_generated_store(tmp_path, ontology) -> None:
    """`bench --related`'s figures on a small store: every query and both commands timed."""
    from mlx_edugraph.benchmarks.related_speed import format_related_table, run_related_bench

    ontology_file = ONTOLOGY_V04_TTL if REAL_ONTOLOGY else None
    times = run_related_bench(tmp_path / "labels.sqlite", 60, ontology_file, ontology)
    assert times.pages == 60 and 1 < times.sets <= 60 and times.worst_sets == 60
    assert set(times.query_ms) == {"related", "next", "before"} == set(times.worst_ms)
    assert set(times.command_s) == {"related", "next"}
    assert "| related, per query: median / max |" in format_related_table(times)
