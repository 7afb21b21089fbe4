"""A person's review of one worksheet page: the labels they confirmed or corrected.

Reviews are ground truth about the worksheet, not about a model: they are keyed by the page's
content (SHA-256 + page number), and remember which model's prediction they started from.
The predicted labels stay in the store untouched beside them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from mlx_edugraph.prediction import DIMENSIONS, Prediction

ReviewStatus = Literal["accepted", "corrected", "flagged"]
"""accepted: the predicted labels are right; corrected: the person changed them;
flagged: set aside for a second look (the labels are not yet ground truth)."""


@dataclass
class Review:
    """The labels a person settled on for one worksheet page."""

    sha256: str
    page: int
    path: str
    status: ReviewStatus
    labels: dict[str, list[str]] = field(default_factory=lambda: {d: [] for d in DIMENSIONS})
    model_fingerprint: str = ""
    """The model whose prediction the review started from."""
    unsupported: bool = False
    """The person agrees the page is not K-4 math material (no labels)."""
    note: str = ""
    updated_at: str = ""
    reviewer: str = ""
    """Who made it, where known (a Label Studio annotator)."""
    origin: str = ""
    """Where it was made, when not in this tool (e.g. "label-studio task 12 annotation 30")."""
    unknown_terms: list[str] = field(default_factory=list)
    """Terms the ontology lacked when the review came in: kept, and flagged here."""

    @property
    def is_truth(self) -> bool:
        """Accepted and corrected reviews are ground truth; flagged ones are not yet."""
        return self.status in ("accepted", "corrected")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> Review:
        labels = record.get("labels") or {}
        return cls(**{**record, "labels": {d: list(labels.get(d, [])) for d in DIMENSIONS}})


def predicted_labels(prediction: Prediction) -> dict[str, list[str]]:
    """A prediction's terms per dimension, in the order the model emitted them."""
    return {dimension: prediction.terms(dimension) for dimension in DIMENSIONS}


def review_from(prediction: Prediction, status: ReviewStatus, labels=None) -> Review:
    """A review of `prediction`: its own labels unless `labels` are given; `corrected` when
    the given labels differ from the predicted ones."""
    predicted = predicted_labels(prediction)
    chosen = {d: list((labels or predicted).get(d, [])) for d in DIMENSIONS}
    if status == "accepted" and chosen != predicted:
        status = "corrected"
    return Review(
        sha256=prediction.sha256,
        page=prediction.page,
        path=prediction.path,
        status=status,
        labels=chosen,
        model_fingerprint=prediction.provenance.model_fingerprint,
        unsupported=prediction.outcome == "unsupported" and not any(chosen.values()),
    )
