"""Smoke test in a real terminal: the app under tmux, labeling with the taught tiny model;
keys sent with send-keys, the screen read with capture-pane."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_TTL

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server of our own (its own socket), so no user session is touched."""

    def __init__(self, socket: str) -> None:
        # No user config, and a fixed window size even with no client attached.
        self.base = ["tmux", "-L", socket, "-f", "/dev/null"]

    def start(self, command: str, size: tuple[int, int] = (160, 45)) -> None:
        """A detached session `app` of `size` (columns, rows) running `command`."""
        cols, rows = str(size[0]), str(size[1])
        self("new-session", "-d", "-s", "app", "-x", cols, "-y", rows, command)
        self("set-option", "-t", "app", "window-size", "manual")
        self("resize-window", "-t", "app", "-x", cols, "-y", rows)

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def ended(self, timeout: float = 20.0) -> bool:
        """True once the app's session is gone (it ends with the app)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = subprocess.run(
                [*self.base, "list-sessions", "-F", "#S"], capture_output=True, text=True
            )
            if "app" not in listed.stdout.split():
                return True
            time.sleep(0.3)
        return False

    def wait_gone(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} stayed on screen:\n{self.screen()}")
            time.sleep(0.2)

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")


def _command(folder: Path, db: Path, *extra: str) -> str:
    command = [
        sys.executable,
        "-m",
        "mlx_edugraph",
        "tui",
        str(folder),
        "--db",
        str(db),
        "--ontology",
        str(ONTOLOGY_V04_TTL),
        "--image",
        "halfcell",
        *extra,
    ]
    env = f"MLX_EDUGRAPH_HOME={shlex.quote(os.environ['MLX_EDUGRAPH_HOME'])} TERM=xterm-256color"
    # COLUMNS/LINES inherited from the test process would override the terminal's own size
    # (the app then drew 80 columns in a 160-column window); the app must read the terminal.
    return f"env -u COLUMNS -u LINES {env} {shlex.join(command)}"


@pytest.mark.reliability("Interruptions", "TUI killed mid-review (kill -9), then restarted")
def test_app_in_a_real_terminal(
    taught_mlx_model: Path, tmp_path: Path, user_home: Path, outcome
) -> None:
    from mlx_edugraph.pages.worksheets import file_sha256
    from mlx_edugraph.store.sqlite_store import Store

    folder = tmp_path / "ws"
    kinds = ("addition", "multiplication", "picture")
    paths = write_samples(folder, 3, size=DEMO_PAGE_SIZE, kinds=kinds)
    db = tmp_path / "labels.sqlite"
    tmux = Tmux(f"mlx-edugraph-test-{os.getpid()}")
    tmux.start(_command(folder, db, "--model", str(taught_mlx_model)))
    try:
        screen = tmux.wait_for("IntegerAddition")  # the first page, labeled by the model
        assert "001-addition.png" in screen and "Area" in screen
        tmux.wait_for("∅ unsupported")  # the third page is labeled too (the list, not the
        # status line, which the start-up notice may cover)
        tmux("send-keys", "-t", "app", "j")
        tmux.wait_for("IntegerMultiplication")
        tmux("send-keys", "-t", "app", "?")
        tmux.wait_for("Research use only")
        tmux("send-keys", "-t", "app", "?")  # closes help (Escape + a key would read as alt+key)
        tmux.wait_gone("Research use only")

        # Review: accept the multiplication page, flag the picture; both confirmed on screen.
        tmux("send-keys", "-t", "app", "a")
        tmux.wait_for("★ reviewed")
        tmux("send-keys", "-t", "app", "f")
        screen = tmux.wait_for("Review: flagged")
        pid = int(tmux("display-message", "-p", "-t", "app", "#{pane_pid}"))
        os.kill(pid, 9)  # no chance to clean up
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

        with Store(db) as store:
            accepted = store.review(file_sha256(paths[1]), 0)
            flagged = store.review(file_sha256(paths[2]), 0)
        assert accepted.status == "accepted" and flagged.status == "flagged"

        # Restarted without a model: the reviews are there.
        tmux.ended()  # the session closed with its killed app
        tmux.start(_command(folder, db, "--no-label"))
        screen = tmux.wait_for("★ reviewed")
        assert "? needs review" in screen  # the flagged page
        outcome(
            "both review actions confirmed on screen before the kill are in the store "
            "(accepted, flagged) and shown after a restart"
        )
        tmux("send-keys", "-t", "app", "q")
        assert tmux.ended(timeout=60), "q did not quit the app"
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)


QUADRANTS = set("▘▝▀▖▌▞▛▗▚▐▜▄▙▟█")


def test_review_at_80x24_in_a_real_terminal(tmp_path: Path, user_home: Path) -> None:
    """Terminal.app's default window: the page is drawn and is the widest pane, the labels
    beside it, the list folded into a line; zoom, pan, the list over the page, and q."""
    from mlx_edugraph.pages.worksheets import file_sha256
    from mlx_edugraph.prediction import Label, Prediction, Provenance
    from mlx_edugraph.store.sqlite_store import Store

    folder = tmp_path / "ws"
    kinds = ("addition", "multiplication", "picture")
    paths = write_samples(folder, 3, size=DEMO_PAGE_SIZE, kinds=kinds)
    db = tmp_path / "labels.sqlite"
    with Store(db) as store:
        for path, area in zip(paths, ["IntegerAddition", "IntegerMultiplication"], strict=False):
            label = Label(area, "Area", "known", False, 0.9)
            provenance = Provenance("m", "fixed", "v0.4.0", "t")
            store.put(
                Prediction(
                    str(path), 0, file_sha256(path), "labeled", [label], provenance=provenance
                )
            )
    tmux = Tmux(f"mlx-edugraph-80x24-{os.getpid()}")
    tmux.start(_command(folder, db, "--no-label"), size=(80, 24))
    try:
        tmux.wait_for("IntegerAddition")  # the stored labels are read
        screen = tmux.wait_for("page 1 of 3 · ✓ labeled")
        assert "w Pages" in screen
        lines = screen.splitlines()
        assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
        page_rows = [line[:48] for line in lines[4:20]]
        assert sum(ch in QUADRANTS for row in page_rows for ch in row) > 100, screen

        for _ in range(4):  # fit page, fit width, 2x, 4x, 8x
            tmux("send-keys", "-t", "app", "z")
        screen = tmux.wait_for("8x · rows 0-")
        tmux("send-keys", "-t", "app", "j")  # pans down while zoomed
        tmux.wait_gone("8x · rows 0-")
        tmux("send-keys", "-t", "app", "Escape")
        tmux.wait_gone("8x ·")

        tmux("send-keys", "-t", "app", "w")  # the list over the page
        screen = tmux.wait_for("003-picture.png")
        tmux("send-keys", "-t", "app", "Down")
        tmux("send-keys", "-t", "app", "Enter")
        screen = tmux.wait_for("page 2 of 3")
        assert "IntegerMultiplication" in screen
        tmux("send-keys", "-t", "app", "q")
        assert tmux.ended(timeout=60), "q did not quit the app"
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)


def test_q_during_the_demo_build_quits_at_once_and_keeps_no_half_build(
    tmp_path: Path, user_home: Path
) -> None:
    """The demo model builds (about a minute) on the model thread of a fresh install; q stops
    the build within a teaching step, and the process exits cleanly (it used to wait 30 s,
    then abort with MLX still computing)."""
    folder = tmp_path / "ws"
    write_samples(folder, 1, size=DEMO_PAGE_SIZE, kinds=("addition",))
    status = tmp_path / "status"
    command = _command(folder, tmp_path / "labels.sqlite", "--demo")
    tmux = Tmux(f"mlx-edugraph-test-{os.getpid()}")
    tmux.start(f"{command}; echo $? > {shlex.quote(str(status))}")
    try:
        tmux.wait_for("building it once", timeout=60)
        time.sleep(2.0)  # into the build (its first seconds import and load)
        tmux("send-keys", "-t", "app", "q")
        sent = time.monotonic()
        assert tmux.ended(timeout=30), "q did not quit the app"
        took = time.monotonic() - sent
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)
    assert status.read_text().strip() == "0"
    assert took < 5.0, f"the app took {took:.1f} s to quit"
    models = user_home / "cache" / "models"
    assert [path.name for path in models.iterdir()] == []  # no entry, no .building-*: the next
    # run builds again
