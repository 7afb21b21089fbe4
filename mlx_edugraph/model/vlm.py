"""The seam to mlx-vlm for inference: loading, prompt rendering, input preparation, decoding.

mlx-vlm changes fast; every inference call into it lives here, so an upgrade touches few
modules: the naive baseline the benchmarks run is `vlm_baseline`, adapter training is
`vlm_training`, conversion is `mlx_edugraph.convert`'s backend. Imported lazily: MLX is heavy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

# Importing the model package registers its torch-free processor with transformers; without
# it `load_processor` fails with "Unrecognized image processor" (mlx-vlm 0.7.10).
import mlx_vlm.models.qwen3_vl  # noqa: F401
import numpy as np
from mlx_vlm.generate import generate_step
from mlx_vlm.models.cache import make_prompt_cache
from mlx_vlm.utils import load as _load
from mlx_vlm.utils import prepare_inputs, should_add_special_tokens
from PIL import Image

USER_TURN = [{"role": "user", "content": [{"type": "image"}]}]
"""What the model was trained with: the image alone, no system message (the template adds it)."""


@dataclass
class VLM:
    """A loaded model and its processor."""

    model: Any
    processor: Any
    path: str

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def image_token_id(self) -> int:
        return self.model.config.image_token_index

    @property
    def stop_token_ids(self) -> set[int]:
        """End-of-turn tokens: the config's EOS ids, the tokenizer's, and <|im_end|>."""
        ids = set()
        configured = getattr(self.model.config, "eos_token_id", None)
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        for token in ("<|im_end|>", "<|endoftext|>"):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id:
                ids.add(token_id)
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids


@dataclass
class Encoded:
    """One prompt + image, tokenized and preprocessed."""

    input_ids: Any
    pixel_values: Any
    mask: Any
    extra: dict = field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return int(self.input_ids.shape[-1])


def load(path_or_repo: str, adapter: Path | None = None) -> VLM:
    """Load an MLX model folder or Hugging Face repo id, with a LoRA `adapter` folder (written
    by `vlm_training.AdapterTraining.save`) on top if given. Remote code is never run: a model
    that asks for it is refused (`RemoteCodeRefused`)."""
    from mlx_vlm.utils import get_model_path

    from mlx_edugraph.model.remote_code import refuse_remote_code

    refuse_remote_code(get_model_path(path_or_repo), str(path_or_repo))
    model, processor = _load(
        path_or_repo, adapter_path=str(adapter) if adapter else None, trust_remote_code=False
    )
    model.eval()
    return VLM(model, processor, str(path_or_repo))


def chat_template(vlm: VLM) -> str:
    """The checkpoint's own chat template text (the EduGraph prompt lives in it)."""
    template = getattr(vlm.processor, "chat_template", None) or vlm.tokenizer.chat_template
    if not template:
        raise ValueError(f"{vlm.path} has no chat template; it is not an EduGraph model")
    return template


def render_prompt(vlm: VLM, *, template: str | None = None, system: str | None = None) -> str:
    """The full prompt text for one worksheet, rendered by the checkpoint's own template.

    A base model's template lacks the EduGraph prompt: `template` renders with another one
    (the fine-tune's), `system` sends the prompt text as the system turn instead."""
    turns = ([{"role": "system", "content": system}] if system else []) + USER_TURN
    return vlm.tokenizer.apply_chat_template(
        turns,
        chat_template=template or chat_template(vlm),
        tokenize=False,
        add_generation_prompt=True,
    )


def encode(vlm: VLM, prompt: str, image: Image.Image) -> Encoded:
    """Tokenize the prompt and preprocess the (already resolution-capped) image."""
    inputs = prepare_inputs(
        vlm.processor,
        images=[image],
        prompts=prompt,
        image_token_index=vlm.image_token_id,
        add_special_tokens=should_add_special_tokens(vlm.model.config.model_type, vlm.processor),
    )
    extra = {
        key: value
        for key, value in inputs.items()
        if key not in ("input_ids", "pixel_values", "attention_mask")
    }
    return Encoded(
        inputs["input_ids"], inputs.get("pixel_values"), inputs.get("attention_mask"), extra
    )


