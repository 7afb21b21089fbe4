"""The ML backend's `/predict`: each task's page labeled, or answered from the store when this
model labeled it before, in the Taxonomy form `export` writes.

A task that cannot be answered (its image cannot be had or read, the model failed on it) gets
an entry without a `result`, with the reason in `error`: Label Studio passes over such an entry
and stores no prediction, so asking again retries the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlx_edugraph.labeling.batch import Event, run
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.labelstudio.config import TermTree
from mlx_edugraph.labelstudio.tasks import results
from mlx_edugraph.ml_backend.worker import BackendStopping, Loaded
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.review import predicted_labels


@dataclass
class Answer:
    """The `/predict` reply, and what it took."""

    results: list[dict]
    model_version: str
    counts: dict[str, int] = field(default_factory=dict)
    """labeled, skipped (answered from the store), error, failed; unresolved: no image."""


def predict(pages: list[WorksheetRef | str], loaded: Loaded, ontology: Ontology | None) -> Answer:
    """Label the tasks' pages (`pages`: each task's page, or why it has none) on the model
    thread. Asked to stop, the batch ends after the page in hand: every page done is kept."""
    wanted = [p for p in pages if isinstance(p, WorksheetRef)]
    events: dict[WorksheetRef, Event] = {}
    for event in run(wanted, loaded.engine, loaded.store, cancelled=loaded.stopping.is_set):
        events[event.ref] = event
    missing = {ref for ref in wanted if ref not in events}
    if missing:
        raise BackendStopping(
            f"the backend is stopping: {len(events)} of {len(set(wanted))} page(s) done and "
            "kept; ask again once it is back"
        )
    version = loaded.model_version
    counts = {"labeled": 0, "skipped": 0, "error": 0, "failed": 0, "unresolved": 0}
    extra: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    for event in events.values():
        for dimension, terms in predicted_labels(event.prediction).items():
            extra[dimension].update(terms)
    tree = TermTree(ontology, extra)
    found = []
    for page in pages:
        if isinstance(page, str):
            counts["unresolved"] += 1
            found.append({"model_version": version, "error": page})
            continue
        event = events[page]
        counts[event.status] += 1
        prediction = event.prediction
        if event.status in ("error", "failed"):
            found.append({"model_version": version, "error": f"{page.label}: {prediction.error}"})
            continue
        found.append(
            {
                "model_version": version,
                "score": prediction.min_confidence,
                "result": results(
                    tree, predicted_labels(prediction), prediction.outcome == "unsupported"
                ),
            }
        )
    return Answer(found, version, counts)
