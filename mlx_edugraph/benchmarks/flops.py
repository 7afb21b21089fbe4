"""How much arithmetic one page costs a Qwen3-VL model, from its config.json alone.

The bench times the proxies on this machine; this counts what the same savings are worth on
any model, the real 4B included, without running it: the ceiling of a speed-up that comes
from doing less work (fewer visual tokens, a reused prefix), whatever the hardware.
Counted: matrix multiplies and attention (2 FLOPs per multiply-add); norms, activations and
rotary embeddings are left out (well under 1 % here).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageFlops:
    """FLOPs of one page's prefill, by part."""

    vision: float
    language: float

    @property
    def total(self) -> float:
        return self.vision + self.language


def vision_flops(vision: dict, visual_tokens: int) -> float:
    """The vision tower on one image that becomes `visual_tokens` tokens."""
    merge = vision.get("spatial_merge_size", 2)
    patches = visual_tokens * merge**2
    width, inner = vision["hidden_size"], vision["intermediate_size"]
    channels = vision.get("in_channels", 3) * vision.get("temporal_patch_size", 2)
    pixels_per_patch = channels * vision["patch_size"] ** 2
    embed = 2 * patches * pixels_per_patch * width
    # Per block: qkv and output projections, the MLP, then attention over all patches
    # (scores and the weighted sum, each patches^2 x width multiply-adds).
    linear = 2 * patches * (4 * width * width + 2 * width * inner)
    attention = 4 * patches**2 * width
    blocks = vision["depth"] * (linear + attention)
    merged_width = width * merge**2
    out = vision.get("out_hidden_size", width)
    mergers = 1 + len(vision.get("deepstack_visual_indexes", ()))
    merge_flops = mergers * 2 * visual_tokens * (merged_width**2 + merged_width * out)
    return float(embed + blocks + merge_flops)


def language_flops(text: dict, start: int, end: int) -> float:
    """The language model on prompt positions `start`..`end` - 1, the ones before cached.

    Only the last position's logits are computed (as mlx-vlm does in prefill).
    """
    width = text["hidden_size"]
    head_dim = text.get("head_dim") or width // text["num_attention_heads"]
    queries = text["num_attention_heads"] * head_dim
    keys = text["num_key_value_heads"] * head_dim
    per_token = 2 * (2 * width * queries + 2 * width * keys + 3 * width * text["intermediate_size"])
    tokens = end - start
    # Causal attention: position i attends to i + 1 positions (scores and weighted sum).
    attended = (end * (end + 1) - start * (start + 1)) // 2
    attention = 4 * attended * queries
    layers = text["num_hidden_layers"]
    logits = 2 * width * text["vocab_size"]
    return float(layers * (tokens * per_token + attention) + logits)


def page_flops(
    config: dict, *, visual_tokens: int, prompt_tokens: int, cached_tokens: int = 0
) -> PageFlops:
    """One page's prefill: the vision tower, then the prompt past `cached_tokens`."""
    return PageFlops(
        vision=vision_flops(config["vision_config"], visual_tokens),
        language=language_flops(config["text_config"], cached_tokens, prompt_tokens),
    )
