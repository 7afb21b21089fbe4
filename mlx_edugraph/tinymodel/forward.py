"""The teaching forward pass: mlx-vlm's Qwen3-VL modules over a batch sharing its prefix.

Every teaching conversation starts with the same system prompt. It runs once per batch with
batch size 1; its keys and values are then broadcast to the batch's examples through
`SharedPrefixCache`. Causal attention makes this the same function as running every example in
full (a test checks the logits against mlx-vlm's own forward), at a third of the cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlx_edugraph.tinymodel.teaching_pages import TeachingPage

if TYPE_CHECKING:
    import mlx.core as mx


class SharedPrefixCache:
    """A KV cache that keeps the prefix at batch size 1 and broadcasts it to later calls.

    It offers what mlx-vlm's Qwen3-VL attention asks of a cache: `update_and_fetch`, `offset`.
    """

    def __init__(self) -> None:
        self.keys: mx.array | None = None
        self.values: mx.array | None = None
        self.offset = 0

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        """Store the prefix on the first call; later, prepend it to each example's keys/values."""
        import mlx.core as mx

        if self.keys is None or self.values is None:
            self.keys, self.values, self.offset = keys, values, keys.shape[2]
            return keys, values
        batch = keys.shape[0]
        shared_keys = mx.broadcast_to(self.keys, (batch, *self.keys.shape[1:]))
        shared_values = mx.broadcast_to(self.values, (batch, *self.values.shape[1:]))
        return (
            mx.concatenate([shared_keys, keys], axis=2),
            mx.concatenate([shared_values, values], axis=2),
        )


def positions_for(model: Any, page: TeachingPage, length: int) -> mx.array:
    """mRoPE position ids (3, 1, length) of `page` right-padded to `length` tokens.

    They are the same for every page of one size, so they are computed once.
    """
    import mlx.core as mx

    ids = page.ids + [0] * (length - len(page.ids))
    positions, _ = model.language_model.get_rope_index(mx.array([ids]), mx.array([page.grid_thw]))
    return positions


def answer_logits(
    model: Any, batch: list[TeachingPage], prefix: list[int], positions: mx.array
) -> tuple[mx.array, mx.array, mx.array]:
    """Logits at the positions that predict each answer token, the targets, and a pad mask.

    Logits are computed for the answer span only: the rest of the prompt needs none.
    """
    import mlx.core as mx

    lm, vision = model.language_model, model.vision_tower
    image_token = model.config.image_token_index
    p = len(prefix)
    length = max(len(page.ids) for page in batch)
    suffix = mx.array([page.ids[p:] + [0] * (length - len(page.ids)) for page in batch])
    b, s = suffix.shape

    cache = [SharedPrefixCache() for _ in lm.model.layers]
    lm.model(mx.array([prefix]), cache=cache, position_ids=positions[:, :, :p])

    image = vision.merger(mx.concatenate([page.vision_last for page in batch]))
    deepstack = [
        merger(mx.concatenate([page.vision_deepstack[i] for page in batch]))
        for i, merger in enumerate(vision.deepstack_merger_list)
    ]
    # Every page of one size puts its image tokens at the same place.
    first = batch[0].ids.index(image_token) - p
    count = image.shape[0] // b
    embed = lm.model.embed_tokens
    inputs_embeds = mx.concatenate(
        [
            embed(suffix[:, :first]),
            image.reshape(b, count, -1),
            embed(suffix[:, first + count :]),
        ],
        axis=1,
    )
    hidden = lm.model(
        suffix,
        inputs_embeds=inputs_embeds,
        cache=cache,
        position_ids=mx.broadcast_to(positions[:, :, p : p + s], (3, b, s)),
        visual_pos_masks=suffix == image_token,
        deepstack_visual_embeds=deepstack,
    )

    start = batch[0].answer_start - p
    span = max(len(page.ids) - page.answer_start for page in batch)
    picked = hidden[:, start - 1 : start - 1 + span]
    logits = embed.as_linear(picked) if lm.args.tie_word_embeddings else lm.lm_head(picked)
    targets = suffix[:, start : start + span]
    mask = mx.array(
        [[float(j < len(page.ids) - page.answer_start) for j in range(span)] for page in batch]
    )
    return logits, targets, mask
