"""The round trip with a real Label Studio (pip `label-studio`) on 127.0.0.1: export → a project
with our labeling config and local-files storage → import the tasks → every image answers →
annotations through its API → its JSON export → `import-reviews` → `eval` on those reviews."""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.labelstudio.config import outside_branch
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.browser import CHROMIUM, wait_in_page
from tests.conftest import ONTOLOGY_V04_TTL
from tests.run_cli import cli

pytestmark = pytest.mark.xdist_group("label-studio")
"""One worker runs the Label Studio modules (`--dist loadgroup`): one Label Studio start."""

KINDS = ("addition", "multiplication", "counting", "clock", "picture")
ONTOLOGY = ("--ontology", str(ONTOLOGY_V04_TTL))


@pytest.fixture(scope="module")
def root(studio_root: Path) -> Path:
    """Label Studio's document root: the worksheets and the export live below it."""
    return studio_root


@pytest.fixture(scope="module")
def labeled(root: Path, taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """Five worksheets (one named with a space) and a 2-page PDF, labeled by the taught model."""
    folder = root / "worksheets"
    write_samples(folder, 5, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=910, pdf_pages=2)
    (folder / "001-addition.png").rename(folder / "001 addition.png")
    home = tmp_path_factory.mktemp("home")
    db = home / "labels.sqlite"
    run = cli("label", folder, "--model", taught_mlx_model, "--db", db, *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    return db, home


def name_of(task: dict) -> str:
    return f"{Path(task['data']['path']).name} p{task['data']['page']}"


def project_from_export(studio, root: Path, labeled, name: str) -> tuple[dict, list[dict]]:
    """`export` as the guide runs it, then a project with our config, local-files storages as
    Label Studio's docs set them up, and the tasks imported."""
    db, home = labeled
    tasks_file = root / name / "tasks.json"
    tasks_file.parent.mkdir()
    run = cli("export", tasks_file, "--db", db, *ONTOLOGY, "--image-root", root, home=home)
    assert run.returncode == 0, run.stderr
    config = tasks_file.with_name("tasks.label_config.xml").read_text()
    storages = re.search(r"Local files storage of (.+) \(docs", run.stderr).group(1).split(" and ")
    assert sorted(storages) == [str(root / name), str(root / "worksheets")]
    project = studio.ok(
        "POST", "/api/projects", {"title": f"EduGraph {name}", "label_config": config}
    )
    for folder in storages:
        studio.ok(
            "POST",
            "/api/storages/localfiles",
            {"project": project["id"], "path": folder, "use_blob_urls": True, "title": folder},
        )
    tasks = json.loads(tasks_file.read_text())
    imported = studio.ok("POST", f"/api/projects/{project['id']}/import", tasks)
    assert imported["task_count"] == 7 and imported["prediction_count"] == 7
    return project, tasks


SHOWN = """(() => {
  const loaded = [...document.images].filter((i) => i.complete && i.naturalWidth > 0);
  const thumbnails = loaded.filter((i) => i.src.includes("/data/local-files/")).length;
  const opened = loaded.some((i) => i.src.startsWith("blob:"));
  const predicted = document.body.innerText.includes("IntegerAddition");
  return thumbnails === 7 && opened && predicted;
})()"""
"""The data manager's seven thumbnails have loaded, the open task's image too (Label Studio
fetches it and shows it as a blob), and the task's predicted Area term shows."""


def test_label_studio_shows_the_pages_and_their_predictions(studio, root: Path, labeled) -> None:
    """In Label Studio's own page, in a browser: the images load, the predictions show."""
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (CI installs Debian's package): browser check")
    project, _ = project_from_export(studio, root, labeled, "shown")
    listed = studio.ok("GET", f"/api/tasks?project={project['id']}&page_size=100")["tasks"]
    addition = next(t for t in listed if name_of(t) == "001 addition.png p0")
    url = f"{studio.url}/projects/{project['id']}/data?task={addition['id']}"
    shown, screenshot = wait_in_page(url, SHOWN, cookies=studio.cookies)
    assert shown is True and screenshot.startswith(b"\x89PNG")


def test_round_trip_through_label_studio(studio, root: Path, labeled, tmp_path) -> None:
    db, home = labeled
    project, tasks = project_from_export(studio, root, labeled, "exports")

    listed = studio.ok("GET", f"/api/tasks?project={project['id']}&page_size=100")["tasks"]
    by_name = {name_of(task): task for task in listed}
    assert set(by_name) == {
        "001 addition.png p0",
        "002-multiplication.png p0",
        "003-counting.png p0",
        "004-clock.png p0",
        "005-picture.png p0",
        "worksheets.pdf p1",
        "worksheets.pdf p2",
    }
    for name, task in by_name.items():
        answer = studio.call("GET", task["data"]["image"])
        assert answer.status == 200, f"{name}: {task['data']['image']} answers {answer.status}"
        assert answer.content_type.startswith("image/")
        Image.open(io.BytesIO(answer.body)).verify()

    # People review: accept, correct, confirm "not math material", change their mind (two
    # annotations of one page, the newer wins), and choose a term the ontology lacks.
    def annotate(name: str, result: list) -> None:
        studio.ok("POST", f"/api/tasks/{by_name[name]['id']}/annotations/", {"result": result})

    def predicted(name: str) -> list:
        found = studio.ok("GET", f"/api/predictions?task={by_name[name]['id']}")
        return found[0]["result"]

    def taxonomy(dimension: str, *paths: list[str]) -> dict:
        value = {"taxonomy": [list(p) for p in paths]}
        return {"from_name": dimension, "to_name": "image", "type": "taxonomy", "value": value}

    addition = ["Mathematics", "Arithmetic", "IntegerArithmetic", "IntegerAddition"]
    annotate("001 addition.png p0", predicted("001 addition.png p0"))
    corrected = [r for r in predicted("002-multiplication.png p0") if r["from_name"] != "Area"]
    annotate("002-multiplication.png p0", [*corrected, taxonomy("Area", addition)])
    annotate("005-picture.png p0", predicted("005-picture.png p0"))
    annotate("004-clock.png p0", [taxonomy("Area", addition)])
    annotate("004-clock.png p0", predicted("004-clock.png p0"))
    invented = [outside_branch(load_ontology(ONTOLOGY_V04_TTL)), "MadeUpSkill"]
    annotate("worksheets.pdf p1", [*predicted("worksheets.pdf p1"), taxonomy("Ability", invented)])

    exported = tmp_path / "from-label-studio.json"
    download_export(studio, project, exported)

    run = cli("import-reviews", exported, "--db", db, *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    assert "imported 5 review(s)" in run.stdout and "3 accepted, 2 corrected" in run.stdout
    assert "superseded: 1 older annotation" in run.stdout
    assert "unknown terms: 1, kept and flagged" in run.stdout and "MadeUpSkill" in run.stdout
    with Store(db) as store:
        reviews = {f"{Path(r.path).name} p{r.page}": r for r in store.reviews()}
    assert set(reviews) == {
        "001 addition.png p0",
        "002-multiplication.png p0",
        "004-clock.png p0",
        "005-picture.png p0",
        "worksheets.pdf p1",
    }
    assert reviews["001 addition.png p0"].status == "accepted"
    assert reviews["002-multiplication.png p0"].status == "corrected"
    assert reviews["002-multiplication.png p0"].labels["Area"] == ["IntegerAddition"]
    assert reviews["004-clock.png p0"].status == "accepted"  # the newer annotation won
    assert reviews["005-picture.png p0"].unsupported
    assert reviews["worksheets.pdf p1"].unknown_terms == ["MadeUpSkill"]
    assert "MadeUpSkill" in reviews["worksheets.pdf p1"].labels["Ability"]
    assert all(r.reviewer == "label-studio user 1" for r in reviews.values())
    assert all(r.origin.startswith("label-studio task ") for r in reviews.values())

    rerun = cli("import-reviews", exported, "--db", db, *ONTOLOGY, home=home)
    assert rerun.returncode == 0 and "imported 0 review(s)" in rerun.stdout
    assert "unchanged: 5 page(s)" in rerun.stdout

    # Label Studio stopped mid-import and the import was run again: every task is there
    # twice. One page annotated anew in its copy still gives one review per page.
    studio.ok("POST", f"/api/projects/{project['id']}/import", tasks)
    listed = studio.ok("GET", f"/api/tasks?project={project['id']}&page_size=100")["tasks"]
    assert len(listed) == 14
    copy = max((t for t in listed if name_of(t) == "003-counting.png p0"), key=lambda t: t["id"])
    again = {"result": predicted_of(studio, copy)}
    studio.ok("POST", f"/api/tasks/{copy['id']}/annotations/", again)
    download_export(studio, project, exported)
    run = cli("import-reviews", exported, "--db", db, *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    assert "imported 1 review(s)" in run.stdout and "unchanged: 5 page(s)" in run.stdout
    with Store(db) as store:
        assert len(list(store.reviews())) == 6

    scored = cli("eval", "--latest", "--db", db, *ONTOLOGY, "--json", home=home)
    assert scored.returncode == 0, scored.stderr
    figures = json.loads(scored.stdout)
    # Six reviewed pages; the corrected page and the one given an invented term differ.
    assert figures["pages"] == 6 and figures["exact_match"] == pytest.approx(4 / 6)


def download_export(studio, project: dict, path: Path) -> None:
    """The project's JSON export, as its Export button gives it."""
    answer = studio.call("GET", f"/api/projects/{project['id']}/export?exportType=JSON")
    assert answer.status == 200, answer.body[:500]
    path.write_bytes(answer.body)


def predicted_of(studio, task: dict) -> list:
    return studio.ok("GET", f"/api/predictions?task={task['id']}")[0]["result"]


def test_label_studio_crashing_mid_import_then_a_rerun_writes_no_duplicates(
    studio, root: Path, labeled, tmp_path
) -> None:
    """Label Studio killed while it imports (1 s into an import of about 3 s), started again,
    the import run again: tasks may now be there twice, yet each page gets one review, and a
    rerun of `import-reviews` writes nothing. (The store is a copy without the reviews other
    tests made, which the export would carry as annotations.)"""
    _, home = labeled
    db = tmp_path / "labels.sqlite"
    db.write_bytes(labeled[0].read_bytes())
    with Store(db) as store:
        for review in list(store.reviews()):
            store.delete_review(review.sha256, review.page)
    project, tasks = project_from_export(studio, root, (db, home), "crash")
    many = tasks * 400  # 2,800 tasks: seconds of work for Label Studio
    importing = f"/api/projects/{project['id']}/import"

    def send() -> None:
        with contextlib.suppress(OSError):  # the server dies under it
            studio.call("POST", importing, many)

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(1.0)
    studio.server.crash()
    sender.join()
    studio.server.start()
    studio.renew()
    counted = f"/api/tasks?project={project['id']}&page_size=1"
    before = studio.ok("GET", counted)["total"]
    assert before in (7, 7 + len(many))  # its import is one transaction: all or nothing
    studio.ok("POST", importing, many)
    assert studio.ok("GET", counted)["total"] == before + len(many)

    listed = studio.ok("GET", f"/api/tasks?project={project['id']}&page_size=30")["tasks"]
    first, second = [t for t in listed if name_of(t) == "001 addition.png p0"][:2]
    multiplication = [["Mathematics", "Arithmetic", "IntegerArithmetic", "IntegerMultiplication"]]
    wrong = {"from_name": "Area", "to_name": "image", "type": "taxonomy"}
    wrong["value"] = {"taxonomy": multiplication}
    studio.ok("POST", f"/api/tasks/{first['id']}/annotations/", {"result": [wrong]})
    again = {"result": predicted_of(studio, second)}
    studio.ok("POST", f"/api/tasks/{second['id']}/annotations/", again)
    exported = tmp_path / "from-label-studio.json"
    download_export(studio, project, exported)

    run = cli("import-reviews", exported, "--db", db, *ONTOLOGY, home=home)
    assert run.returncode == 0, run.stderr
    assert "imported 1 review(s)" in run.stdout and "1 accepted" in run.stdout
    assert "superseded: 1 older annotation" in run.stdout
    rerun = cli("import-reviews", exported, "--db", db, *ONTOLOGY, home=home)
    assert "imported 0 review(s)" in rerun.stdout and "unchanged: 1 page(s)" in rerun.stdout
    with Store(db) as store:
        assert [r.status for r in store.reviews()] == ["accepted"]
