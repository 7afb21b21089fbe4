"""The page arithmetic count, checked against a real checkpoint's weights."""

from __future__ import annotations

import json
from pathlib import Path

from mlx_edugraph.benchmarks.flops import language_flops, page_flops, vision_flops


def _matrix_params(weights: dict, prefix: str) -> int:
    """Multiply-adds per token in `prefix`'s 2-D weight matrices (norms and biases left out)."""
    return sum(
        value.shape[0] * value.shape[1]
        for name, value in weights.items()
        if name.startswith(prefix) and name.endswith(".weight") and value.ndim == 2
    )


def test_counts_match_the_tiny_models_weights(tiny_checkpoint: Path) -> None:
    from safetensors.numpy import load_file

    config = json.loads((tiny_checkpoint / "config.json").read_text())
    weights = {}
    for file in tiny_checkpoint.glob("*.safetensors"):
        weights.update(load_file(file))
    text = config["text_config"]
    # One token at position 0: the layers' matrices once, attention over itself, the logits.
    layers = _matrix_params(weights, "model.language_model.layers.")
    head_dim = text["head_dim"] * text["num_attention_heads"]
    attention = 4 * head_dim * text["num_hidden_layers"]
    logits = 2 * text["hidden_size"] * text["vocab_size"]
    assert language_flops(text, 0, 1) == 2 * layers + attention + logits

    vision = config["vision_config"]
    blocks = _matrix_params(weights, "model.visual.blocks.")
    mergers = _matrix_params(weights, "model.visual.merger") + _matrix_params(
        weights, "model.visual.deepstack_merger_list."
    )
    embed = weights["model.visual.patch_embed.proj.weight"].size
    # One visual token = 4 patches through every block, merged once per merger.
    patches = 4
    attention = 4 * patches**2 * vision["hidden_size"] * vision["depth"]
    assert vision_flops(vision, 1) == 2 * (patches * (embed + blocks) + mergers) + attention


def _language_by_position(weights: dict, text: dict, start: int, end: int) -> int:
    """Prefill of positions start..end-1 counted one position at a time from the weights:
    every layer matrix once, attention over the position and all before it, one logits row."""
    layers = _matrix_params(weights, "model.language_model.layers.")
    queries = text["head_dim"] * text["num_attention_heads"]
    total = 0
    for position in range(start, end):
        total += 2 * layers + 4 * (position + 1) * queries * text["num_hidden_layers"]
    return total + 2 * text["hidden_size"] * text["vocab_size"]


def test_a_cached_prefix_saves_exactly_its_tokens(tiny_checkpoint: Path) -> None:
    from safetensors.numpy import load_file

    config = json.loads((tiny_checkpoint / "config.json").read_text())
    weights = load_file(tiny_checkpoint / "model.safetensors")
    text = config["text_config"]
    full = page_flops(config, visual_tokens=80, prompt_tokens=300)
    cached = page_flops(config, visual_tokens=80, prompt_tokens=300, cached_tokens=200)
    assert cached.vision == full.vision
    assert full.language == _language_by_position(weights, text, 0, 300)
    assert cached.language == _language_by_position(weights, text, 200, 300)
    logits = 2 * text["hidden_size"] * text["vocab_size"]
    assert full.language - cached.language == _language_by_position(weights, text, 0, 200) - logits
