"""Score a model's predictions against ground truth: the figures of `mlx-edugraph eval`.

`evaluate` is pure: it takes truth items matched with predictions and computes every figure.
`plan` does the matching: it finds each true page's prediction in the store (by content, so
renamed files still match); `label_planned` labels the pages the model has not seen yet
(resuming, like `label`), so an evaluation can be interrupted and run again at no extra cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.evaluation.metrics import (
    Calibration,
    Counts,
    HierarchyScores,
    SetScores,
    calibration,
    hierarchy_scores,
    ratio,
    score_sets,
)
from mlx_edugraph.evaluation.truth import TruthItem
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetError, WorksheetRef, file_sha256
from mlx_edugraph.prediction import DIMENSIONS, Prediction
from mlx_edugraph.store.sqlite_store import Store

if TYPE_CHECKING:
    from mlx_edugraph.labeling.batch import Event
    from mlx_edugraph.model.engine import Engine


@dataclass
class Matched:
    """A true page and the model's prediction for it."""

    truth: TruthItem
    prediction: Prediction


@dataclass
class Unmatched:
    """A true page that could not be scored, and why."""

    origin: str
    reason: str


@dataclass
class DimensionResult:
    """Scores of one dimension (Area, Scope or Ability)."""

    scores: SetScores
    hierarchy: HierarchyScores | None = None


@dataclass
class Evaluation:
    """Every figure of one model against one set of ground truth."""

    pages: int
    """Pages scored: true pages with a prediction that is not an error."""
    outcomes: dict[str, int]
    dimensions: dict[str, DimensionResult]
    exact_match: float | None
    """Share of pages whose three term sets (or UnsupportedMaterial) all match the truth."""
    unsupported: Counts
    """Detecting non-math pages: a true positive is a page both call UnsupportedMaterial."""
    predicted_terms: int
    unknown_term_rate: float | None
    """Share of predicted terms that are not in the ontology (invented)."""
    wrong_dimension_rate: float | None
    unsupported_rate: float | None
    """Share of scored pages the model called UnsupportedMaterial."""
    unparseable_rate: float | None
    """Share of scored pages whose answer was not the expected JSON (or was cut off)."""
    calibration: Calibration
    errors: list[Unmatched] = field(default_factory=list)
    """True pages left out: no prediction, file gone, or the model could not run on them."""

    def to_dict(self) -> dict:
        """A JSON-ready dict; every count triple also carries its precision, recall and F1."""
        return _with_ratios(asdict(self))


def _parents_in(ontology: Ontology) -> Callable[[str], tuple[str, ...]]:
    def parents(name: str) -> tuple[str, ...]:
        term = ontology.get(name)
        return term.parents if term else ()

    return parents


def _with_ratios(value):
    if isinstance(value, dict):
        found = {key: _with_ratios(item) for key, item in value.items()}
        if found.keys() == {"tp", "fp", "fn"}:
            counts = Counts(**found)
            found.update(precision=counts.precision, recall=counts.recall, f1=counts.f1)
        return found
    if isinstance(value, list):
        return [_with_ratios(item) for item in value]
    return value


def predicted_sets(prediction: Prediction) -> dict[str, frozenset[str]]:
    """The predicted terms per dimension, implied ones included (the model did name them)."""
    return {d: frozenset(prediction.terms(d)) for d in DIMENSIONS}


