"""Merging a PEFT LoRA adapter into the checkpoint's weights before quantization.

For researchers who fine-tune the merged EduGraph model further: W' = W + (alpha / r) B A,
computed in float32 and cast back to W's dtype. Every tensor is checked against the base
weights before anything is merged, so a mismatched adapter is refused as a whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import read_header, read_json
from .errors import ConvertError
from .provenance import sha256_file

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
_PEFT_PREFIX = "base_model.model."
_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<part>A|B)\.weight$")


@dataclass(frozen=True)
class LoraPair:
    """One adapted linear layer: its HF module name, the two factors and the scale."""

    module: str
    a_key: str
    b_key: str
    scale: float


@dataclass(frozen=True)
class Adapter:
    """A PEFT LoRA adapter folder, read and checked for what this converter supports."""

    folder: Path
    config: dict
    pairs: tuple[LoraPair, ...]
    sha256: str

    def describe(self) -> dict:
        """What provenance records about the adapter."""
        return {
            "path": str(self.folder),
            "sha256": self.sha256,
            "r": self.config.get("r"),
            "lora_alpha": self.config.get("lora_alpha"),
            "use_rslora": bool(self.config.get("use_rslora")),
            "modules": len(self.pairs),
        }


def read_adapter(folder: Path) -> Adapter:
    """Read adapter_config.json and the safetensors header; refuse what cannot be merged."""
    folder = Path(folder).expanduser().resolve()
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file():
        raise ConvertError(f"{folder} is not a PEFT adapter: no {CONFIG_FILE}")
    if not weights_path.is_file():
        other = (
            " (found adapter_model.bin: save it as safetensors)"
            if (folder / "adapter_model.bin").is_file()
            else ""
        )
        raise ConvertError(f"{folder} has no {WEIGHTS_FILE}{other}")
    config = read_json(config_path) or {}
    peft_type = config.get("peft_type", "LORA")
    if peft_type != "LORA":
        raise ConvertError(f"{folder} is a {peft_type} adapter; only LoRA adapters can be merged")
    for flag, why in (("use_dora", "DoRA"), ("fan_in_fan_out", "fan_in_fan_out (Conv1D) layers")):
        if config.get(flag):
            raise ConvertError(f"{folder}: {why} adapters are not supported")
    if config.get("alpha_pattern"):
        raise ConvertError(f"{folder}: per-module alpha_pattern is not supported")

    header = read_header(weights_path)
    rank, alpha = int(config.get("r", 0)), float(config.get("lora_alpha", config.get("r", 0)))
    factors: dict[str, dict[str, str]] = {}
    for key in header:
        match = _LORA_KEY.match(key)
        if match is None:
            raise ConvertError(
                f"{folder}: tensor {key} is not a LoRA factor (modules_to_save, embedding or "
                "bias adapters are not supported)"
            )
        module = match["module"].removeprefix(_PEFT_PREFIX)
        factors.setdefault(module, {})[match["part"]] = key
    pairs = []
    for module, parts in sorted(factors.items()):
        if set(parts) != {"A", "B"}:
            raise ConvertError(f"{folder}: {module} has lora_{next(iter(parts))} but no partner")
        module_rank = header[parts["A"]]["shape"][0]
        if rank <= 0 or (module_rank != rank and not config.get("rank_pattern")):
            raise ConvertError(
                f"{folder}: tensor {parts['A']} has rank {module_rank}, {CONFIG_FILE} says r={rank}"
            )
        root = math.sqrt(module_rank) if config.get("use_rslora") else module_rank
        pairs.append(LoraPair(module, parts["A"], parts["B"], alpha / root))
    if not pairs:
        raise ConvertError(f"{folder}: the adapter holds no LoRA tensors")
    return Adapter(folder, config, tuple(pairs), sha256_file(weights_path))


def merge_adapter(model: Any, adapter: Adapter) -> int:
    """Merge `adapter` into an mlx-vlm Qwen3-VL model in place; returns the layers merged.

    Module names are mapped to the model's own by its `sanitize`, the same renaming its weights
    went through.
    """
    import mlx.core as mx
    import mlx.nn as nn

    tensors = mx.load(str(adapter.folder / WEIGHTS_FILE))
    modules = dict(model.named_modules())
    merges = []
    for pair in adapter.pairs:
        (path,) = model.sanitize({f"{pair.module}.weight": None})
        layer = modules.get(path.removesuffix(".weight"))
        if not isinstance(layer, nn.Linear):
            raise ConvertError(
                f"adapter tensor {pair.a_key} targets {pair.module}, which is "
                "not a linear layer of this checkpoint"
            )
        a, b = tensors[pair.a_key], tensors[pair.b_key]
        out_dims, in_dims = layer.weight.shape
        if (
            a.ndim != 2
            or b.ndim != 2
            or a.shape[1] != in_dims
            or b.shape[0] != out_dims
            or a.shape[0] != b.shape[1]
        ):
            raise ConvertError(
                f"adapter does not fit this checkpoint: {pair.a_key} {tuple(a.shape)} and "
                f"{pair.b_key} {tuple(b.shape)} against base weight {pair.module}.weight "
                f"{(out_dims, in_dims)}"
            )
        merges.append((layer, a, b, pair.scale))
    for layer, a, b, scale in merges:
        delta = (b.astype(mx.float32) @ a.astype(mx.float32)) * scale
        layer.weight = (layer.weight.astype(mx.float32) + delta).astype(layer.weight.dtype)
    return len(merges)
