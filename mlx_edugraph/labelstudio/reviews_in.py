"""Bring Label Studio annotations into the store as reviews.

Each annotation is matched to its page by the SHA-256 our export put in the task's meta, else by
path and page number. Per page the newest annotation wins; older ones, and store reviews newer
than the annotation, are reported rather than written over. A review that says what the store
already says is left alone, so a rerun (or the same tasks imported twice into Label Studio)
writes nothing twice. All writes go in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.labelstudio.annotations import Annotation, ExportContents, local_file
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.review import Review, predicted_labels
from mlx_edugraph.store.sqlite_store import Store


@dataclass
class ImportReport:
    """What an import did, and each thing it did not take, with the reason."""

    written: list[Review] = field(default_factory=list)
    unchanged: int = 0
    superseded: list[tuple[Annotation, Annotation]] = field(default_factory=list)
    """(older annotation, the newer one of the same page that won)."""
    kept_newer: list[tuple[Annotation, Review]] = field(default_factory=list)
    """(annotation, the store's review made after it, which stays)."""
    unmatched: list[tuple[Annotation, str]] = field(default_factory=list)
    unknown: list[tuple[Annotation, str, str]] = field(default_factory=list)
    """(annotation, dimension, term) for terms the ontology lacks in the reviews written:
    kept, and flagged."""


def import_annotations(
    contents: ExportContents,
    store: Store,
    ontology: Ontology | None,
    *,
    image_root: Path | None = None,
) -> ImportReport:
    """Write the export's annotations into `store` as reviews (see the module's docstring)."""
    report = ImportReport()
    by_page: dict[tuple[str, int], list[Annotation]] = {}
    for annotation in contents.annotations:
        key = _match(annotation, store, image_root, report)
        if key is not None:
            by_page.setdefault(key, []).append(annotation)
    newest: dict[tuple[str, int], Annotation] = {}
    for key, group in by_page.items():
        winner = max(group, key=_order)
        newest[key] = winner
        report.superseded += [(a, winner) for a in group if a is not winner]
    reviews = []
    for (sha256, page), annotation in newest.items():
        review = _review(annotation, sha256, page, store, ontology)
        existing = store.review(sha256, page)
        if existing is not None and existing.is_truth and _same(existing, review):
            report.unchanged += 1
        elif existing is not None and _moment(existing.updated_at) > annotation.updated_at:
            report.kept_newer.append((annotation, existing))
        else:
            reviews.append(review)
            report.unknown += [(annotation, d, t) for d, t in _unknown(review.labels, ontology)]
    store.put_reviews(reviews)
    report.written = reviews
    return report


def _order(annotation: Annotation) -> tuple:
    number = int(annotation.id) if annotation.id.isdigit() else -1
    return annotation.updated_at, number


def _match(
    annotation: Annotation, store: Store, image_root: Path | None, report: ImportReport
) -> tuple[str, int] | None:
    page = annotation.page
    if annotation.sha256:
        # Every stored prediction has its path row (written with it): no record to parse here.
        if store.paths_of(annotation.sha256, page):
            return annotation.sha256, page
        report.unmatched.append(
            (annotation, f"no page with SHA-256 {annotation.sha256[:12]}… p{page} in the store")
        )
        return None
    path = annotation.path or (local_file(annotation.image, image_root) if image_root else "")
    if not path:
        report.unmatched.append(
            (
                annotation,
                "the task names no SHA-256 (meta) or path; for local-files images "
                "pass --image-root",
            )
        )
        return None
    keys = [k for k in store.keys_at(path, page) if not k.startswith("path:")]
    if not keys:
        report.unmatched.append((annotation, f"no page at {path} p{page} in the store"))
        return None
    return keys[0], page


def _review(
    annotation: Annotation, sha256: str, page: int, store: Store, ontology: Ontology | None
) -> Review:
    prediction = store.latest(sha256, page)
    labels = {d: list(annotation.labels[d]) for d in DIMENSIONS}
    unsupported = annotation.unsupported and not any(labels.values())
    agrees = (
        prediction is not None
        and predicted_labels(prediction) == labels
        and ((prediction.outcome == "unsupported") == unsupported)
    )
    return Review(
        sha256=sha256,
        page=page,
        path=prediction.path if prediction else store.paths_of(sha256, page)[0],  # matched: seen
        status="accepted" if agrees else "corrected",
        labels=labels,
        model_fingerprint=prediction.provenance.model_fingerprint if prediction else "",
        unsupported=unsupported,
        updated_at=annotation.updated_at.isoformat(timespec="seconds"),
        reviewer=annotation.reviewer,
        origin=annotation.origin,
        unknown_terms=[term for _, term in _unknown(labels, ontology)],
    )


def _unknown(labels: dict[str, list[str]], ontology: Ontology | None) -> list[tuple[str, str]]:
    """(dimension, term) for each term the ontology lacks in that dimension."""
    if ontology is None:
        return []
    return [
        (dimension, term)
        for dimension in DIMENSIONS
        for term in labels[dimension]
        if ontology.dimension_of(term) != dimension
    ]


def _same(existing: Review, review: Review) -> bool:
    return existing.labels == review.labels and existing.unsupported == review.unsupported


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def describe(report: ImportReport, contents: ExportContents, source: str, limit: int = 10) -> str:
    """The import's summary for people: counts, then up to `limit` of each kind of item."""
    statuses = [r.status for r in report.written]
    unsupported = sum(1 for r in report.written if r.unsupported)
    lines = [
        f"imported {len(report.written)} review(s) from {source}: "
        f"{statuses.count('accepted')} accepted, {statuses.count('corrected')} corrected"
        + (f" ({unsupported} not K-4 math material)" if unsupported else "")
    ]
    if report.unchanged:
        lines.append(f"unchanged: {report.unchanged} page(s) already had these reviews")

    def section(title: str, items: Iterable[str]) -> None:
        items = list(items)
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items[:limit])
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")

    section(
        f"superseded: {len(report.superseded)} older annotation(s) of a page; the newest won",
        (f"{_who(old)} lost to {_who(new)}" for old, new in report.superseded),
    )
    section(
        f"kept: {len(report.kept_newer)} store review(s) newer than their annotation",
        (
            f"{_who(a)}: the store's review of {r.path} ({r.updated_at}) stays"
            for a, r in report.kept_newer
        ),
    )
    section(
        f"unmatched: {len(report.unmatched)} annotation(s) match no page in the store",
        (f"task {a.task} ({a.path or a.image}): {why}" for a, why in report.unmatched),
    )
    section(
        f"unknown terms: {len(report.unknown)}, kept and flagged",
        (f"{dimension} {term!r} in task {a.task}" for a, dimension, term in report.unknown),
    )
    if contents.cancelled or contents.unannotated:
        lines.append(
            f"skipped: {contents.cancelled} cancelled annotation(s), "
            f"{contents.unannotated} task(s) without annotations"
        )
    return "\n".join(lines)


def _who(annotation: Annotation) -> str:
    by = f" by {annotation.reviewer}" if annotation.reviewer else ""
    when = f"{annotation.updated_at:%Y-%m-%d %H:%M:%S}"
    return f"task {annotation.task} annotation {annotation.id}{by} at {when}"
