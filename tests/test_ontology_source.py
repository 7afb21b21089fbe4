"""Resolving the ontology (user file, cache, download from a real server on 127.0.0.1),
and the user folders it caches into."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from mlx_edugraph.labels.ontology import OntologyError, load_ontology
from mlx_edugraph.labels.ontology_source import (
    URL_ENV_VAR,
    cached_release,
    release_url,
    resolve_ontology,
)
from mlx_edugraph.paths import cache_dir, data_dir, write_atomic
from tests.conftest import ONTOLOGY_V04_RDF as V04_RDF
from tests.conftest import ONTOLOGY_V04_TTL as V04_TTL
from tests.release_server import ReleaseServer


@pytest.fixture
def server() -> Iterator[ReleaseServer]:
    running = ReleaseServer()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLX_EDUGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(URL_ENV_VAR, raising=False)
    return tmp_path / "home"


def release_files(home: Path) -> list[Path]:
    """Everything under the release cache, temp files included."""
    root = home / "cache" / "ontology" / "v0.4.0"
    return sorted(root.rglob("*")) if root.exists() else []


def test_download_then_cache(server: ReleaseServer, home: Path) -> None:
    resolved = resolve_ontology(url=f"{server.base}/good")
    assert resolved.warning is None
    assert resolved.source == f"downloaded from {server.base}/good/v0.4.0/core-ontology.rdf"
    assert resolved.ontology is not None
    assert resolved.ontology.terms == load_ontology(V04_RDF, use_cache=False).terms
    assert resolved.ontology.version == "v0.4.0"
    assert release_files(home) == [cached_release("v0.4.0")]
    assert cached_release("v0.4.0").read_bytes() == V04_RDF.read_bytes()

    server.stop()
    again = resolve_ontology(url=f"{server.base}/good")
    assert again.source.startswith("cache ")
    assert again.warning is None
    assert again.ontology == resolved.ontology


def test_base_url_from_environment(server: ReleaseServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV_VAR, f"{server.base}/good/")
    assert release_url("v0.4.0") == f"{server.base}/good/v0.4.0/core-ontology.rdf"
    assert resolve_ontology().ontology is not None


def test_default_url_is_the_github_release() -> None:
    assert release_url("v0.4.0") == (
        "https://github.com/christian-bick/edugraph-ontology/releases/download/"
        "v0.4.0/core-ontology.rdf"
    )


def test_http_404(server: ReleaseServer, home: Path) -> None:
    resolved = resolve_ontology(url=f"{server.base}/missing")
    assert resolved.ontology is None
    assert resolved.source == "none"
    assert "HTTP 404" in resolved.warning
    assert "/missing/v0.4.0/core-ontology.rdf" in resolved.warning
    assert resolved.warning.startswith("labels are unverified: no EduGraph ontology")
    assert "--ontology FILE" in resolved.warning and "network access" in resolved.warning
    assert release_files(home) == []


def test_connection_refused(home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    resolved = resolve_ontology(url=f"http://127.0.0.1:{port}")
    assert resolved.ontology is None
    assert f"cannot reach http://127.0.0.1:{port}/" in resolved.warning
    assert "refused" in resolved.warning.lower()
    assert release_files(home) == []


@pytest.mark.parametrize(("route", "why"), [("html", "no EduGraph terms"), ("binary", "parse")])
def test_garbage_body(server: ReleaseServer, home: Path, route: str, why: str) -> None:
    resolved = resolve_ontology(url=f"{server.base}/{route}")
    assert resolved.ontology is None
    assert "(downloaded file is not a usable ontology" in resolved.warning
    assert why in resolved.warning
    assert "\n" not in resolved.warning
    assert release_files(home) == []


def test_silent_server_times_out(home: Path) -> None:
    # A listening socket that never answers: the connection succeeds, the response never comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        resolved = resolve_ontology(url=f"http://127.0.0.1:{port}", timeout=0.3)
    assert resolved.ontology is None
    assert "timed out" in resolved.warning
    assert release_files(home) == []


def test_offline_uses_cache_only(server: ReleaseServer) -> None:
    resolved = resolve_ontology(url=f"{server.base}/good", offline=True)
    assert resolved.ontology is None
    assert "(offline and no cached copy of ontology v0.4.0" in resolved.warning

    resolve_ontology(url=f"{server.base}/good")
    assert resolve_ontology(offline=True).source.startswith("cache ")


def test_corrupt_cached_copy_is_downloaded_again(server: ReleaseServer) -> None:
    cached = cached_release("v0.4.0")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"<rdf:RDF truncated")
    resolved = resolve_ontology(url=f"{server.base}/good")
    assert resolved.source.startswith("downloaded from ")
    assert cached.read_bytes() == V04_RDF.read_bytes()


def test_corrupt_cached_copy_and_no_download(server: ReleaseServer) -> None:
    cached = cached_release("v0.4.0")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"<rdf:RDF truncated")
    resolved = resolve_ontology(url=f"{server.base}/missing")
    assert resolved.ontology is None
    assert "(cached copy unusable" in resolved.warning
    assert "HTTP 404" in resolved.warning


def test_user_file_beats_cache(server: ReleaseServer, tmp_path: Path) -> None:
    resolve_ontology(url=f"{server.base}/good")
    mine = tmp_path / "edugraph-v0.21.0-math.ttl"
    shutil.copyfile(V04_TTL, mine)
    resolved = resolve_ontology(mine, url=f"{server.base}/good")
    assert resolved.source == f"file {mine}"
    assert resolved.ontology.version == "v0.21.0"


def test_user_file_without_version_in_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.ttl"
    shutil.copyfile(V04_TTL, path)
    resolved = resolve_ontology(path)
    assert resolved.ontology.version == "unknown"
    assert resolved.warning is None


@pytest.mark.parametrize("content", [None, b"@prefix broken"])
def test_bad_user_file_is_an_error_not_a_fallback(
    server: ReleaseServer, tmp_path: Path, content: bytes | None
) -> None:
    resolve_ontology(url=f"{server.base}/good")  # a good cached copy exists
    path = tmp_path / "mine.ttl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(OntologyError, match="mine.ttl"):
        resolve_ontology(path, url=f"{server.base}/good")


@pytest.mark.parametrize("version", ["", "../v0.4.0", "v0.4.0/x", ".hidden"])
def test_version_must_be_a_plain_name(version: str) -> None:
    with pytest.raises(ValueError, match="not a release version"):
        resolve_ontology(version=version)


def test_user_folders_follow_the_home_variable(home: Path) -> None:
    assert cache_dir() == home / "cache" and cache_dir().is_dir()
    assert data_dir() == home / "data" and data_dir().is_dir()


def test_user_folders_default_to_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLX_EDUGRAPH_HOME")
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / app / "c"))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app: str(tmp_path / app / "d"))
    assert cache_dir() == tmp_path / "mlx-edugraph" / "c"
    assert data_dir() == tmp_path / "mlx-edugraph" / "d"


def test_write_atomic_leaves_old_file_or_new_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
