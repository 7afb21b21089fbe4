"""Label Studio tasks: the model's labels as predictions, a person's settled labels as
annotations, provenance (and the page's SHA-256, which `import-reviews` matches on) in `meta`."""

from __future__ import annotations

from mlx_edugraph.labelstudio.config import (
    IMAGE_NAME,
    UNSUPPORTED_NAME,
    UNSUPPORTED_VALUE,
    TermTree,
)
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.export_reviewed import ReviewedPage
from mlx_edugraph.store.review import predicted_labels


def results(tree: TermTree, labels: dict[str, list[str]], unsupported: bool) -> list[dict]:
    """One taxonomy result per dimension with terms (each term as its path in the tree), and
    the unsupported choice where it applies."""
    found = [
        {
            "from_name": dimension,
            "to_name": IMAGE_NAME,
            "type": "taxonomy",
            "value": {"taxonomy": [tree.path(dimension, term) for term in labels[dimension]]},
        }
        for dimension in DIMENSIONS
        if labels.get(dimension)
    ]
    if unsupported:
        found.append(
            {
                "from_name": UNSUPPORTED_NAME,
                "to_name": IMAGE_NAME,
                "type": "choices",
                "value": {"choices": [UNSUPPORTED_VALUE]},
            }
        )
    return found


def task(page: ReviewedPage, image_url: str, tree: TermTree) -> dict:
    """The task of one page."""
    p = page.prediction
    record = page.record()
    found: dict = {
        "data": {"image": image_url, "path": p.path, "page": p.page},
        "predictions": [
            {
                "model_version": p.provenance.model_fingerprint or p.provenance.model,
                "score": p.min_confidence,
                "result": results(tree, predicted_labels(p), p.outcome == "unsupported"),
            }
        ],
        "meta": {k: v for k, v in record.items() if k not in DIMENSIONS},
    }
    review = page.review
    if review is not None and review.is_truth:
        found["annotations"] = [{"result": results(tree, review.labels, review.unsupported)}]
    return found


def extra_terms(pages: list[ReviewedPage]) -> dict[str, set[str]]:
    """Every term the pages hold, per dimension (the tree adds those the ontology lacks)."""
    terms: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    for page in pages:
        for source in (predicted_labels(page.prediction), page.labels):
            for dimension in DIMENSIONS:
                terms[dimension].update(source.get(dimension, ()))
    return terms
