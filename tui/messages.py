"""Messages from the background threads (scanner, labeler) to the app: the only way they talk
to the UI. Each is posted with `post_message`, which is thread-safe."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import App
from textual.message import Message

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.store.page_states import Entry


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


def while_shown(handler: Callable) -> Callable:
    """For messages from the threads: they can arrive while the app closes, when its widgets
    are already gone; then there is nothing to update."""

    @functools.wraps(handler)
    def guarded(self: App, message: Message) -> None:
        if self.query("#main"):
            handler(self, message)

    return guarded
