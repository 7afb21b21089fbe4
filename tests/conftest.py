"""Shared test setup: user folders in a temp dir, the shared/ folder beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
ONTOLOGY_V04_TTL = SHARED / "ontology" / "edugraph-v0.4.0.ttl"
ONTOLOGY_V04_RDF = SHARED / "ontology" / "edugraph-v0.4.0.rdf"
CHAT_TEMPLATE = SHARED / "model" / "chat_template.jinja"


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user data and cache folders: no test sees the real ones."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MLX_EDUGRAPH_HOME", str(home))
    return home


pytest_plugins = ["tests.models", "tests.reliability"]
