"""A short, stable identity for a model folder, computed without reading gigabytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

_EDGE = 1 << 20

_IDENTITY_FILES = (
    "config.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.json",
    "mlx_edugraph.json",
)


def model_fingerprint(folder: Path, adapter: Path | None = None) -> str:
    """SHA-256 (16 hex digits) over the config, template, tokenizer and each weight file's
    name, size and first and last MiB: any re-conversion or re-quantization changes it.
    With a LoRA `adapter` folder its weights are hashed in whole (they are small)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    if adapter is not None:
        for path in sorted(Path(adapter).glob("adapter*")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in _IDENTITY_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    for path in sorted(folder.glob("*.safetensors")):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(_EDGE))
            if size > _EDGE:
                handle.seek(max(_EDGE, size - _EDGE))
                digest.update(handle.read(_EDGE))
    return digest.hexdigest()[:16]
