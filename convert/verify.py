"""Does the converted model compute what the checkpoint computes? Measured on sample worksheets.

The unquantized checkpoint answers each page greedily; then both models read that same answer
(teacher forcing) and their next-token distributions are compared at every answer position:
top-1 agreement and mean KL(unquantized || converted). The two models are loaded one after the
other, so memory holds only one of them.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from .adapter import Adapter, merge_adapter
from .errors import ConvertError
from .quantization import cast

SAMPLE_KINDS = ("addition", "counting", "picture")
"""A worksheet with text, one with pictures to count, and a page that is not a worksheet."""
MAX_ANSWER_TOKENS = 48
"""Enough for a typical EduGraph answer (~40 tokens)."""
LOW_AGREEMENT = 0.9


@dataclass(frozen=True)
class Verification:
    """Agreement of the converted model with the unquantized one on sample worksheets."""

    pages: int
    tokens: int
    top1_agreement: float
    mean_kl: float
    max_kl: float
    seconds: float

    @property
    def warning(self) -> str | None:
        """Advice when the converted model often disagrees; None when it agrees."""
        if self.top1_agreement < LOW_AGREEMENT:
            return (
                f"top-1 agreement {self.top1_agreement:.1%} is low: the quantized model "
                "often picks a different token; consider more bits or --awq"
            )
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def sample_pages(max_pixels: int) -> list[Image.Image]:
    """The verification pages, drawn and resolution-capped as `label` would see them."""
    from mlx_edugraph.samples import make_worksheet
    from mlx_edugraph.worksheets import cap_pixels

    return [
        cap_pixels(make_worksheet(kind, seed=i), max_pixels) for i, kind in enumerate(SAMPLE_KINDS)
    ]


def answer_logprobs(model: Any, encoded: Any, answer: list[int]) -> Any:
    """Log-probabilities (len(answer) x vocab, float32) the model gives each answer token's
    position, reading the prompt and the answer so far (teacher forcing)."""
    import mlx.core as mx

    prompt_len = encoded.input_ids.shape[1]
    ids = encoded.input_ids
    if len(answer) > 1:
        ids = mx.concatenate([ids, mx.array([answer[:-1]], dtype=ids.dtype)], axis=1)
    logits = model(ids, encoded.pixel_values, **encoded.extra).logits
    logits = logits[0, prompt_len - 1 : prompt_len - 1 + len(answer)].astype(mx.float32)
    return logits - mx.logsumexp(logits, axis=-1, keepdims=True)


def verify_model(
    converted: Path, reference: Path, *, adapter: Adapter | None, dtype: str, max_pixels: int
) -> Verification:
    """Compare the model in `converted` with the checkpoint in `reference` (+ `adapter`), cast
    to the converted model's `dtype` so that the comparison measures quantization alone."""
    import mlx.core as mx

    from mlx_edugraph import vlm

    started = time.perf_counter()
    pages = sample_pages(max_pixels)
    ref = vlm.load(str(reference))
    if adapter is not None:
        merge_adapter(ref.model, adapter)
    cast(ref.model, dtype)
    prompt = vlm.render_prompt(ref)
    stops = ref.stop_token_ids
    answers, expected = [], []
    for page in pages:
        encoded = vlm.encode(ref, prompt, page)
        answer = []
        for step in vlm.generate(ref, encoded, max_tokens=MAX_ANSWER_TOKENS):
            answer.append(step.token)
            if step.token in stops:
                break
        logprobs = answer_logprobs(ref.model, encoded, answer)
        mx.eval(logprobs)
        answers.append(answer)
        expected.append(logprobs)
    del ref
    gc.collect()
    mx.clear_cache()

    try:
        model = vlm.load(str(converted))
        agree = tokens = 0
        kls = []
        for page, answer, ref_lp in zip(pages, answers, expected, strict=True):
            encoded = vlm.encode(model, vlm.render_prompt(model), page)
            got = answer_logprobs(model.model, encoded, answer)
            kl = mx.sum(mx.exp(ref_lp) * (ref_lp - got), axis=-1)
            same = mx.argmax(got, axis=-1) == mx.argmax(ref_lp, axis=-1)
            mx.eval(kl, same)
            agree += int(same.sum().item())
            tokens += len(answer)
            kls.extend(kl.tolist())
    except Exception as exc:
        raise ConvertError(
            f"the converted model does not load or run: {type(exc).__name__}: {exc}"
        ) from exc
    if not all(math.isfinite(value) for value in kls):
        raise ConvertError("the converted model produces non-finite logits (NaN or inf)")
    return Verification(
        len(pages),
        tokens,
        agree / tokens,
        sum(kls) / len(kls),
        max(kls),
        time.perf_counter() - started,
    )
