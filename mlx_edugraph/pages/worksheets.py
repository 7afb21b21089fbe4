"""Find worksheet files and load each page as the RGB image the model will see.

A worksheet is one page: an image file, or one page of a PDF. Loading applies the EXIF
orientation, flattens transparency on white and caps the pixel count (the resolution policy),
so an oversized scan costs about as much as a training-sized page.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
PDF_SUFFIXES = frozenset({".pdf"})
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
"""iPhone photos: read when the optional pillow-heif is installed, else a clear error."""

DEFAULT_MAX_PIXELS = 1_003_520
"""About 1 M pixels (980 x 32 x 32): ~980 visual tokens at most. The training pages were A4 at
~794x1123 px (~875 tokens); the checkpoint's own limit of 16.7 M pixels would turn a 300-dpi
scan into ~8,600 tokens, slow and unlike training (and its vision attention can exhaust memory)."""

PDF_DPI = 96
"""Renders an A4 page at 794x1123 px, the size of the training worksheets."""

MAX_SOURCE_PIXELS = 178_956_970
"""Pillow's own decompression-bomb threshold; larger images are refused before decoding."""

MAX_ASPECT_RATIO = 200
"""Qwen3-VL's image processor refuses pages longer than this many times their width (or the
reverse); they are refused here, as a page problem rather than a model failure."""


class WorksheetError(Exception):
    """A worksheet file that cannot be read; the message says why."""


@dataclass(frozen=True)
class WorksheetRef:
    """One worksheet page to label: `page` is 0 for an image file, 1-based for a PDF page."""

    path: Path
    page: int = 0

    @property
    def label(self) -> str:
        """How the worksheet is named to people: the path, with the page for PDFs."""
        name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(self.path))
        return f"{name} p{self.page}" if self.page else name


@dataclass
class LoadedWorksheet:
    """A worksheet page decoded and resized for the model."""

    ref: WorksheetRef
    sha256: str
    image: Image.Image
    signature: object = None
    """Its `SheetSignature` when the labeler made one (on the loader thread), else None."""


def discover(paths: Iterable[Path | str], *, pages: range | None = None) -> Iterator[WorksheetRef]:
    """Yield the worksheet pages under files and folders, in a stable (sorted) order.

    Folders are walked recursively, hidden entries skipped; links are not followed into loops.
    A PDF that cannot be opened still yields one ref (page 1) so its error is reported.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _discover_folder(path, pages)
        else:
            yield from _refs_for_file(path, pages)


def _discover_folder(folder: Path, pages: range | None) -> Iterator[WorksheetRef]:
    files: list[Path] = []
    unlisted: list[OSError] = []
    for root, dirs, names in os.walk(folder, followlinks=False, onerror=unlisted.append):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in names if not n.startswith("."))
    suffixes = IMAGE_SUFFIXES | PDF_SUFFIXES | HEIF_SUFFIXES
    found = [path for path in files if path.suffix.lower() in suffixes]
    # A folder that cannot be listed is not skipped in silence: its ref's error says so.
    for path in sorted(found + [Path(error.filename) for error in unlisted]):
        yield from _refs_for_file(path, pages)


def _refs_for_file(path: Path, pages: range | None) -> Iterator[WorksheetRef]:
    if path.suffix.lower() not in PDF_SUFFIXES:
        yield WorksheetRef(path)
        return
    try:
        count = pdf_page_count(path)
    except WorksheetError:
        yield WorksheetRef(path, 1)
        return
    for number in range(1, count + 1):
        if pages is None or number in pages:
            yield WorksheetRef(path, number)


def _open_pdf(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise WorksheetError(
                "encrypted PDF (password protected): save a copy without the password"
            ) from exc
        raise WorksheetError(f"cannot open PDF: {exc}") from exc


def pdf_page_count(path: Path) -> int:
    """Number of pages of a PDF, or a WorksheetError saying why it cannot be opened."""
    pdf = _open_pdf(path)
    try:
        return len(pdf)
    finally:
        pdf.close()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes: the worksheet's identity, whatever its name."""
    digest = hashlib.sha256()
    try:
        # O_NONBLOCK: a FIFO named like an image must not hang the batch; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise WorksheetError("not a regular file (a pipe, socket or device); not read")
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise WorksheetError(_read_problem(path, exc)) from exc
    return digest.hexdigest()


