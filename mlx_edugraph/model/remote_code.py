"""Models that ask to run their own Python code are refused: mlx-edugraph never runs it.

Hugging Face models name custom classes through `auto_map` in their config files; loading
them means executing code downloaded with the weights. `trust_remote_code` stays off for every
load and conversion, and such a model is refused up front with this explanation rather than
loaded with the built-in classes it did not ask for.
"""

from __future__ import annotations

import json
from pathlib import Path

CONFIG_FILES = (
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
)


class RemoteCodeRefused(ValueError):
    """A model that needs code shipped with it; the message says where it asks for it."""


def remote_code_refusal(folder: Path, where: str) -> str | None:
    """Why the model in `folder` is refused (it needs its own code), or None when it is not."""
    for name in CONFIG_FILES:
        try:
            config = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auto_map = config.get("auto_map") if isinstance(config, dict) else None
        if auto_map:
            targets = auto_map.values() if isinstance(auto_map, dict) else [auto_map]
            code = sorted({str(t).rsplit(".", 1)[0] for t in targets if t})
            return (
                f"{where} needs custom code: its {name} maps classes to code shipped with the "
                f"model (auto_map: {', '.join(code)}). mlx-edugraph never runs code that comes "
                "with a model (trust_remote_code is always off); use a checkpoint of the "
                "standard Qwen3-VL architecture, such as christian-bick/Qwen3-VL-4B-EduGraph"
            )
    return None


def refuse_remote_code(folder: Path, where: str) -> None:
    """Raise RemoteCodeRefused when the model in `folder` needs its own code."""
    reason = remote_code_refusal(folder, where)
    if reason:
        raise RemoteCodeRefused(reason)
