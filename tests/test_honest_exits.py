"""Exits and outputs that tell the truth: a failing model is an error exit, the demo gives its
taught labels, and a command that cannot do its job says so and exits non-zero.

Each runs the real command in a subprocess with no terminal (stdin from /dev/null, output to
pipes), as CI and scripts run it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlx_edugraph.errors import ExitCode
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.demo import DEMO_PAGES
from tests.chat_server import ChatServer
from tests.run_cli import cli


def taught_line(kind: str) -> str:
    """How `label --demo` prints a page of `kind` when the model gives the taught answer."""
    answer = json.loads(TAUGHT_ANSWERS[kind])
    if "Error" in answer:
        return "unsupported"
    return " | ".join(f"{d} {', '.join(answer[d])}" for d in DIMENSIONS)


@pytest.fixture
def demo_home(demo_entry: Path, tmp_path: Path) -> Path:
    """A user folder whose model cache holds the session's demo build (no second build)."""
    home = tmp_path / "home"
    (home / "cache" / "models").mkdir(parents=True)
    (home / "cache" / "models" / demo_entry.name).symlink_to(demo_entry)
    return home


@pytest.mark.parametrize("command", ["label", "tui"])
def test_demo_pages_get_their_taught_labels(command: str, demo_home: Path) -> None:
    result = cli(command, "--demo", home=demo_home)
    assert result.returncode == 0, result.stderr
    assert "building" not in result.stderr  # the session's demo model was used
    shown: dict[str, list[str]] = {}  # kind -> the answer line of each page of that kind
    for line in result.stderr.splitlines():
        name, _, answer = line.strip().partition(".png: ")  # "003-counting", "Area ... | ..."
        if answer:
            shown.setdefault(name.split("-", 1)[1], []).append(answer)
    assert sum(map(len, shown.values())) == DEMO_PAGES
    assert set(shown) == set(TAUGHT_ANSWERS)
    for kind, answers in shown.items():
        assert answers == [taught_line(kind)] * len(answers), kind
    # No release here (offline, none cached): the demo checks against its own ontology.
    assert "warning" not in result.stderr


def test_label_exits_non_zero_when_the_model_fails(taught_mlx_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(taught_mlx_model, broken)
    config = json.loads((broken / "preprocessor_config.json").read_text())
    config["merge_size"] = 1  # the processor now makes 4x the image tokens the model merges
    (broken / "preprocessor_config.json").write_text(json.dumps(config))
    pages = tmp_path / "pages"
    write_samples(pages, 2, size=DEMO_PAGE_SIZE)
    (pages / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a bad input file: not the model's
    result = cli("label", pages, "--model", broken, home=tmp_path / "home")
    assert result.returncode == ExitCode.MODEL_FAILED, result.stderr
    assert "file errors 1, model failures 2" in result.stderr
    assert "error: the model failed on 2 of 3 page(s)" in result.stderr


def test_label_exits_non_zero_when_every_server_fails(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    write_samples(pages, 2, size=(128, 160))
    with ChatServer(mode="fail") as server:
        result = cli("label", pages, "--server", server.url, "--retries", "0", home=tmp_path)
    assert result.returncode == ExitCode.MODEL_FAILED, result.stderr
    assert "model failures 2" in result.stderr


def test_bad_input_files_alone_do_not_fail_the_run(taught_mlx_model: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    write_samples(pages, 1, size=DEMO_PAGE_SIZE)
    (pages / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = cli("label", pages, "--model", taught_mlx_model, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "labeled 1, unsupported 0, unparseable 0, file errors 1, model failures 0" in (
        result.stderr
    )


def test_tui_no_label_without_a_terminal_is_an_error(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    write_samples(pages, 1, size=(128, 160))
    result = cli("tui", pages, "--no-label", home=tmp_path)
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr
    assert "labeling without the review UI" not in result.stderr
