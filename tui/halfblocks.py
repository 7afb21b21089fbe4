"""Pages drawn with Unicode block characters, for terminals without Kitty graphics or Sixel.

Each cell shows 2x2 pixels in two colours with the quadrant characters (▘▝▀▖▌▞▛▗▚▐▜▄▙▟█):
measured on worksheet regions (`glyph_fidelity`), they draw print closer to the page than
half-blocks (▀, 1x2 pixels in two free colours) at equal cells, and unlike sextants and braille
they are in the fonts terminals ship with (Menlo, SF Mono, DejaVu Sans Mono).

textual-image's half-cell renderer builds every cell's style on the UI thread at each draw
(~50 ms per page here); this computes the rows once, off the UI thread, from a page reduced to
a small palette, and merges runs of cells of one style, so a draw only hands over finished
strips.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

PALETTE_COLOURS = 64
"""Enough for a worksheet's few inks; a small palette keeps the number of styles small."""

CELL_PIXELS = (2, 2)
"""Pixels per cell (columns, rows): a quadrant character's four quarters."""

QUADRANTS = " ▘▝▀▖▌▞▛▗▚▐▜▄▙▟█"
"""The character whose foreground covers the quarters of bits 1 top left, 2 top right, 4
bottom left, 8 bottom right."""


def quadrant_strips(image: PILImage.Image) -> list[Strip]:
    """`image` (2 pixels per cell each way) as one strip per row of cells: per cell, the
    darkest and the lightest of its four pixels' colours, and the quarters nearer the darkest
    in the foreground."""
    cols, rows = image.width // 2, image.height // 2
    if cols < 1 or rows < 1:
        return []
    small = image.convert("RGB").crop((0, 0, 2 * cols, 2 * rows)).quantize(PALETTE_COLOURS)
    palette = np.array(small.getpalette()[: 3 * PALETTE_COLOURS], float).reshape(-1, 3)
    palette = np.vstack([palette, np.zeros((PALETTE_COLOURS - len(palette), 3))])
    luma = palette @ np.array([0.299, 0.587, 0.114])
    index = np.asarray(small).reshape(rows, 2, cols, 2).transpose(0, 2, 1, 3).reshape(rows, cols, 4)
    light = luma[index]
    ink = np.take_along_axis(index, light.argmin(axis=2)[..., None], 2)[..., 0]
    paper = np.take_along_axis(index, light.argmax(axis=2)[..., None], 2)[..., 0]
    nearer_ink = np.abs(light - luma[ink][..., None]) < np.abs(light - luma[paper][..., None])
    bits = (nearer_ink * np.array([1, 2, 4, 8])).sum(axis=2)
    colours = [Color.from_rgb(*rgb) for rgb in palette.astype(int).tolist()]
    styles: dict[tuple[int, int], Style] = {}
    strips = []
    for y in range(rows):
        segments: list[Segment] = []
        run: list[str] = []
        run_style = None
        for fg, bg, pattern in zip(
            ink[y].tolist(), paper[y].tolist(), bits[y].tolist(), strict=True
        ):
            if pattern in (0, 15):  # one colour: only the background matters
                fg = bg = bg if pattern == 0 else fg
            style = styles.get((fg, bg))
            if style is None:
                style = styles[fg, bg] = Style(color=colours[fg], bgcolor=colours[bg])
            if style is not run_style and run:
                segments.append(Segment("".join(run), run_style))
                run = []
            run_style = style
            run.append(QUADRANTS[pattern])
        if run:
            segments.append(Segment("".join(run), run_style))
        strips.append(Strip(segments, cols))
    return strips


class HalfBlockImage(Widget):
    """Shows strips made by `quadrant_strips`; drawing them is a lookup."""

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