def visual_tokens(vlm: VLM, encoded: Encoded) -> int:
    """How many image placeholder tokens the prompt carries."""
    return int((encoded.input_ids == vlm.image_token_id).sum().item())


@dataclass
class Step:
    """One generated token, with its log-probability and the time it became available."""

    token: int
    logprob: float
    at: float
    forced: bool = False
    """The grammar allowed nothing else: it came out of another token's forward pass."""


@dataclass
class Prefix:
    """The KV cache of the prompt's shared prefix: the system turn up to `<|vision_start|>`.

    Every worksheet's prompt starts with the same tokens, so their keys and values are
    computed once per loaded model; each worksheet trims the cache back to them.
    """

    tokens: list[int]
    cache: list[Any]

    def fits(self, encoded: Encoded) -> bool:
        """True when `encoded` starts with exactly these tokens (then the cache applies)."""
        count = len(self.tokens)
        return encoded.prompt_tokens > count and encoded.input_ids[0, :count].tolist() == (
            self.tokens
        )


def prefix_length(vlm: VLM, encoded: Encoded) -> int:
    """Where the image block starts: everything before it is the same for every worksheet."""
    start = vlm.model.config.vision_start_token_id
    ids = encoded.input_ids[0].tolist()
    return ids.index(start) if start in ids else 0


def build_prefix(vlm: VLM, encoded: Encoded) -> Prefix | None:
    """Run the prompt's text prefix through the language model once and keep its KV cache.

    None when the prompt has no text before the image (nothing to reuse).
    """
    count = prefix_length(vlm, encoded)
    if count == 0:
        return None
    language = vlm.model.language_model
    _reset_rope_state(language)
    # The prefix's mRoPE positions are the full prompt's first columns (plain text: 0..P-1).
    positions, _ = language.get_rope_index(
        encoded.input_ids, encoded.extra.get("image_grid_thw"), None, encoded.mask
    )
    cache = make_prompt_cache(language)
    # Only the cache is evaluated: the logits of the prefix rows are never computed.
    language(encoded.input_ids[:, :count], cache=cache, position_ids=positions[..., :count])
    mx.eval([entry.state for entry in cache])
    return Prefix(encoded.input_ids[0, :count].tolist(), cache)


class _AfterPrefix:
    """The model as `generate_step` sees it when the prompt's first P tokens are cached.

    mlx-vlm 0.7.10 builds `visual_pos_masks` from the suffix it is given but, in chunked
    prefill, slices it at the absolute cache offset; the deepstack visual features then land
    on the wrong tokens. Left-padding the mask by P makes the slices line up again.
    """

    def __init__(self, model: Any, prefix_tokens: int):
        self._model = model
        self._prefix_tokens = prefix_tokens

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def get_input_embeddings(self, input_ids: Any, pixel_values: Any, **kwargs: Any) -> Any:
        features = self._model.get_input_embeddings(input_ids, pixel_values, **kwargs)
        masks = features.visual_pos_masks
        if masks is not None:
            pad = mx.zeros((masks.shape[0], self._prefix_tokens), dtype=masks.dtype)
            features.visual_pos_masks = mx.concatenate([pad, masks], axis=1)
        return features


def _reset_rope_state(language: Any) -> None:
    # Qwen3-VL's language model keeps the last prompt's mRoPE positions between calls.
    language._position_ids = None
    language._rope_deltas = None


