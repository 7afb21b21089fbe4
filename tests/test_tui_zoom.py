"""Zoom and pan in the review app, in every image mode: `z` steps through the levels, the
keys pan while zoomed (and go back to the list after), a resize keeps the place, and a page
that cannot be read still says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

from mlx_edugraph.pages.samples import make_worksheet
from tests.test_tui import listed, make_app, select, wait_for

LETTER_150DPI = (1275, 1650)


@pytest.fixture(scope="module")
def letter_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zoom") / "ws"
    folder.mkdir()
    make_worksheet("addition", size=LETTER_150DPI, seed=3).save(folder / "a-letter.png")
    Image.new("RGB", (300, 400), "white").save(folder / "b-small.png")
    (folder / "c-broken.png").write_bytes(b"not a png")
    return folder


def centre(region) -> tuple[float, float]:
    return (region.left + region.right) / 2, (region.top + region.bottom) / 2


@pytest.mark.parametrize("mode", ["halfcell", "sixel", "none"])
def test_zoom_pan_resize_and_back(letter_folder: Path, tmp_path: Path, mode: str) -> None:
    from mlx_edugraph.tui.preview import Preview
    from mlx_edugraph.tui.viewport import LEVELS
    from mlx_edugraph.tui.worksheet_list import WorksheetList

    async def run() -> None:
        app = make_app(letter_folder, tmp_path / "labels.sqlite", None, image_mode=mode)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: listed(app), timeout=30)
            preview = app.query_one(Preview)
            table = app.query_one(WorksheetList)
            select(app, "a-letter.png")
            await wait_for(pilot, lambda: preview.view is not None and preview.shown_region)
            assert preview.shown_region.box == (0, 0, *LETTER_150DPI)
            assert table.has_focus

            # at 160x48 the page pane is wider than the page: fit width is fit page, skipped
            usable = preview.view.usable_levels(preview.pane)
            names = []
            for _ in range(3):
                await pilot.press("z")
                names.append(preview.view.name)
            assert names == [LEVELS[level][0] for level in usable[1:4]] == ["2x", "4x", "8x"]
            assert preview.has_focus  # the page takes the keys while zoomed
            region = preview.shown_region
            scale = preview.view.scale(preview.pane)
            assert (region.right - region.left) / region.width == pytest.approx(scale, rel=0.02)
            assert "8x · rows 0-" in str(preview._caption_widget.render())

            await pilot.press("l", "right", "j", "pagedown")
            moved = preview.shown_region
            assert moved.left > region.left and moved.top > region.top
            assert "a-letter.png" in app.selected  # j panned, it did not move the list

            place = centre(moved)
            await pilot.resize_terminal(200, 60)
            await pilot.pause()
            assert centre(preview.shown_region) == pytest.approx(place, abs=2)
            await pilot.resize_terminal(160, 48)
            await pilot.pause()
            assert preview.shown_region == moved

            await pilot.press("Z")
            assert preview.view.name == "4x"
            assert centre(preview.shown_region) == pytest.approx(place, abs=2)

            await pilot.press("escape")
            assert preview.view.name == "fit page" and table.has_focus
            await pilot.press("j")  # the list's keys work again
            assert "b-small.png" in app.selected
            if mode == "halfcell":
                await wait_for(pilot, lambda: preview.drawn == preview.caption, timeout=30)
                assert any(strip.cell_length for strip in preview._image_widget._strips)

    asyncio.run(run())


def test_an_unreadable_page_keeps_its_message_when_zoomed(
    letter_folder: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.tui.preview import Preview

    async def run() -> None:
        app = make_app(letter_folder, tmp_path / "labels.sqlite", None, image_mode="halfcell")
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: listed(app), timeout=30)
            preview = app.query_one(Preview)
            select(app, "a-letter.png")
            await wait_for(pilot, lambda: preview.view is not None)
            await pilot.press("z", "z")
            level = preview.view.name
            select(app, "c-broken.png")
            await wait_for(pilot, lambda: "cannot show this page" in preview.caption)
            await pilot.press("z", "l", "j")
            await pilot.pause()
            assert "cannot show this page" in str(preview._caption_widget.render())
            assert preview.view is None and not preview.has_focus
            select(app, "a-letter.png")  # the level stays, from the top left
            await wait_for(pilot, lambda: preview.view is not None)
            assert preview.view.name == level != "fit page"
            assert preview.shown_region.top == 0

    asyncio.run(run())


def test_at_80x24_zoom_keys_never_fail(letter_folder: Path, tmp_path: Path) -> None:
    """At 80x24 the list is folded and the labels have the keys: zooming and panning work, and
    Esc gives the keys back to the labels."""
    from mlx_edugraph.tui.preview import Preview

    async def run() -> None:
        app = make_app(letter_folder, tmp_path / "labels.sqlite", None, image_mode="halfcell")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: listed(app), timeout=30)
            preview = app.query_one(Preview)
            select(app, "a-letter.png")
            await wait_for(pilot, lambda: preview.view is not None)
            await pilot.press("z", "z", "l", "pagedown", "Z", "escape")
            assert preview.view.name == "fit page"
            assert app.query_one("#labels").has_focus
            assert app.return_code is None

    asyncio.run(run())
