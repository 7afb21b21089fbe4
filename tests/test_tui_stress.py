"""Stress: random keys and a quit at a random moment while the taught tiny model labels, with a
CPU hog on the other core. No race between the threads and the screen may end the app.

Opt-in, a few seconds a run (each run is its own test, seeded; a failure names its seed):

    MLX_EDUGRAPH_STRESS=50 .venv/bin/python -m pytest tests/test_tui_stress.py

Replay one run with MLX_EDUGRAPH_STRESS=1 MLX_EDUGRAPH_STRESS_SEED=<seed>.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.test_tui import KINDS, make_app

RUNS = int(os.environ.get("MLX_EDUGRAPH_STRESS") or 0)
BASE_SEED = int(os.environ.get("MLX_EDUGRAPH_STRESS_SEED") or random.randrange(10**6))

pytestmark = pytest.mark.skipif(
    RUNS < 1,
    reason="opt-in: MLX_EDUGRAPH_STRESS=50 .venv/bin/python -m pytest tests/test_tui_stress.py",
)

GESTURES: list[tuple[str, ...]] = [
    *[("j",), ("k",), ("down",), ("up",)] * 4,  # moving through the list, most of the time
    ("tab",),  # list <-> labels
    ("z",),
    ("question_mark", "escape"),
    ("t", "escape"),  # raw text (a no-op before the page is labeled)
    ("i", "escape"),  # term picker
    ("E", "escape"),  # export
    ("slash", "a", "d", "d", "enter"),
    ("slash", "backspace", "backspace", "backspace", "enter"),
    ("s",),
    ("n",),
    ("a",),
    ("f",),
    ("u",),
    ("x",),
    ("p",),  # pause / resume
    ("r",),  # re-run this page
    ("l",),  # label the rest
]
"""What a person does, one gesture at a time ("o" is left out: it opens a system viewer)."""

CHARACTERS = {
    "question_mark": "?",
    "slash": "/",
    "escape": "\x1b",
    "tab": "\t",
    "enter": "\r",
    "backspace": "\x7f",
}


@pytest.fixture(scope="module")
def cpu_hog():
    """A process spinning on one core (the last one, where the OS lets us choose) for the
    whole module; always killed."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(hog.pid, {max(os.sched_getaffinity(0))})
        yield hog
    finally:
        hog.kill()
        hog.wait()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough pages that labeling runs through most sessions."""
    folder = tmp_path_factory.mktemp("stress") / "ws"
    write_samples(folder, 40, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=1200)
    return folder


def send(app, key: str) -> None:
    """A key as the terminal sends it. Not Pilot's `press`: that waits for an idle process,
    which it never is while the model works."""
    from textual import events

    event = events.Key(key, CHARACTERS.get(key, key if len(key) == 1 else None))
    event.set_sender(app)
    app._driver.send_message(event)


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def session(app, rng: random.Random, done: list[str]) -> None:
    """Gestures at a person's (or a hasty person's) pace until a random moment, then quit."""
    from textual.widgets import Input

    quit_at = time.monotonic() + rng.choice([rng.uniform(0, 0.5), rng.uniform(0.5, 8)])
    async with app.run_test(size=(160, 45)):
        while time.monotonic() < quit_at:
            assert app.return_code is None, "the app ended by itself"
            for key in rng.choice(GESTURES):
                send(app, key)
                done.append(key)
                await asyncio.sleep(rng.uniform(0, 0.05))
            await asyncio.sleep(rng.choice([0, rng.uniform(0, 0.2)]))  # or quit at once
        assert app.return_code is None, "the app ended by itself"
        main = len(app.screen_stack) == 1 and not isinstance(app.focused, Input)
        quit_key = "q" if main else "ctrl+q"
        send(app, quit_key)
        done.append(quit_key)
        assert await until(lambda: app.return_code is not None, 10), "quit was ignored"


@pytest.mark.parametrize("run", range(max(RUNS, 1)))
def test_no_race_ends_the_app(run: int, cpu_hog, pages: Path, taught_mlx_model, tmp_path) -> None:
    seed = BASE_SEED + run
    rng = random.Random(seed)
    mode = rng.choice(["halfcell", "none"])
    app = make_app(pages, tmp_path / "labels.sqlite", taught_mlx_model, mode)
    errors: list[str] = []
    notify = app.notify

    def noted(message: str, *args, severity: str = "information", **kwargs) -> None:
        if severity == "error":  # a failed worker, a model that failed to load, ...
            errors.append(message)
        notify(message, *args, severity=severity, **kwargs)

    app.notify = noted
    done: list[str] = []
    try:
        asyncio.run(session(app, rng, done))
    except Exception as exc:
        raise AssertionError(f"seed {seed} ({mode}): {exc!r}; keys: {' '.join(done)}") from exc
    assert app.return_code == 0 and not errors, (
        f"seed {seed} ({mode}): {errors}; keys: {' '.join(done)}"
    )
