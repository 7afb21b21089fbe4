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

from mlx_edugraph.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_TTL

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server of our own (its own socket), so no user session is touched."""

    def __init__(self, socket: str) -> None:
        self.base = ["tmux", "-L", socket]

    def __call__(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")


def test_app_in_a_real_terminal(taught_mlx_model: Path, tmp_path: Path, user_home: Path) -> None:
    folder = tmp_path / "ws"
    write_samples(folder, 3, size=DEMO_PAGE_SIZE, kinds=("addition", "multiplication", "picture"))
    db = tmp_path / "labels.sqlite"
    command = [
        sys.executable,
        "-m",
        "mlx_edugraph",
        "tui",
        str(folder),
        "--model",
        str(taught_mlx_model),
        "--ontology",
        str(ONTOLOGY_V04_TTL),
        "--db",
        str(db),
        "--image",
        "halfcell",
    ]
    env = f"MLX_EDUGRAPH_HOME={shlex.quote(os.environ['MLX_EDUGRAPH_HOME'])} TERM=xterm-256color"
    tmux = Tmux(f"mlx-edugraph-test-{os.getpid()}")
    tmux(
        "new-session",
        "-d",
        "-s",
        "app",
        "-x",
        "160",
        "-y",
        "45",
        f"env {env} {shlex.join(command)}",
    )
    try:
        screen = tmux.wait_for("IntegerAddition")  # the first page, labeled by the model
        assert "001-addition.png" in screen and "Area" in screen
        tmux.wait_for("3/3 idle")
        tmux("send-keys", "-t", "app", "j")
        screen = tmux.wait_for("IntegerMultiplication")
        tmux("send-keys", "-t", "app", "?")
        tmux.wait_for("Research use only")
        tmux("send-keys", "-t", "app", "Escape")
        tmux("send-keys", "-t", "app", "q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "app" in tmux("list-sessions", "-F", "#S"):
            time.sleep(0.3)
    except subprocess.CalledProcessError:
        pass  # the session ended with the app: list-sessions fails once the server is gone
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)
