"""The page read once and halved down to thumbnail size, so that each redraw after a zoom, a
pan or a resize crops and shrinks a small image instead of the whole scan (a 300-dpi letter
page is 8.4 million pixels: shrinking all of it takes longer than a redraw may).

`python -m mlx_edugraph.tui.page_pyramid` prints the redraw times, naive and cached.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from PIL import Image as PILImage

from .viewport import HALF_BLOCK_CELL, LEVELS, Region, Viewport

SMALLEST = 64
"""Halving stops once a side is this short."""


class PagePyramid:
    """The page (RGB) and its successive halvings; made off the UI thread, then read-only."""

    def __init__(self, image: PILImage.Image) -> None:
        self.levels = [image.convert("RGB")]
        while min(self.levels[-1].size) >= 2 * SMALLEST:
            self.levels.append(self.levels[-1].reduce(2))

    @property
    def size(self) -> tuple[int, int]:
        return self.levels[0].size

    def render(self, region: Region, size: tuple[int, int] | None = None) -> PILImage.Image:
        """`region` of the page at its drawn size (or `size`: quadrants draw twice as many
        pixels across), from the smallest halving still at least as large (each pixel drawn
        then averages between one and two of its pixels per side)."""
        size = size or (region.width, region.height)
        scale = max((region.right - region.left) / size[0], 1.0)
        level = min(int(scale).bit_length() - 1, len(self.levels) - 1)
        factor = 2**level
        box = tuple(edge / factor for edge in region.box)
        return self.levels[level].resize(size, PILImage.Resampling.BOX, box=box)


def naive_render(page: PILImage.Image, region: Region, size: tuple[int, int]) -> PILImage.Image:
    """`region` shrunk from the full page, as without the cache (the bench's baseline)."""
    return page.crop(region.box).resize(size, PILImage.Resampling.BOX)


def bench(
    page_size: tuple[int, int], cells: tuple[int, int], repeats: int
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Milliseconds to build the pyramid, and per zoom level the median ms of a redraw (the
    view and a pan from it, the rows of quadrant characters included) naive and cached."""
    from mlx_edugraph.pages.samples import make_worksheet

    from .halfblocks import quadrant_strips

    page = make_worksheet("addition", size=page_size, seed=1)
    started = time.perf_counter()
    pyramid = PagePyramid(page)
    built_ms = (time.perf_counter() - started) * 1000
    pane = (cells[0] * HALF_BLOCK_CELL[0], cells[1] * HALF_BLOCK_CELL[1])
    figures = {}
    for level, (name, _) in enumerate(LEVELS):
        view = Viewport(page.size, level, (page.size[0] / 3, page.size[1] / 3))
        regions = [view.region(pane), view.pan(pane, 0.25, 0.25).region(pane)]
        times: dict[str, list[float]] = {"naive": [], "cached": []}
        for _ in range(repeats):
            for region in regions:
                size = (2 * region.width, region.height)  # quadrants: 2x2 pixels a cell
                for way, render in (
                    ("naive", lambda region, size: naive_render(page, region, size)),
                    ("cached", pyramid.render),
                ):
                    started = time.perf_counter()
                    quadrant_strips(render(region, size))
                    times[way].append((time.perf_counter() - started) * 1000)
        figures[name] = (statistics.median(times["naive"]), statistics.median(times["cached"]))
    return built_ms, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlx_edugraph.tui.page_pyramid")
    parser.add_argument("--size", default="2550x3300", help="page pixels (a 300-dpi letter scan)")
    parser.add_argument("--cells", default="100x44", help="page pane, in cells")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    size = tuple(int(n) for n in args.size.split("x"))
    cells = tuple(int(n) for n in args.cells.split("x"))
    built_ms, figures = bench(size, cells, args.repeats)
    print(f"page {args.size} px, pane {args.cells} cells, quadrants; median ms per redraw")
    print(f"pyramid made once per page (in the reading thread): {built_ms:.1f} ms")
    print(f"{'level':10} {'naive':>8} {'cached':>8}")
    for name, (naive, cached) in figures.items():
        print(f"{name:10} {naive:8.1f} {cached:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
