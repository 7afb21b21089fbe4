"""Label Studio export and `import-reviews`, without a Label Studio: the labeling config, image
links, and every import case (newest wins, unknown terms, unmatched tasks, malformed files,
reruns, 10,000 annotations). The round trip with a real one is test_label_studio_roundtrip."""

from __future__ import annotations

import json
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from mlx_edugraph.benchmarks.collection_store import fill_store
from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.labelstudio.annotations import MalformedExport, parse_export, read_export
from mlx_edugraph.labelstudio.config import TermTree, outside_branch
from mlx_edugraph.labelstudio.export import export_label_studio
from mlx_edugraph.labelstudio.images import ImageLinkError, link_images
from mlx_edugraph.labelstudio.reviews_in import describe, import_annotations
from mlx_edugraph.labelstudio.tasks import results
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import DIMENSIONS, Label, Prediction, Provenance
from mlx_edugraph.store.export_reviewed import reviewed_pages
from mlx_edugraph.store.page_states import Entry
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tui.labels_pane import outcome_text
from tests.conftest import ONTOLOGY_V04_TTL
from tests.run_cli import cli

ADD = {"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20"], "Ability": []}
MUL = {"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller100"], "Ability": []}


@pytest.fixture(scope="module")
def ontology():
    return load_ontology(ONTOLOGY_V04_TTL)


def prediction(path: Path, sha256: str, labels: dict, page: int = 0) -> Prediction:
    found = [
        Label(term, dimension, "known", False, 0.9)
        for dimension, terms in labels.items()
        for term in terms
    ]
    provenance = Provenance("m", "fp1", "v0.4.0", "t", "", "base")
    return Prediction(str(path), page, sha256, "labeled", found, provenance=provenance)


@pytest.fixture
def store_with_pages(tmp_path: Path) -> tuple[Path, Path]:
    """A store of three pages (two images and a PDF page) under `root/ws`."""
    folder = tmp_path / "root" / "ws"
    write_samples(folder, 2, size=(200, 260), seed=3, pdf_pages=1)
    (folder / "001-addition.png").rename(folder / "001 addition.png")
    db = tmp_path / "labels.sqlite"
    with Store(db) as store:
        store.put(prediction(folder / "001 addition.png", "a" * 64, ADD))
        store.put(prediction(folder / "002-multiplication.png", "b" * 64, MUL))
        store.put(prediction(folder / "worksheets.pdf", "c" * 64, ADD, page=1))
    return db, tmp_path / "root"


def test_config_nests_each_dimension_as_the_ontology_does(ontology) -> None:
    tree = TermTree(ontology, {"Ability": {"InventedSkill"}})
    view = ET.fromstring(tree.config())
    for dimension in DIMENSIONS:
        taxonomy = view.find(f"Taxonomy[@name='{dimension}']")
        assert taxonomy.get("toName") == "image"
        placed = set()
        for parent in taxonomy.iter("Choice"):
            for child in parent.findall("Choice"):
                if parent.get("value") == outside_branch(ontology):
                    assert ontology.dimension_of(child.get("value")) != dimension
                    continue
                assert parent.get("value") in ontology.terms[child.get("value")].parents
                placed.add(child.get("value"))
        roots = {c.get("value") for c in taxonomy.findall("Choice")}
        assert placed | roots >= set(ontology.terms_of(dimension))
    outside = view.find(f"Taxonomy[@name='Ability']/Choice[@value='{outside_branch(ontology)}']")
    assert [c.get("value") for c in outside] == ["InventedSkill"]
    assert view.find("Choices[@name='Error']/Choice").get("value") == "UnsupportedMaterial"


def test_predictions_name_terms_by_their_path(ontology) -> None:
    tree = TermTree(ontology, {"Ability": {"InventedSkill"}})
    found = results(tree, {"Area": ["IntegerAddition"], "Ability": ["InventedSkill"]}, False)
    paths = {r["from_name"]: r["value"]["taxonomy"] for r in found}
    assert paths["Area"] == [["Mathematics", "Arithmetic", "IntegerArithmetic", "IntegerAddition"]]
    assert paths["Ability"] == [[outside_branch(ontology), "InventedSkill"]]
    assert "Scope" not in paths  # no empty results