class ImageStates:
    """The hidden states at the image tokens of one language-model depth, taken from the
    prefill itself: `generate` fills `rows` (image tokens x hidden size) once the prompt is in.

    `depth` d < layers means the residual stream entering layer d (0: the embeddings, the
    vision tower's output at the image tokens): the prefill computes those rows anyway, since
    layer d's keys and values are made from them. d == layers means the last layer's output,
    which chunked prefill never computes (it keeps only the caches): that costs one extra
    layer over the prompt rows.
    """

    def __init__(self, depth: int):
        self.depth = depth
        self.rows: np.ndarray | None = None
        """float32, one row per image token; None until the prefill ran."""
        self._parts: list[mx.array] = []

    def add(self, rows: mx.array) -> None:
        """Keep some image-token rows (lazy: gathered in `finish`)."""
        self._parts.append(rows)

    def finish(self) -> None:
        """Gather the collected rows (after the prefill)."""
        if self._parts:
            self.rows = np.asarray(mx.concatenate(self._parts, axis=0).astype(mx.float32))
            self._parts = []


def text_layers(vlm: VLM) -> int:
    """How many decoder layers the language model has."""
    return len(vlm.model.language_model.model.layers)


def hidden_size(vlm: VLM) -> int:
    """The width of the language model's hidden states."""
    return int(vlm.model.language_model.args.hidden_size)


class _Tap:
    """Stands in for one decoder layer and keeps its input (or output) rows at the image tokens.

    Rows are counted from the first call; the prefill's calls come first and cover the prompt
    in order, and decode calls fall past its image tokens.
    """

    def __init__(self, layer: Any, states: list[ImageStates], image_rows: Any, output: bool):
        self._layer = layer
        self._states = states
        self._image_rows = image_rows
        self._output = output
        self._seen = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)  # the model reads its first layer's rotary settings

    def __call__(self, h: mx.array, *args: Any, **kwargs: Any) -> mx.array:
        out = self._layer(h, *args, **kwargs)
        count = h.shape[1]
        window = self._image_rows[self._seen : self._seen + count]
        self._seen += count
        if window.any():
            picked = (out if self._output else h)[0, mx.array(window.nonzero()[0])]
            for states in self._states:
                states.add(picked)
        return out


@contextlib.contextmanager
def _tapped(vlm: VLM, input_ids: Any, states: list[ImageStates]) -> Iterator[None]:
    """Decoder layers wrapped in `_Tap`s for the depths `states` ask for, while inside."""
    layers = vlm.model.language_model.model.layers
    image_rows = np.asarray(input_ids[0]) == vlm.image_token_id
    originals = list(layers)
    by_depth: dict[int, list[ImageStates]] = {}
    for item in states:
        if not 0 <= item.depth <= len(layers):
            raise ValueError(f"depth {item.depth} outside 0..{len(layers)}")
        by_depth.setdefault(item.depth, []).append(item)
    try:
        for depth, asked in by_depth.items():
            index, output = (depth, False) if depth < len(layers) else (depth - 1, True)
            layers[index] = _Tap(layers[index], asked, image_rows, output)
        yield
    finally:
        layers[:] = originals


def generate(
    vlm: VLM,
    encoded: Encoded,
    *,
    max_tokens: int,
    prefix: Prefix | None = None,
    constraint: Any = None,
    states: Sequence[ImageStates] = (),
) -> Iterator[Step]:
    """Greedy decoding; the caller stops iterating when the answer is complete.

    `prefix` (which must fit `encoded`) skips the prompt's shared prefix. `constraint` (a
    `constrain.GrammarState`) masks each step's logits and names the tokens its grammar
    forces, which are fed in one forward pass. Log-probabilities are always the model's own,
    before any mask. Each of `states` gets its rows from the prefill before the first step
    (with `max_tokens=0`, the prefill alone runs).
    """
    if not states:
        yield from _generate(vlm, encoded, max_tokens, prefix, constraint, [])
        return
    suffix = encoded.input_ids[:, len(prefix.tokens) :] if prefix else encoded.input_ids
    with _tapped(vlm, suffix, list(states)):
        yield from _generate(vlm, encoded, max_tokens, prefix, constraint, list(states))


