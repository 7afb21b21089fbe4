"""The selected page's labels, grouped by Area, Scope and Ability, each with its place in the
ontology and its confidence; the highlighted label's definition below."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS, Label, Prediction
from mlx_edugraph.store.page_states import Entry

from .lifetime import live

STATUS_NOTES = {
    "unknown": "not in the ontology",
    "wrong_dimension": "in the ontology under another dimension",
}
"""What a label's status says beside it. "unverified" (no ontology at hand) is said once for
the whole session, by the app's notice, not on every label."""


@dataclass(frozen=True)
class Shown:
    """One label as the pane lists it."""

    dimension: str
    term: str
    label: Label | None
    """The model's label for the term; None when a reviewer added it."""


def shown_labels(entry: Entry) -> list[Shown]:
    """The labels to show: the reviewer's when there is a review, else the model's."""
    predicted = entry.prediction.labels if entry.prediction else []
    by_term = {(lab.dimension, lab.term): lab for lab in predicted}
    if entry.review is None:
        return [Shown(lab.dimension, lab.term, lab) for lab in predicted]
    return [
        Shown(dimension, term, by_term.get((dimension, term)))
        for dimension in DIMENSIONS
        for term in entry.review.labels.get(dimension, [])
    ]


def breadcrumb(ontology: Ontology | None, term: str) -> str:
    """The term's place in the ontology, root first (the first of several ways up)."""
    paths = ontology.paths(term) if ontology else []
    return " › ".join(paths[0]) if paths else ""


def _prompt(shown: Shown, ontology: Ontology | None, crumbs: bool) -> Text:
    line = Text(f"  {shown.term}")
    label = shown.label
    if label is None:
        line.append("  + added", style="bold cyan")
    else:
        if label.confidence is not None:
            style = "green" if label.confidence >= 0.5 else "bold magenta"
            line.append(f"  {label.confidence:.0%}", style=style)
        if label.status in STATUS_NOTES:
            line.append(f"  [{label.status.replace('_', ' ')}]", style="bold red")
        if label.implied:
            line.append("  (implied)", style="dim")
    crumb = breadcrumb(ontology, shown.term) if crumbs else ""
    if crumb:
        line.append(f"\n    {crumb}", style="dim")
    return line


def outcome_text(entry: Entry) -> Text:
    """A plain sentence about the page's outcome, shown above its labels."""
    prediction = entry.prediction
    review = entry.review
    if entry.problem:
        return Text(f"Error: {entry.problem}", style="bold red")
    if prediction is None:
        return Text("Not labeled yet." if not entry.labeling else "Labeling ...", style="dim")
    outcome = prediction.outcome
    if outcome == "error":
        return Text(f"Error: {prediction.error}", style="bold red")
    text = Text()
    if outcome == "unsupported":
        text.append("Unsupported material: ", style="bold cyan")
        text.append("the model says this is not a K-4 math worksheet.")
    elif outcome in ("unparseable", "truncated"):
        text.append(
            "The model's answer was cut by the token bound"
            if outcome == "truncated"
            else "The model's answer is not the expected JSON",
            style="bold magenta",
        )
        text.append(f" ({prediction.error}). Press t for the raw text.")
    if review is not None:
        if text:
            text.append("\n")
        text.append(f"Review: {review.status}", style="bold green" if review.is_truth else "bold")
        if review.reviewer:  # made elsewhere (Label Studio): who and when
            text.append(f" by {review.reviewer}, {review.updated_at[:10]}", style="dim")
    if text:
        text.append("\n")
    text.append(f"Labeled by {labeled_by(prediction)}", style="dim")
    return text


def labeled_by(prediction: Prediction) -> str:
    """Which model made a prediction: a tuned version, the base model, or a server."""
    provenance = prediction.provenance
    if provenance.server:
        return f"{provenance.server} ({provenance.model or 'server'})"
    version = provenance.model_version
    if version and version != "base":
        return f"tuned version {version} · {provenance.model_fingerprint}"
    return f"the base model · {provenance.model_fingerprint}"


class LabelsPane(Vertical):
    """Outcome, labels list and the highlighted label's details."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._entry: Entry | None = None
        self._ontology: Ontology | None = None
        self._shown: dict[str, Shown] = {}
        self.crumbs = True
        """Each label's place in the ontology under it; a narrow pane shows it only below,
        for the highlighted label."""
        self._outcome = Static("", id="outcome")
        self._options = OptionList(id="labels")
        self._definition = Static("", id="definition")

    def compose(self) -> ComposeResult:
        yield self._outcome
        yield self._options
        yield self._definition

    def on_mount(self) -> None:
        self._paint()

    def focus_labels(self) -> None:
        self._options.focus()

    def show_crumbs(self, crumbs: bool) -> None:
        if crumbs != self.crumbs:
            self.crumbs = crumbs
            if live(self):
                self._paint()

    def show(self, entry: Entry | None, ontology: Ontology | None) -> None:
        """Redraw for `entry`, keeping the highlighted label where it still exists."""
        self._entry, self._ontology = entry, ontology
        if live(self):  # else on_mount draws it, or the pane is closing
            self._paint()

    def _paint(self) -> None:
        entry, options = self._entry, self._options
        previous = None
        if options.highlighted is not None and options.option_count:
            previous = options.get_option_at_index(options.highlighted).id
        options.clear_options()
        self._shown = {}
        if entry is None:
            self._outcome.update("")
            self._definition.update("")
            return
        self._outcome.update(outcome_text(entry))
        labels = shown_labels(entry)
        listed = entry.prediction is not None and entry.prediction.outcome == "labeled"
        if listed or entry.review is not None:
            for dimension in DIMENSIONS:
                options.add_option(Option(Text(dimension, style="bold underline"), disabled=True))
                mine = [shown for shown in labels if shown.dimension == dimension]
                if not mine:
                    options.add_option(Option(Text("  (none)", style="dim"), disabled=True))
                for shown in mine:
                    option_id = f"{dimension}:{shown.term}"
                    self._shown[option_id] = shown
                    options.add_option(
                        Option(_prompt(shown, self._ontology, self.crumbs), id=option_id)
                    )
        if previous in self._shown:
            options.highlighted = options.get_option_index(previous)
        elif self._shown:
            options.highlighted = options.get_option_index(next(iter(self._shown)))
        self._describe()

    @property
    def highlighted(self) -> Shown | None:
        """The label under the cursor."""
        options = self._options
        if options.highlighted is None or not options.option_count:
            return None
        return self._shown.get(options.get_option_at_index(options.highlighted).id or "")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._describe()

    def _describe(self) -> None:
        shown = self.highlighted
        ontology = self._ontology
        if shown is None:
            self._definition.update("")
            return
        parts = [Text(shown.term, style="bold")]
        crumb = breadcrumb(ontology, shown.term)
        if crumb:
            parts.append(Text(crumb, style="dim"))
        term = ontology.get(shown.term) if ontology else None
        if term is not None:
            if term.definition:
                parts.append(Text(term.definition))
            if term.comment:
                parts.append(Text(term.comment, style="italic"))
        if shown.label is not None:
            status = shown.label.status
        else:  # a term the reviewer added
            status = "known" if term else ("unknown" if ontology else "unverified")
        if status in STATUS_NOTES:
            parts.append(Text(f"{shown.term}: {STATUS_NOTES[status]}", style="bold red"))
        if shown.label is not None and shown.label.confidence is not None:
            parts.append(Text(f"confidence {shown.label.confidence:.1%}"))
        self._definition.update(Group(*parts))
