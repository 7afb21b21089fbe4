"""The naive baseline the benchmarks measure our engine against: mlx-vlm's own generation loop
on the image file, as its docs lead a user to write it, and what that costs in memory.

Kept apart from the inference seam (`vlm`) so the engine's path holds only what it runs.
Imported lazily: MLX is heavy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
from mlx_vlm.generate import stream_generate
from PIL import Image

from mlx_edugraph.model.vlm import VLM, peak_memory_gb


@dataclass
class NaiveRun:
    """What the naive path did on one worksheet, timed from the call."""

    text: str
    token_ids: list[int]
    """Tokens the model produced, the end-of-turn token that stopped it included."""
    prompt_tokens: int
    first_token_s: float
    """Seconds from the call to the first token: image loading, vision tower, prefill."""
    total_s: float
    peak_memory_gb: float


def naive_attention_bytes(vlm: VLM, image_path: str | Path) -> int:
    """Memory the vision tower's attention takes for an image at the processor's own limits.

    Qwen3-VL's vision blocks attend over all of an image's patches at once; without a fused
    kernel (the CPU backend) the scores, patches^2 per head in the tower's dtype, are
    materialized. Counted twice (scores and softmax), an upper bound: a bf16 tiny proxy
    (2 heads) measured 5.1 GB of MLX peak memory on a 300 dpi A4 scan against 9.4 GB here.
    For the real 4B's 16 heads the same scan needs tens of GB: the naive path's crash risk.
    """
    processor = vlm.processor.image_processor
    with Image.open(image_path) as image:
        width, height = image.size
    patches = processor.num_image_tokens(height, width) * processor.merge_size**2
    itemsize = vlm.model.vision_tower.patch_embed.proj.weight.dtype.size
    return 2 * itemsize * patches**2 * vlm.model.config.vision_config.num_heads


def naive_generate(
    vlm: VLM, prompt: str, image: str, *, max_tokens: int, fixed_length: bool = False
) -> NaiveRun:
    """The baseline: what mlx-vlm's docs lead a user to write, one image file at a time.

    `mlx_vlm.generate`'s own loop (`stream_generate`, which it wraps) on the full prompt with
    the image path: the checkpoint's processor limits, no reuse between images, greedy.
    `fixed_length` decodes exactly `max_tokens` tokens (for random-weight benchmark models).
    """
    tokenizer = vlm.tokenizer
    criteria = tokenizer.stopping_criteria
    criteria.reset(vlm.model.config.eos_token_id)
    if fixed_length:
        tokenizer.stopping_criteria = lambda token: False
    mx.reset_peak_memory()
    text, prompt_tokens, first, token_ids = "", 0, 0.0, []
    started = time.perf_counter()
    try:
        for response in stream_generate(
            vlm.model, vlm.processor, prompt, image=[image], max_tokens=max_tokens, temperature=0.0
        ):
            if not first:
                first = time.perf_counter() - started
            # The last response repeats the last token (or names the end-of-turn token that
            # stopped it) with the detokenizer's remaining text.
            text += response.text
            prompt_tokens, token_ids = response.prompt_tokens, response.token_ids or token_ids
    finally:
        tokenizer.stopping_criteria = criteria
    return NaiveRun(
        text, token_ids, prompt_tokens, first, time.perf_counter() - started, peak_memory_gb()
    )
