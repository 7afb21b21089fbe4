"""The worksheet as an image: Kitty graphics or Sixel where the terminal has them, Unicode
half-blocks elsewhere; zoomable to a band of the page, since half-blocks blur small print."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage
from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from mlx_edugraph.pages.worksheets import WorksheetRef, load

from .halfblocks import HalfBlockImage, halfblock_strips
from .lifetime import live
from .messages import WorkFailed

IMAGE_MODES = ("auto", "kitty", "sixel", "halfcell", "none")

ZOOMS: tuple[tuple[str, float, float], ...] = (
    ("whole page", 0.0, 1.0),
    ("top", 0.0, 0.4),
    ("middle", 0.3, 0.7),
    ("bottom", 0.6, 1.0),
)
"""Bands of the page (name, top, bottom as fractions of its height) that `z` cycles through."""


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


def zoomed(image: PILImage.Image, zoom: int) -> PILImage.Image:
    """The band of the page that zoom level `zoom` shows."""
    _, top, bottom = ZOOMS[zoom % len(ZOOMS)]
    width, height = image.size
    return image.crop((0, int(top * height), width, max(int(bottom * height), 1)))


class Preview(Container):
    """The selected page, large; a caption names it and the zoom band.

    Pages are read and half-blocks made off the UI thread; the threads post the results to
    the preview, whose message loop runs only while its parts are there (after compose, and
    until the app removes them), so a result that comes early waits and one that comes late
    is dropped.
    """

    zoom: reactive[int] = reactive(0)

    @dataclass
    class PageRead(Message, bubble=False):
        """A page was read (image None: it cannot be shown)."""

        ref: WorksheetRef
        image: PILImage.Image | None
        caption: str

    @dataclass
    class StripsMade(Message, bubble=False):
        """Half-block rows were made for draw number `draw`."""

        draw: int
        strips: list[Strip]
        caption: str

    def __init__(self, mode: str = "auto", **kwargs) -> None:
        super().__init__(**kwargs)
        self._image_class = image_widget_class(mode)
        self._page: PILImage.Image | None = None
        self._wanted: WorksheetRef | None = None
        self._draws = 0
        self.caption = ""
        self.drawn = ""
        """The caption of the page last drawn (benchmarks wait for it)."""
        self._caption_widget = Static("", id="preview-caption")
        self._image_widget = (
            Static("(images off: press o to open the page)", id="preview-image")
            if self._image_class is None
            else self._image_class(id="preview-image")
        )

    def compose(self) -> ComposeResult:
        yield self._caption_widget
        yield self._image_widget

    def show_page(self, ref: WorksheetRef | None, max_pixels: int) -> None:
        """Show `ref`'s page as the model sees it, once read off the UI thread (None: nothing)."""
        self._wanted = ref
        if ref is None:
            self._show(None, "")
        else:
            self._read(ref, max_pixels)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False, name="read the page")
    def _read(self, ref: WorksheetRef, max_pixels: int) -> None:
        caption = page_caption(ref)
        try:
            image = load(ref, max_pixels=max_pixels).image
        except Exception:  # an unreadable page: its error record says why, in the labels pane
            image, caption = None, f"{caption}\ncannot show this page"
        if not get_current_worker().is_cancelled:
            self.post_message(self.PageRead(ref, image, caption))

    def on_preview_page_read(self, message: PageRead) -> None:
        if message.ref == self._wanted:  # not one read for an earlier selection
            self._show(message.image, message.caption)

    def _show(self, image: PILImage.Image | None, caption: str) -> None:
        """Show a page from the start of the page."""
        self._page = image
        self.caption = caption
        self.zoom = 0
        self._draw()

    def watch_zoom(self) -> None:
        self._draw()

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
        self._draws += 1
        caption = self.caption
        if self._page is not None and self.zoom:
            caption += f"  [zoom: {ZOOMS[self.zoom % len(ZOOMS)][0]}, z for more]"
        self._caption_widget.update(caption)
        page = None if self._page is None else zoomed(self._page, self.zoom)
        if isinstance(self._image_widget, HalfBlockImage):
            size = self._image_widget.size
            self._draw_halfblocks(self._draws, page, size.width, size.height, self.caption)
        elif self._image_class is not None:
            self._image_widget.image = page
            self.drawn = self.caption
        else:
            self.drawn = self.caption

    @work(
        thread=True, exclusive=True, group="halfblocks", exit_on_error=False, name="draw the page"
    )
    def _draw_halfblocks(
        self, draw: int, page: PILImage.Image | None, width: int, height: int, caption: str
    ) -> None:
        strips = [] if page is None else halfblock_strips(page, width, height)
        if not get_current_worker().is_cancelled:
            self.post_message(self.StripsMade(draw, strips, caption))

    def on_preview_strips_made(self, message: StripsMade) -> None:
        if message.draw == self._draws and isinstance(self._image_widget, HalfBlockImage):
            self._image_widget.set_strips(message.strips)
            self.drawn = message.caption