def _generate(
    vlm: VLM,
    encoded: Encoded,
    max_tokens: int,
    prefix: Prefix | None,
    constraint: Any,
    states: list[ImageStates],
) -> Iterator[Step]:
    language = vlm.model.language_model
    _reset_rope_state(language)
    input_ids, mask, model = encoded.input_ids, encoded.mask, vlm.model
    kwargs = dict(encoded.extra)
    if prefix is None:
        cache = make_prompt_cache(language)
    else:
        count = len(prefix.tokens)
        positions, deltas = language.get_rope_index(
            input_ids, kwargs.get("image_grid_thw"), None, mask
        )
        for entry in prefix.cache:
            entry.trim(entry.offset - count)
        cache = prefix.cache
        kwargs.update(position_ids=positions, rope_deltas=deltas)
        input_ids = input_ids[:, count:]
        mask = mask[:, count:] if mask is not None else None
        model = _AfterPrefix(vlm.model, count)
    if constraint is None:
        steps = generate_step(
            input_ids,
            model,
            encoded.pixel_values,
            mask,
            max_tokens=max_tokens,
            temperature=0.0,
            prompt_cache=cache,
            **kwargs,
        )
        first = True
        for token, logprobs in steps:
            if first:
                _finish(states)
                first = False
            yield Step(int(token), float(logprobs[token].item()), time.perf_counter())
        if first:
            _finish(states)
        return
    # mlx-vlm's loop feeds one token per pass; ours feeds forced tokens together. Its
    # prefill (vision tower, chunking, deepstack) runs with max_tokens=0: that fills the
    # cache with the prompt and hands the first logits only to the logits processors.
    first: list[mx.array] = []
    prefill = generate_step(
        input_ids,
        model,
        encoded.pixel_values,
        mask,
        max_tokens=0,
        temperature=0.0,
        prompt_cache=cache,
        logits_processors=[lambda _tokens, logits: first.append(logits) or logits],
        **kwargs,
    )
    for _ in prefill:
        pass
    _finish(states)
    logits, produced = first[0], 0
    while produced < max_tokens:
        token = int(mx.argmax(constraint.mask(logits), axis=-1).item())
        yield Step(token, float(_logprobs(logits)[0, token].item()), time.perf_counter())
        produced += 1
        if produced == max_tokens:
            return
        forced = constraint.advance(token)[: max_tokens - produced]
        rows = language(mx.array([[token, *forced]]), cache=cache).logits[0]
        if forced:
            chosen = mx.take_along_axis(
                _logprobs(rows[:-1]), mx.array(forced)[:, None], axis=-1
            ).tolist()
            at = time.perf_counter()
            for forced_token, (logprob,) in zip(forced, chosen, strict=True):
                yield Step(forced_token, logprob, at, forced=True)
            produced += len(forced)
        logits = rows[-1:]


def _finish(states: list[ImageStates]) -> None:
    for item in states:
        item.finish()


def _logprobs(logits: mx.array) -> mx.array:
    return logits - mx.logsumexp(logits, axis=-1, keepdims=True)


def apply_token_mask(logits: Any, bitmask: Any) -> Any:
    """Mask disallowed tokens: mlx-vlm's Metal kernel where Metal exists, else portable ops."""
    if mx.metal.is_available():
        # Importing this module compiles a Metal kernel: only where Metal exists.
        from mlx_vlm.structured import _apply_llguidance_mask

        return _apply_llguidance_mask(logits, bitmask)
    from mlx_edugraph.model.grammar import token_mask

    return token_mask(logits, bitmask)


def vocab_size(vlm: VLM) -> int:
    """Rows of the output layer: the length of every logits vector."""
    return int(vlm.model.language_model.model.embed_tokens.weight.shape[0])


def reset_peak_memory() -> None:
    mx.reset_peak_memory()


def peak_memory_gb() -> float:
    return mx.get_peak_memory() / 1e9


def decode(vlm: VLM, tokens: list[int]) -> str:
    return vlm.tokenizer.decode(tokens, skip_special_tokens=False)


def is_available(path: Path) -> bool:
    """True when a folder looks like an MLX model (config + weights)."""
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))
