"""From a model's answer for one page to the page's prediction; shared by the local engine and
the remote one, so both check labels and score confidence the same way. No MLX here."""

from __future__ import annotations

from collections.abc import Sequence

from .answer import parse_answer
from .confidence import span_confidence
from .ontology import Ontology
from .prediction import Prediction, Provenance, Timings
from .worksheets import LoadedWorksheet

DEFAULT_MAX_TOKENS = 256
"""A guard, not a budget: the longest real answers are well under 100 tokens."""


def page_prediction(
    sheet: LoadedWorksheet,
    text: str,
    *,
    truncated: bool,
    ontology: Ontology | None,
    token_ends: Sequence[int] | None,
    logprobs: Sequence[float],
    timings: Timings,
    provenance: Provenance,
) -> Prediction:
    """Labels checked against the ontology, each with the probability of the tokens spelling
    it (`token_ends`: each answer token's end offset in `text`; None when there are none)."""
    parsed = parse_answer(text, ontology, truncated=truncated)
    for label, span in zip(parsed.labels, parsed.spans, strict=True):
        label.confidence = span_confidence(span, token_ends, logprobs) if token_ends else None
    return Prediction(
        path=str(sheet.ref.path),
        page=sheet.ref.page,
        sha256=sheet.sha256,
        outcome=parsed.outcome,
        labels=parsed.labels,
        raw_text=text,
        error=parsed.detail if parsed.outcome != "labeled" else None,
        notes=parsed.detail if parsed.outcome == "labeled" else None,
        image_size=sheet.image.size,
        timings=timings,
        provenance=provenance,
    )
