"""The zoom/pan model of the page preview: scales at each level, regions, panning, the place."""

from __future__ import annotations

import pytest

from mlx_edugraph.tui.viewport import HALF_BLOCK_CELL, LEVELS, MIN_SCALE, Viewport

LETTER_150DPI = (1275, 1650)
DIGIT_PX = 35
"""A printed digit's height on a 150-dpi page."""

PAGE_PANE_80x24 = (48, 18)
"""The page pane (cells) assumed at 80x24 once the layout is page-first: the labels beside it
take the rest; header, caption, status bar and footer take 6 rows."""


def cell_pixels(cells: tuple[int, int]) -> tuple[int, int]:
    return cells[0] * HALF_BLOCK_CELL[0], cells[1] * HALF_BLOCK_CELL[1]


def test_scale_at_each_level_in_half_blocks_at_80x24() -> None:
    pane = cell_pixels(PAGE_PANE_80x24)  # 48 x 36 half-block pixels
    view = Viewport(LETTER_150DPI)
    scales = {name: view.scale(pane, level) for level, (name, _) in enumerate(LEVELS)}
    assert scales == pytest.approx(
        {
            "fit page": 1650 / 36,
            "fit width": 1275 / 48,
            "2x": 1275 / 48 / 2,
            "4x": 1275 / 48 / 4,
            "8x": 1275 / 48 / 8,
            "16x": 1275 / 48 / 16,
        }
    )
    assert view.usable_levels(pane) == list(range(len(LEVELS)))


def test_a_digit_spans_five_rows_at_one_level_at_80x24() -> None:
    pane = cell_pixels(PAGE_PANE_80x24)
    view = Viewport(LETTER_150DPI)
    rows = [DIGIT_PX / view.scale(pane, level) / HALF_BLOCK_CELL[1] for level in range(6)]
    assert max(rows) >= 5
    # reached by pressing z: the level is one of those it steps through
    legible = [lvl for lvl in view.usable_levels(pane) if rows[lvl] >= 5]
    assert legible and view.scale(pane, legible[0]) <= DIGIT_PX / 10


def test_a_300_dpi_scan_is_enlarged_alike() -> None:
    pane = cell_pixels(PAGE_PANE_80x24)
    low, high = Viewport(LETTER_150DPI), Viewport((2550, 3300))
    for level in range(len(LEVELS)):
        # the digit is twice as many pixels at 300 dpi: the same number of rows
        assert DIGIT_PX / low.scale(pane, level) == pytest.approx(
            2 * DIGIT_PX / high.scale(pane, level)
        )


def test_levels_that_add_nothing_are_skipped() -> None:
    # A landscape page: fit page is fit width.
    assert 1 not in Viewport((2000, 500)).usable_levels((100, 100))
    # Real pictures with large cells: nothing enlarges a pixel past MIN_SCALE.
    view = Viewport((400, 500))
    levels = view.usable_levels((800, 900))
    assert all(view.scale((800, 900), lvl) >= MIN_SCALE for lvl in levels)
    assert levels[-1] < len(LEVELS) - 1


def test_z_cycles_and_wraps() -> None:
    pane = (96, 72)
    view = Viewport(LETTER_150DPI)
    names = []
    for _ in range(len(LEVELS) + 1):
        names.append(view.name)
        view = view.step(pane)
    assert names == [name for name, _ in LEVELS] + ["fit page"]
    assert Viewport(LETTER_150DPI).step(pane, -1).name == "16x"


def test_fit_page_shows_the_whole_page_within_the_pane() -> None:
    region = Viewport(LETTER_150DPI).region((96, 72))
    assert region.box == (0, 0, 1275, 1650)
    assert region.width <= 96 and region.height == 72


def test_the_region_starts_top_left_and_has_the_pane_aspect() -> None:
    pane = (96, 72)
    view = Viewport(LETTER_150DPI, level=3)  # 4x
    region = view.region(pane)
    scale = view.scale(pane)
    assert (region.left, region.top) == (0, 0)
    assert region.right == pytest.approx(96 * scale, abs=1)
    assert region.bottom == pytest.approx(72 * scale, abs=1)
    assert (region.width, region.height) == pane


