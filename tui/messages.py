"""Messages from the background threads (scanner, labeler) to the app: the only way they talk
to the UI. Each is posted with `post_message`, which is thread-safe."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from mlx_edugraph.ontology import Ontology
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.worklist import Entry
from mlx_edugraph.worksheets import WorksheetRef


@dataclass
class EntriesFound(Message):
    """The folder was scanned: every page, with what the store already holds for the model
    with `fingerprint` (None: the newest prediction of any model)."""

    entries: list[Entry]
    fingerprint: str | None


@dataclass
class OntologyReady(Message):
    """The ontology is at hand (or not: None, with the reason in `warning`)."""

    ontology: Ontology | None
    warning: str | None


@dataclass
class ModelStatus(Message):
    """A line about the model for the status bar (loading, browse-only, ...)."""

    text: str


@dataclass
class ModelReady(Message):
    """The model is loaded and labeling can start."""

    provenance: Provenance
    load_s: float


@dataclass
class ModelFailed(Message):
    """The model could not be loaded; the app stays usable for browsing and review."""

    error: str


@dataclass
class PageStarted(Message):
    """The model started on a page."""

    ref: WorksheetRef


@dataclass
class PageDone(Message):
    """A page was labeled (or skipped as already labeled, or failed)."""

    ref: WorksheetRef
    status: str
    prediction: Prediction


@dataclass
class LabelingState(Message):
    """The labeler's state changed: running, paused, idle or cancelled."""

    state: str
