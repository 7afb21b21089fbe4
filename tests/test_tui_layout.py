"""Page first at every terminal size: the page is the widest pane from 80x24 to 200x60, the list
folds into one line on narrow terminals (`w` shows it over the page), a live resize re-lays
the screen out, and at 80x24 one zoom level makes a printed digit legible."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import make_worksheet
from tests import test_tui
from tests.test_tui import highlighted, listed, make_app, select, wait_for

folder, known_db = test_tui.folder, test_tui.known_db  # the same pages, fixed labels

SIZES = [(80, 24), (100, 30), (120, 40), (160, 48), (200, 60)]
FOLDED = {(80, 24), (100, 30)}
"""Where the list folds into the page line."""


async def ready(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: listed(app) and app.ontology is not None, timeout=30)
    await pilot.pause()


def widths(app) -> dict[str, int]:
    """The panes' widths on screen (0: not shown)."""
    return {
        name: (widget.region.width if widget.display else 0)
        for name, widget in (
            ("list", app.worklist),
            ("page", app.preview),
            ("labels", app.labels_pane),
        )
    }


def page_line(app) -> str:
    line = app.query_one("#page-line")
    return str(line.render()) if line.display else ""


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_page_is_the_widest_pane(folder: Path, known_db: Path, size) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None, image_mode="halfcell")
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            shown = widths(app)
            assert shown["page"] > max(shown["list"], shown["labels"]), shown
            assert shown["labels"] >= 30  # "ProcedureExecution 100%" fits
            if size in FOLDED:
                assert shown["list"] == 0
                assert page_line(app).startswith(f"page 1 of {len(app.entries)} ·")
                assert app.query_one("#labels").has_focus  # the keys start on the labels
            else:
                assert shown["list"] >= 37 and not page_line(app)
                assert app.worklist.table.has_focus
            assert app.query_one("#labels-pane").region.right <= size[0]

    asyncio.run(run())


def test_w_shows_the_folded_list_over_the_page_and_enter_picks(folder, known_db) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None, image_mode="halfcell")
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            first = highlighted(app)
            await pilot.press("j")  # the next page, with the list folded
            assert highlighted(app) != first and page_line(app).startswith("page 2 of")
            await pilot.press("k")
            assert highlighted(app) == first

            await pilot.press("w")
            shown = widths(app)
            assert shown["page"] == 0 and shown["list"] > 40 and app.worklist.table.has_focus
            await pilot.press("down", "down", "enter")
            assert widths(app)["page"] > 40 and widths(app)["list"] == 0
            assert page_line(app).startswith("page 3 of")
            assert app.query_one("#labels").has_focus

            await pilot.press("w", "escape")  # esc also puts the page back
            assert widths(app)["list"] == 0 and widths(app)["page"] > 40

            await pilot.press("slash", *"clock")  # the filter shows the folded list
            assert widths(app)["list"] > 40 and app.worklist.filter_box.has_focus
            await pilot.press("enter", "enter")  # leave the box; pick the page
            assert highlighted(app).endswith("clock.png") and widths(app)["list"] == 0
            assert app.return_code is None

    asyncio.run(run())


def test_w_folds_the_list_on_a_wide_terminal_too(folder, known_db) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None, image_mode="halfcell")
        async with app.run_test(size=(160, 48)) as pilot:
            await ready(pilot)
            before = widths(app)["page"]
            await pilot.press("w")
            assert widths(app)["list"] == 0 and widths(app)["page"] > before
            assert page_line(app).startswith("page 1 of")
            await pilot.press("w")
            assert widths(app)["page"] == before and app.worklist.table.has_focus

    asyncio.run(run())


def test_a_live_resize_lays_the_screen_out_again_and_keeps_the_page(folder, known_db) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None, image_mode="halfcell")
        async with app.run_test(size=(200, 60)) as pilot:
            await ready(pilot)
            select(app, "003-counting.png")
            await pilot.pause()
            for size in [(80, 24), (120, 40), (100, 30), (200, 60)]:
                await pilot.resize_terminal(*size)
                await pilot.pause()
                shown = widths(app)
                assert shown["page"] > max(shown["list"], shown["labels"]), (size, shown)
                assert (shown["list"] == 0) == (size in FOLDED), size
                assert highlighted(app) == "003-counting.png"

    asyncio.run(run())


def test_at_80x24_a_zoom_level_spreads_a_printed_digit_over_five_rows(tmp_path: Path) -> None:
    """A 150-dpi letter page's digits are ~35 px tall; half-blocks/quadrants have 2 pixels a
    row. Some level must draw 35 source px over >= 5 rows of the real 80x24 page pane."""
    from mlx_edugraph.tui.preview import Preview
    from mlx_edugraph.tui.viewport import LEVELS

    pages = tmp_path / "ws"
    pages.mkdir()
    make_worksheet("addition", size=(1275, 1650), seed=3).save(pages / "letter.png")

    async def run() -> None:
        app = make_app(pages, tmp_path / "labels.sqlite", None, image_mode="halfcell")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: listed(app), timeout=30)
            preview = app.query_one(Preview)
            await wait_for(pilot, lambda: preview.view is not None and preview.shown_region)
            pane = preview.pane
            rows = {
                LEVELS[level][0]: 35 / preview.view.scale(pane, level) / 2
                for level in preview.view.usable_levels(pane)
            }
            assert max(rows.values()) >= 5, rows
            while preview.view.name != "8x":
                await pilot.press("z")
            assert 35 / preview.view.scale(pane) / 2 >= 5
            assert preview.shown_region.height == pane[1]  # the zoomed view fills the pane

    asyncio.run(run())
