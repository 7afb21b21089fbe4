"""Read the model's answer text as labels, checked against the ontology; never raises.

The model answers `{"Area": [...], "Scope": [...], "Ability": [...]}` or
`{"Error": "UnsupportedMaterial"}`. Tolerated: code fences and prose around the object,
keys in any order and case, the plural keys of older prompts (Areas, Scopes, Abilities),
a single string instead of a list, and terms written as IRIs (edu#Term, edu:Term).
Ignored, with a note in `detail`: other keys, non-string items, repeated terms, and a
dimension whose value is neither a list nor a string. When an Error key is present it decides
the outcome.

`page_prediction` turns one page's answer into its prediction; the local engine and the remote
one both call it, so both check labels and score confidence the same way. No MLX here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlx_edugraph.labels.confidence import span_confidence
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import LoadedWorksheet
from mlx_edugraph.prediction import (
    DIMENSION_KEYS,
    DIMENSIONS,
    Label,
    Outcome,
    Prediction,
    Provenance,
    TermStatus,
    Timings,
)

UNSUPPORTED = "UnsupportedMaterial"
_KEYS = {**DIMENSION_KEYS, "error": "Error"}
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")

_Item = tuple[object, int, int]
"""A decoded JSON value and the [start, end) of its source text in the answer."""


@dataclass
class _Member:
    """One key of the answer object: its value's items and the value's source span."""

    key: str
    items: list[_Item]
    start: int
    end: int

    @property
    def kind(self) -> str | None:
        """Area, Scope, Ability, Error, or None for a key the answer format lacks."""
        return _KEYS.get(self.key.strip().lower())


@dataclass
class ParsedAnswer:
    """The labels read from one answer, or why there are none."""

    outcome: Outcome
    labels: list[Label] = field(default_factory=list)
    spans: list[tuple[int, int] | None] = field(default_factory=list)
    """Parallel to `labels`: where the term's characters sit in the text (None if escaped)."""
    detail: str | None = None
    """Why the answer is not labeled, or which parts of a labeled answer were ignored."""


def parse_answer(text: str, ontology: Ontology | None, *, truncated: bool = False) -> ParsedAnswer:
    """Labels from the first JSON object in `text` that has an Area, Scope, Ability or Error key.

    `truncated` says the decoder hit its token bound: the answer is then "truncated" even if
    it looks complete, since the model had not finished. Without an ontology every term is
    "unverified".
    """
    if truncated:
        return ParsedAnswer("truncated", detail="the answer hit the token bound")
    regions, unfinished = _top_level_objects(text)
    problem = None
    for start, end in regions:
        try:
            json.loads(text[start:end])
            members = _members(text, start)
        except (ValueError, RecursionError) as exc:
            problem = problem or f"invalid JSON at offset {start}: {exc}"
            continue
        if any(member.kind for member in members):
            return _read(text, members, ontology)
        problem = problem or "a JSON object without Area, Scope, Ability or Error keys"
    if unfinished:
        return ParsedAnswer("truncated", detail="the answer ends inside an unfinished JSON object")
    return ParsedAnswer("unparseable", detail=problem or "no JSON object in the answer")


def answer_end(text: str) -> int | None:
    """Index just past the first closed top-level JSON object: where decoding can stop."""
    regions, _ = _top_level_objects(text)
    return regions[0][1] if regions else None


def _top_level_objects(text: str) -> tuple[list[tuple[int, int]], bool]:
    """[start, end) of each balanced top-level {...}, and whether the text ends inside one.

    Quotes count only inside braces, so prose apostrophes and quotes cannot hide an object.
    """
    regions = []
    depth = start = 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"' and depth:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                regions.append((start, index + 1))
    return regions, depth > 0


def _skip_space(text: str, index: int) -> int:
    return _SPACE.match(text, index).end()


def _members(text: str, start: int) -> list[_Member]:
    """The members of the object at `start`, each list value split into its items.

    The object must be valid JSON (checked by the caller), so the walk needs no checks.
    """
    members = []
    index = _skip_space(text, start + 1)
    while text[index] != "}":
        key, index = _DECODER.raw_decode(text, index)
        value_start = index = _skip_space(text, _skip_space(text, index) + 1)  # past the colon
        if text[index] == "[":
            items: list[_Item] = []
            index = _skip_space(text, index + 1)
            while text[index] != "]":
                value, end = _DECODER.raw_decode(text, index)
                items.append((value, index, end))
                index = _skip_space(text, end)
                if text[index] == ",":
                    index = _skip_space(text, index + 1)
            index += 1
        else:
            value, index = _DECODER.raw_decode(text, index)
            items = [(value, value_start, index)]
        members.append(_Member(key, items, value_start, index))
        index = _skip_space(text, index)
        if text[index] == ",":
            index = _skip_space(text, index + 1)
    return members


def _read(text: str, members: list[_Member], ontology: Ontology | None) -> ParsedAnswer:
    """Labels from an object's members, or the outcome its Error key names."""
    for member in members:
        if member.kind == "Error":
            value = member.items[0][0] if len(member.items) == 1 else None
            if isinstance(value, str) and value.strip().lower() == UNSUPPORTED.lower():
                return ParsedAnswer("unsupported")
            error = text[member.start : member.end][:80]
            return ParsedAnswer("unparseable", detail=f"the model answered an error: {error}")

    notes: list[str] = []
    found: dict[str, dict[str, tuple[int, int] | None]] = {}
    for member in members:
        dimension = member.kind
        if dimension is None:
            notes.append(f"ignored key {member.key!r}")
            continue
        if text[member.start] != "[" and not isinstance(member.items[0][0], str):
            got = text[member.start : member.end][:60]
            notes.append(f"{dimension}: expected a list of terms, got {got}")
            continue
        terms = found.setdefault(dimension, {})
        for value, start, end in member.items:
            term, offset = _term(value) if isinstance(value, str) else ("", 0)
            if not term:
                notes.append(f"{dimension}: skipped {text[start:end][:60]}")
                continue
            if term in terms:  # the first occurrence wins
                notes.append(f"{dimension}: dropped repeated {term!r}")
                continue
            unescaped = text[start + 1 : end - 1] == value
            span = (start + 1 + offset, start + 1 + offset + len(term)) if unescaped else None
            terms[term] = span
    if not found:
        return ParsedAnswer("unparseable", detail="; ".join(notes))

    answer = ParsedAnswer("labeled", detail="; ".join(notes) or None)
    for dimension in DIMENSIONS:
        terms = found.get(dimension, {})
        implied: set[str] = set()
        if ontology is not None:
            for term in terms:
                implied |= ontology.ancestors(term) & terms.keys()
        for term, span in terms.items():
            status = _status(term, dimension, ontology)
            answer.labels.append(Label(term, dimension, status=status, implied=term in implied))
            answer.spans.append(span)
    return answer


def _term(value: str) -> tuple[str, int]:
    """The term named by a list item, and its offset in the item: IRIs and prefixed names
    (http://edugraph.io/edu#Term, edu:Term) name their last part."""
    stripped = value.strip()
    cut = max(stripped.rfind("#"), stripped.rfind("/"), stripped.rfind(":")) + 1
    return stripped[cut:], len(value) - len(value.lstrip()) + cut


def _status(term: str, dimension: str, ontology: Ontology | None) -> TermStatus:
    if ontology is None:
        return "unverified"
    actual = ontology.dimension_of(term)
    if actual is None:
        return "unknown"
    return "known" if actual == dimension else "wrong_dimension"


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
