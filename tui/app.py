"""The review app: worksheet list, the page as an image, its labels; labeling in the background.

Data flows one way: the scanner and the labeler threads post messages; the app updates its
entries and redraws. Review actions go straight to the store, one transaction each, before the
screen confirms them.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from traceback import format_exception

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from mlx_edugraph.evaluation.coverage import Coverage, coverage
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.page_states import Entry, collection_pages
from mlx_edugraph.store.review_actions import ReviewActions
from mlx_edugraph.store.sqlite_store import Store

from .coverage_screen import CoverageScreen
from .export_screen import ExportScreen
from .help_screen import HelpScreen, key_names
from .labeler import Labeler, Settings
from .labeling_bar import LabelingBar
from .labels_pane import LabelsPane
from .lifetime import while_shown
from .messages import (
    DuplicatesFound,
    EntriesFound,
    LabelingState,
    ModelChosen,
    ModelFailed,
    ModelReady,
    ModelStatus,
    OntologyReady,
    PageDone,
    PageStarted,
    PredictionsFound,
    SimilarFound,
    WorkFailed,
)
from .notice_line import NoticeLine
from .preview import Preview
from .raw_text import RawText
from .scanner import look_up, scan
from .similar_screen import SimilarRow, SimilarScreen
from .similar_search import find_duplicates, find_similar
from .system_viewer import open_in_viewer
from .term_picker import TermPicker
from .terminal_hint import terminal_hint
from .worksheet_list import TermFilter, Worklist, entry_key, ref_key

log = logging.getLogger(__name__)

DEMO_BANNER = (
    "DEMO: labels come from a tiny demo model trained on generated worksheets, "
    "not from the EduGraph model"
)


RECOUNT_AFTER_S = 0.3
"""The coverage counts are recomputed this long after the last page or review came in."""

STOP_WAIT_S = 0.5
"""On quit, how long the closing app waits for the model to stop at its next token or
teaching step (`mlx-edugraph tui` waits longer, saying so, once the terminal is back)."""


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ReviewApp(App):
    """Review EduGraph labels of worksheets, labeling the rest in the background."""

    CSS_PATH = "app.tcss"
    TITLE = "mlx-edugraph (research use only)"

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding(
            "ctrl+c",
            "quit",
            "Quit, also from a text box (there q is a letter)",
            show=False,
            priority=True,
        ),
        Binding("question_mark", "help", "Help"),
        Binding("a", "accept", "Accept"),
        Binding("f", "flag", "Flag"),
        Binding("plus,i", "add_term", "Add term"),
        Binding("x,delete", "remove_term", "Remove label (labels pane)"),
        Binding("u", "undo", "Undo"),
        Binding("n", "next_unreviewed", "Next unreviewed"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("slash", "filter", "Filter", priority=True),  # before the keys typed after it
        Binding("t", "raw_text", "Raw text", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("o", "open_page", "Open page", show=False),
        Binding("r", "rerun", "Re-run page", show=False),
        Binding("p", "pause", "Pause/resume", show=False),
        Binding("c", "cancel", "Cancel labeling", show=False),
        Binding("l", "label_rest", "Label the rest", show=False),
        Binding("E", "export", "Export", show=False),
        Binding("C", "coverage", "Coverage"),
        Binding("m", "similar", "More like this", show=False),
        Binding("escape", "show_all", "Leave the filter box, show all pages", show=False),
    ]

    selected: reactive[str | None] = reactive(None)

    def __init__(
        self,
        paths: Iterable[Path],
        settings: Settings,
        *,
        image_mode: str = "auto",
        demo: bool = False,
        pages: range | None = None,
    ) -> None:
        super().__init__()
        self.paths = list(paths)
        self.settings = settings
        self.demo = demo
        self.pages = pages
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.ontology: Ontology | None = None
        self.fingerprint: str | None = None
        self._scanned = False
        self._chosen: tuple[str | None] | None = None  # the labeling model's fingerprint, once told
        self._looked_up = False
        self._submitted = False
        self._recount: Timer | None = None
        self.labeler = Labeler(settings, self.post_message)
        # The panes, held rather than looked up: a lookup fails while the app closes.
        self.worklist = Worklist(id="left")
        self.preview = Preview(image_mode, id="preview")
        self.labels_pane = LabelsPane(id="labels-pane")
        self.labeling = LabelingBar(self.labeler, id="status-bar")
        self.notice_line = NoticeLine(self.labeling, id="notice")
        self.hint = terminal_hint(image_mode)

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        if self.demo:
            yield Static(DEMO_BANNER, id="banner")
        with Horizontal(id="main"):
            yield self.worklist
            yield self.preview
            yield self.labels_pane
        yield self.notice_line
        yield self.labeling
        yield Footer()

    def on_mount(self) -> None:
        self.store = Store(self.settings.db)
        self.review = ReviewActions(self.store)
        self.sub_title = "scanning ..."
        if self.hint:
            self.notify(self.hint, timeout=12)
        self._scan()
        self.labeler.start()
        self.worklist.table.focus()

    def on_unmount(self) -> None:
        self.labeler.stop(wait=STOP_WAIT_S)
        self.store.close()

    # -- background work ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False, name="scan the pages")
    def _scan(self) -> None:
        self.post_message(scan(self.paths, self.pages, self.settings.db))

    @work(thread=True, group="look-up", exit_on_error=False, name="read the store")
    def _look_up(self, pages: list[tuple[str, int]], fingerprint: str | None) -> None:
        self.post_message(look_up(pages, self.settings.db, fingerprint))

    @work(thread=True, exclusive=True, group="similar", exit_on_error=False, name="find similar")
    def _find_similar(self, key: str, page: tuple[str, int], fingerprint: str | None) -> None:
        self.post_message(find_similar(self.settings.db, key, page, fingerprint))

    @work(
        thread=True, exclusive=True, group="duplicates", exit_on_error=False, name="mark duplicates"
    )
    def _find_duplicates(self, pages: set[tuple[str, int]], fingerprint: str | None) -> None:
        self.post_message(find_duplicates(self.settings.db, pages, fingerprint))

    def _mark_duplicates(self) -> None:
        pages = {(e.sha256, e.ref.page) for e in self.entries if e.sha256}
        if pages:
            self._find_duplicates(pages, self.fingerprint)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._work_failed(event.worker)

    @on(WorkFailed)
    def _widget_work_failed(self, message: WorkFailed) -> None:
        self._work_failed(message.worker)

    def _work_failed(self, worker: Worker) -> None:
        """Log the traceback and say what failed; the app goes on (Textual would end it)."""
        error = worker.error
        log.error("could not %s", worker.name, exc_info=error)
        self.log.error(f"could not {worker.name}:\n" + "".join(format_exception(error)))
        self.notify(
            f"could not {worker.name}: {type(error).__name__}: {error}",
            title="Background work failed",
            severity="error",
            timeout=10,
        )

    # -- messages from the threads --------------------------------------------------------

    @while_shown
    def on_entries_found(self, message: EntriesFound) -> None:
        keep = self.selected
        self.entries = message.entries
        self.by_key = {entry_key(entry): entry for entry in self.entries}
        self._scanned = True
        self._look_up_predictions()
        self._show_list(keep)
        # "…" until the stored labels are read: they wait for the model that labels to be known
        self.sub_title = f"{len(self.entries)} worksheet page(s) …"
        if not self.entries:
            self.notify("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found", timeout=10)
        self._mark_duplicates()

    @while_shown
    def on_predictions_found(self, message: PredictionsFound) -> None:
        for entry in self.entries:
            if entry.sha256:
                entry.prediction = message.predictions.get((entry.sha256, entry.ref.page))
        self._looked_up = True
        self.sub_title = f"{len(self.entries)} worksheet page(s)"
        self._show_list(self.selected)
        self._collection_changed()
        self._maybe_submit()

    @while_shown
    def on_ontology_ready(self, message: OntologyReady) -> None:
        self.ontology = message.ontology
        if message.warning:
            self.notify(message.warning, title="Ontology", severity="warning", timeout=20)
        self._redraw_selected()

    @while_shown
    def on_model_status(self, message: ModelStatus) -> None:
        self.labeling.set_model(message.text)

    @while_shown
    def on_model_chosen(self, message: ModelChosen) -> None:
        self._chosen = (message.fingerprint,)
        self._look_up_predictions()

    @while_shown
    def on_model_ready(self, message: ModelReady) -> None:
        self.fingerprint = message.provenance.model_fingerprint
        version = message.provenance.model_version
        which = f" {version}" if version and version != "base" else ""
        self.labeling.set_model(f"model{which} ready (loaded in {message.load_s:.1f} s)")
        self._maybe_submit()

    @while_shown
    def on_model_failed(self, message: ModelFailed) -> None:
        self.labeling.set_model("no model: browse and review only")
        self.notify(message.error, title="Model", severity="error", timeout=20)

    @while_shown
    def on_page_started(self, message: PageStarted) -> None:
        entry = self._entry_for(message.ref)
        if entry is not None:
            entry.labeling = True
            self._refresh_entry(entry)

    @while_shown
    def on_page_done(self, message: PageDone) -> None:
        self.labeling.page_done(message.status, message.prediction)
        entry = self._entry_for(message.ref)
        if entry is not None:
            entry.labeling = False
            entry.prediction = message.prediction
            entry.sha256 = entry.sha256 or message.prediction.sha256
            self._refresh_entry(entry)
            self._collection_changed()

    @while_shown
    def on_labeling_state(self, message: LabelingState) -> None:
        self.labeling.set_state(message.state)
        if message.state in ("idle", "cancelled"):
            for entry in self.entries:
                if entry.labeling:
                    entry.labeling = False
                    self._refresh_entry(entry)
            self._mark_duplicates()

    @while_shown
    def on_duplicates_found(self, message: DuplicatesFound) -> None:
        for entry in self.entries:
            duplicate = (entry.sha256, entry.ref.page) in message.pages
            if entry.duplicate != duplicate:
                entry.duplicate = duplicate
                self._refresh_entry(entry)

    @while_shown
    def on_similar_found(self, message: SimilarFound) -> None:
        if message.problem:
            self.notify(message.problem, title="Similar pages", severity="warning", timeout=10)
            return
        if not message.neighbours:
            self.notify("no other page has a vector yet", title="Similar pages", timeout=5)
            return
        listed = {(e.sha256, e.ref.page): entry_key(e) for e in self.entries if e.sha256}
        rows = [
            SimilarRow(message.names[n.page], n.similarity, listed.get(n.page))
            for n in message.neighbours
        ]
        shown = self.by_key.get(message.key)
        title = f"Pages most like {shown.ref.path.name if shown else 'this one'}"
        self.push_screen(SimilarScreen(title, rows), self._go_to)

    # -- the list and the selection -------------------------------------------------------

    def _visible(self) -> list[Entry]:
        return self.worklist.visible(self.entries)

    def _show_list(self, keep: str | None = None) -> None:
        table = self.worklist.table
        table.show(self._visible(), keep)
        self.selected = table.selected_key
        self._redraw_selected()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Up on an empty list (before the scan fills it) highlights "row -1": no row key.
        if event.row_key is not None:
            self.selected = event.row_key.value

    def watch_selected(self, key: str | None) -> None:
        entry = self.by_key.get(key) if key else None
        self._redraw_selected()
        self.preview.show_page(entry.ref if entry else None)

    def _redraw_selected(self) -> None:
        self.labels_pane.show(self.current, self.ontology)

    @property
    def current(self) -> Entry | None:
        return self.by_key.get(self.selected) if self.selected else None

    def _entry_for(self, ref: WorksheetRef) -> Entry | None:
        return self.by_key.get(ref_key(ref))

    def _refresh_entry(self, entry: Entry) -> None:
        self.worklist.table.update_entry(entry)
        if entry is self.current:
            self._redraw_selected()

    def _look_up_predictions(self) -> None:
        """Once the pages are scanned and the labeling model is known: read what it stored for
        them, under the fingerprint it labels with (never a guess, so no second look)."""
        if self._scanned and self._chosen is not None:
            pages = [(e.sha256, e.ref.page) for e in self.entries if e.sha256]
            self._look_up(pages, self._chosen[0])

    def _maybe_submit(self) -> None:
        """Queue the unlabeled pages once the model is ready and the store was consulted."""
        if self._submitted or self.fingerprint is None or not self._looked_up:
            return
        self._submitted = True
        todo = [
            e.ref for e in self.entries if e.prediction is None or e.prediction.outcome == "error"
        ]
        self.labeling.label(todo)

    # -- review actions: each one is in the store before the screen shows it --------------

    def _reviewable(self) -> Entry | None:
        entry = self.current
        if not self.review.reviewable(entry):
            self.notify("nothing to review here: the page has no labels yet", timeout=3)
            return None
        return entry

    def _reviewed(self, entry: Entry | None, act: Callable[..., None], *args: str) -> None:
        if entry is not None:
            act(entry, *args)
            self._refresh_entry(entry)
            self._collection_changed()

    def action_accept(self) -> None:
        """Accept the shown labels (corrections included) and go to the next unreviewed."""
        entry = self._reviewable()
        self._reviewed(entry, self.review.accept)
        if entry is not None:
            self.action_next_unreviewed()

    def action_flag(self) -> None:
        self._reviewed(self._reviewable(), self.review.flag)

    def action_add_term(self) -> None:
        entry = self._reviewable()
        if entry is None:
            return
        shown = self.labels_pane.highlighted
        dimension = shown.dimension if shown else DIMENSIONS[0]

        def picked(choice: tuple[str, str] | None) -> None:
            if choice is not None:
                self._reviewed(entry, self.review.add_term, *choice)

        exclude = set(self.review.labels_of(entry)[dimension])
        self.push_screen(TermPicker(self.ontology, dimension, exclude), picked)

    def action_remove_term(self) -> None:
        if not self.labels_pane.has_focus_within:  # never a label the user did not point at
            self.notify("x removes the highlighted label: tab to the labels first", timeout=4)
            return
        entry = self._reviewable()
        shown = self.labels_pane.highlighted
        if shown is not None:
            self._reviewed(entry, self.review.remove_term, shown.dimension, shown.term)

    def action_undo(self) -> None:
        if not self.review.can_undo:
            self.notify("nothing to undo", timeout=2)
            return
        entry = self.review.undo(self.entries)
        if entry is not None:
            self._refresh_entry(entry)
            self.notify(f"undone: {entry.ref.path.name}", timeout=2)

    def action_next_unreviewed(self) -> None:
        if not self.worklist.table.select_next_unreviewed(self._visible(), self.selected):
            self.notify("every labeled page is reviewed", timeout=3)

    # -- list, preview and labeling controls ----------------------------------------------

    def action_toggle_sort(self) -> None:
        worklist = self.worklist
        worklist.by_confidence = not worklist.by_confidence
        self._show_list(self.selected)
        order = "least confident first" if worklist.by_confidence else "by path"
        self.notify(f"sorted {order}", timeout=2)

    def action_filter(self) -> None:
        if isinstance(self.focused, Input) or len(self.screen_stack) > 1:
            raise SkipAction  # there `/` is text, or the other screen's key
        self.worklist.open_filter()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._show_list(self.selected)

    def action_raw_text(self) -> None:
        entry = self.current
        if entry is not None and entry.prediction is not None:
            name = entry.ref.path.name + (f" p{entry.ref.page}" if entry.ref.page else "")
            self.push_screen(RawText(f"The model's answer for {name}:", entry.prediction.raw_text))

    def action_zoom(self) -> None:
        self.preview.step_zoom()

    def action_open_page(self) -> None:
        """Open the file at full resolution in the system viewer (small print is lost in
        half-blocks)."""
        entry = self.current
        problem = open_in_viewer(entry.ref.path) if entry else "no page to open"
        if problem:
            self.notify(problem, severity="error", timeout=8)
        else:
            self.notify(f"opening {entry.ref.path.name} in the system viewer", timeout=3)

    def action_rerun(self) -> None:
        entry = self.current
        if entry is None:
            return
        if self.fingerprint is None:
            self.notify("the model is not loaded yet", timeout=3)
            return
        self.labeling.rerun(entry.ref)

    def action_pause(self) -> None:
        self.labeling.toggle_pause()

    def action_cancel(self) -> None:
        self.labeling.cancel()

    def action_label_rest(self) -> None:
        if self.fingerprint is None:
            self.notify("the model is not loaded yet", timeout=3)
            return
        self.labeling.label(
            [e.ref for e in self.entries if e.prediction is None and not e.labeling]
        )

    def action_export(self) -> None:
        from mlx_edugraph.labelstudio.export import export_label_studio
        from mlx_edugraph.store.export_reviewed import export_reviewed, format_for, reviewed_pages

        def export(path: Path) -> int:
            pages = list(reviewed_pages(self.store, self.fingerprint))
            if format_for(path) == "labelstudio":
                return export_label_studio(pages, path, self.ontology).count
            return export_reviewed(pages, path)

        self.push_screen(ExportScreen(Path.cwd() / "labels-reviewed.jsonl", export))

    # -- coverage: the collection along the ontology ------------------------------------

    def _coverage(self) -> Coverage:
        # Counting 100,000 pages allocates as many small objects beside as many live entries;
        # the collector's full passes would take several times the work itself.
        with _collector_paused():
            return coverage(collection_pages(self.entries), self.ontology)

    def action_coverage(self) -> None:
        self.push_screen(CoverageScreen(self._coverage()), self._show_term)

    def _show_term(self, choice: tuple[str, str] | None) -> None:
        """Narrow the list to the pages at or below the chosen term."""
        if choice is None:
            return
        dimension, term = choice
        parts = self.ontology.descendants(term) if self.ontology else set()
        self.worklist.term_filter = TermFilter(dimension, term, frozenset({term, *parts}))
        self._show_list(self.selected)
        self._paint_term_filter()

    def _paint_term_filter(self) -> None:
        shown = self.worklist.term_filter
        if shown is None:
            self.labeling.set_shown("")
            return
        count = len(self._visible())
        self.labeling.set_shown(f"{shown.dimension} {shown.term}: {count} page(s), esc: all")

    def action_show_all(self) -> None:
        """Esc: no filter of either kind (the box's own Esc leaves it the same way)."""
        if self.worklist.clear_filters():
            self._show_list(self.selected)
            self._paint_term_filter()
            self.worklist.table.focus()

    def _collection_changed(self) -> None:
        """A page got labels or a review: the coverage screen's counts and a term's list
        follow (counting again waits for a quiet moment, so a fast run is not slowed)."""
        if self._recount is not None:
            self._recount.stop()
        self._recount = self.set_timer(RECOUNT_AFTER_S, self._recount_now)

    def _recount_now(self) -> None:
        self._recount = None
        if not self.is_running:  # the timer fired while the app closes: no screen is left
            return
        if isinstance(self.screen, CoverageScreen):
            self.screen.update_counts(self._coverage())
        if self.worklist.term_filter is not None:
            self._show_list(self.selected)
            self._paint_term_filter()

    def action_similar(self) -> None:
        entry = self.current
        if entry is None or not entry.sha256:
            self.notify("no page on screen", title="Similar pages", timeout=5)
            return
        self._find_similar(entry_key(entry), (entry.sha256, entry.ref.page), self.fingerprint)

    def _go_to(self, key: str | None) -> None:
        """Move the list's cursor to a page, showing every page first if filters hide it."""
        if key is None or key not in self.by_key:
            return
        if key not in {entry_key(e) for e in self._visible()}:
            self.worklist.clear_filters()
            self._paint_term_filter()
        self._show_list(key)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notice goes to the one-line notice row, never over the page."""
        wait = self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        self.notice_line.say(message, title=title, severity=severity, timeout=wait)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            action = getattr(self, f"action_{binding.action}")
            yield SystemCommand(binding.description, f"key: {key_names(binding.key)}", action)