def test_images_link_as_local_files_with_storages_below_the_root(store_with_pages) -> None:
    db, root = store_with_pages
    with Store(db) as store:
        pages = list(reviewed_pages(store))
    out = root / "exports" / "tasks.json"
    out.parent.mkdir()
    export = export_label_studio(pages, out, None, image_root=root)
    urls = sorted(task["data"]["image"] for task in json.loads(out.read_text()))
    rendered = next(iter(export.links.rendered))
    assert urls == [
        f"/data/local-files/?d=exports/tasks-pages/{rendered.name}",
        "/data/local-files/?d=ws/001%20addition.png",
        "/data/local-files/?d=ws/002-multiplication.png",
    ]
    assert rendered.name.startswith("worksheets-") and rendered.name.endswith("-p1.png")
    assert Image.open(rendered).format == "PNG"
    assert export.links.storages == [root / "exports", root / "ws"]
    assert export.config.name == "tasks.label_config.xml"


def test_default_root_is_above_the_common_folder_and_prefix_urls(store_with_pages) -> None:
    db, root = store_with_pages
    with Store(db) as store:
        refs = [
            (p.prediction.path, p.prediction.sha256, p.prediction.page)
            for p in reviewed_pages(store)
        ]
    links = link_images(refs[:2], root / "pages")
    assert links.root == root and links.storages == [root / "ws"]
    links = link_images(refs[:2], root / "pages", url_prefix="https://files.example.org/sheets/")
    assert sorted(links.urls.values()) == [
        "https://files.example.org/sheets/001%20addition.png",
        "https://files.example.org/sheets/002-multiplication.png",
    ]


def test_files_in_the_root_itself_or_outside_it_are_refused(store_with_pages, tmp_path) -> None:
    db, root = store_with_pages
    with Store(db) as store:
        refs = [
            (p.prediction.path, p.prediction.sha256, p.prediction.page)
            for p in reviewed_pages(store)
        ]
    with pytest.raises(ImageLinkError, match="directly in the document root"):
        link_images(refs[:2], root / "ws" / "pages", root=root / "ws")
    with pytest.raises(ImageLinkError, match="2 page image.s. lie outside the image root"):
        link_images(refs[:2], root / "pages", root=tmp_path / "elsewhere")


def test_missing_files_are_reported_and_still_get_a_task(store_with_pages) -> None:
    db, root = store_with_pages
    (root / "ws" / "worksheets.pdf").unlink()
    with Store(db) as store:
        pages = list(reviewed_pages(store))
    export = export_label_studio(pages, root / "tasks.json", None)
    assert export.count == 3
    assert len(export.links.missing) == 1 and "worksheets.pdf p1" in export.links.missing[0]


# -- import-reviews ------------------------------------------------------------------------


def studio_export(tasks: list[dict], annotations: dict[int, list[dict]]) -> list[dict]:
    """Our tasks as Label Studio exports them: ids given, annotations added per task index."""
    found = []
    for index, task in enumerate(tasks):
        task = {**task, "id": 100 + index}
        task.pop("predictions", None)
        task["annotations"] = [
            {
                "id": 1000 + 10 * index + number,
                "completed_by": item.get("by", 1),
                "result": item["result"],
                "was_cancelled": item.get("cancelled", False),
                "created_at": item["at"],
                "updated_at": item["at"],
            }
            for number, item in enumerate(annotations.get(index, []))
        ]
        found.append(task)
    return found


def taxonomy(tree: TermTree, labels: dict, unsupported: bool = False) -> list[dict]:
    return results(tree, {d: labels.get(d, []) for d in DIMENSIONS}, unsupported)


@pytest.fixture
def exported(store_with_pages, ontology):
    db, root = store_with_pages
    with Store(db) as store:
        pages = list(reviewed_pages(store))
    export_label_studio(pages, root / "tasks.json", ontology)
    tasks = json.loads((root / "tasks.json").read_text())
    tasks.sort(key=lambda t: t["data"]["path"])  # 001 addition, 002-multiplication, pdf
    return db, tasks, TermTree(ontology, {"Ability": {"InventedSkill"}})


def run_import(db: Path, data: list[dict], ontology):
    contents = parse_export(data, "export.json")
    with Store(db) as store:
        report = import_annotations(contents, store, ontology)
        reviews = {r.path.rsplit("/", 1)[-1] + f" p{r.page}": r for r in store.reviews()}
    return report, reviews, describe(report, contents, "export.json")


