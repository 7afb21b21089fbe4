"""The worksheet as an image: Kitty graphics or Sixel where the terminal has them, Unicode
half-blocks elsewhere; zoomed and panned (`viewport`), since half-blocks blur small print.

Focus: `z` zooms from anywhere; while zoomed the preview takes the focus, so arrows, hjkl and
PgUp/PgDn pan the page; Esc (or `z` back round to the whole page) returns the focus to where
it was, and the list's keys work again. Tab also leaves a zoomed page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from mlx_edugraph.pages.worksheets import WorksheetRef, load

from .halfblocks import HalfBlockImage, quadrant_strips
from .lifetime import live
from .messages import WorkFailed
from .page_pyramid import PagePyramid
from .viewport import DEFAULT_CELL, HALF_BLOCK_CELL, PAGE_STEP, PAN_STEP, Region, Viewport

IMAGE_MODES = ("auto", "kitty", "sixel", "halfcell", "none")

PREVIEW_MAX_PIXELS = 2550 * 3300
"""Pages are read for the eye up to a 300-dpi letter scan, not shrunk as for the model: zoom
is there to read small print."""


def image_widget_class(mode: str):
    """The widget class that draws pages in `mode`: a textual-image widget for Kitty graphics
    and Sixel, ours for half-blocks, None for no images. `auto` asks the terminal (textual-image
    does that once, when first imported: call this before the app takes the screen)."""
    if mode == "none":
        return None
    if mode == "halfcell":
        return HalfBlockImage
    try:
        from textual_image import renderable, widget
    except Exception:  # textual-image's import-time probe fails on some terminals (0 columns)
        if mode == "auto":
            return HalfBlockImage
        raise

    if mode == "auto":
        graphics = renderable.Image in (renderable.TGPImage, renderable.SixelImage)
        return widget.Image if graphics else HalfBlockImage
    return {"kitty": widget.TGPImage, "sixel": widget.SixelImage}[mode]


def shown_path(path: Path) -> str:
    """The path relative to the working folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def page_caption(ref: WorksheetRef) -> str:
    """What the caption calls a page: its path, and the page number of a PDF page."""
    return shown_path(ref.path) + (f"  page {ref.page}" if ref.page else "")


def cell_pixels(image_class) -> tuple[int, int]:
    """Pixels per character cell: 1x2 for half-blocks (and no images), else what the terminal
    told textual-image (its default when it did not say)."""
    if image_class is None or image_class is HalfBlockImage:
        return HALF_BLOCK_CELL
    try:
        from textual_image._terminal import get_cell_size

        size = get_cell_size()
    except Exception:  # a private helper of textual-image: any failure means "not told"
        return DEFAULT_CELL
    return size.width, size.height


