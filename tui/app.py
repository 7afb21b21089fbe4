"""The review app: worksheet list, the page as an image, its labels; labeling in the background.

Data flows one way: the scanner and the labeler threads post messages; the app updates its
entries (collection.py) and redraws. Review actions go straight to the store, one transaction
each, before the screen confirms them. The screen's layout is workspace.py's; the keys are
keymap.py's; the review keys, the labeler's messages and similar pages are handled by the
mixins in review_commands.py, labeling_events.py, similar_commands.py and related_commands.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from multiprocessing import resource_tracker
from pathlib import Path
from traceback import format_exception

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.store.page_states import Entry
from mlx_edugraph.store.review_actions import ReviewActions
from mlx_edugraph.store.sqlite_store import Store

from .collection import Collection
from .coverage_screen import CoverageScreen, count
from .export_screen import ExportScreen, reviewed_exporter
from .help_screen import HelpScreen, key_names
from .keymap import REVIEW_KEYS
from .labeler import Labeler, Settings
from .labeling_bar import LabelingBar
from .labeling_events import LabelingEvents
from .labels_pane import LabelsPane
from .lifetime import while_shown
from .messages import EntriesFound, OntologyReady, PredictionsFound, WorkFailed
from .notice_line import NoticeLine
from .preview import Preview
from .raw_text import RawText
from .related_commands import RelatedPages
from .review_commands import ReviewCommands
from .scanner import look_up, scan
from .similar_commands import SimilarPages
from .system_viewer import open_in_viewer
from .terminal_hint import terminal_hint
from .worksheet_list import TermFilter, Worklist, entry_key
from .workspace import Workspace

log = logging.getLogger(__name__)

DEMO_BANNER = "DEMO: labels by a tiny demo model, not the EduGraph model"


RECOUNT_AFTER_S = 0.3
"""The coverage counts are recomputed this long after the last page or review came in."""

STOP_WAIT_S = 0.5
"""On quit, how long the closing app waits for the model to stop at its next token or
teaching step (`mlx-edugraph tui` waits longer, saying so, once the terminal is back)."""


class ReviewApp(ReviewCommands, LabelingEvents, SimilarPages, RelatedPages, App):
    """Review EduGraph labels of worksheets, labeling the rest in the background."""

    CSS_PATH = "app.tcss"
    TITLE = "mlx-edugraph (research use only)"

    BINDINGS = REVIEW_KEYS

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
        # Marking duplicate sheets starts worker processes, and with them multiprocessing's
        # resource tracker, which is handed sys.stderr's descriptor: inside the app that is
        # Textual's capture, whose descriptor is -1, and the start fails. Started now.
        resource_tracker.ensure_running()
        self.paths = list(paths)
        self.settings = settings
        self.demo = demo
        self.pages = pages
        self.collection = Collection()
        self.ontology: Ontology | None = None
        self.fingerprint: str | None = None
        self._recount: Timer | None = None
        self.labeler = Labeler(settings, self.post_message)
        # The panes, held rather than looked up: a lookup fails while the app closes.
        self.worklist = Worklist(id="left")
        self.preview = Preview(image_mode, id="preview")
        self.labels_pane = LabelsPane(id="labels-pane")
        self.labeling = LabelingBar(self.labeler, id="status-bar")
        self.notice_line = NoticeLine(self.labeling, id="notice")
        self.workspace = Workspace(self.worklist, self.preview, self.labels_pane)
        self.hint = terminal_hint(image_mode)

    @property
    def entries(self) -> list[Entry]:
        return self.collection.entries

    @property
    def by_key(self) -> dict[str, Entry]:
        return self.collection.by_key

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        if self.demo:
            yield Static(DEMO_BANNER, id="banner")
        yield self.workspace
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
        self.workspace.focus_home()

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
        self.collection.found(message.entries)
        self._look_up_predictions()
        self._show_list(keep)
        # "…" until the stored labels are read: they wait for the model that labels to be known
        self.sub_title = f"{len(self.entries)} worksheet page(s) …"
        if not self.entries:
            self.notify("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found", timeout=10)
        self._mark_duplicates()

    @while_shown
    def on_predictions_found(self, message: PredictionsFound) -> None:
        self.collection.predictions_found(message.predictions)
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
        self.workspace.show_selection(self.current)

    @property
    def current(self) -> Entry | None:
        return self.by_key.get(self.selected) if self.selected else None

    def _refresh_entry(self, entry: Entry) -> None:
        self.worklist.table.update_entry(entry)
        if entry is self.current:
            self._redraw_selected()

    def _look_up_predictions(self) -> None:
        wanted = self.collection.to_look_up()
        if wanted is not None:
            self._look_up(*wanted)

    def _maybe_submit(self) -> None:
        todo = self.collection.to_submit(self.fingerprint)
        if todo is not None:
            self.labeling.label(todo)

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
        if self.workspace.list_folded:  # the box sits above the list: show it
            self.workspace.toggle_list(focus=False)
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

    def action_export(self) -> None:
        export = reviewed_exporter(self.store, self.fingerprint, self.ontology)
        self.push_screen(ExportScreen(Path.cwd() / "labels-reviewed.jsonl", export))

    # -- coverage: the collection along the ontology ------------------------------------

    def action_coverage(self) -> None:
        self.push_screen(CoverageScreen(count(self.entries, self.ontology)), self._show_term)

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

    def action_toggle_list(self) -> None:
        self.workspace.toggle_list()

    def action_page(self, by: int) -> None:
        """j/k where the list has no focus (it is folded on a narrow terminal): the next or
        previous page all the same."""
        self.worklist.table.step(by)

    def action_show_all(self) -> None:
        """Esc: no filter of either kind (the box's own Esc leaves it the same way); with none,
        the page back in place of the list shown over it."""
        if self.worklist.clear_filters():
            self._show_list(self.selected)
            self._paint_term_filter()
            self.worklist.table.focus()
        else:
            self.workspace.close_list()

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
            self.screen.update_counts(count(self.entries, self.ontology))
        if self.worklist.term_filter is not None:
            self._show_list(self.selected)
            self._paint_term_filter()

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
            help_text = binding.tooltip or binding.description
            yield SystemCommand(help_text, f"key: {key_names(binding.key)}", action)
