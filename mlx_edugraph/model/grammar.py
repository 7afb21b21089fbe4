"""Constrained decoding: the answer grammar, an llguidance matcher per worksheet, a token mask.

The grammar admits exactly the answers the model was trained to give:
`{"Area": [...], "Scope": [...], "Ability": [...]}` with the three keys in any order and known
terms of the right dimension, or `{"Error": "UnsupportedMaterial"}`; whitespace between tokens
is free, as in JSON. Without an ontology (offline on first run) the terms are any JSON strings:
the answer still has the shape the parser reads, and the terms stay "unverified".

The mask is applied with MLX ops (`mx.where` over the unpacked bitmask), which run on every
backend; mlx-vlm's Metal kernel is used where Metal exists (see `vlm.apply_token_mask`).
"""

from __future__ import annotations

import json
import time
from itertools import permutations
from typing import Any

import mlx.core as mx

from mlx_edugraph.labels.answer import UNSUPPORTED
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS

ANY_TERM = r'/"([^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/'
"""A JSON string: the term rule when no ontology is at hand."""

MAX_SPACE = 8
"""Most whitespace characters between two JSON tokens of an answer."""


def _literal(text: str) -> str:
    """A Lark string literal matching the JSON text of `text` (quotes included; non-ASCII
    characters as themselves, the way a model writes them)."""
    return json.dumps(json.dumps(text, ensure_ascii=False), ensure_ascii=False)


def answer_grammar(ontology: Ontology | None) -> str:
    """The Lark grammar of a valid answer, with the ontology's terms when there is one.

    Whitespace goes wherever JSON allows it, at most `MAX_SPACE` characters at a time: a
    free-running model must not spend its token budget on blank space.
    """
    comma = ' _s? "," _s? '
    members = " | ".join(comma.join(order) for order in permutations(d.lower() for d in DIMENSIONS))
    lines = [
        'start: "{" _s? (members | error) _s? "}"',
        f"members: {members}",
        f'error: {_literal("Error")} _s? ":" _s? {_literal(UNSUPPORTED)}',
    ]
    for dimension in DIMENSIONS:
        rule = dimension.lower()
        items = f"{rule}_term ({comma}{rule}_term)*"
        lines.append(f'{rule}: {_literal(dimension)} _s? ":" _s? "[" _s? ({items})? _s? "]"')
        terms = sorted(ontology.terms_of(dimension)) if ontology is not None else []
        alternatives = " | ".join(_literal(term) for term in terms) or ANY_TERM
        lines.append(f"{rule}_term: {alternatives}")
    lines.append(f"_s: /[ \\t\\r\\n]{{1,{MAX_SPACE}}}/")
    return "\n".join(lines) + "\n"


def token_mask(logits: mx.array, bitmask: mx.array) -> mx.array:
    """`logits` with every token whose bit is 0 in the packed int32 `bitmask` set to -inf.

    Portable: plain MLX ops, so it runs on the CPU backend too. Tokens past the bitmask (the
    embedding's padding rows beyond the tokenizer's vocabulary) are disallowed.
    """
    vocab = logits.shape[-1]
    shifts = mx.arange(32, dtype=mx.uint32)
    words = bitmask.astype(mx.uint32)
    bits = ((words[..., None] >> shifts) & 1).reshape(*bitmask.shape[:-1], -1)
    allowed = bits[..., :vocab].astype(mx.bool_)
    if allowed.shape[-1] < vocab:
        pad = [(0, 0)] * (allowed.ndim - 1) + [(0, vocab - allowed.shape[-1])]
        allowed = mx.pad(allowed, pad, constant_values=False)
    return mx.where(allowed, logits, mx.array(-mx.inf, dtype=logits.dtype))


class Grammar:
    """The answer grammar compiled for one tokenizer: built once per loaded model."""

    def __init__(self, tokenizer: Any, vocab_size: int, ontology: Ontology | None):
        import llguidance

        backend = getattr(tokenizer, "backend_tokenizer", None) or tokenizer._tokenizer
        self.llg_tokenizer = llguidance.LLTokenizer(
            backend.to_str(),
            n_vocab=vocab_size,
            eos_token=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        )
        self.vocab_size = vocab_size
        self.text = answer_grammar(ontology)
        self.compiled = llguidance.LLMatcher.grammar_from_lark(self.text)
        self._matcher_class = llguidance.LLMatcher
        matcher = self.matcher()
        if matcher.is_error():
            raise ValueError(f"answer grammar rejected: {matcher.get_error()}")

    def matcher(self) -> Any:
        """A new matcher at the start of an answer (a matcher that erred stays in error)."""
        return self._matcher_class(self.llg_tokenizer, self.compiled, log_level=0)

    def state(self, apply_mask: Any, *, fast_forward: bool = True) -> GrammarState:
        """A fresh position at the start of one worksheet's answer."""
        return GrammarState(self.matcher(), self.vocab_size, apply_mask, fast_forward)

    def masks_along(self, token_ids: list[int]) -> Any:
        """The packed bitmask of the tokens allowed before each of `token_ids` (an answer and
        its end, as reviewed): what constrained decoding lets the model choose from there.
        From the first token the grammar does not take on, every token is allowed."""
        import llguidance.numpy
        import numpy as np

        masks = llguidance.numpy.allocate_token_bitmask(len(token_ids), self.vocab_size)
        matcher = self.matcher()
        for index, token in enumerate(token_ids):
            if matcher.is_stopped() or matcher.is_error():
                break
            llguidance.numpy.fill_next_token_bitmask(matcher, masks, index)
            if not matcher.consume_token(token):
                masks[index:] = -1
                break
        return np.ascontiguousarray(masks)

    def accepts(self, token_ids: list[int]) -> bool:
        """True when the tokens spell a complete valid answer (for tests and checks)."""
        matcher = self.matcher()
        return matcher.consume_tokens(token_ids) and matcher.is_accepting()


class GrammarState:
    """One answer's position in the grammar: the mask for the next token, and the tokens the
    grammar forces after it.

    Forced tokens (the rest of a term once its first tokens name it, the other keys' names)
    are the only text the grammar allows, so the decoder feeds them to the model in one
    forward pass instead of one pass each: the same answer text with fewer passes. Seconds
    spent in llguidance are kept in `host_s` (our overhead, not the model's).
    """

    def __init__(self, matcher: Any, vocab_size: int, apply_mask: Any, fast_forward: bool):
        import llguidance.numpy

        self._matcher = matcher
        self._fill = llguidance.numpy.fill_next_token_bitmask
        self._bitmask = llguidance.numpy.allocate_token_bitmask(1, vocab_size)
        self._apply_mask = apply_mask
        self._fast_forward = fast_forward
        self.host_s = 0.0

    def mask(self, logits: mx.array) -> mx.array:
        """`logits` with every token the grammar does not allow next set to -inf."""
        started = time.perf_counter()
        self._fill(self._matcher, self._bitmask)
        masked = self._apply_mask(logits, mx.array(self._bitmask))
        self.host_s += time.perf_counter() - started
        return masked

    def advance(self, token: int) -> list[int]:
        """Take the chosen `token`; return the tokens the grammar now forces (taken too)."""
        started = time.perf_counter()
        if not self._matcher.consume_token(token):
            raise ValueError(f"grammar matcher error: {self._matcher.get_error()}")
        forced = self._matcher.compute_ff_tokens() if self._fast_forward else []
        if forced and not self._matcher.consume_tokens(forced):
            raise ValueError(f"grammar matcher error: {self._matcher.get_error()}")
        self.host_s += time.perf_counter() - started
        return forced
