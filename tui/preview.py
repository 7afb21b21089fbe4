"""The worksheet as an image: Kitty graphics or Sixel where the terminal has them, Unicode
half-blocks elsewhere; zoomable to a band of the page, since half-blocks blur small print."""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PILImage
from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import get_current_worker

from mlx_edugraph.pages.worksheets import WorksheetRef, load

from .halfblocks import HalfBlockImage, halfblock_strips

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
    """The selected page, large; a caption names it and the zoom band."""

    zoom: reactive[int] = reactive(0)

    def __init__(self, mode: str = "auto", **kwargs) -> None:
        super().__init__(**kwargs)
        self._image_class = image_widget_class(mode)
        self._page: PILImage.Image | None = None
        self.caption = ""
        self.drawn = ""
        """The caption of the page last drawn (benchmarks wait for it)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-caption")
        if self._image_class is not None:
            yield self._image_class(id="preview-image")
        else:
            yield Static("(images off: press o to open the page)", id="preview-image")

    def show(self, image: PILImage.Image | None, caption: str) -> None:
        """Show a page (None: nothing to show) from the start of the page."""
        self._page = image
        self.caption = caption
        self.zoom = 0
        self._draw()

    @work(thread=True, exclusive=True, group="preview")
    def show_page(self, ref: WorksheetRef, max_pixels: int) -> None:
        """Read the page as the model sees it (off the UI thread), then show it."""
        caption = page_caption(ref)
        try:
            image = load(ref, max_pixels=max_pixels).image
        except Exception:  # an unreadable page: its error record says why, in the labels pane
            image, caption = None, f"{caption}\ncannot show this page"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, image, caption)

    def watch_zoom(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        caption = self.caption
        if self._page is not None and self.zoom:
            caption += f"  [zoom: {ZOOMS[self.zoom % len(ZOOMS)][0]}, z for more]"
        self.query_one("#preview-caption", Static).update(caption)
        widget = self.query_one("#preview-image")
        page = None if self._page is None else zoomed(self._page, self.zoom)
        if isinstance(widget, HalfBlockImage):
            self._draw_halfblocks(page, widget.size.width, widget.size.height, self.caption)
        elif self._image_class is not None:
            widget.image = page
            self.drawn = self.caption
        else:
            self.drawn = self.caption

    @work(thread=True, exclusive=True, group="halfblocks")
    def _draw_halfblocks(
        self, page: PILImage.Image | None, width: int, height: int, caption: str
    ) -> None:
        strips = [] if page is None else halfblock_strips(page, width, height)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._set_strips, strips, caption)

    def _set_strips(self, strips, caption: str) -> None:
        self.query_one(HalfBlockImage).set_strips(strips)
        self.drawn = caption
