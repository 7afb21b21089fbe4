"""Where the EduGraph MLX model lives by default, and how a `--model` value is resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlx_edugraph.paths import data_dir

SOURCE_REPO = "christian-bick/Qwen3-VL-4B-EduGraph"
"""The merged fine-tune (AGPL-3.0; research use only per its model card)."""

DEFAULT_MODEL_NAME = "Qwen3-VL-4B-EduGraph-4bit"

HUB_FILES = ["*.json", "*.jsonl", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]
"""What a model repository holds that loading needs (mlx-vlm's own list, less remote code)."""


class ModelNotFound(Exception):
    """No model where one was expected; the message says which command creates it."""


def default_model_dir() -> Path:
    """The folder `mlx-edugraph convert` writes to and `label` and `tui` read from."""
    return data_dir() / "models" / DEFAULT_MODEL_NAME


def resolve_model(value: str | None) -> str:
    """A local MLX model folder, a Hugging Face repo id, or (None) the converted default."""
    if value is None:
        folder = default_model_dir()
        if not (folder / "config.json").is_file():
            raise ModelNotFound(
                f"no EduGraph model at {folder}: create it with `mlx-edugraph convert` "
                "(or try `mlx-edugraph label --demo`)"
            )
        return str(folder)
    path = Path(value).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} is not an MLX model folder (no config.json)")
        return str(path)
    if value.count("/") == 1 and not value.startswith((".", "/", "~")):
        return value  # a Hugging Face repo id of an MLX model
    raise ModelNotFound(f"no model folder at {path}")


def local_folder(value: str | None, *, log: Callable[[str], None] | None = None) -> str:
    """`resolve_model`, with a Hugging Face repo id fetched into the hub cache (files mlx-vlm
    loads only): the model is then a local folder, with a fingerprint and versions."""
    resolved = resolve_model(value)
    if Path(resolved).is_dir():
        return resolved
    from huggingface_hub import snapshot_download

    if log:
        log(f"fetching {resolved} from the Hugging Face hub ...")
    return snapshot_download(resolved, allow_patterns=HUB_FILES)
