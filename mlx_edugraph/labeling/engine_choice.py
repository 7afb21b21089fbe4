"""The one place commands get an engine: the local model, or servers when `--server` is given.

Both kinds share the seam the batch runner and the commands use: `provenance`, `max_pixels`,
`load_s` and `label(sheet) -> Prediction`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.labels.answer import DEFAULT_MAX_TOKENS
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.model.prompt import PromptOverride
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from mlx_edugraph.model.mlx_engine import Engine
    from mlx_edugraph.servers.server_engine import RemoteEngine, RemoteOptions


def make_engine(
    model: str | Path | None,
    *,
    servers: list[str] | None = None,
    ontology: Ontology | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_tokens: int | None = None,
    constrain: bool = True,
    prompt: PromptOverride | None = None,
    remote: RemoteOptions | None = None,
    note: Callable[[str], None] | None = None,
    adapter: Path | None = None,
    version: str = "",
) -> Engine | RemoteEngine:
    """A `RemoteEngine` over `servers` when any are given, else the local `Engine` of `model`.

    `prompt` is the local model's prompt override, or for servers the source of the system
    prompt they are sent (when the policy in `remote` sends one). `note` hears about servers
    taken out (default: stderr; the TUI shows them in its status line). `adapter` and
    `version` name the tuned version of the local model (see `model.versions`).
    """
    tokens = max_tokens or DEFAULT_MAX_TOKENS
    if servers:
        from mlx_edugraph.servers.server_engine import RemoteEngine

        return RemoteEngine(
            servers,
            ontology=ontology,
            max_pixels=max_pixels,
            max_tokens=tokens,
            constrain=constrain,
            prompt=prompt,
            options=remote,
            **({"note": note} if note else {}),
        )
    if model is None:
        raise ValueError("give a model or servers")
    from mlx_edugraph.model.mlx_engine import Engine

    return Engine(
        model,
        adapter=adapter,
        version=version,
        ontology=ontology,
        max_pixels=max_pixels,
        max_tokens=tokens,
        constrain=constrain,
        prompt=prompt,
    )
