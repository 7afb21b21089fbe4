"""What a report says about a model: its name, fingerprint and conversion provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelInfo:
    """A model as a report names it."""

    name: str
    fingerprint: str
    provenance: str
    """One line from the folder's `mlx_edugraph.json`, or why there is none."""
    record: dict | None = None
    prompt: str = ""
    """Where an explicitly supplied prompt came from; empty for the model's own template."""


def model_info(model: str, fingerprint: str, prompt: str = "") -> ModelInfo:
    """Describe a model folder (or Hugging Face repo id) without loading its weights."""
    from mlx_edugraph.convert.provenance import describe, read_provenance

    folder = Path(model)
    if not folder.is_dir():
        return ModelInfo(model, fingerprint, "a Hugging Face repo id (no local provenance)")
    record = read_provenance(folder)
    return ModelInfo(
        model,
        fingerprint,
        describe(record) if record else "converted elsewhere (no mlx_edugraph.json)",
        record,
        prompt,
    )