def evaluate(
    matched: Sequence[Matched],
    *,
    ontology: Ontology | None = None,
    errors: Iterable[Unmatched] = (),
) -> Evaluation:
    """All figures for truth matched with predictions; hierarchy-aware scores need `ontology`.

    Error predictions (the page could not be read or run) are not scored: they are listed
    with the unmatched pages. Unparseable answers are scored as predicting nothing.
    """
    errors = list(errors)
    scored = []
    for pair in matched:
        if pair.prediction.outcome == "error":
            errors.append(Unmatched(pair.truth.origin, pair.prediction.error or "error"))
        else:
            scored.append(pair)
    outcomes = Counter(pair.prediction.outcome for pair in scored)
    sets = [(pair.truth.labels, predicted_sets(pair.prediction)) for pair in scored]
    dimensions = {}
    for dimension in DIMENSIONS:
        pairs = [(truth[dimension], predicted[dimension]) for truth, predicted in sets]
        hierarchy = hierarchy_scores(pairs, _parents_in(ontology)) if ontology else None
        dimensions[dimension] = DimensionResult(score_sets(pairs), hierarchy)
    exact = sum(
        truth == predicted and pair.truth.unsupported == (pair.prediction.outcome == "unsupported")
        for pair, (truth, predicted) in zip(scored, sets, strict=True)
    )
    unsupported = Counts()
    for pair in scored:
        said = pair.prediction.outcome == "unsupported"
        unsupported += Counts(
            int(said and pair.truth.unsupported),
            int(said and not pair.truth.unsupported),
            int(pair.truth.unsupported and not said),
        )
    labels = [label for pair in scored for label in pair.prediction.labels]
    points = [
        (label.confidence, label.term in pair.truth.labels[label.dimension])
        for pair in scored
        for label in pair.prediction.labels
        if label.confidence is not None
    ]
    return Evaluation(
        pages=len(scored),
        outcomes=dict(sorted(outcomes.items())),
        dimensions=dimensions,
        exact_match=ratio(exact, len(scored)),
        unsupported=unsupported,
        predicted_terms=len(labels),
        unknown_term_rate=ratio(sum(lab.status == "unknown" for lab in labels), len(labels)),
        wrong_dimension_rate=ratio(
            sum(lab.status == "wrong_dimension" for lab in labels), len(labels)
        ),
        unsupported_rate=ratio(outcomes["unsupported"], len(scored)),
        unparseable_rate=ratio(outcomes["unparseable"] + outcomes["truncated"], len(scored)),
        calibration=calibration(points),
        errors=errors,
    )


@dataclass
class Plan:
    """Which true pages already have a prediction and which must be labeled first."""

    matched: list[Matched] = field(default_factory=list)
    to_label: dict[tuple[str, int], tuple[TruthItem, WorksheetRef]] = field(default_factory=dict)
    unmatched: list[Unmatched] = field(default_factory=list)


def plan(
    truth: Sequence[TruthItem],
    store: Store,
    find: Callable[[str, int], Prediction | None],
    worksheets: Sequence[WorksheetRef] | None = None,
) -> Plan:
    """Match each true page to a stored prediction (`find(sha256, page)`), else to a file to
    label. With `worksheets`, only pages among them are evaluated (matched by content)."""
    result = Plan()
    given: dict[tuple[str, int], WorksheetRef] | None = None
    if worksheets is not None:
        given = {}
        for ref in worksheets:
            sha256 = _sha256(ref.path)
            if sha256:
                given.setdefault((sha256, ref.page), ref)
    seen: set[tuple[str, int]] = set()
    for item in truth:
        try:
            sha256 = item.sha256 or file_sha256(item.path)
        except WorksheetError as exc:
            result.unmatched.append(Unmatched(item.origin, f"{item.path}: {exc}"))
            continue
        key = (sha256, item.page)
        if key in seen:
            result.unmatched.append(Unmatched(item.origin, "the same page is listed twice"))
            continue
        seen.add(key)
        item.sha256 = sha256
        if given is not None and key not in given:
            result.unmatched.append(Unmatched(item.origin, "not among the given worksheets"))
            continue
        found = find(sha256, item.page)
        if found is not None and found.outcome != "error":
            result.matched.append(Matched(item, found))
            continue
        ref = given[key] if given is not None else _ref_of(item, store)
        if ref is None:
            result.unmatched.append(
                Unmatched(item.origin, "not labeled yet and its file is gone or changed")
            )
        else:
            result.to_label[key] = (item, ref)
    return result


def _sha256(path: Path | None) -> str:
    try:
        return file_sha256(path) if path is not None else ""
    except WorksheetError:
        return ""


def _ref_of(item: TruthItem, store: Store) -> WorksheetRef | None:
    """A file that still holds the true page's bytes: its own path, else another name the
    store saw it under (reviews outlive renamed files)."""
    candidates = [item.path] if item.path else []
    candidates += [Path(p) for p in store.paths_of(item.sha256, item.page)]
    for path in candidates:
        if _sha256(path) == item.sha256:
            return WorksheetRef(path, item.page)
    return None


def label_planned(
    planned: Plan,
    engine: Engine,
    store: Store,
    on_event: Callable[[Event], None] = lambda event: None,
) -> None:
    """Label the planned pages into the store (resuming) and move them to `matched`."""
    from mlx_edugraph.labeling.batch import run

    keys = {ref: key for key, (_, ref) in planned.to_label.items()}
    for event in run(keys, engine, store):
        on_event(event)
        item, _ = planned.to_label[keys[event.ref]]
        planned.matched.append(Matched(item, event.prediction))
    planned.to_label.clear()