def test_import_takes_the_newest_annotation_and_reports_the_rest(exported, ontology) -> None:
    db, tasks, tree = exported
    data = studio_export(
        tasks,
        {
            0: [
                {"result": taxonomy(tree, MUL), "at": "2026-11-01T10:00:00Z", "by": 2},
                {"result": taxonomy(tree, ADD), "at": "2026-11-02T10:00:00.5Z", "by": 3},
            ],
            1: [
                {
                    "result": taxonomy(tree, {**MUL, "Ability": ["InventedSkill"]}),
                    "at": "2026-11-01T09:00:00Z",
                }
            ],
            2: [{"result": [], "at": "2026-11-01T09:00:00Z", "cancelled": True}],
        },
    )
    report, reviews, text = run_import(db, data, ontology)
    assert set(reviews) == {"001 addition.png p0", "002-multiplication.png p0"}
    addition = reviews["001 addition.png p0"]
    assert addition.status == "accepted" and addition.labels == {**ADD, "Ability": []}
    assert addition.reviewer == "label-studio user 3"
    assert addition.origin == "label-studio task 100 annotation 1001"
    assert addition.updated_at == "2026-11-02T10:00:00+00:00"
    multiplication = reviews["002-multiplication.png p0"]
    assert multiplication.status == "corrected"
    assert multiplication.labels["Ability"] == ["InventedSkill"]
    assert multiplication.unknown_terms == ["InventedSkill"]
    assert "superseded: 1 older annotation" in text
    assert "task 100 annotation 1000 by label-studio user 2" in text
    assert "unknown terms: 1, kept and flagged" in text and "'InventedSkill'" in text
    assert "skipped: 1 cancelled annotation(s), 0 task(s) without annotations" in text

    with Store(db) as store:
        entry = Entry(WorksheetRef(Path(addition.path)), "a" * 64, store.latest("a" * 64, 0))
    entry.review = addition
    shown = outcome_text(entry).plain  # the review app says who reviewed it, and when
    assert "Review: accepted by label-studio user 3, 2026-11-02" in shown

    again, _, text = run_import(db, data, ontology)
    assert not again.written and again.unchanged == 2
    with Store(db) as store:
        assert len(list(store.reviews())) == 2


def test_a_newer_store_review_stays_and_is_reported(exported, ontology) -> None:
    db, tasks, tree = exported
    with Store(db) as store:
        store.put_review(Review("a" * 64, 0, "x", "corrected", dict(MUL)))  # now: newer
    data = studio_export(
        tasks, {0: [{"result": taxonomy(tree, ADD), "at": "2026-01-01T00:00:00Z"}]}
    )
    report, reviews, text = run_import(db, data, ontology)
    assert not report.written and len(report.kept_newer) == 1
    assert reviews["x p0"].labels["Area"] == ["IntegerMultiplication"]
    assert "kept: 1 store review(s) newer than their annotation" in text


def test_tasks_match_by_path_without_meta_and_unmatched_are_reported(exported, ontology) -> None:
    db, tasks, tree = exported
    tasks[0].pop("meta")
    tasks[1]["meta"]["sha256"] = "f" * 64  # a page this store never saw
    at = "2026-11-01T10:00:00Z"
    data = studio_export(
        tasks, {0: [{"result": taxonomy(tree, ADD), "at": at}], 1: [{"result": [], "at": at}]}
    )
    report, reviews, text = run_import(db, data, ontology)
    assert set(reviews) == {"001 addition.png p0"}
    assert "unmatched: 1 annotation(s) match no page in the store" in text
    assert "no page with SHA-256 ffffffffffff… p0 in the store" in text


def test_unsupported_choice_becomes_an_unsupported_review(exported, ontology) -> None:
    db, tasks, tree = exported
    data = studio_export(
        tasks, {2: [{"result": taxonomy(tree, {}, True), "at": "2026-11-01T10:00:00Z"}]}
    )
    _, reviews, _ = run_import(db, data, ontology)
    review = reviews["worksheets.pdf p1"]
    assert review.unsupported and review.status == "corrected" and not any(review.labels.values())


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ('[{"id": 1, "data": {}, "annotations": [}]', "line 1 column 40"),
        ("{}", "expected a list of tasks"),
        ('[{"id": 1, "data": {}, "annotations": {}}]', "tasks[0].annotations: expected a list"),
        (
            '[{"id": 1, "data": {}, "annotations": [{"updated_at": "2026-01-01T00:00:00Z", '
            '"result": [{"from_name": "Area", "value": {"taxonomy": [7]}}]}]}]',
            "tasks[0].annotations[0].result[0].value.taxonomy[0]: expected a path",
        ),
        ('[{"id": 1, "data": {"page": -1}, "annotations": []}]', "tasks[0].data.page"),
        ('[{"id": 1, "data": {}, "annotations": [{"result": []}]}]', "updated_at"),
        ('[{"id": 3, "Area": "IntegerAddition"}]', "JSON-MIN"),
    ],
)
def test_malformed_exports_are_refused_naming_the_place(tmp_path, text, place) -> None:
    bad = tmp_path / "export.json"
    bad.write_text(text)
    with pytest.raises(MalformedExport) as caught:
        read_export(bad)
    assert place in str(caught.value) and str(bad) in str(caught.value)


