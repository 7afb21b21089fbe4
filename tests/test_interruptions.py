"""Interruptions that must lose nothing: a killed label run, a killed conversion, a full disk,
two processes on one store, an old store and a corrupt one. Real processes, real signals, real
SQLite files; the taught tiny model does the labeling."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import pytest

from mlx_edugraph.cli import main as cli_main
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.prediction import Prediction
from mlx_edugraph.store.sqlite_store import MIGRATIONS, Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_RDF

KINDS = ("addition", "multiplication", "counting", "clock", "picture")


def label_args(folder: Path, model: Path, db: Path, out: Path) -> list[str]:
    return [
        "label",
        str(folder),
        "--model",
        str(model),
        "--ontology",
        str(ONTOLOGY_V04_RDF),
        "--db",
        str(db),
        "--out",
        str(out),
    ]


def start_label(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "mlx_edugraph", *args]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_until(child: subprocess.Popen, stream: TextIO, seen: Callable[[str], bool]) -> None:
    """Read the child's `stream` line by line until a line is `seen`: an event, not a poll.
    A child that hangs is killed after 300 s (its stream then ends and this fails)."""
    watchdog = threading.Timer(300, child.kill)
    watchdog.start()
    try:
        lines = []
        for line in stream:
            if seen(line):
                return
            lines.append(line)
        raise AssertionError(
            "the child ended before the point it was to be killed at:\n" + ("".join(lines[-20:]))
        )
    finally:
        watchdog.cancel()


def finish(process: subprocess.Popen) -> str:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    return stderr


def stored_rows(db: Path) -> list[tuple]:
    """Every prediction row, read as another process would (0 rows before the store exists)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute(
                "SELECT key, page, model_fingerprint, created_at, record FROM predictions"
            ).fetchall()
    except sqlite3.OperationalError:
        return []


PROGRESS = re.compile(r"\] (\d+)/\d+ ETA ")


def done_of(line: str) -> int:
    """The pages done in a progress line of `label` (0 for any other line)."""
    found = PROGRESS.search(line)
    return int(found[1]) if found else 0


def comparable(export: Path) -> list[dict]:
    """An export's records without their timings (seconds differ from run to run)."""
    records = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    for record in records:
        record.pop("timings")
    return records


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 worksheets: enough that a kill lands mid-run."""
    folder = tmp_path_factory.mktemp("worksheets")
    write_samples(folder, 16, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=900, formats=("png", "jpg"))
    return folder


@pytest.fixture(scope="module")
def reference(folder: Path, taught_mlx_model: Path, tmp_path_factory) -> Path:
    """The export of a run that nobody interrupted."""
    out = tmp_path_factory.mktemp("reference")
    assert cli_main(label_args(folder, taught_mlx_model, out / "s.sqlite", out / "a.jsonl")) == 0
    return out / "a.jsonl"


@pytest.mark.reliability("Interruptions", "kill -9 of `mlx-edugraph label` mid-folder, rerun")
def test_killed_label_run_loses_nothing_and_redoes_nothing(
    folder: Path, taught_mlx_model: Path, reference: Path, tmp_path: Path, capsys, outcome
) -> None:
    db = tmp_path / "labels.sqlite"
    child = start_label(*label_args(folder, taught_mlx_model, db, tmp_path / "killed.jsonl"))
    try:
        # The progress line of a page comes after its row is committed.
        read_until(child, child.stderr, lambda line: done_of(line) >= 4)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    before = stored_rows(db)
    assert 4 <= len(before) < 16
    assert not (tmp_path / "killed.jsonl").exists()

    assert cli_main(label_args(folder, taught_mlx_model, db, tmp_path / "a.jsonl")) == 0
    assert f"skipped (already labeled) {len(before)}" in capsys.readouterr().err
    after = stored_rows(db)
    assert set(before) <= set(after)  # kept as they were: same record, same timestamp
    assert len(after) == len({row[:3] for row in after}) == 16
    assert comparable(tmp_path / "a.jsonl") == comparable(reference)
    outcome(
        "killed after >= 4 of 16 stored; the rerun keeps those rows untouched (same record and "
        "timestamp), labels only the rest, 16 rows without duplicates, and its export equals "
        "an uninterrupted run's (timings aside)"
    )


@pytest.mark.reliability("Interruptions", "two processes labeling one folder into one store")
def test_two_processes_share_one_store(taught_mlx_model: Path, tmp_path: Path, outcome) -> None:
    folder = tmp_path / "worksheets"
    write_samples(folder, 6, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=700)
    db = tmp_path / "labels.sqlite"
    children = [
        start_label(*label_args(folder, taught_mlx_model, db, tmp_path / f"{name}.jsonl"))
        for name in ("first", "second")
    ]
    for child in children:
        finish(child)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        keys = conn.execute("SELECT key, page, model_fingerprint FROM predictions").fetchall()
        paths = conn.execute("SELECT count(*) FROM worksheet_paths").fetchone()[0]
    assert len(keys) == len(set(keys)) == 6 and paths == 6
    assert comparable(tmp_path / "first.jsonl") == comparable(tmp_path / "second.jsonl")
    outcome(
        "both finish (SQLite WAL, busy timeout); integrity_check ok; 6 rows, no duplicates; "
        "both exports hold the same 6 records"
    )


def _small_files() -> None:
    """In the child: files may not grow past 256 KiB (writes then fail with EFBIG, as on a full
    disk or over a quota); the store outgrows that after a few pages (its write-ahead log takes
    about 90 KiB when created and 45 KiB per labeled page)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


