"""Which part of the page the preview shows: zoom levels, the visible region, panning.

Pure geometry, in source pixels (the page as read) and cell pixels (what a pane holds: 1x2 per
cell for half-blocks, the terminal's cell size in pixels for real pictures). A scale is source
pixels per cell pixel. Levels past "fit width" are multiples of it, so they enlarge print by
the same amount whatever the scan's resolution: a digit is ~2.7% of a letter page's width at
any dpi.

The place is the centre of the view, in source pixels. It is clamped only when panning, so a
resize or a level change and back returns to the same region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LEVELS: tuple[tuple[str, float], ...] = (
    ("fit page", 0.0),
    ("fit width", 1.0),
    ("2x", 2.0),
    ("4x", 4.0),
    ("8x", 8.0),
    ("16x", 16.0),
)
"""(name, magnification of fit width); 0 means the whole page."""

MIN_SCALE = 0.25
"""No level enlarges a source pixel to more than 4x4 cell pixels: past that nothing new shows."""

HALF_BLOCK_CELL = (1, 2)
"""Cell pixels per character cell for half-blocks (one colour above another)."""

DEFAULT_CELL = (10, 20)
"""Pixels per cell for real pictures when the terminal does not say (textual-image's default)."""

PAN_STEP = 0.25
"""An arrow key moves the view by this fraction of the visible region."""

PAGE_STEP = 0.9
"""PgUp/PgDn move by this fraction of the visible height (a line of overlap to keep reading)."""


@dataclass(frozen=True)
class Region:
    """The visible box of the page (source pixels) and the size it is drawn at (cell pixels)."""

    left: int
    top: int
    right: int
    bottom: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.right, self.bottom


@dataclass(frozen=True)
class Viewport:
    """A zoom level and a place on a page of `page` (width, height) source pixels."""

    page: tuple[int, int]
    level: int = 0
    centre: tuple[float, float] = (0.0, 0.0)
    """Starts at the top left: the region clamps it to the page's first lines."""

    @property
    def zoomed(self) -> bool:
        return self.level > 0

    @property
    def name(self) -> str:
        return LEVELS[self.level][0]

    def scale(self, pane: tuple[int, int], level: int | None = None) -> float:
        """Source pixels per cell pixel at `level` (default: this one) in a pane of `pane`
        cell pixels."""
        width, height = self.page
        pane_width, pane_height = max(1, pane[0]), max(1, pane[1])
        magnification = LEVELS[self.level if level is None else level][1]
        if not magnification:
            return max(width / pane_width, height / pane_height)
        return width / pane_width / magnification

    def usable_levels(self, pane: tuple[int, int]) -> list[int]:
        """The levels that differ from the one before and do not enlarge past `MIN_SCALE`."""
        levels, last = [0], self.scale(pane, 0)
        for level in range(1, len(LEVELS)):
            scale = self.scale(pane, level)
            if scale < MIN_SCALE:
                break
            if scale < last * 0.99:
                levels.append(level)
                last = scale
        return levels

    def step(self, pane: tuple[int, int], by: int = 1) -> Viewport:
        """The next usable level (`by` -1: the one before), wrapping around."""
        levels = self.usable_levels(pane)
        here = max((i for i, level in enumerate(levels) if level <= self.level), default=0)
        return replace(self, level=levels[(here + by) % len(levels)])

    def fit(self) -> Viewport:
        return replace(self, level=0)

    def region(self, pane: tuple[int, int]) -> Region:
        """What a pane of `pane` cell pixels shows: the region around the centre, kept inside
        the page, and its drawn size (smaller than the pane where the page is)."""
        scale = self.scale(pane)
        (left, right), width = _span(self.centre[0], pane[0] * scale, self.page[0]), pane[0]
        (top, bottom), height = _span(self.centre[1], pane[1] * scale, self.page[1]), pane[1]
        return Region(
            left,
            top,
            right,
            bottom,
            max(1, min(width, round((right - left) / scale))),
            max(1, min(height, round((bottom - top) / scale))),
        )

    def clamped(self, pane: tuple[int, int]) -> Viewport:
        """The centre moved to the middle of the region shown (a no-op unless off the page)."""
        region = self.region(pane)
        centre = ((region.left + region.right) / 2, (region.top + region.bottom) / 2)
        return replace(self, centre=centre)

    def pan(self, pane: tuple[int, int], dx: float, dy: float) -> Viewport:
        """Moved by (dx, dy) visible regions (1.0: a whole region), kept on the page."""
        here = self.clamped(pane)
        region = here.region(pane)
        x, y = here.centre
        moved = replace(
            here,
            centre=(
                x + dx * (region.right - region.left),
                y + dy * (region.bottom - region.top),
            ),
        )
        return moved.clamped(pane)

    def where(self, pane: tuple[int, int]) -> str:
        """Where the view is on the page, for the caption: "4x · rows 30-45% · cols 10-60%"."""
        region = self.region(pane)
        width, height = self.page

        def percent(start: int, end: int, size: int) -> str:
            return f"{100 * start // size}-{-(-100 * end // size)}%"

        return (
            f"{self.name} · rows {percent(region.top, region.bottom, height)}"
            f" · cols {percent(region.left, region.right, width)}"
        )


def _span(centre: float, visible: float, size: int) -> tuple[int, int]:
    """The [start, end) of `visible` source pixels around `centre`, inside 0..`size`."""
    if visible >= size:
        return 0, size
    start = min(max(centre - visible / 2, 0.0), size - visible)
    return round(start), min(size, round(start + visible))
