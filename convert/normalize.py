"""Known config differences between Qwen3-VL checkpoints, mapped to what mlx-vlm 0.7.10 loads.

Checkpoints saved by transformers 5 describe rotary embeddings as `rope_parameters` and call the
vision config `qwen3_vl_vision`; mlx-vlm reads `rope_theta` + `rope_scaling` and refuses that
vision model type. transformers reads the top-level `tie_word_embeddings`, mlx-vlm the one in
`text_config`; when they disagree, the weights decide.
"""

from __future__ import annotations

import copy
from collections.abc import Collection

DEFAULT_MROPE_SECTION = [24, 20, 20]
"""transformers' default when `rope_parameters` names none (Qwen3-VL's head_dim 128)."""


def normalize_config(config: dict, tensor_names: Collection[str]) -> tuple[dict, list[str]]:
    """A copy of `config` that mlx-vlm loads as the same model, and a note per change made."""
    config = copy.deepcopy(config)
    notes: list[str] = []
    text = config["text_config"]
    vision = config["vision_config"]

    rope = text.get("rope_parameters")
    if "rope_theta" not in text and isinstance(rope, dict) and "rope_theta" in rope:
        text["rope_theta"] = rope["rope_theta"]
        text["rope_scaling"] = {
            "rope_type": rope.get("rope_type", "default"),
            "mrope_section": list(rope.get("mrope_section", DEFAULT_MROPE_SECTION)),
            "mrope_interleaved": rope.get("mrope_interleaved", True),
        }
        notes.append("text_config.rope_parameters -> rope_theta + rope_scaling")

    if vision.get("model_type") == "qwen3_vl_vision":
        vision["model_type"] = "qwen3_vl"
        notes.append("vision_config.model_type qwen3_vl_vision -> qwen3_vl")

    tied = "lm_head.weight" not in tensor_names
    if text.get("tie_word_embeddings") is not tied:
        text["tie_word_embeddings"] = tied
        config["tie_word_embeddings"] = tied
        notes.append(
            f"text_config.tie_word_embeddings -> {tied} "
            f"({'no' if tied else 'a separate'} lm_head.weight in the checkpoint)"
        )
    return config, notes
