"""The README walked as a new user walks it: every command of its usage sections, as written,
with `--demo` added as the README says, in a fresh user folder with the network cut (a network
namespace of its own where the kernel allows, as CI's lone clone runs). Each must exit as the
README says: 0, or 2 for the steps it names as needing what the demo has not (the network, a
second model, Label Studio's export).

The commands run in one process (`tests/readme_walk.py`), on the session's demo model: the walk
teaches nothing and costs one process start.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from mlx_edugraph.tinymodel.demo import demo_worksheets
from tests.run_cli import cli_env

README = Path(__file__).resolve().parents[1] / "README.md"

REFUSED_OFFLINE = ("convert", "--server", "--compare", "import-reviews")
"""The steps the README says exit 2 in the demo offline (its usage section's opening)."""

NEW_IMAGE = "worksheets/p12.png"
"""The README's `similar` example: an image the store has not seen, written just before."""


def readme_commands() -> list[str]:
    """The `mlx-edugraph ...` lines of the code blocks from "## Usage" to "## How the pieces
    fit", in order."""
    text = README.read_text(encoding="utf-8")
    usage = text[text.index("## Usage") : text.index("## How the pieces fit")]
    blocks = re.findall(r"```sh\n(.*?)```", usage, re.DOTALL)
    return [line for b in blocks for line in b.splitlines() if line.startswith("mlx-edugraph ")]


def argv_of(line: str, home: Path, cwd: Path) -> list[str]:
    """The arguments a shell gives `mlx-edugraph` for `line` (comments dropped, `~` and globs
    expanded), with --demo but for `convert`, which has no demo."""
    words = shlex.split(line, comments=True)[1:]
    argv = []
    for word in words:
        word = str(home) + word[1:] if word == "~" or word.startswith("~/") else word
        matched = sorted(glob.glob(word, root_dir=cwd)) if "*" in word else []
        argv += matched or [word]
    return argv if argv[0] == "convert" else [*argv, "--demo"]


def network_cut() -> list[str]:
    """The prefix that runs a command with no network (loopback only), or [] where the kernel
    gives no namespaces (then the ontology URL still points at a closed port: conftest.py)."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    return ["unshare", "-rn"] if probe.returncode == 0 else []


@pytest.fixture
def walk_folder(demo_entry: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A user's home: the user folder with the session's demo model (no second build), and a
    working folder whose `worksheets/` is the demo's folder and `scans/` holds a two-page PDF."""
    home = tmp_path / "user"
    data = home / "mlx-edugraph"
    (data / "cache" / "models").mkdir(parents=True)
    (data / "cache" / "models" / demo_entry.name).symlink_to(demo_entry)
    os.environ["MLX_EDUGRAPH_HOME"] = str(data)  # the autouse fixture restores it
    cwd = home / "work"
    cwd.mkdir()
    (cwd / "worksheets").symlink_to(demo_worksheets())  # as the README says to
    write_samples(cwd / "scans", 0, size=DEMO_PAGE_SIZE, pdf_pages=2, seed=77)
    return home, cwd


def test_every_readme_command_runs_on_the_demo_offline(walk_folder: tuple[Path, Path]) -> None:
    home, cwd = walk_folder
    lines = readme_commands()
    assert len(lines) >= 20, lines
    intro = " ".join(README.read_text(encoding="utf-8").split("## Usage")[1][:1200].split())
    for refused in ("`convert`", "`--server`", "`--compare`", "`import-reviews`", "exit 2"):
        assert refused in intro  # what the walk expects is what the README says
    steps = []
    for line in lines:
        argv = argv_of(line, home, cwd)
        if NEW_IMAGE in argv:
            steps.append({"page": str(cwd / NEW_IMAGE)})
        steps.append({"argv": argv})
    (cwd / ".steps.json").write_text(json.dumps(steps))
    env = {**cli_env(Path(os.environ["MLX_EDUGRAPH_HOME"])), "HOME": str(home)}
    run = subprocess.run(
        [*network_cut(), sys.executable, "-m", "tests.readme_walk", str(cwd / ".steps.json")],
        cwd=cwd,
        env={**env, "PYTHONPATH": os.pathsep.join([str(README.parent), env["PYTHONPATH"]])},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) == len(lines)
    for line, result in zip(lines, results, strict=True):
        expected = 2 if any(marker in result["argv"] for marker in REFUSED_OFFLINE) else 0
        said = result["err"].strip().splitlines()
        assert result["code"] == expected, f"{line}\n{result['err']}"
        if expected:
            assert said[-1].startswith("error: "), said  # one line that says why
        assert "labels are unverified" not in result["err"], line  # the demo's own ontology
        assert "building" not in result["err"]  # the session's demo model, not a second build
        print(f"{result['seconds']:5.1f} s  exit {result['code']}  {line}")
    assert (cwd / "tasks.json").is_file() and (cwd / "coverage.html").is_file()
    similar = next(r for r in results if r["argv"][0] == "similar")
    assert "is not in the store: embedding it" in similar["err"]  # a new image, on the demo
    tune = next(r for r in results if r["argv"][0] == "tune")
    assert "using the demo's truth file" in tune["err"] and "v1 is" in tune["out"]
    found = next(r for r in results if r["argv"][:2] == ["find", "--area"])
    assert "IntegerMultiplication" in found["out"]
    assert "did you mean" not in found["err"]
