"""Messages to the app: from the background threads (scanner, labeler), the only way they talk
to the UI, and from widgets whose background work failed. Each is posted with `post_message`,
which is thread-safe."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.worker import Worker

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.store.page_states import Entry


@dataclass
class EntriesFound(Message):
    """The folder was scanned: every page, hashed, with its review (no predictions yet)."""

    entries: list[Entry]


@dataclass
class PredictionsFound(Message):
    """What the store holds for the scanned pages from the model with `fingerprint` (None:
    the newest prediction of any model), by (SHA-256, page)."""

    predictions: dict[tuple[str, int], Prediction]
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
class ModelChosen(Message):
    """The model that labels is known, by the fingerprint its predictions are stored under
    (None: no model; the newest prediction of any model is shown)."""

    fingerprint: str | None


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


@dataclass
class WorkFailed(Message):
    """A widget's background work failed; the app logs it and says so, and keeps running."""

    worker: Worker


@dataclass
class SimilarFound(Message):
    """The pages nearest to `key` (a row key) by page vectors, most similar first; or why there
    are none (`problem`)."""

    key: str
    neighbours: list
    """`store.similar_pages.Neighbour`s."""
    names: dict
    """Each neighbour's page -> its name in the store."""
    problem: str | None = None


@dataclass
class RelatedFound(Message):
    """The pages related to `key` (a row key), and those after and before it on a learning
    path: list title -> `store.competence_index.Match`es; or why there are none (`problem`)."""

    key: str
    lists: dict
    problem: str | None = None


@dataclass
class DuplicatesFound(Message):
    """The listed pages (content key, page number) that are the same printed sheet as another
    listed page."""

    pages: set
