"""The one place an engine is made from a resolved `ModelChoice`: the local model, or servers."""

from __future__ import annotations

from collections.abc import Callable

from mlx_edugraph.labels.answer import DEFAULT_MAX_TOKENS
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.engine import Engine
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS
from mlx_edugraph.stopping import StopCheck


def make_engine(
    choice: ModelChoice,
    *,
    ontology: Ontology | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_tokens: int | None = None,
    constrain: bool = True,
    note: Callable[[str], None] | None = None,
    stop: StopCheck | None = None,
) -> Engine:
    """A `RemoteEngine` over the choice's servers, else the local `MlxEngine` of its model.

    The choice's prompt is the local model's prompt override, or for servers the source of the
    system prompt they are sent (when its policy sends one). `note` hears about servers taken
    out (default: stderr; the TUI shows them in its status line). `stop` stops the local model
    within a token (`Stopped`, the page unsaved).
    """
    tokens = max_tokens or DEFAULT_MAX_TOKENS
    if choice.on_servers:
        from mlx_edugraph.servers.server_engine import RemoteEngine

        return RemoteEngine(
            list(choice.servers),
            ontology=ontology,
            max_pixels=max_pixels,
            max_tokens=tokens,
            constrain=constrain,
            prompt=choice.prompt,
            options=choice.remote,
            **({"note": note} if note else {}),
        )
    from mlx_edugraph.model.mlx_engine import MlxEngine

    return MlxEngine(
        choice,
        ontology=ontology,
        max_pixels=max_pixels,
        max_tokens=tokens,
        constrain=constrain,
        stop=stop,
    )
