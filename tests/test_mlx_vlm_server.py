"""mlx-vlm's own server (`python -m mlx_vlm.server`) with the taught tiny model on 127.0.0.1:
`label --server` gives the labels the local engine gives, on the same pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.mlx_engine import MlxEngine
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import discover, load
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_RDF
from tests.ports import free_port

pytestmark = pytest.mark.xdist_group("mlx-vlm-server")
"""One worker runs this module (`--dist loadgroup`): one mlx-vlm server start."""

KINDS = ("addition", "multiplication", "counting", "clock", "picture")
STARTUP_S = 180


def start_mlx_vlm_server(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """mlx-vlm's server on a free loopback port, once it answers `/health`."""
    port = free_port()
    command = [sys.executable, "-m", "mlx_vlm.server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--model", str(model), "--log-level", "WARNING"]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    process.wait()
    raise RuntimeError(f"mlx_vlm.server did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("mlx-vlm-server") / "server.log"
    process, url = start_mlx_vlm_server(taught_mlx_model, log)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_label_through_mlx_vlm_server_matches_the_local_engine(
    server: str, taught_mlx_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "worksheets"
    write_samples(folder, 5, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=500)
    out = tmp_path / "labels.jsonl"
    result = subprocess.run(
        # One request at a time: mlx-vlm's server batches concurrent requests, and a batched
        # page's log-probabilities differ from a lone one's (one label's confidence came out
        # 0.916 against 0.970 when two pages overlapped); the answers stay the same.
        [sys.executable, "-m", "mlx_edugraph", "label", str(folder), "--server", server,
         "--in-flight", "1", "--ontology", str(ONTOLOGY_V04_RDF),
         "--db", str(tmp_path / "labels.sqlite"), "--out", str(out)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "system prompt left to the servers' chat template" in result.stderr
    remote = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())}

    ontology = load_ontology(ONTOLOGY_V04_RDF)
    engine = MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology)
    for ref in discover([folder]):
        local = engine.label(load(ref, max_pixels=engine.max_pixels))
        record = remote[str(ref.path)]
        assert record["outcome"] == local.outcome
        assert record["raw_text"] == local.raw_text
        assert [(lab["dimension"], lab["term"]) for lab in record["labels"]] == [
            (lab.dimension, lab.term) for lab in local.labels
        ]
        for label, local_label in zip(record["labels"], local.labels, strict=True):
            assert label["confidence"] == pytest.approx(local_label.confidence, abs=0.02)
        assert record["provenance"]["server"] == server
        assert record["provenance"]["model"] == str(taught_mlx_model)