@pytest.mark.reliability("Interruptions", "store write fails mid-run (file size limit), rerun")
def test_store_write_failure_stops_cleanly_and_the_rerun_goes_on(
    folder: Path, taught_mlx_model: Path, reference: Path, tmp_path: Path, capsys, outcome
) -> None:
    db = tmp_path / "labels.sqlite"
    command = [
        sys.executable,
        "-m",
        "mlx_edugraph",
        *label_args(folder, taught_mlx_model, db, tmp_path / "x.jsonl"),
    ]
    result = subprocess.run(
        command, preexec_fn=_small_files, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (message,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert str(db) in message and "run the same command again" in message
    saved = stored_rows(db)
    assert 0 < len(saved) < 16

    assert cli_main(label_args(folder, taught_mlx_model, db, tmp_path / "a.jsonl")) == 0
    assert f"skipped (already labeled) {len(saved)}" in capsys.readouterr().err
    assert set(saved) <= set(stored_rows(db))
    assert comparable(tmp_path / "a.jsonl") == comparable(reference)
    outcome(
        "exit 1 without a traceback: the error names the store, says the pages done are saved "
        "and to run again; the rerun keeps them and its export equals an uninterrupted run's"
    )


@contextlib.contextmanager
def full_disk(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """A small tmpfs at `folder` when this process may mount one (root on Linux), else a plain
    folder; yields `fill()`, which fills the tmpfs, or makes fsync fail with ENOSPC."""
    folder.mkdir()
    mounted = (
        sys.platform == "linux"
        and os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    try:
        if not mounted:

            def no_space(fd: int) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            yield lambda: monkeypatch.setattr("mlx_edugraph.paths.os.fsync", no_space)
        else:

            def fill() -> None:
                with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
                    while True:
                        handle.write(b"\0" * 512)
                        handle.flush()

            yield fill
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.reliability("Interruptions", "disk full while exporting")
def test_disk_full_export_keeps_the_previous_file(
    folder: Path,
    taught_mlx_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    outcome,
) -> None:
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(folder.iterdir())[:2]:
        shutil.copy(path, few)
    disk = tmp_path / "disk"
    db, out = tmp_path / "labels.sqlite", disk / "labels.jsonl"
    with full_disk(disk, monkeypatch) as fill:
        out.write_text('{"previous": "export"}\n')
        fill()
        code = cli_main(label_args(few, taught_mlx_model, db, out))
        stderr = capsys.readouterr().err
        assert code == 1
        assert out.read_text() == '{"previous": "export"}\n'
        assert sorted(p.name for p in disk.iterdir() if p.name != "filler") == ["labels.jsonl"]
    (message,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "No space left on device" in message and "previous file is unchanged" in message
    with Store(db) as store:
        assert len(list(store.predictions())) == 2
    outcome(f"exit 1, the previous export byte for byte, no temp file left; {message}")


HELD_AFTER_THE_WEIGHTS = """
import sys
from mlx_edugraph.cli import main
from mlx_edugraph.convert import converter

def held(*args, **kwargs):
    print("weights written", flush=True)
    sys.stdin.read()

converter.write_config = held
sys.exit(main(sys.argv[1:]))
"""
"""`mlx-edugraph` whose conversion, once the weights are in the work folder, says so and waits
(before the config is written and long before the swap): a kill there is certain to land
mid-write, however busy the machine is."""


@pytest.mark.reliability("Interruptions", "`mlx-edugraph convert --force` killed mid-write")
def test_killed_conversion_keeps_the_old_model_and_the_next_run_cleans_up(
    tiny_checkpoint: Path, tiny_mlx_model: Path, tmp_path: Path, outcome
) -> None:
    from mlx_edugraph.convert.converter import convert

    out = tmp_path / "model"
    shutil.copytree(tiny_mlx_model, out)
    old = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    child = subprocess.Popen(
        [sys.executable, "-c", HELD_AFTER_THE_WEIGHTS, "convert", str(tiny_checkpoint)]
        + ["--out", str(out), "--force", "--no-verify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        read_until(child, child.stdout, lambda line: line == "weights written\n")
    finally:
        child.send_signal(signal.SIGKILL)  # held until now: it waits on its stdin
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert list(tmp_path.glob(".model.partial-*/model/model.safetensors"))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()} == old
    assert len(list(tmp_path.glob(".model.partial-*"))) == 1  # the dead run's work folder

    convert(str(tiny_checkpoint), out, force=True, verify=False, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    outcome(
        "the old model stays byte for byte; the next run deletes the dead run's work folder "
        "(see also test_convert.py::test_killed_conversion_leaves_no_destination)"
    )


V1_RECORD = {
    "path": "old.png",
    "page": 0,
    "sha256": "c" * 64,
    "outcome": "labeled",
    "labels": [{"term": "IntegerAddition", "dimension": "Area", "status": "known"}],
    "raw_text": '{"Area": ["IntegerAddition"]}',
    "error": None,
    "provenance": {"model": "m", "model_fingerprint": "f0"},
}
"""A prediction as the first release wrote it: no notes, image size or timings yet."""


@pytest.mark.reliability("Interruptions", "a store from an older version of the app")
def test_store_from_an_older_version_opens_and_migrates(tmp_path: Path, outcome) -> None:
    from mlx_edugraph.store.review import review_from

    path = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        conn.executescript(MIGRATIONS[0])
        conn.execute("INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00+00:00')")
        conn.execute(
            "INSERT INTO predictions VALUES (?, 0, 'f0', 'old.png', 'labeled', NULL, ?, ?)",
            ("c" * 64, json.dumps(V1_RECORD), "2026-01-01T00:00:00+00:00"),
        )
        conn.commit()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        prediction = store.get("c" * 64, 0, "f0")
        assert prediction is not None and prediction.terms("Area") == ["IntegerAddition"]
        store.put_review(review_from(prediction, "accepted"))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    outcome(
        f"opens; migrated from schema 1 to {len(MIGRATIONS)} (each step recorded in the file); "
        "old predictions read, reviews can be added"
    )


def _damaged_store(path: Path) -> None:
    with Store(path) as store:
        for i in range(200):
            store.put(Prediction("p.png", 0, f"{i:064x}", "unparseable", raw_text="x" * 400))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[8192:16384] = b"\xff" * 8192  # a damaged page in the middle; the header is fine
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            "garbage",
            marks=pytest.mark.reliability("Interruptions", "a store file that is not SQLite"),
        ),
        pytest.param(
            "damaged",
            marks=pytest.mark.reliability("Interruptions", "a store file with a damaged page"),
        ),
    ],
)
# One worker for these and test_store's test of the same 30-character name prefix: the report's
# temp folder names count 0, 1 in collection order.
@pytest.mark.xdist_group("corrupt-store")
def test_corrupt_store_is_reported_and_never_overwritten(
    kind: str, tmp_path: Path, taught_mlx_model: Path, capsys, outcome
) -> None:
    db = tmp_path / "store" / "labels.sqlite"
    db.parent.mkdir()
    if kind == "garbage":
        db.write_bytes(b"these are not the bytes of a database\n" * 200)
    else:
        _damaged_store(db)
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    pages = tmp_path / "pages"
    write_samples(pages, 1, size=DEMO_PAGE_SIZE)
    code = cli_main(label_args(pages, taught_mlx_model, db, tmp_path / "out.jsonl"))
    stderr = capsys.readouterr().err
    assert code == 2
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before
    (message,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert str(db) in message
    outcome(f"exit 2 before any labeling, file and folder untouched; {message}")
