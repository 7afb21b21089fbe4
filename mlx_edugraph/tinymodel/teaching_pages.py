"""Teaching pages: sample worksheets tokenised exactly as inference does, with vision features.

The tokens come from mlx-vlm's own chat-template and input preparation, so what the model is
taught is what `mlx_vlm.generate` will show it. The vision blocks stay frozen while teaching, so
their outputs are computed here once per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.stopping import StopCheck, check

if TYPE_CHECKING:
    import mlx.core as mx


@dataclass
class TeachingPage:
    """One page: prompt and answer tokens, its image grid, and frozen pre-merger features."""

    kind: str
    ids: list[int]
    """The whole conversation: template prompt (image tokens expanded), answer, <|im_end|>."""
    answer_start: int
    grid_thw: tuple[int, int, int]
    vision_last: mx.array
    """Output of the last vision block, before the merger: (patches, vision hidden)."""
    vision_deepstack: list[mx.array]
    """Outputs of the deepstack vision blocks, before their mergers."""


def prepare_pages(
    model: Any,
    processor: Any,
    answers: dict[str, str],
    *,
    size: tuple[int, int],
    seeds: Sequence[int],
    stop: StopCheck | None = None,
) -> tuple[list[TeachingPage], list[int]]:
    """One page per (kind, seed); also the token prefix all pages share (up to the image).
    `stop` is asked before each page (`Stopped`)."""
    import mlx.core as mx
    import mlx.nn as nn

    from mlx_edugraph.model import vlm

    # Exactly the prompt and inputs inference builds (the template adds the system prompt).
    loaded = vlm.VLM(model, processor, "teaching")
    prompt = vlm.render_prompt(loaded)
    tokenizer = processor.tokenizer
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    vision = model.vision_tower
    dtype = vision.patch_embed.proj.weight.dtype
    pages = []
    # With identity mergers, mlx-vlm's vision tower returns the features the mergers take.
    mergers = vision.merger, vision.deepstack_merger_list
    vision.merger = nn.Identity()
    vision.deepstack_merger_list = [nn.Identity() for _ in mergers[1]]
    try:
        for kind, answer in answers.items():
            answer_ids = tokenizer.encode(answer, add_special_tokens=False) + [end]
            for seed in seeds:
                check(stop)
                inputs = vlm.encode(loaded, prompt, make_worksheet(kind, size=size, seed=seed))
                grid = inputs.extra["image_grid_thw"]
                last, deepstack = vision(inputs.pixel_values.astype(dtype), grid)
                mx.eval(last, deepstack)
                prompt_ids = inputs.input_ids[0].tolist()
                pages.append(
                    TeachingPage(
                        kind=kind,
                        ids=prompt_ids + answer_ids,
                        answer_start=len(prompt_ids),
                        grid_thw=tuple(grid[0].tolist()),
                        vision_last=last,
                        vision_deepstack=list(deepstack),
                    )
                )
    finally:
        vision.merger, vision.deepstack_merger_list = mergers

    first = pages[0].ids
    prefix = first[: first.index(model.config.vision_start_token_id)]
    for page in pages:
        if page.ids[: len(prefix)] != prefix or page.answer_start != pages[0].answer_start:
            raise ValueError("teaching pages must share one prompt layout: use one page size")
    return pages, prefix
