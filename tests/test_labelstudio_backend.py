"""`serve-labelstudio` speaking Label Studio's ML backend protocol, over real HTTP on 127.0.0.1
with the taught tiny model, without a Label Studio (tests/test_labelstudio_backend_live.py has
one): what /health, /setup, /predict and /webhook answer, the hostile images, basic auth."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlx_edugraph.cli import main as cli_main
from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.labelstudio.config import TermTree
from mlx_edugraph.labelstudio.tasks import results
from mlx_edugraph.ml_backend.app import create_app
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.store.review import predicted_labels
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_TTL
from tests.hostile_files import bomb_png
from tests.labelstudio_backend import call, in_process

KINDS = ("addition", "multiplication", "counting", "clock", "picture")


def local(relative: str, task_id: int = 0) -> dict:
    return {"id": task_id, "data": {"image": f"/data/local-files/?d={relative}"}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Label Studio's document root: worksheets, more of them, and a decompression bomb."""
    folder = tmp_path_factory.mktemp("document-root")
    write_samples(folder / "sheets", 3, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=320)
    write_samples(folder / "more", 4, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=330)
    (folder / "bomb.png").write_bytes(bomb_png())
    return folder


class Files(http.server.BaseHTTPRequestHandler):
    """Image URLs: a page, a body too large, one that never comes."""

    page = b""

    def do_GET(self) -> None:
        if self.path == "/slow.png":
            time.sleep(2.5)
        body = b"\0" * (2 * 1024 * 1024) if self.path == "/big.png" else self.page
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if self.path != "/big.png":  # the size is found while reading, not declared
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it stopped reading
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def files(root: Path) -> Iterator[str]:
    Files.page = (root / "sheets" / "002-multiplication.png").read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def served(root: Path, taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("backend")
    argv = [
        *("--model", str(taught_mlx_model), "--db", str(folder / "labels.sqlite")),
        *("--ontology", str(ONTOLOGY_V04_TTL), "--image-root", str(root)),
        *("--downloads", str(folder / "downloads"), "--download-timeout", "1"),
        *("--max-download-mb", "1", "--port", "0"),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLX_EDUGRAPH_HOME", str(folder / "home"))
        with in_process(argv) as (url, backend):
            yield url, backend


def test_health_and_setup_name_the_model_by_fingerprint_and_version(served) -> None:
    url, backend = served
    status, health = call(url, "/health")
    assert status == 200 and health["status"] == "UP" and health["queued"] == 0
    fingerprint, version = health["model_version"].rsplit("-", 1)
    assert len(fingerprint) == 16 and version == "base"
    setup = {"project": "3.1764000000", "schema": "<View/>", "hostname": "", "access_token": ""}
    assert call(url, "/setup", setup) == (200, {"model_version": health["model_version"]})


@pytest.mark.reliability(
    "Inputs",
    "ML backend task images it cannot use: a bomb, too large, too slow, outside the image root, "
    "none, a Label Studio upload",
)
def test_predict_answers_each_task_in_the_export_form(
    served, root: Path, files: str, outcome
) -> None:
    url, backend = served
    tasks = [
        local("sheets/001-addition.png", 1),
        local("sheets/003-counting.png", 2),
        local("sheets/001-addition.png", 3),  # the same page twice: labeled once
        {"id": 4, "data": {"image": f"{files}/page.png"}},
        local("bomb.png", 5),
        {"id": 6, "data": {"image": f"{files}/big.png"}},
        {"id": 7, "data": {"image": f"{files}/slow.png"}},
        local("../../etc/passwd", 8),
        {"id": 9, "data": {"text": "no image"}},
        {"id": 10, "data": {"image": "/data/upload/1/page.png"}},
    ]
    status, answer = call(url, "/predict", {"tasks": tasks, "label_config": "<View/>"})
    assert status == 200, answer
    found = answer["results"]
    assert len(found) == len(tasks)
    version = backend.worker.model_version
    assert all(entry["model_version"] == version for entry in found)
    assert all("result" in entry for entry in found[:4]), found[:4]
    errors = [entry.get("error", "") for entry in found[4:]]
    assert all("result" not in entry for entry in found[4:])  # Label Studio stores nothing
    assert "bomb.png: image too large" in errors[0]
    assert "larger than 1,048,576 bytes" in errors[1]
    assert "timed out" in errors[2] or "took more than 1 s" in errors[2]
    assert "names no file under the image root" in errors[3]
    assert "no `data.image`" in errors[4]
    assert "uploaded files need its API" in errors[5]
    outcome(
        "each such task gets an entry with `error` and no `result` (Label Studio stores nothing; "
        "asking again retries it), the other tasks their labels: image too large (bomb); larger "
        "than 1,048,576 bytes; timed out; names no file under the image root; no `data.image`; "
        "uploaded files need its API"
    )

    ontology = load_ontology(ONTOLOGY_V04_TTL)
    with Store(backend.db) as store:
        stored = {Path(p.path).name: p for p in store.predictions()}
        count = store.query("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert {"001-addition.png", "003-counting.png"} <= set(stored)
    page = stored["001-addition.png"]
    tree = TermTree(ontology, {})
    assert found[0]["result"] == results(tree, predicted_labels(page), False)  # as `export`
    assert found[0]["result"] == found[2]["result"]
    assert found[0]["result"][0]["value"]["taxonomy"][0][-1] == "IntegerAddition"
    assert found[3]["result"] != found[0]["result"]  # the downloaded multiplication page

    # Asked again: every page is answered from the store, nothing is labeled twice.
    status, again = call(url, "/predict", {"tasks": tasks[:4]})
    assert status == 200 and again["results"] == found[:4]
    with Store(backend.db) as store:
        assert store.query("SELECT COUNT(*) FROM predictions").fetchone()[0] == count


def test_health_answers_while_a_batch_runs(served, root: Path) -> None:
    url, _ = served
    tasks = [local(f"more/{path.name}") for path in sorted((root / "more").iterdir())]
    done: list = []
    batch = threading.Thread(target=lambda: done.append(call(url, "/predict", {"tasks": tasks})))
    batch.start()
    slowest, busy = 0.0, False
    while batch.is_alive():
        start = time.monotonic()
        status, health = call(url, "/health", timeout=5)
        slowest = max(slowest, time.monotonic() - start)
        busy = busy or health["queued"] == 1
        time.sleep(0.05)
    batch.join()
    assert done[0][0] == 200 and all("result" in r for r in done[0][1]["results"])
    assert busy and slowest < 0.5  # Label Studio gives /health 1 s


def annotation_event(action: str, task: dict, result: list, **annotation) -> dict:
    """An event as Label Studio 1.23 sends it (webhooks/serializers_for_hooks.py)."""
    return {
        "action": action,
        "project": {"id": 3, "label_config": "<View/>"},
        "task": {**task, "meta": {}, "project": 3},
        "annotation": {
            "id": 71,
            "result": result,
            "completed_by": 1,
            "was_cancelled": False,
            "created_at": "2026-12-03T11:00:00.000000Z",
            "updated_at": "2026-12-03T11:00:00.000000Z",
            **annotation,
        },
    }


def test_an_annotation_becomes_a_review_once(served) -> None:
    url, backend = served
    task = local("sheets/003-counting.png", 2)
    call(url, "/predict", {"tasks": [task]})
    subtraction = ["Mathematics", "Arithmetic", "IntegerArithmetic", "IntegerSubtraction"]
    result = [
        {
            "from_name": "Area",
            "to_name": "image",
            "type": "taxonomy",
            "value": {"taxonomy": [subtraction]},
        }
    ]
    event = annotation_event("ANNOTATION_CREATED", task, result)
    status, answer = call(url, "/webhook", event)
    assert status == 201 and answer["status"] == "ok", answer
    written = answer["result"]["written"]
    assert [(Path(w["path"]).name, w["status"]) for w in written] == [
        ("003-counting.png", "corrected")
    ]
    updated = annotation_event("ANNOTATION_UPDATED", task, result)
    for repeat in (event, updated):  # the same labels again: nothing is written
        status, answer = call(url, "/webhook", repeat)
        assert status == 201 and answer["result"]["written"] == []
        assert answer["result"]["unchanged"] == 1
    with Store(backend.db) as store:
        reviews = list(store.reviews())
    assert len(reviews) == 1 and reviews[0].labels["Area"] == ["IntegerSubtraction"]
    assert reviews[0].origin == "label-studio task 2 annotation 71"

    skipped = annotation_event("ANNOTATION_CREATED", task, [], was_cancelled=True, id=72)
    assert call(url, "/webhook", skipped)[1]["result"]["cancelled"] == 1
    unknown = annotation_event("ANNOTATION_CREATED", local("sheets/none.png"), result)
    assert "no page at" in call(url, "/webhook", unknown)[1]["result"]["unmatched"][0]
    assert call(url, "/webhook", {"action": "PROJECT_UPDATED"}) == (
        200,
        {"status": "Unknown event", "action": "PROJECT_UPDATED"},
    )
    status, answer = call(url, "/webhook", {"action": "ANNOTATION_CREATED", "task": 3})
    assert status == 400 and "`task` and `annotation`" in answer["error"]


def test_start_training_runs_tune_and_reports_its_verdict(served) -> None:
    """One review is too few to tune on: the run fails, and says why, at /training."""
    url, _ = served
    start = {"action": "START_TRAINING", "project": {"id": 3}}
    status, answer = call(url, "/webhook", start)
    assert status == 201 and answer["result"]["training"] == "queued"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        report = call(url, "/training")[1]
        if report["state"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert report["state"] == "failed" and report["exit_code"] == 2, report
    assert any("unchanged" in line for line in report["output"]), report


def test_basic_auth(served) -> None:
    import uvicorn

    url, backend = served
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(backend, ("studio", "s3cret")), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    guarded = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        assert call(guarded, "/health")[0] == 401
        assert call(guarded, "/health", auth=("studio", "wrong"))[0] == 401
        assert call(guarded, "/health", auth=("studio", "s3cret"))[0] == 200
        assert call(guarded, "/setup", {}, auth=("studio", "s3cret"))[0] == 200
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def test_refusals_say_why_before_loading(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("MLX_EDUGRAPH_BACKEND_PASSWORD", raising=False)
    base = ["serve-labelstudio", "--db", str(tmp_path / "s.sqlite"), "--model", str(tmp_path)]
    assert cli_main([*base, "--basic-auth", "studio"]) == 2
    assert "MLX_EDUGRAPH_BACKEND_PASSWORD" in capsys.readouterr().err
    assert cli_main([*base, "--image-root", str(tmp_path / "none")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        ontology = ["--ontology", str(ONTOLOGY_V04_TTL)]
        assert cli_main([*base, *ontology, "--port", port]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