def _read_problem(path: Path, exc: OSError) -> str:
    if path.is_dir():
        return f"folder cannot be read ({exc.strerror}): the worksheets in it are not labeled"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop: the link never reaches a file"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"dangling symbolic link: its target {os.readlink(path)} does not exist"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: this user may not read the file"
    return f"cannot read file: {exc.strerror or exc}"


def load(
    ref: WorksheetRef, *, max_pixels: int = DEFAULT_MAX_PIXELS, sha256: str | None = None
) -> LoadedWorksheet:
    """Decode one worksheet page as an RGB image of at most `max_pixels` pixels."""
    digest = sha256 or file_sha256(ref.path)
    if ref.path.stat().st_size == 0:
        raise WorksheetError("empty file (0 bytes)")
    if ref.page:
        image = _render_pdf_page(ref.path, ref.page, max_pixels)
    elif ref.path.suffix.lower() in HEIF_SUFFIXES and not _heif_available():
        raise WorksheetError(
            "unsupported format HEIC/HEIF: install pillow-heif to read it, "
            "or export the photo as JPEG"
        )
    else:
        image = _decode_image(ref.path, max_pixels)
    image = cap_pixels(image, max_pixels)
    width, height = image.size  # as the model's processor will see it
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise WorksheetError(
            f"page is {width}x{height} pixels, {max(width, height) / min(width, height):.0f}:1; "
            f"the model reads pages up to {MAX_ASPECT_RATIO}:1: crop or split it"
        )
    return LoadedWorksheet(ref, digest, image)


def _heif_available() -> bool:
    """Register pillow-heif's opener with Pillow when the optional package is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def _decode_image(path: Path, max_pixels: int) -> Image.Image:
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_SOURCE_PIXELS:
                raise WorksheetError(
                    f"image too large: {width}x{height} pixels declared "
                    f"(limit {MAX_SOURCE_PIXELS:,}); refused before decoding"
                )
            if getattr(image, "is_animated", False):
                image.seek(0)
            scale = math.sqrt(max_pixels / (width * height))
            if scale < 0.5 and image.format == "JPEG":
                # JPEG can decode at 1/2, 1/4, 1/8 scale directly: much faster for scans.
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
    except WorksheetError:
        raise
    except Image.DecompressionBombError as exc:
        raise WorksheetError(f"image too large: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise WorksheetError(f"not a readable image: {exc}") from exc


def _render_pdf_page(path: Path, page: int, max_pixels: int) -> Image.Image:
    import pypdfium2 as pdfium

    pdf = _open_pdf(path)
    try:
        if not 1 <= page <= len(pdf):
            raise WorksheetError(f"PDF has {len(pdf)} pages, no page {page}")
        pdf_page = pdf[page - 1]
        width_pt, height_pt = pdf_page.get_size()
        scale = PDF_DPI / 72
        # Never render more pixels than the cap allows (a poster-sized page stays cheap).
        pixels = width_pt * height_pt * scale * scale
        if pixels > max_pixels:
            scale *= math.sqrt(max_pixels / pixels)
        bitmap = pdf_page.render(scale=scale)
        return to_rgb(bitmap.to_pil())
    except pdfium.PdfiumError as exc:
        raise WorksheetError(f"cannot render PDF page {page}: {exc}") from exc
    finally:
        pdf.close()


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to RGB, transparency flattened on white (a worksheet's paper colour)."""
    if image.mode == "RGB":
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "A" in image.getbands():
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits rather than clipping to white.
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def cap_pixels(image: Image.Image, max_pixels: int) -> Image.Image:
    """Shrink (never enlarge) so that width x height <= max_pixels, keeping the aspect ratio."""
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
