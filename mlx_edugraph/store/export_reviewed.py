"""Export the labels of a review session: the reviewed labels where a person settled them, the
predicted ones elsewhere, always saying which (JSONL, CSV; Label Studio tasks: `labelstudio`).

Writes are atomic (temp file + rename): a failed export leaves the previous file intact.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.paths import write_atomic
from mlx_edugraph.prediction import DIMENSIONS, Prediction
from mlx_edugraph.store.export_predictions import safe_cell
from mlx_edugraph.store.review import Review, predicted_labels
from mlx_edugraph.store.sqlite_store import Store

REVIEW_FORMATS = ("jsonl", "csv", "labelstudio")


@dataclass
class ReviewedPage:
    """One worksheet page's prediction and (if any) its review."""

    prediction: Prediction
    review: Review | None = None

    @property
    def source(self) -> str:
        """Where the final labels come from: corrected, accepted, flagged or predicted."""
        return self.review.status if self.review else "predicted"

    @property
    def labels(self) -> dict[str, list[str]]:
        """The final labels: the review's when a person settled them, else the prediction's."""
        if self.review is not None and self.review.is_truth:
            return self.review.labels
        return predicted_labels(self.prediction)

    def record(self) -> dict:
        """The JSON-ready export record, with provenance."""
        p = self.prediction
        return {
            "path": p.path,
            "page": p.page,
            "sha256": p.sha256,
            "outcome": p.outcome,
            "source": self.source,
            **self.labels,
            "predicted": predicted_labels(p),
            "min_confidence": p.min_confidence,
            "unknown_terms": [
                lab.term for lab in p.labels if lab.status in ("unknown", "wrong_dimension")
            ],
            "model": p.provenance.model,
            "model_fingerprint": p.provenance.model_fingerprint,
            "ontology_version": p.provenance.ontology_version,
            "reviewed_at": self.review.updated_at if self.review else None,
        }


def reviewed_pages(store: Store, model_fingerprint: str | None = None) -> Iterator[ReviewedPage]:
    """Every stored page (of one model's predictions, if given; else each page's newest) with
    its review, in path order."""
    newest: dict[tuple[str, int], Prediction] = {}
    for prediction in store.predictions(model_fingerprint):
        key = (prediction.sha256 or prediction.path, prediction.page)
        newest[key] = prediction  # predictions() is in path order; keep one per page
    for prediction in sorted(newest.values(), key=lambda p: (p.path, p.page)):
        review = store.review(prediction.sha256, prediction.page) if prediction.sha256 else None
        yield ReviewedPage(prediction, review)


def to_reviewed_jsonl(pages: Iterable[ReviewedPage]) -> str:
    return "".join(json.dumps(page.record(), ensure_ascii=False) + "\n" for page in pages)


def to_reviewed_csv(pages: Iterable[ReviewedPage]) -> str:
    """One row per page; each dimension's terms `;`-joined; formula-like cells escaped."""
    columns = ("path", "page", "sha256", "outcome", "source", *DIMENSIONS)
    extra = ("predicted_" + d for d in DIMENSIONS)
    tail = ("min_confidence", "unknown_terms", "model", "model_fingerprint", "ontology_version")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = (*columns, *extra, *tail)
    writer.writerow(header)
    for page in pages:
        record = page.record()
        row = [record[c] for c in columns[:5]]
        row += [";".join(record[d]) for d in DIMENSIONS]
        row += [";".join(record["predicted"][d]) for d in DIMENSIONS]
        confidence = record["min_confidence"]
        row += [
            "" if confidence is None else f"{confidence:.4f}",
            ";".join(record["unknown_terms"]),
            record["model"],
            record["model_fingerprint"],
            record["ontology_version"],
        ]
        writer.writerow([safe_cell(str(cell)) for cell in row])
    return buffer.getvalue()


def format_for(path: Path, fmt: str | None = None) -> str:
    """The export format: `fmt`, else from the suffix (.csv, .json -> Label Studio, else JSONL)."""
    if fmt:
        if fmt not in REVIEW_FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(REVIEW_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    return {".csv": "csv", ".json": "labelstudio"}.get(suffix, "jsonl")


def export_reviewed(pages: Iterable[ReviewedPage], path: Path, fmt: str | None = None) -> int:
    """Write the pages to `path` atomically as JSONL or CSV; returns how many were written.
    (Label Studio's format is `labelstudio.export`'s: it needs the ontology and the images.)"""
    rows = list(pages)
    writer = {"jsonl": to_reviewed_jsonl, "csv": to_reviewed_csv}[format_for(path, fmt)]
    write_atomic(Path(path), writer(rows).encode())
    return len(rows)