class Preview(Container):
    """The selected page, large; a caption names it and, when zoomed, where the view is.

    Pages are read and half-blocks made off the UI thread; the threads post the results to
    the preview, whose message loop runs only while its parts are there (after compose, and
    until the app removes them), so a result that comes early waits and one that comes late
    is dropped. The zoom level stays from page to page (pages of a collection look alike);
    each new page starts at its top left.
    """

    BINDINGS = [
        Binding("left,h", f"pan(-{PAN_STEP}, 0)", "Pan left", show=False),
        Binding("right,l", f"pan({PAN_STEP}, 0)", "Pan right", show=False),
        Binding("up,k", f"pan(0, -{PAN_STEP})", "Pan up", show=False),
        Binding("down,j", f"pan(0, {PAN_STEP})", "Pan down", show=False),
        Binding("pageup", f"pan(0, -{PAGE_STEP})", "Pan a screen up", show=False),
        Binding("pagedown", f"pan(0, {PAGE_STEP})", "Pan a screen down", show=False),
        Binding("Z", "step(-1)", "Zoom out", show=False),
        Binding("escape", "whole_page", "Whole page", show=False),
    ]

    @dataclass
    class PageRead(Message, bubble=False):
        """A page was read (pyramid None: it cannot be shown)."""

        ref: WorksheetRef
        pyramid: PagePyramid | None
        caption: str

    @dataclass
    class StripsMade(Message, bubble=False):
        """Half-block rows were made for draw number `draw`."""

        draw: int
        strips: list[Strip]
        caption: str

    def __init__(self, mode: str = "auto", **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = False  # only while zoomed: see the module's note on focus
        self._image_class = image_widget_class(mode)
        self._cell: tuple[int, int] | None = None
        self._pyramid: PagePyramid | None = None
        self.view: Viewport | None = None
        self._level = 0
        self._focus_before: Widget | None = None
        self._wanted: WorksheetRef | None = None
        self.draws = 0
        """Draws asked for; `drawn_draw` is the last one on screen (benchmarks compare them)."""
        self.drawn_draw = 0
        self.caption = ""
        self.drawn = ""
        """The caption of the page last drawn (benchmarks wait for it)."""
        self.shown_region: Region | None = None
        """The part of the page last drawn, in source pixels."""
        self._caption_widget = Static("", id="preview-caption")
        self._image_widget = (
            Static("(images off: press o to open the page)", id="preview-image")
            if self._image_class is None
            else self._image_class(id="preview-image")
        )

    def compose(self) -> ComposeResult:
        yield self._caption_widget
        yield self._image_widget

    def show_page(self, ref: WorksheetRef | None) -> None:
        """Show `ref`'s page once read off the UI thread (None: nothing)."""
        self._wanted = ref
        if ref is None:
            self._show(None, "")
        else:
            self._read(ref)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False, name="read the page")
    def _read(self, ref: WorksheetRef) -> None:
        caption = page_caption(ref)
        try:
            pyramid = PagePyramid(load(ref, max_pixels=PREVIEW_MAX_PIXELS).image)
        except Exception:  # an unreadable page: its error record says why, in the labels pane
            pyramid, caption = None, f"cannot show this page · {caption}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageRead(ref, pyramid, caption))

    def on_preview_page_read(self, message: PageRead) -> None:
        if message.ref == self._wanted:  # not one read for an earlier selection
            self._show(message.pyramid, message.caption)

    def _show(self, pyramid: PagePyramid | None, caption: str) -> None:
        """Show a page from its top left, at the zoom level of the page before."""
        self._pyramid = pyramid
        self.view = None if pyramid is None else Viewport(pyramid.size, self._level)
        self.caption = caption
        self._draw()

    # -- zoom and pan ---------------------------------------------------------------------

    @property
    def pane(self) -> tuple[int, int]:
        """The image area in cell pixels."""
        if self._cell is None:
            self._cell = cell_pixels(self._image_class)
        size = self._image_widget.size
        return size.width * self._cell[0], size.height * self._cell[1]

    def step_zoom(self, by: int = 1) -> bool:
        """Go to the next zoom level (`by` -1: the one before); True if now zoomed."""
        if self.view is not None:
            self.view = self.view.step(self.pane, by)
            self._level = self.view.level
            self._draw()
        zoomed = self.view is not None and self.view.zoomed
        self._take_keys(zoomed)
        return zoomed

    def action_step(self, by: int) -> None:
        self.step_zoom(by)

    def action_whole_page(self) -> None:
        if self.view is not None:
            self.view = self.view.fit()
            self._level = 0
            self._draw()
        self._take_keys(False)

    def action_pan(self, dx: float, dy: float) -> None:
        if self.view is not None:
            self.view = self.view.pan(self.pane, dx, dy)
            self._draw()

    def _take_keys(self, zoomed: bool) -> None:
        """Focus the page while zoomed; give the focus back when not."""
        if zoomed and not self.has_focus:
            self._focus_before = self.screen.focused
            self.can_focus = True
            self.focus()
        elif not zoomed:
            self.can_focus = False
            before, self._focus_before = self._focus_before, None
            if not self.has_focus:
                return
            if before is not None and before.is_attached:
                before.focus()
            else:
                self.blur()

    # -- drawing --------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._draw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.post_message(WorkFailed(event.worker))

    def _draw(self) -> None:
        # Also called from the app's loop (a zoom key, a new selection): the preview may not
        # be composed yet (its first resize draws) or already closing (nothing to draw).
        if not live(self):
            return
        self.draws += 1
        pane = self.pane
        view, pyramid = self.view, self._pyramid
        region = None if view is None or not all(pane) else view.region(pane)
        self.shown_region = region
        shown = self.caption  # one line: where the view is first, the path cut at the end
        if view is not None and view.zoomed and region is not None:
            shown = f"{view.where(pane)} · {shown}"
        self._caption_widget.update(shown)
        if isinstance(self._image_widget, HalfBlockImage):
            self._draw_cells(self.draws, pyramid, region, self.caption)
        elif self._image_class is not None:
            self._image_widget.image = (
                None if pyramid is None or region is None else pyramid.render(region)
            )
            self.drawn, self.drawn_draw = self.caption, self.draws
        else:
            self.drawn, self.drawn_draw = self.caption, self.draws

    @work(
        thread=True, exclusive=True, group="halfblocks", exit_on_error=False, name="draw the page"
    )
    def _draw_cells(
        self, draw: int, pyramid: PagePyramid | None, region: Region | None, caption: str
    ) -> None:
        strips = []
        if pyramid is not None and region is not None:
            # the region is in square pixels, 1x2 a cell; quadrants draw 2x2 a cell
            strips = quadrant_strips(pyramid.render(region, (2 * region.width, region.height)))
        if not get_current_worker().is_cancelled:
            self.post_message(self.StripsMade(draw, strips, caption))

    def on_preview_strips_made(self, message: StripsMade) -> None:
        if message.draw == self.draws and isinstance(self._image_widget, HalfBlockImage):
            self._image_widget.set_strips(message.strips)
            self.drawn, self.drawn_draw = message.caption, message.draw
