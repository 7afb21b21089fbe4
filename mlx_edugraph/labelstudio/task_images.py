"""The file behind a Label Studio task's image: a local-files URL under the document root, or a
plain http(s) URL, downloaded once (size limit, timeout) into a folder of downloads.

What the file holds is checked later, when the page is loaded, by the same guards as every
worksheet (`pages.worksheets`: decompression bombs, aspect ratio, unreadable files).
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlsplit

from mlx_edugraph.pages.worksheets import IMAGE_SUFFIXES, PDF_SUFFIXES, WorksheetRef

LOCAL_FILES_PATH = "/data/local-files/"

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
"""A worksheet scan is a few MB; 64 MB leaves room for a long PDF and stops a runaway body."""

DOWNLOAD_TIMEOUT_S = 30.0
"""For the whole download, not each read: a server that trickles bytes is cut off too."""

CONTENT_SUFFIXES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/tiff": ".tiff",
    "image/bmp": ".bmp",
    "application/pdf": ".pdf",
}


class TaskImageError(Exception):
    """A task whose image cannot be had; the message says why."""


@dataclass(frozen=True)
class TaskImages:
    """Where task images come from: `root` is Label Studio's local-files document root."""

    root: Path | None
    downloads: Path
    timeout_s: float = DOWNLOAD_TIMEOUT_S
    max_bytes: int = MAX_DOWNLOAD_BYTES

    def ref(self, task: dict) -> WorksheetRef:
        """The page a task shows, its file fetched if it is a plain URL."""
        url, page = _image_and_page(task)
        local = self.local(url)
        if local is not None:
            return WorksheetRef(local, page)
        return WorksheetRef(self._download(url), page)

    def known_path(self, task: dict) -> str:
        """The path the page was labeled under, without fetching anything ("" if unknown):
        what a webhook's annotation is matched by when the task names no SHA-256 or path."""
        try:
            url, _ = _image_and_page(task)
            local = self.local(url)
        except TaskImageError:
            return ""
        if local is not None:
            return str(local)
        cached = self._cached(url)
        return str(cached) if cached else ""

    def local(self, url: str) -> Path | None:
        """The file of a local-files URL (None for other URLs); one outside the root, or any
        when no root was given, is refused."""
        parts = urlsplit(url)
        if parts.path != LOCAL_FILES_PATH:
            return None
        relative = parse_qs(parts.query).get("d", [""])[0]
        if self.root is None:
            raise TaskImageError(
                f"{url}: a local-files image, but no --image-root (Label Studio's "
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT) was given"
            )
        path = self.root / relative
        if not relative or not path.resolve().is_relative_to(self.root.resolve()):
            raise TaskImageError(f"{url}: names no file under the image root {self.root}")
        return path

    def _name(self, url: str) -> Path:
        """Where a URL's file goes: named by the URL's hash, with the URL's suffix if known
        (else the one its content type gives, added once it is known)."""
        digest = hashlib.sha256(url.encode()).hexdigest()[:32]
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
        known = suffix if suffix in IMAGE_SUFFIXES | PDF_SUFFIXES else ""
        return self.downloads / (digest + known)

    def _cached(self, url: str) -> Path | None:
        """The URL's file, if it was downloaded before."""
        name = self._name(url)
        if name.is_file():
            return name
        return next((f for f in self.downloads.glob(name.name + ".*") if f.is_file()), None)

    def _download(self, url: str) -> Path:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TaskImageError(
                f"{url}: not a local-files or http(s) URL (Label Studio's uploaded files need "
                "its API: serve the images as local files or from a URL instead)"
            )
        cached = self._cached(url)
        if cached is not None:
            return cached
        target = self._name(url)
        deadline = time.monotonic() + self.timeout_s
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as answer:
                declared = int(answer.headers.get("Content-Length") or 0)
                if declared > self.max_bytes:
                    raise TaskImageError(_too_large(url, declared, self.max_bytes))
                kind = answer.headers.get_content_type()
                body = bytearray()
                while chunk := answer.read(1 << 16):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise TaskImageError(_too_large(url, len(body), self.max_bytes))
                    if time.monotonic() > deadline:
                        raise TaskImageError(
                            f"{url}: the download took more than {self.timeout_s:g} s"
                        )
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise TaskImageError(f"{url}: cannot download: {reason}") from None
        if not target.suffix and kind in CONTENT_SUFFIXES:
            target = target.with_suffix(CONTENT_SUFFIXES[kind])
        self.downloads.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        partial.write_bytes(body)
        partial.replace(target)
        return target


def _image_and_page(task: dict) -> tuple[str, int]:
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("image"), str):
        raise TaskImageError("the task has no `data.image` URL")
    page = data.get("page", 0)
    if not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise TaskImageError(f"`data.page` is not a page number: {page!r}")
    return data["image"], page


def _too_large(url: str, size: int, limit: int) -> str:
    return f"{url}: larger than {limit:,} bytes ({size:,}); not downloaded"
