"""Labeling through servers: our own misbehaving chat-completions servers on 127.0.0.1.

Real HTTP on loopback, the real remote engine, batch runner and SQLite store; the servers
answer a fixed text (the model is not under test here: see test_mlx_vlm_server.py).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from mlx_edugraph.labeling.batch import Event, run
from mlx_edugraph.labels.ontology import Ontology, load_ontology
from mlx_edugraph.model.prompt import EDUGRAPH_SYSTEM_PROMPT
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import discover
from mlx_edugraph.servers.pool import PoolSettings
from mlx_edugraph.servers.send_system_prompt import MARKER
from mlx_edugraph.servers.server_engine import RemoteEngine, RemoteOptions, ServerSetupError
from mlx_edugraph.store.sqlite_store import Store
from tests.chat_server import GARBAGE, ChatServer
from tests.conftest import ONTOLOGY_V04_RDF

PAGES = 6


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return load_ontology(ONTOLOGY_V04_RDF)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("worksheets")
    write_samples(folder, PAGES, size=(128, 160), seed=7)
    return folder


def engine_for(
    servers: list[ChatServer], ontology: Ontology, notes: list[str], **settings
) -> RemoteEngine:
    options = RemoteOptions(settings=PoolSettings(backoff_s=0.01, **settings))
    return RemoteEngine(
        [server.url for server in servers], ontology=ontology, options=options, note=notes.append
    )


def label(engine: RemoteEngine, folder: Path, db: Path) -> list[Event]:
    with Store(db) as store:
        return list(run(discover([folder]), engine, store))


def stored(db: Path) -> list:
    with Store(db) as store:
        return list(store.predictions())


def test_a_failing_server_is_taken_out_and_its_pages_go_to_the_other(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    notes: list[str] = []
    with ChatServer(delay_s=0.05) as good, ChatServer(mode="fail") as bad:
        engine = engine_for([good, bad], ontology, notes, per_server=1, take_out_after=3)
        events = label(engine, folder, tmp_path / "labels.sqlite")
    assert [e.prediction.outcome for e in events] == ["labeled"] * PAGES
    assert len(bad.requests) == 3  # three failures in a row, then no more work
    assert engine.pool.servers[1].out and not engine.pool.servers[0].out
    assert any("taken out" in note and bad.url in note for note in notes)
    records = stored(tmp_path / "labels.sqlite")
    assert len(records) == PAGES
    assert {r.provenance.server for r in records} == {good.url}
    assert {r.provenance.model for r in records} == {"edugraph-test"}
    assert records[0].labels[0].confidence == pytest.approx(math.exp(-0.05))  # "Inte", "gerA", ...


def test_stalls_drops_and_broken_replies_are_retried(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    notes: list[str] = []
    script = ["stall", "drop", "badjson", "fail"]
    with ChatServer(script=script, stall_s=6.0) as server:
        engine = engine_for(
            [server], ontology, notes, per_server=1, timeout_s=0.5, attempts=6, take_out_after=5
        )
        started = time.perf_counter()
        events = label(engine, folder, tmp_path / "labels.sqlite")
        elapsed = time.perf_counter() - started
    assert [e.prediction.outcome for e in events] == ["labeled"] * PAGES
    assert server.modes[:4] == script and len(server.requests) == PAGES + 4
    assert elapsed < 4.0  # the stalled request (6 s) was given up after the 0.5 s timeout
    assert not engine.pool.servers[0].out  # four failures in a row, under the take-out bound
    assert not notes


def test_a_garbage_answer_is_kept_as_unparseable(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    with ChatServer(script=["garbage"]) as server:
        engine = engine_for([server], ontology, [], per_server=1)
        events = label(engine, folder, tmp_path / "labels.sqlite")
    outcomes = [e.prediction.outcome for e in events]
    assert outcomes.count("unparseable") == 1 and outcomes.count("labeled") == PAGES - 1
    (garbled,) = [r for r in stored(tmp_path / "labels.sqlite") if r.outcome == "unparseable"]
    assert garbled.raw_text == GARBAGE and garbled.provenance.server == server.url


def test_when_every_server_fails_each_page_is_an_error_and_a_rerun_labels_them(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    db = tmp_path / "labels.sqlite"
    with ChatServer(mode="fail") as first, ChatServer(mode="fail") as second:
        events = label(engine_for([first, second], ontology, [], take_out_after=2), folder, db)
    assert [e.status for e in events] == ["failed"] * PAGES  # the model's failure, not the files'
    assert all("taken out" in e.prediction.error for e in events[-2:])
    with ChatServer() as server:
        rerun = label(engine_for([server], ontology, []), folder, db)
    assert sorted(e.status for e in rerun) == ["labeled"] * PAGES
    assert {r.outcome for r in stored(db)} == {"labeled"}  # nothing lost


def test_two_servers_share_the_pages(ontology: Ontology, folder: Path, tmp_path: Path) -> None:
    with ChatServer(delay_s=0.2) as one, ChatServer(delay_s=0.2) as two:
        engine = engine_for([one, two], ontology, [], per_server=1)
        assert engine.in_flight == 2
        label(engine, folder, tmp_path / "labels.sqlite")
    assert len(one.requests) + len(two.requests) == PAGES
    assert len(one.requests) >= 2 and len(two.requests) >= 2
    servers = {r.provenance.server for r in stored(tmp_path / "labels.sqlite")}
    assert servers == {one.url, two.url}


def test_a_resumed_run_skips_what_another_server_labeled(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    db = tmp_path / "labels.sqlite"
    with ChatServer() as one:
        label(engine_for([one], ontology, []), folder, db)
    with ChatServer() as two:
        events = label(engine_for([two], ontology, []), folder, db)
    assert [e.status for e in events] == ["skipped"] * PAGES and not two.requests


def test_request_carries_the_page_schema_and_key_but_never_stores_the_key(
    ontology: Ontology, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLX_EDUGRAPH_API_KEY", "sk-test-secret")
    with ChatServer() as server:
        label(engine_for([server], ontology, [], per_server=1), folder, tmp_path / "l.sqlite")
    body = server.requests[0]
    assert body["temperature"] == 0 and body["logprobs"] is True
    assert [m["role"] for m in body["messages"]] == ["user"]  # the model's template adds it
    (part,) = body["messages"][0]["content"]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
    labels, error = body["response_format"]["json_schema"]["schema"]["anyOf"]
    assert "IntegerAddition" in labels["properties"]["Area"]["items"]["enum"]
    assert error["properties"]["Error"]["enum"] == ["UnsupportedMaterial"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test-secret"
    assert b"sk-test-secret" not in (tmp_path / "l.sqlite").read_bytes()


def test_a_server_without_structured_output_is_asked_again_without_it(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    notes: list[str] = []
    with ChatServer(mode="no-schema") as server:
        engine = engine_for([server], ontology, notes, per_server=1)
        events = label(engine, folder, tmp_path / "labels.sqlite")
    assert [e.prediction.outcome for e in events] == ["labeled"] * PAGES
    with_schema = ["response_format" in body for body in server.requests]
    assert with_schema == [True] + [False] * PAGES
    assert len(notes) == 1 and "response_format" in notes[0]


def test_a_generic_chat_template_gets_the_edugraph_prompt_sent(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    generic = "{% for m in messages %}<|im_start|>{{ m.role }}\n...<|im_end|>{% endfor %}"
    with ChatServer(template=generic) as plain, ChatServer(template=MARKER) as edugraph:
        sent = engine_for([plain], ontology, [])
        omitted = engine_for([edugraph], ontology, [])
        label(sent, folder, tmp_path / "labels.sqlite")
    system, user = plain.requests[0]["messages"]
    assert system == {"role": "system", "content": EDUGRAPH_SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert sent.provenance.prompt_version.startswith("prompt-")
    assert sent.provenance.model_fingerprint != omitted.provenance.model_fingerprint
    assert omitted.provenance.prompt_version == "server-template"


def test_no_server_answering_is_a_setup_error(ontology: Ontology) -> None:
    with ChatServer() as server:
        url = server.url
    with pytest.raises(ServerSetupError, match="no server answered"):
        RemoteEngine([url], ontology=ontology, note=lambda message: None)


def test_label_command_through_two_servers(folder: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "labels.jsonl"
    with ChatServer(delay_s=0.05) as one, ChatServer(mode="fail") as two:
        result = subprocess.run(
            [sys.executable, "-m", "mlx_edugraph", "label", str(folder), "--server", one.url,
             "--server", two.url, "--ontology", str(ONTOLOGY_V04_RDF), "--db",
             str(tmp_path / "l.sqlite"), "--out", str(out)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "taken out" in result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["labeled"] * PAGES
    assert {r["provenance"]["server"] for r in records} == {one.url}


def test_server_bench_times_each_server_and_both(ontology: Ontology, folder: Path) -> None:
    from mlx_edugraph.benchmarks.server_throughput import format_server_table, run_server_bench

    pages = sorted(folder.iterdir())
    options = RemoteOptions(settings=PoolSettings(per_server=1))
    with ChatServer(delay_s=0.1) as one, ChatServer(delay_s=0.1) as two:
        runs = run_server_bench(
            [one.url, two.url], pages, ontology=ontology, options=options, log=lambda line: None
        )
    assert [r.servers for r in runs] == [[one.url], [two.url], [one.url, two.url]]
    assert all(r.pages == PAGES and r.errors == 0 and r.pages_per_minute > 0 for r in runs)
    table = format_server_table(runs, in_flight=1)
    assert f"{one.url} + {two.url}" in table and "pages/min" in table  # speed printed, not asserted


def test_two_runs_on_one_folder_split_it_through_the_store(
    ontology: Ontology, folder: Path, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "labels.sqlite"
    Store(db).close()  # create the file once, before both runs open it
    with ChatServer(delay_s=0.2) as one, ChatServer(delay_s=0.2) as two:
        engines = [engine_for([server], ontology, [], per_server=1) for server in (one, two)]
        with ThreadPoolExecutor(2) as runs:  # each run opens its own store connection
            first, second = runs.map(lambda engine: label(engine, folder, db), engines)
    assert len(one.requests) + len(two.requests) == PAGES  # no page labeled twice
    assert one.requests and two.requests
    for events in (first, second):  # each run answers every page: its own or the other's
        assert len(events) == PAGES
        assert {e.prediction.outcome for e in events} == {"labeled"}
    assert len(stored(db)) == PAGES


def test_prompt_from_a_chat_template_is_its_system_turn(ontology: Ontology, tmp_path) -> None:
    from mlx_edugraph.model.prompt import read_prompt
    from tests.models import CHAT_TEMPLATE_TEXT

    template = tmp_path / "edugraph.jinja"
    template.write_text(CHAT_TEMPLATE_TEXT.replace("EduGraph", "EduGraph™"))
    with ChatServer() as server:  # no template shown: auto would omit, but a prompt was given
        engine = RemoteEngine(
            [server.url], ontology=ontology, prompt=read_prompt(template), note=print
        )
    assert engine.system == EDUGRAPH_SYSTEM_PROMPT.replace("EduGraph", "EduGraph™")
