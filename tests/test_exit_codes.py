"""The README's exit-code table, row by row, each by a real run of `mlx-edugraph label` (a
subprocess with no terminal, as scripts run it): the code, and the `error:` line that says why.

Rows 0 and 3 have their own tests of what the run did (`test_honest_exits.py`); here every row
is checked against `ExitCode` and the README, so the table cannot drift from what happens.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mlx_edugraph.errors import ExitCode
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.run_cli import COMMAND, cli, cli_env

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_table_lists_every_exit_code() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("Exit codes of `label`") :]
    rows = re.findall(r"^\| (\d+) \| ", table, flags=re.MULTILINE)
    assert [int(code) for code in rows[: len(ExitCode)]] == [int(code) for code in ExitCode]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exit-pages")
    write_samples(folder, 2, size=DEMO_PAGE_SIZE, kinds=("addition", "clock"), seed=4)
    (folder / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a bad file does not fail the run
    return folder


def test_0_every_page_handled(pages: Path, taught_mlx_model: Path, tmp_path: Path) -> None:
    run = cli("label", pages, "--model", taught_mlx_model, home=tmp_path)
    assert run.returncode == ExitCode.OK, run.stderr
    assert "labeled 2, unsupported 0, unparseable 0, file errors 1" in run.stderr


def test_1_a_given_path_is_missing(pages: Path, taught_mlx_model: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    run = cli("label", pages, gone, "--model", taught_mlx_model, home=tmp_path)
    assert run.returncode == ExitCode.INCOMPLETE, run.stderr
    assert f"error: no such file or folder: {gone}" in run.stderr
    assert "labeled 2," in run.stderr  # the rest was labeled
    alone = cli("label", gone, "--model", taught_mlx_model, home=tmp_path)
    assert alone.returncode == ExitCode.INCOMPLETE, alone.stderr
    assert "error: nothing to label: the given paths are missing" in alone.stderr


def test_1_out_cannot_be_written(pages: Path, taught_mlx_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    out.mkdir()  # a folder where the file goes: found only when writing it
    run = cli("label", pages, "--model", taught_mlx_model, "--out", out, home=tmp_path)
    assert run.returncode == ExitCode.INCOMPLETE, run.stderr
    assert re.search(r"error: .*every result is saved in ", run.stderr), run.stderr


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("pages", "error: --pages: expected N or N-M, got 'two'"),
        ("model", "error: no model folder at"),
        ("worksheets", "error: no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found"),
        ("ontology", "error: "),
        ("store", "error: cannot open the store"),
    ],
)
def test_2_nothing_was_labeled(
    case: str, words: str, pages: Path, taught_mlx_model: Path, tmp_path: Path
) -> None:
    model = ["--model", str(taught_mlx_model)]
    args = {
        "pages": [pages, *model, "--pages", "two"],
        "model": [pages, "--model", tmp_path / "no-such-model"],
        "worksheets": [tmp_path, *model],
        "ontology": [pages, *model, "--ontology", pages / "torn.png"],
        "store": [pages, *model, "--db", tmp_path],  # a folder, not a store file
    }[case]
    run = cli("label", *args, home=tmp_path / "home")
    assert run.returncode == ExitCode.REFUSED, run.stderr
    assert words in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "home" / "data" / "labels.sqlite").exists() or case == "worksheets"


def test_3_the_model_failed(pages: Path, taught_mlx_model: Path, tmp_path: Path) -> None:
    import json
    import shutil

    broken = tmp_path / "broken-model"
    shutil.copytree(taught_mlx_model, broken)
    config = json.loads((broken / "preprocessor_config.json").read_text())
    config["merge_size"] = 1  # four times the image tokens the model merges: it fails
    (broken / "preprocessor_config.json").write_text(json.dumps(config))
    run = cli("label", pages, "--model", broken, home=tmp_path)
    assert run.returncode == ExitCode.MODEL_FAILED, run.stderr
    assert "error: the model failed on 2 of 3 page(s)" in run.stderr


def test_130_interrupted(taught_mlx_model: Path, tmp_path: Path) -> None:
    # Enough pages (~15 s of labeling) that the signal lands mid-run even when this process
    # is not scheduled for seconds.
    folder = tmp_path / "many"
    write_samples(folder, 80, size=DEMO_PAGE_SIZE, seed=9)
    db = tmp_path / "labels.sqlite"
    child = subprocess.Popen(
        [*COMMAND, "label", str(folder), "--model", str(taught_mlx_model), "--db", str(db)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
        # As from a terminal: a runner started in the background without job control passes
        # SIGINT on ignored, and Python then never raises KeyboardInterrupt (nohup-like).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    for line in child.stderr:  # the progress bar writes a line per finished page
        lines.append(line)
        if line.startswith("[") and " 1/80 " in line:
            break
    child.send_signal(signal.SIGINT)
    rest = child.stderr.read()
    assert child.wait(timeout=120) == ExitCode.INTERRUPTED, "".join(lines) + rest
    assert "interrupted; every finished worksheet is saved" in rest
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] >= 1
