"""Per-term confidence from the generation's token log-probabilities.

With greedy decoding, the probability the model gave a term is the product of the
probabilities of the tokens that spell it, each given everything before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def token_offsets(tokens: Sequence[int], decode: Callable[[list[int]], str]) -> list[int]:
    """The end offset in the decoded text of each token (decoded cumulatively, so merges and
    multi-byte characters land where the full decode puts them)."""
    return [len(decode(list(tokens[: i + 1]))) for i in range(len(tokens))]


def span_confidence(
    span: tuple[int, int] | None, ends: Sequence[int], logprobs: Sequence[float]
) -> float | None:
    """Probability of the tokens overlapping the character span [start, end)."""
    if span is None:
        return None
    start, end = span
    total = 0.0
    found = False
    begin = 0
    for token_end, logprob in zip(ends, logprobs, strict=False):
        if token_end > start and begin < end:
            total += logprob
            found = True
        begin = token_end
        if begin >= end:
            break
    return math.exp(total) if found else None
