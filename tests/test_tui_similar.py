"""The review app's similar pages: near-duplicates marked in the list, and `m` listing the pages
most like the one on screen, with the taught tiny model labeling for real."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.test_tui import all_labeled, make_app, select, wait_for


def test_duplicates_are_marked_and_m_moves_to_a_similar_page(
    taught_mlx_model: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.benchmarks.similarity import COPIES
    from mlx_edugraph.store.similar_pages import DUPLICATE_THRESHOLD
    from mlx_edugraph.tui.similar_screen import SimilarScreen
    from mlx_edugraph.tui.worksheet_list import DUPLICATE_MARK, WorksheetList, entry_key

    folder = tmp_path / "ws"
    folder.mkdir()
    clock = make_worksheet("clock", size=DEMO_PAGE_SIZE, seed=2)
    clock.save(folder / "a-clock.png")
    COPIES["jpeg"](clock).save(folder / "b-clock-scan.png")  # small pages: docs/similar.md
    make_worksheet("picture", size=DEMO_PAGE_SIZE, seed=2).save(folder / "c-picture.png")
    make_worksheet("addition", size=DEMO_PAGE_SIZE, seed=2).save(folder / "d-addition.png")

    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: all_labeled(app))
            marked = lambda: {e.ref.path.name for e in app.entries if e.duplicate}  # noqa: E731
            await wait_for(pilot, lambda: marked() == {"a-clock.png", "b-clock-scan.png"})
            table = app.query_one(WorksheetList)
            scan = next(e for e in app.entries if e.ref.path.name == "b-clock-scan.png")
            name = table.get_cell(entry_key(scan), "name")
            assert str(name).startswith(DUPLICATE_MARK)

            select(app, "a-clock.png")
            await pilot.pause()
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, SimilarScreen))
            rows = app.screen.rows
            assert rows[0].name.endswith("b-clock-scan.png")
            assert rows[0].similarity >= DUPLICATE_THRESHOLD
            assert len(rows) == 3
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, SimilarScreen))
            assert app.selected == entry_key(scan)

    asyncio.run(run())
