"""The seam to mlx-vlm for inference: loading, prompt rendering, input preparation, decoding.

mlx-vlm changes fast; every inference call into it lives here (conversion lives in
`mlx_edugraph.convert`), so an upgrade touches one module. Imported lazily: MLX is heavy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

# Importing the model package registers its torch-free processor with transformers; without
# it `load_processor` fails with "Unrecognized image processor" (mlx-vlm 0.7.10).
import mlx_vlm.models.qwen3_vl  # noqa: F401
from mlx_vlm.generate import generate_step
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


def load(path_or_repo: str) -> VLM:
    """Load an MLX model folder or Hugging Face repo id. Remote code is never run."""
    model, processor = _load(path_or_repo, trust_remote_code=False)
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


def generate(vlm: VLM, encoded: Encoded, *, max_tokens: int) -> Iterator[Step]:
    """Greedy decoding; the caller stops iterating when the answer is complete."""
    steps = generate_step(
        encoded.input_ids,
        vlm.model,
        encoded.pixel_values,
        encoded.mask,
        max_tokens=max_tokens,
        temperature=0.0,
        **encoded.extra,
    )
    for token, logprobs in steps:
        yield Step(int(token), float(logprobs[token].item()), time.perf_counter())


def reset_peak_memory() -> None:
    mx.reset_peak_memory()


def peak_memory_gb() -> float:
    return mx.get_peak_memory() / 1e9


def decode(vlm: VLM, tokens: list[int]) -> str:
    return vlm.tokenizer.decode(tokens, skip_special_tokens=False)


def is_available(path: Path) -> bool:
    """True when a folder looks like an MLX model (config + weights)."""
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))
