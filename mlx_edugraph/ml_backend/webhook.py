"""The ML backend's `/webhook`: an annotation becomes a review as `import-reviews` makes it, and
START_TRAINING runs `tune` (its held-out proof included) and reports the verdict.

A repeated event writes nothing twice: a review that says what the store already says is left
alone (`reviews_in`), so Label Studio may send an annotation as often as it likes.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
from dataclasses import dataclass, field

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.labelstudio.annotations import MalformedExport, parse_export
from mlx_edugraph.labelstudio.reviews_in import import_annotations
from mlx_edugraph.labelstudio.task_images import TaskImages
from mlx_edugraph.ml_backend.worker import Loaded
from mlx_edugraph.store.sqlite_store import Store

ANNOTATION_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
TRAINING_EVENT = "START_TRAINING"


def take_annotation(
    payload: dict, store: Store, ontology: Ontology | None, images: TaskImages
) -> dict:
    """The event's annotation into `store` as a review; what was written, and why not."""
    task, annotation = payload.get("task"), payload.get("annotation")
    if not isinstance(task, dict) or not isinstance(annotation, dict):
        raise MalformedExport("the event has no `task` and `annotation` objects")
    contents = parse_export([{**task, "annotations": [annotation]}], "the event")
    path = images.known_path(task)
    contents.annotations = [
        dataclasses.replace(a, path=path) if path and not (a.sha256 or a.path) else a
        for a in contents.annotations
    ]
    report = import_annotations(contents, store, ontology, image_root=images.root)
    return {
        "written": [
            {"path": r.path, "page": r.page, "status": r.status, "reviewer": r.reviewer}
            for r in report.written
        ],
        "unchanged": report.unchanged,
        "kept_newer": len(report.kept_newer),
        "unmatched": [why for _, why in report.unmatched],
        "unknown_terms": [term for _, _, term in report.unknown],
        "cancelled": contents.cancelled,
    }


@dataclass
class Training:
    """The last `tune` run: its state, and once done its verdict."""

    state: str = "idle"
    """idle, queued, running, done, failed, stopped."""
    verdict: str = ""
    promoted: bool = False
    exit_code: int | None = None
    output: list[str] = field(default_factory=list)
    """The run's last lines (stdout, then stderr)."""

    def report(self) -> dict:
        return dataclasses.asdict(self)


def run_tune(command: list[str], training: Training, loaded: Loaded) -> Training:
    """Run `tune` (a child process: its memory goes with it) on the model thread, so no page
    is labeled meanwhile; a promoted version is loaded after it. Asked to stop, the child gets
    Ctrl-C and keeps its checkpoint for `tune --resume`."""
    training.state = "running"
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    interrupted = False
    while True:
        try:
            stdout, stderr = child.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if loaded.stopping.is_set() and not interrupted:
                child.send_signal(signal.SIGINT)
                interrupted = True
    lines = stdout.splitlines()
    training.exit_code = child.returncode
    training.output = [line for line in lines + stderr.splitlines() if line.strip()][-12:]
    training.verdict = next((line[9:] for line in lines if line.startswith("verdict: ")), "")
    training.promoted = any("is now the model" in line for line in lines)
    training.state = (
        "done" if child.returncode == 0 else "stopped" if loaded.stopping.is_set() else "failed"
    )
    loaded.reload = training.promoted
    return training