@pytest.mark.reliability("Inputs", "Label Studio export with a malformed field")
def test_a_bad_field_is_refused_by_the_cli_naming_it(exported, tmp_path, outcome) -> None:
    db, tasks, tree = exported
    data = studio_export(
        tasks, {0: [{"result": taxonomy(tree, ADD), "at": "2026-11-01T10:00:00Z"}]}
    )
    data[0]["annotations"][0]["result"][0]["value"]["taxonomy"] = "IntegerAddition"
    bad = tmp_path / "export.json"
    bad.write_text(json.dumps(data))
    run = import_reviews(bad, db, tmp_path)
    assert run.returncode == 2
    with Store(db) as store:
        assert not list(store.reviews())
    message = run.stderr.strip().removeprefix("error: ").removeprefix(str(bad) + ": ")
    outcome(f"exit 2, nothing written: {message}")


@pytest.mark.reliability("Inputs", "Label Studio export cut short")
def test_cli_refuses_a_cut_export_and_keeps_the_store(exported, tmp_path, outcome) -> None:
    """An export cut short (Label Studio stopped while writing it) changes nothing; the whole
    file, exported again, then imports."""
    db, tasks, tree = exported
    data = studio_export(
        tasks, {0: [{"result": taxonomy(tree, ADD), "at": "2026-11-01T10:00:00Z"}]}
    )
    whole = json.dumps(data)
    cut = tmp_path / "cut.json"
    cut.write_text(whole[:-1])  # the closing bracket of the task list never came
    run = import_reviews(cut, db, tmp_path)
    assert run.returncode == 2 and "not JSON at line 1 column" in run.stderr
    with Store(db) as store:
        assert not list(store.reviews())
    whole_file = tmp_path / "whole.json"
    whole_file.write_text(whole)
    again = import_reviews(whole_file, db, tmp_path)
    assert again.returncode == 0 and "imported 1 review(s)" in again.stdout, again.stderr
    message = run.stderr.strip().removeprefix("error: ").removeprefix(str(cut) + ": ")
    message = re.sub(r"column \d+", "column N", message)  # N: the length of temp paths
    outcome(f"exit 2, nothing written: {message}; the whole file then imports")


def import_reviews(file: Path, db: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    args = ("--db", db, "--ontology", ONTOLOGY_V04_TTL)
    return cli("import-reviews", file, *args, home=tmp_path / "home")


def test_ten_thousand_annotations_in_one_run(tmp_path, ontology) -> None:
    db = fill_store(tmp_path / "labels.sqlite", 10_000, reviewed=0.0)
    tree = TermTree(ontology, {})
    with Store(db) as store:
        pages = list(reviewed_pages(store))
    data = [
        {
            "id": index,
            "data": {"image": "", "path": page.prediction.path, "page": 0},
            "meta": {"sha256": page.prediction.sha256},
            "annotations": [
                {
                    "id": index,
                    "completed_by": 1 + index % 5,
                    "result": taxonomy(tree, page.labels, page.prediction.outcome == "unsupported"),
                    "created_at": "2026-11-01T10:00:00Z",
                    "updated_at": "2026-11-01T10:00:00Z",
                }
            ],
        }
        for index, page in enumerate(pages)
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    start = time.perf_counter()
    contents = read_export(path)
    with Store(db) as store:
        report = import_annotations(contents, store, ontology)
    seconds = time.perf_counter() - start
    print(f"imported {len(report.written)} annotations in {seconds:.2f} s")
    assert len(report.written) == 10_000 and not report.unmatched and not report.superseded
    assert {r.status for r in report.written} == {"accepted"}
