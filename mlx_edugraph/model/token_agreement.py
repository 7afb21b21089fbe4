"""Do two models compute the same thing? Teacher-forced agreement over answer tokens.

The reference model answers each page greedily; then both models read that same answer and
their next-token distributions are compared at every answer position: top-1 agreement and
KL(reference || candidate). Shared by the converter's verification and `eval --compare`.
Callers load the two models one after the other, so memory holds only one of them; the
reference's log-probabilities (answer length x vocabulary, float32) are kept in between.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image

from mlx_edugraph.model import vlm

MAX_ANSWER_TOKENS = 48
"""Enough for a typical EduGraph answer (~40 tokens)."""


class NonFiniteLogits(ValueError):
    """The candidate model computes NaN or inf: a broken conversion."""


@dataclass(frozen=True)
class ReferenceAnswer:
    """The reference model's greedy answer to one page and its log-probabilities."""

    tokens: list[int]
    logprobs: Any


@dataclass(frozen=True)
class TokenAgreement:
    """Agreement of a candidate model with the reference, over answer tokens."""

    pages: int
    tokens: int
    top1_agreement: float
    mean_kl: float
    max_kl: float

    def to_dict(self) -> dict:
        return asdict(self)


def answer_logprobs(model: Any, encoded: vlm.Encoded, answer: list[int]) -> Any:
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


def reference_answers(
    reference: vlm.VLM,
    prompt: str,
    pages: Sequence[Image.Image],
    *,
    max_tokens: int = MAX_ANSWER_TOKENS,
) -> list[ReferenceAnswer]:
    """Greedy answers (up to and including the end-of-turn token) and their log-probabilities."""
    import mlx.core as mx

    stops = reference.stop_token_ids
    answers = []
    for page in pages:
        encoded = vlm.encode(reference, prompt, page)
        answer: list[int] = []
        for step in vlm.generate(reference, encoded, max_tokens=max_tokens):
            answer.append(step.token)
            if step.token in stops:
                break
        logprobs = answer_logprobs(reference.model, encoded, answer)
        mx.eval(logprobs)
        answers.append(ReferenceAnswer(answer, logprobs))
    return answers


def token_agreement(
    candidate: vlm.VLM,
    prompt: str,
    pages: Sequence[Image.Image],
    references: Sequence[ReferenceAnswer],
) -> TokenAgreement:
    """Top-1 agreement and KL(reference || candidate) at every reference answer position.

    Raises NonFiniteLogits when the candidate's log-probabilities are NaN or inf.
    """
    import mlx.core as mx

    agree = tokens = 0
    kls: list[float] = []
    for page, reference in zip(pages, references, strict=True):
        encoded = vlm.encode(candidate, prompt, page)
        got = answer_logprobs(candidate.model, encoded, reference.tokens)
        expected = reference.logprobs
        kl = mx.sum(mx.exp(expected) * (expected - got), axis=-1)
        same = mx.argmax(got, axis=-1) == mx.argmax(expected, axis=-1)
        mx.eval(kl, same)
        agree += int(same.sum().item())
        tokens += len(reference.tokens)
        kls.extend(kl.tolist())
    if not all(math.isfinite(value) for value in kls):
        raise NonFiniteLogits("the model produces non-finite logits (NaN or inf)")
    return TokenAgreement(
        len(pages),
        tokens,
        agree / tokens if tokens else 0.0,
        sum(kls) / len(kls) if kls else 0.0,
        max(kls, default=0.0),
    )
