"""Image links Label Studio can display: its local-files URLs, or a given URL prefix.

Label Studio serves a local file at `/data/local-files/?d=<path under its document root>` once
local-files serving is on and a local-files storage of the project holds the file's folder (the
storage cannot be the document root itself). Browsers show neither PDF pages nor TIFF or HEIC
files, so those pages are rendered to PNG beside the export, at the resolution the model saw.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from mlx_edugraph.pages.worksheets import (
    DEFAULT_MAX_PIXELS,
    WorksheetError,
    WorksheetRef,
    load,
)
from mlx_edugraph.paths import write_atomic

BROWSER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
LOCAL_FILES_URL = "/data/local-files/?d="


class ImageLinkError(ValueError):
    """The images cannot be linked as asked (a file outside the given root); says which."""


@dataclass
class ImageLinks:
    """Each page's image URL, and what Label Studio needs to serve them."""

    urls: dict[tuple[str, int], str]
    root: Path
    """Label Studio's document root (local files) or the folder the URL prefix stands for."""
    storages: list[Path] = field(default_factory=list)
    """Folders to add as local-files storages (empty with a URL prefix)."""
    rendered: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Pages whose file is gone or unreadable: their tasks link to nothing that shows."""


def rendered_name(path: Path, sha256: str, page: int) -> str:
    """A name per page content: a rerun finds the PNG it rendered before."""
    return f"{path.stem}-{sha256[:12]}-p{page}.png"


def displayable(path: Path, sha256: str, page: int, pages_dir: Path, max_pixels: int) -> Path:
    """The file a browser shows for this page: the image itself, or a PNG rendered into
    `pages_dir`. Raises WorksheetError when the page cannot be read."""
    target = _target(path, sha256, page, pages_dir)
    if target == path:
        if not path.is_file():
            raise WorksheetError("file not found")
        return path
    if not target.is_file():
        loaded = load(WorksheetRef(path, page), max_pixels=max_pixels, sha256=sha256)
        buffer = io.BytesIO()
        loaded.image.save(buffer, format="PNG")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, buffer.getvalue())
    return target


def link_images(
    pages: list[tuple[str, str, int]],
    pages_dir: Path,
    *,
    root: Path | None = None,
    url_prefix: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageLinks:
    """URLs for `pages` (path, sha256, page number). Local-files URLs by default, under `root`
    (default: the folder above every image, so their common folder can be the storage);
    with `url_prefix`, the prefix plus each file's path under `root` (default: their common
    folder)."""
    planned = [
        (Path(path_text).absolute(), path_text, sha256, page) for path_text, sha256, page in pages
    ]
    if root is not None:  # checked before any page is rendered: a refusal leaves nothing
        _all_under(
            [
                _target(path, sha256, page, pages_dir.absolute())
                for path, _, sha256, page in planned
            ],
            root.absolute(),
        )
    files: dict[tuple[str, int], Path] = {}
    links = ImageLinks({}, Path())
    for path, path_text, sha256, page in planned:
        try:
            shown = displayable(path, sha256, page, pages_dir.absolute(), max_pixels)
        except (OSError, WorksheetError) as exc:
            links.missing.append(f"{path_text}{f' p{page}' if page else ''}: {exc}")
            shown = _target(path, sha256, page, pages_dir.absolute())
        else:
            if shown.parent == pages_dir.absolute():
                links.rendered.append(shown)
        files[(sha256 or path_text, page)] = shown
    if not files:
        links.root = (root or Path.cwd()).absolute()
        return links
    common = Path(os.path.commonpath([str(f.parent) for f in files.values()]))
    if url_prefix is not None:
        links.root = (root or common).absolute()
        base = url_prefix.rstrip("/") + "/"
        links.urls = {k: base + quote(_under(f, links.root)) for k, f in files.items()}
        return links
    links.root = (root or common.parent).absolute()
    links.urls = {k: LOCAL_FILES_URL + quote(_under(f, links.root)) for k, f in files.items()}
    links.storages = _storages(list(files.values()), common, links.root)
    return links


def _target(path: Path, sha256: str, page: int, pages_dir: Path) -> Path:
    """The file a page's task links to: the image itself, or its PNG in `pages_dir`."""
    if not page and path.suffix.lower() in BROWSER_SUFFIXES:
        return path
    return pages_dir / rendered_name(path, sha256, page)


def _all_under(files: list[Path], root: Path) -> None:
    """Refuse, naming them, the files that lie outside `root`."""
    outside = sorted({str(f) for f in files if not f.is_relative_to(root)})
    if outside:
        shown = ", ".join(outside[:5]) + (
            f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        )
        raise ImageLinkError(
            f"{len(outside)} page image(s) lie outside the image root {root}: {shown}; "
            "pass a root above them all (or --image-url-prefix)"
        )


def _under(file: Path, root: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        raise ImageLinkError(f"{file} is not under the image root {root}") from None


def _storages(files: list[Path], common: Path, root: Path) -> list[Path]:
    """The storage folders: the images' common folder, or when that is the document root
    itself (which Label Studio refuses as a storage), each top folder under it."""
    if common != root:
        return [common]
    tops = set()
    for file in files:
        parts = file.relative_to(root).parts
        if len(parts) == 1:
            raise ImageLinkError(
                f"{file} lies directly in the document root {root}; Label Studio serves only "
                "files inside a storage folder below it: pass a parent folder as the root"
            )
        tops.add(root / parts[0])
    return sorted(tops)
