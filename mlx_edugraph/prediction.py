"""The result of labeling one worksheet page: labels, outcome, timings and provenance."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

DIMENSIONS: tuple[str, ...] = ("Area", "Scope", "Ability")

DIMENSION_KEYS: dict[str, str] = {
    "area": "Area",
    "areas": "Area",
    "scope": "Scope",
    "scopes": "Scope",
    "ability": "Ability",
    "abilities": "Ability",
}
"""How answers and truth files may spell a dimension's key (any case; the plurals of older
prompts), lower-cased -> the dimension."""

Outcome = Literal["labeled", "unsupported", "unparseable", "truncated", "error"]
"""labeled: valid labels; unsupported: the model answered UnsupportedMaterial;
unparseable: text that is not the expected JSON; truncated: the token bound cut the answer;
error: the worksheet could not be read or run (see `error`)."""

TermStatus = Literal["known", "unknown", "wrong_dimension", "unverified"]
"""known: in the ontology under this dimension; unknown: not in the ontology;
wrong_dimension: in the ontology under another dimension; unverified: no ontology at hand."""


@dataclass
class Label:
    """One predicted term of one dimension."""

    term: str
    dimension: str
    status: TermStatus = "unverified"
    implied: bool = False
    """True when a descendant of this term is predicted too (the term adds no information)."""
    confidence: float | None = None
    """Probability of the term's tokens given the answer so far (greedy decoding)."""


@dataclass
class Timings:
    """Where the seconds of one worksheet went."""

    prompt_tokens: int = 0
    visual_tokens: int = 0
    prefill_s: float = 0.0
    generated_tokens: int = 0
    decode_passes: int = 0
    """Forward passes after the first token; fewer than `generated_tokens` - 1 when the
    grammar forced tokens (see `constrain.GrammarState`)."""
    decode_tps: float = 0.0
    total_s: float = 0.0
    peak_memory_gb: float = 0.0
    forward_s: float = 0.0
    """Seconds inside the model's forward passes (vision, prefill, decode); the rest of
    `total_s` is our own work: preprocessing, detokenizing, stop checks, the grammar mask."""


@dataclass
class Provenance:
    """Which model, ontology and prompt produced a prediction."""

    model: str = ""
    model_fingerprint: str = ""
    ontology_version: str = ""
    prompt_version: str = ""
    server: str = ""
    """The server that answered (`label --server`), without credentials; "" when local."""
    model_version: str = ""
    """"base" or the tuned version ("v2") of the model that made it; "" before versions."""


@dataclass
class Prediction:
    """Everything known about one worksheet page after labeling it."""

    path: str
    page: int
    sha256: str
    outcome: Outcome
    labels: list[Label] = field(default_factory=list)
    raw_text: str = ""
    error: str | None = None
    notes: str | None = None
    """What the parser ignored or fixed in a labeled answer (extra keys, duplicates)."""
    image_size: tuple[int, int] | None = None
    """(width, height) of the image the model saw, after the resolution cap."""
    timings: Timings = field(default_factory=Timings)
    provenance: Provenance = field(default_factory=Provenance)
    embedding: Any = field(default=None, repr=False, compare=False)
    """The page's vector (numpy float16) pooled from the model's prefill, or None (servers
    return no hidden states). The store keeps it in its own table, not in the record."""
    signature: Any = field(default=None, repr=False, compare=False)
    """The page's `SheetSignature` (made on the loader thread), or None: kept, like the
    vector, in its own table."""

    def terms(self, dimension: str) -> list[str]:
        """Predicted terms of one dimension, in the order the model emitted them."""
        return [label.term for label in self.labels if label.dimension == dimension]

    @property
    def min_confidence(self) -> float | None:
        """The least certain label's confidence: the review queue's sort key."""
        values = [lab.confidence for lab in self.labels if lab.confidence is not None]
        return min(values) if values else None

    def to_dict(self) -> dict:
        """A JSON-ready dict (the JSONL export record)."""
        record = asdict(replace(self, embedding=None, signature=None))
        del record["embedding"], record["signature"]
        record["image_size"] = list(self.image_size) if self.image_size else None
        return record

    @classmethod
    def from_dict(cls, record: dict) -> Prediction:
        """Inverse of `to_dict`; also reads JSONL export records (their `answer` is derived)."""
        record = dict(record)
        record.pop("answer", None)
        record["labels"] = [Label(**lab) for lab in record.get("labels", [])]
        record["timings"] = Timings(**record.get("timings", {}))
        record["provenance"] = Provenance(**record.get("provenance", {}))
        size = record.get("image_size")
        record["image_size"] = tuple(size) if size else None
        return cls(**record)
