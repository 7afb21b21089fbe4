"""The review app's `g`: the pages related to the one on screen and those after and before it on
a learning path, at 80x24 and 160x48, and moving to one; the store holds generated labels (the
model plays no part in what is compared)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import file_sha256
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.test_tui import listed, make_app, select, wait_for

ANSWERS = {
    "addition": {"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20"]},
    "multiplication": {"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller100"]},
    "clock": {"Area": ["MeasuringTime"], "Scope": ["AnalogClock"]},
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path]:
    """Six pages of three kinds, labeled in the store as their kind says."""
    folder = tmp_path_factory.mktemp("tui-related") / "ws"
    paths = write_samples(folder, 6, size=DEMO_PAGE_SIZE, kinds=list(ANSWERS), seed=31)
    provenance = Provenance("generated", "gen", "v0.4.0", "generated", "", "base")
    predictions = []
    for path in paths:
        answer = next(a for kind, a in ANSWERS.items() if kind in path.name)
        labels = [Label(t, d, "known", False, 0.9) for d, terms in answer.items() for t in terms]
        sha = file_sha256(path)
        predictions.append(Prediction(str(path), 0, sha, "labeled", labels, provenance=provenance))
    db = folder.parent / "labels.sqlite"
    with Store(db) as store:
        store.put_many(predictions)
    return folder, db


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_g_lists_related_and_next_pages_and_moves_to_one(stored, size) -> None:
    from mlx_edugraph.tui.related_screen import RelatedScreen
    from mlx_edugraph.tui.worksheet_list import entry_key

    folder, db = stored

    async def run() -> None:
        app = make_app(folder, db, None)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            select(app, "001-addition.png")
            await pilot.pause()
            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, RelatedScreen))
            screen = app.screen
            related, after = screen.lists["Related"], screen.lists["Next"]
            assert related[0].name.endswith("004-addition.png") and related[0].why == "same labels"
            assert [Path(row.name).name for row in after] == [
                "002-multiplication.png",
                "005-multiplication.png",
            ]
            assert after[0].why == "IntegerMultiplication expands IntegerAddition"
            assert screen.lists["Before"] == []
            box = screen.query_one("#related").region
            assert box.right <= size[0] and box.bottom <= size[1]  # inside the terminal
            await pilot.press("enter")  # the first page: the heading above it is not a choice
            await wait_for(pilot, lambda: not isinstance(app.screen, RelatedScreen))
            target = next(e for e in app.entries if e.ref.path.name == "004-addition.png")
            assert app.selected == entry_key(target)

    asyncio.run(run())
