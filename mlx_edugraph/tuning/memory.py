"""Whether a training step fits the GPU without gradient checkpointing, estimated before
loading the model, so `tune` can choose it and a teacher need not know the flag.

The estimate is the one worked through in docs/tuning.md: the weights as stored, the decoder's
activations kept for the backward pass (about 94 bytes per hidden unit per token per layer,
measured on a proxy: 240 KB a token a layer at the 4B's 2,560 width), and a margin for the
LoRA state, the answer logits and attention's backward. It is compared with the GPU's
recommended working set (Metal); where MLX reports none (the CPU backend), checkpointing stays
off unless asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ACTIVATION_BYTES = 94
"""Bytes kept per hidden unit, per token, per decoder layer, without checkpointing."""

PROMPT_TOKENS = 310
"""The system prompt, the chat markup and the answer: the tokens beside the image's."""

MARGIN = 0.8e9
"""LoRA weights with gradients and AdamW moments, answer logits, one layer's attention
backward, the vision features (docs/tuning.md's table: 0.33 + 0.1 + 0.3 + 0.1)."""

PATCH_PIXELS = 32 * 32
"""Pixels per visual token after Qwen3-VL's 2x2 merge of 16-pixel patches."""


@dataclass(frozen=True)
class MemoryPlan:
    checkpoint: bool
    why: str


def estimated_peak(model: Path, max_pixels: int) -> float:
    """Bytes one training step needs without checkpointing, on a page at the pixel cap."""
    config = json.loads((model / "config.json").read_text())
    text = config.get("text_config", config)
    weights = sum(file.stat().st_size for file in model.glob("*.safetensors"))
    tokens = max_pixels // PATCH_PIXELS + PROMPT_TOKENS
    activations = text["num_hidden_layers"] * tokens * text["hidden_size"] * ACTIVATION_BYTES
    return weights + activations + MARGIN


def working_set() -> float | None:
    """The GPU's recommended working set in bytes, or None where MLX reports none (CPU)."""
    import mlx.core as mx

    info = mx.device_info() if hasattr(mx, "device_info") else mx.metal.device_info()
    size = info.get("max_recommended_working_set_size")
    return float(size) if size else None


def plan_memory(model: Path, max_pixels: int, asked: bool | None) -> MemoryPlan:
    """Checkpointing as asked (`--grad-checkpoint` / `--no-grad-checkpoint`), else on exactly
    when the estimate does not fit the working set."""
    if asked is not None:
        return MemoryPlan(asked, "as asked")
    available = working_set()
    if available is None:
        return MemoryPlan(False, "no GPU working set reported (CPU): activations are kept")
    need = estimated_peak(model, max_pixels)
    fits = need <= available
    return MemoryPlan(
        not fits,
        f"a step needs about {need / 1e9:.1f} GB without checkpointing; the GPU's working set "
        f"is {available / 1e9:.1f} GB: "
        + ("activations are kept" if fits else "recomputing them (--grad-checkpoint)"),
    )
