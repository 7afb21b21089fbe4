"""`--server` on `eval` and `tui`: the same commands, labeling through a chat-completions
server of our own on 127.0.0.1 (see tests/chat_server.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.servers.pool import PoolSettings
from mlx_edugraph.servers.server_engine import RemoteOptions
from tests.chat_server import ANSWER, ChatServer
from tests.conftest import ONTOLOGY_V04_RDF, ONTOLOGY_V04_TTL
from tests.test_tui import all_labeled, chooser, wait_for

PAGES = 4


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pages and a truth file saying each is what the test server answers."""
    root = tmp_path_factory.mktemp("server-commands")
    paths = write_samples(root / "worksheets", PAGES, size=(128, 160), seed=11)
    truth = [{"path": str(p.relative_to(root)), **json.loads(ANSWER)} for p in paths]
    (root / "truth.jsonl").write_text("".join(json.dumps(r) + "\n" for r in truth))
    return root


def test_eval_scores_a_server_model(folder: Path) -> None:
    with ChatServer() as server:
        result = subprocess.run(
            [sys.executable, "-m", "mlx_edugraph", "eval", "--truth", str(folder / "truth.jsonl"),
             str(folder / "worksheets"), "--server", server.url, "--ontology",
             str(ONTOLOGY_V04_RDF), "--db", str(folder / "labels.sqlite"), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == PAGES
    data = json.loads(result.stdout)
    assert data["models"][0]["name"] == "edugraph-test"
    assert server.url in data["models"][0]["provenance"]
    for dimension in ("Area", "Scope", "Ability"):
        assert data["dimensions"][dimension]["scores"]["micro"]["f1"] == 1.0


def test_tui_labels_through_a_server(folder: Path, tmp_path: Path) -> None:
    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings

    async def run(server: ChatServer) -> list:
        remote = RemoteOptions(settings=PoolSettings(per_server=2))
        settings = Settings(
            db=tmp_path / "labels.sqlite",
            choose=chooser(servers=[server.url], remote=remote),
            ontology_file=ONTOLOGY_V04_TTL,
        )
        app = ReviewApp([folder / "worksheets"], settings, image_mode="none")
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: all_labeled(app), timeout=60)
            return [entry.prediction for entry in app.entries]

    with ChatServer(delay_s=0.05) as server:
        predictions = asyncio.run(run(server))
    assert len(predictions) == PAGES
    assert {p.outcome for p in predictions} == {"labeled"}
    assert {p.provenance.server for p in predictions} == {server.url}
