"""Pages drawn with Unicode half-blocks (▀: top pixel in the foreground colour, bottom pixel in
the background), for terminals without Kitty graphics or Sixel.

textual-image's half-cell renderer builds every cell's style on the UI thread at each draw
(~50 ms per page here); this computes the rows once, off the UI thread, from a page reduced to
a small palette, and merges runs of equal cells, so a draw only hands over finished strips.
"""

from __future__ import annotations

from PIL import Image as PILImage
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

PALETTE_COLOURS = 64
"""Enough for a worksheet's few inks; a small palette keeps the number of styles small."""


def halfblock_strips(image: PILImage.Image, width: int, height: int) -> list[Strip]:
    """`image` fitted into `width` x `height` cells (aspect kept), one strip per row."""
    if width < 1 or height < 1:
        return []
    # A cell is about twice as tall as wide, and holds two pixels stacked.
    scale = min(width / image.width, 2 * height / image.height)
    size = (max(1, int(image.width * scale)), max(2, int(image.height * scale) // 2 * 2))
    small = image.convert("RGB").resize(size, PILImage.Resampling.BOX)
    small = small.quantize(PALETTE_COLOURS).convert("RGB")
    pixels = small.load()
    styles: dict[tuple, Style] = {}
    strips = []
    for y in range(0, size[1], 2):
        segments: list[Segment] = []
        run, run_style = 0, None
        for x in range(size[0]):
            pair = (pixels[x, y], pixels[x, y + 1])
            style = styles.get(pair)
            if style is None:
                style = styles[pair] = Style(
                    color=Color.from_rgb(*pair[0]), bgcolor=Color.from_rgb(*pair[1])
                )
            if style is run_style:
                run += 1
                continue
            if run:
                segments.append(Segment("▀" * run, run_style))
            run, run_style = 1, style
        if run:
            segments.append(Segment("▀" * run, run_style))
        strips.append(Strip(segments, size[0]))
    return strips


class HalfBlockImage(Widget):
    """Shows strips made by `halfblock_strips`; drawing them is a lookup."""

    DEFAULT_CSS = "HalfBlockImage { width: 1fr; height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] = []

    def set_strips(self, strips: list[Strip]) -> None:
        self._strips = strips
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._strips):
            return Strip.blank(width)
        return self._strips[y].crop_extend(0, width, None)
