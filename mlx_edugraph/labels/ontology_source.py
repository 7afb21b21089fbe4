"""Find the ontology to check labels against: a user file, the cached release, or a download."""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.labels.ontology import Ontology, OntologyError, load_ontology, parse_ontology
from mlx_edugraph.paths import cache_dir, write_atomic

DEFAULT_VERSION = "v0.4.0"
"""The release the model was trained with."""
DEFAULT_URL = "https://github.com/christian-bick/edugraph-ontology/releases/download"
URL_ENV_VAR = "MLX_EDUGRAPH_ONTOLOGY_URL"
"""Overrides DEFAULT_URL: a base URL under which {version}/core-ontology.rdf is fetched."""
RELEASE_FILE = "core-ontology.rdf"
TIMEOUT_S = 20.0
MAX_BYTES = 20_000_000
"""Releases are about 200 KB; anything far larger is not an ontology file."""


@dataclass(frozen=True)
class OntologyResolution:
    """The ontology found (None when none was reachable), where it came from, and why not."""

    ontology: Ontology | None
    source: str
    warning: str | None = None
    """The whole story: what was tried and why it failed (`--verbose`, docs)."""
    summary: str | None = None
    """The warning in one short line with the fix (what commands print by default)."""


def cached_release(version: str) -> Path:
    """Where the downloaded release file of `version` is kept."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", version):
        raise ValueError(f"not a release version: {version!r}")
    return cache_dir() / "ontology" / version / RELEASE_FILE


def release_url(version: str, url: str | None = None) -> str:
    """The release file's address under `url`, else $MLX_EDUGRAPH_ONTOLOGY_URL, else GitHub."""
    base = url or os.environ.get(URL_ENV_VAR) or DEFAULT_URL
    return f"{base.rstrip('/')}/{version}/{RELEASE_FILE}"


def resolve_ontology(
    file: Path | None = None,
    *,
    version: str | None = None,
    url: str | None = None,
    offline: bool = False,
    timeout: float = TIMEOUT_S,
    demo: bool = False,
) -> OntologyResolution:
    """The ontology from `file`, else the cached release, else (for the `demo`) the demo's
    own subset, else a download into the cache.

    A given file that cannot be loaded raises OntologyError: the user asked for it, so
    falling back silently would check labels against something else. When no ontology is
    reachable, the result holds None and a one-line warning; labels then stay unverified.
    `version` None means the pinned release (`DEFAULT_VERSION`).
    """
    if version is None:
        version = DEFAULT_VERSION
    if file is not None:
        return OntologyResolution(load_ontology(Path(file)), f"file {file}")

    cached = cached_release(version)
    stale = None
    if cached.is_file():
        try:
            return OntologyResolution(load_ontology(cached, version), f"cache {cached}")
        except OntologyError as exc:
            stale = f"cached copy unusable ({exc})"
    if demo:
        from mlx_edugraph.labels.demo_ontology import demo_ontology

        return OntologyResolution(demo_ontology(), "the demo's ontology (v0.4.0 terms it uses)")
    if offline:
        reason = stale or f"no cached copy of ontology {version} at {cached}"
        return _unreachable(f"offline and {reason}")

    address = release_url(version, url)
    try:
        body = _download(address, timeout)
        ontology = parse_ontology(body, address, version)
    except (OSError, http.client.HTTPException, ValueError, OntologyError) as exc:
        # ValueError: a malformed configured URL; HTTPException: a server that is not HTTP.
        failure = _download_failure(address, exc)
        return _unreachable(f"{stale}; {failure}" if stale else failure)
    try:
        write_atomic(cached, body)
    except OSError as exc:
        return OntologyResolution(
            ontology, f"downloaded from {address}", f"could not cache it at {cached}: {exc}"
        )
    return OntologyResolution(ontology, f"downloaded from {address}")


def _download(address: str, timeout: float) -> bytes:
    with urllib.request.urlopen(address, timeout=timeout) as response:
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise OntologyError(f"{address} is larger than {MAX_BYTES:,} bytes")
    return body


def _download_failure(address: str, exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"download of {address} failed: HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach {address}: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return f"download of {address} timed out"
    if isinstance(exc, OntologyError):
        return f"downloaded file is not a usable ontology: {exc}"
    return f"download of {address} failed: {exc}"


def _unreachable(reason: str) -> OntologyResolution:
    """No ontology: the one message that says labels go unchecked, why, and how to fix it."""
    warning = (
        f"labels are unverified: no EduGraph ontology to check them against ({reason}). "
        "To fix: pass --ontology FILE, or run once with network access "
        "(the release is then cached for offline use)."
    )
    return OntologyResolution(None, "none", warning, SHORT_WARNING)


SHORT_WARNING = (
    "labels are unverified: no EduGraph ontology at hand. To fix: pass --ontology FILE, "
    "or run once with network access"
)
"""What is said by default when no ontology is at hand; the reason is for `--verbose`."""