def test_pan_moves_and_stops_at_the_edges() -> None:
    pane = (96, 72)
    view = Viewport(LETTER_150DPI, level=3)
    first = view.region(pane)
    right = view.pan(pane, 0.25, 0).region(pane)
    assert right.left > first.left and right.top == first.top
    far = view
    for _ in range(50):
        far = far.pan(pane, 1, 1)
    end = far.region(pane)
    assert (end.right, end.bottom) == LETTER_150DPI
    # at the edge, one step back moves at once (no hidden overshoot)
    assert far.pan(pane, -0.25, 0).region(pane).right < 1275


def test_the_place_is_kept_across_resize_and_levels() -> None:
    view = Viewport(LETTER_150DPI, level=3).pan((96, 72), 1, 2)
    before = view.region((96, 72))
    centre = ((before.left + before.right) / 2, (before.top + before.bottom) / 2)
    for pane in ((160, 90), (40, 30)):
        after = view.region(pane)
        assert (after.left + after.right) / 2 == pytest.approx(centre[0], abs=1)
        assert (after.top + after.bottom) / 2 == pytest.approx(centre[1], abs=1)
    assert view.region((96, 72)) == before  # and back
    deeper = view.step((96, 72)).region((96, 72))
    assert (deeper.left + deeper.right) / 2 == pytest.approx(centre[0], abs=1)
    assert view.step((96, 72), -1).step((96, 72)).region((96, 72)) == before


def test_where_says_the_level_and_the_share_of_the_page() -> None:
    view = Viewport(LETTER_150DPI, level=1)
    assert view.where((96, 72)) == "fit width · rows 0-58% · cols 0-100%"


def test_the_pyramid_draws_a_region_like_the_full_page() -> None:
    from PIL import ImageChops, ImageStat

    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.tui.page_pyramid import PagePyramid, naive_render

    page = make_worksheet("addition", size=LETTER_150DPI, seed=2)
    pyramid = PagePyramid(page)
    assert pyramid.size == LETTER_150DPI and len(pyramid.levels) > 3
    for level in range(len(LEVELS)):
        region = Viewport(LETTER_150DPI, level, (400, 500)).region((96, 72))
        size = (region.width, region.height)
        cached, naive = pyramid.render(region), naive_render(page, region, size)
        assert cached.size == naive.size == (region.width, region.height)
        difference = ImageStat.Stat(ImageChops.difference(cached, naive).convert("L")).mean[0]
        assert difference < 4  # of 255: the same picture, resampled in two steps


def test_quadrants_draw_each_quarter_of_a_cell() -> None:
    from PIL import Image

    from mlx_edugraph.tui.halfblocks import quadrant_strips

    image = Image.new("RGB", (4, 2), "white")
    image.putpixel((0, 0), (0, 0, 0))  # cell 1: top left ink
    image.putpixel((3, 1), (0, 0, 0))  # cell 2: bottom right ink
    image.putpixel((2, 0), (0, 0, 0))  # and top left: a diagonal
    (strip,) = quadrant_strips(image)
    assert "".join(segment.text for segment in strip) == "▘▚"
    assert strip.cell_length == 2


def test_the_glyph_measure_draws_cells_back_as_a_terminal_would() -> None:
    import numpy as np

    from mlx_edugraph.tui.glyph_fidelity import rasterise

    # a quadrant pattern (ink top left and bottom right) is drawn back exactly by quadrants
    grey = np.array([[0.0, 255.0], [255.0, 0.0]])
    drawn = rasterise("quadrants", grey, 1, 1, (8, 16))
    assert drawn.shape == (16, 8)
    assert (drawn[:8, :4] == 0).all() and (drawn[:8, 4:] == 255).all()
    assert (drawn[8:, :4] == 255).all() and (drawn[8:, 4:] == 0).all()
    # half-blocks average each half row: the same cell is all grey
    assert np.allclose(
        rasterise("half-blocks", grey.reshape(2, 2).mean(1, keepdims=True), 1, 1, (8, 16)), 127.5
    )
