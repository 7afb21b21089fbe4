"""Shared test setup: user folders in a temp dir; the ontology and chat template tests use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlx_edugraph.labels.ontology_source import URL_ENV_VAR
from tests.ontology_files import v04_files

ONTOLOGY_V04_TTL, ONTOLOGY_V04_RDF, REAL_ONTOLOGY = v04_files()
"""EduGraph v0.4.0 from `../shared`, else the small stand-in (see tests/ontology_files.py)."""


def pytest_configure(config: pytest.Config) -> None:
    """Without `../shared` the snapshot tests of the real ontology skip: their snapshots are
    unused there, not stale, so syrupy warns instead of failing the run."""
    if not REAL_ONTOLOGY and hasattr(config.option, "warn_unused_snapshots"):
        config.option.warn_unused_snapshots = True


REFUSED_URL = "http://127.0.0.1:9"
"""The discard port, closed here: a download from it is refused at once."""


@pytest.fixture(scope="session", autouse=True)
def no_internet() -> Iterator[None]:
    """No test reaches the internet: ontology downloads go to a refused port unless a test
    says otherwise (session-wide, so module and session fixtures are covered too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(URL_ENV_VAR, REFUSED_URL)
        yield


AS_INSTALLED = Path(__file__).parent / "as_installed"
"""A `sitecustomize` that hides the test extra's torch, as a user's install has none."""


@pytest.fixture(scope="session", autouse=True)
def processes_as_installed() -> Iterator[None]:
    """The processes tests start (commands, servers, the app in tmux) see no torch, as in a
    user's install, and start in 1.5 s instead of 5 (tests/as_installed/sitecustomize.py).
    Set per worker, after it started: pytest itself keeps torch for the parity tests."""
    paths = [str(AS_INSTALLED), *filter(None, [os.environ.get("PYTHONPATH")])]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(paths))
        yield


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user data and cache folders: no test sees the real ones."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MLX_EDUGRAPH_HOME", str(home))
    return home


pytest_plugins = ["tests.models", "tests.reliability", "tests.label_studio"]
