"""Which model a command labels with, resolved once: the demo, a folder, the converted default,
a tuned version of one of them, or servers.

The choice's fingerprint (prompt included) keys every stored prediction, so it is computed here
and nowhere else: commands, the TUI and the engines all read it from the choice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlx_edugraph.model.fingerprint import model_fingerprint
from mlx_edugraph.model.prompt import PromptOverride

BASE = "base"
"""The version name of a converted model with no tuned adapter on top."""


@dataclass(frozen=True)
class ModelChoice:
    """One model in one version with one prompt, or the servers that run one."""

    path: str | None
    """The local MLX model folder; None when servers run the model."""
    adapter: Path | None = None
    """The tuned version's LoRA adapter folder; None for the base model."""
    version: str = BASE
    """"base", or the tuned version's name ("v2"); "" on servers."""
    prompt: PromptOverride | None = None
    """A prompt supplied for a model whose template lacks EduGraph's (a base model's eval)."""
    servers: tuple[str, ...] = ()
    remote: Any = None
    """The servers' `RemoteOptions` (how to talk to them)."""
    demo: bool = False

    @property
    def on_servers(self) -> bool:
        return bool(self.servers)

    @cached_property
    def fingerprint(self) -> str | None:
        """The store's key for this model's predictions. None on servers: which model they
        serve, and whether they need the prompt, is known once they are asked
        (`served_fingerprint`)."""
        if self.path is None:
            return None
        fingerprint = model_fingerprint(Path(self.path), self.adapter)
        return f"{fingerprint}+{self.prompt_version}" if self.prompt else fingerprint

    @property
    def prompt_version(self) -> str | None:
        """The supplied prompt's identity; None when the model's own template is used."""
        if self.prompt is None:
            return None
        return prompt_id(self.prompt.template or self.prompt.system or "")

    @property
    def label(self) -> str:
        """How messages name it: the folder (and version), or the servers."""
        if self.on_servers:
            return f"{len(self.servers)} server(s)"
        return self.path if self.adapter is None else f"{self.path} + {self.version}"

    @property
    def source(self) -> str:
        """What loading it loads: "model <label>", or the servers."""
        return self.label if self.on_servers else f"model {self.label}"


def served_fingerprint(model_name: str, system: str | None) -> str:
    """The fingerprint of servers' predictions: the model they serve, and the system prompt
    they are sent (None: their own chat template supplies it)."""
    fingerprint = f"server:{model_name}"
    return f"{fingerprint}+{prompt_id(system)}" if system is not None else fingerprint


def prompt_id(text: str) -> str:
    """A prompt's identity in fingerprints and provenance: `prompt-` and 12 hex digits."""
    return f"prompt-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def resolve_choice(
    model: str | None,
    *,
    demo: bool = False,
    servers: list[str] | None = None,
    remote: Any = None,
    prompt: PromptOverride | None = None,
    version: str | None = None,
    log: Callable[[str], None] | None = None,
) -> ModelChoice:
    """The model of a command's options: servers when given, else `model` (a folder, the demo
    model's among them, or a Hugging Face repo id, fetched) or the converted default; in its
    version in use, or `version`. `ModelNotFound`/`VersionError` say why not."""
    from mlx_edugraph.model import versions
    from mlx_edugraph.model.location import local_folder

    if servers:
        return ModelChoice(None, version="", prompt=prompt, servers=tuple(servers), remote=remote)
    folder = local_folder(model, log=log)
    chosen = versions.choose(folder) if version is None else versions.choice_of(folder, version)
    return ModelChoice(folder, chosen.adapter, chosen.version, prompt=prompt, demo=demo)
