"""The review app: worksheet list, the page as an image, its labels; labeling in the background.

Data flows one way: the scanner and the labeler threads post messages; the app updates its
entries and redraws. Review actions go straight to the store, one transaction each, before the
screen confirms them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static
from textual.worker import get_current_worker

from mlx_edugraph.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.progress import clock
from mlx_edugraph.review import Review, review_from
from mlx_edugraph.store import Store
from mlx_edugraph.worklist import Entry, build_entries, least_confident_first
from mlx_edugraph.worksheets import WorksheetRef, discover, load

from .export_screen import ExportScreen
from .help_screen import RESEARCH_NOTICE, HelpScreen
from .labeler import Labeler, Settings
from .labels_pane import LabelsPane
from .messages import (
    EntriesFound,
    LabelingState,
    ModelFailed,
    ModelReady,
    ModelStatus,
    OntologyReady,
    PageDone,
    PageStarted,
)
from .preview import Preview
from .raw_text import RawText
from .term_picker import TermPicker
from .worksheet_list import WorksheetList, entry_key, ref_key

DEMO_BANNER = (
    "DEMO: labels come from a tiny demo model trained on generated worksheets, "
    "not from the EduGraph model"
)


def _while_shown(handler: Callable) -> Callable:
    """For messages from the threads: they can arrive while the app closes, when its widgets
    are already gone; then there is nothing to update."""

    @functools.wraps(handler)
    def guarded(self: ReviewApp, message: Message) -> None:
        if self.query("#main"):
            handler(self, message)

    return guarded


STOP_WAIT_S = 30.0
"""On quit, how long to let the model finish the page in flight (it is then saved)."""


class ReviewApp(App):
    """Review EduGraph labels of worksheets, labeling the rest in the background."""

    CSS_PATH = "app.tcss"
    TITLE = "mlx-edugraph"

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("a", "accept", "Accept"),
        Binding("f", "flag", "Flag"),
        Binding("plus,i", "add_term", "Add term"),
        Binding("x,delete", "remove_term", "Remove term"),
        Binding("u", "undo", "Undo"),
        Binding("n", "next_unreviewed", "Next unreviewed"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("slash", "filter", "Filter"),
        Binding("t", "raw_text", "Raw text", show=False),
        Binding("z", "zoom", "Zoom", show=False),
        Binding("o", "open_page", "Open page", show=False),
        Binding("r", "rerun", "Re-run page", show=False),
        Binding("p", "pause", "Pause/resume", show=False),
        Binding("c", "cancel", "Cancel labeling", show=False),
        Binding("l", "label_rest", "Label the rest", show=False),
        Binding("E", "export", "Export", show=False),
    ]

    selected: reactive[str | None] = reactive(None)
    sort_by_confidence: reactive[bool] = reactive(False)

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
        self.image_mode = image_mode
        self.demo = demo
        self.pages = pages
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.ontology: Ontology | None = None
        self.fingerprint: str | None = None
        self._scanning = True
        self._scanned_for: str | None = None  # the fingerprint the entries were looked up for
        self._submitted = False
        self._undo: list[tuple[str, Review | None]] = []
        self._queued = 0
        self._done = 0
        self._seconds: list[float] = []
        self._model_line = "starting ..."
        self._state = "idle"
        self._figures = ""
        self.labeler = Labeler(settings, self.post_message)

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        if self.demo:
            yield Static(DEMO_BANNER, id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter: state, name or term", id="filter")
                yield WorksheetList(id="worksheets")
            yield Preview(self.image_mode, id="preview")
            yield LabelsPane(id="labels-pane")
        with Horizontal(id="status-bar"):
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.store = Store(self.settings.db)
        self.query_one("#filter", Input).display = False
        self.sub_title = "scanning ..."
        self.notify(RESEARCH_NOTICE, title="Research use only", timeout=8)
        self._scan(None)
        self.labeler.start()
        self.query_one(WorksheetList).focus()

    def on_unmount(self) -> None:
        self.labeler.stop(wait=STOP_WAIT_S)
        self.store.close()

    # -- background work ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self, fingerprint: str | None) -> None:
        """Find the pages and what the store holds for them (hashing files: off the UI)."""
        if fingerprint is None:
            fingerprint = self._local_fingerprint()
        refs = list(discover(self.paths, pages=self.pages))
        with Store(self.settings.db) as store:
            entries = build_entries(refs, store, fingerprint)
        self.post_message(EntriesFound(entries, fingerprint))

    def _local_fingerprint(self) -> str | None:
        from mlx_edugraph.fingerprint import model_fingerprint

        model = self.settings.model
        if model and (Path(model) / "config.json").is_file():
            return model_fingerprint(Path(model))
        return None

    @work(thread=True, exclusive=True, group="preview")
    def _load_preview(self, ref: WorksheetRef, caption: str) -> None:
        try:
            image = load(ref, max_pixels=self.settings.max_pixels).image
        except Exception:  # an unreadable page: its error record says why, in the labels pane
            image, caption = None, f"{caption}\ncannot show this page"
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.query_one(Preview).show, image, caption)

    # -- messages from the threads --------------------------------------------------------

    @_while_shown
    def on_entries_found(self, message: EntriesFound) -> None:
        keep = self.selected
        self.entries = message.entries
        self.by_key = {entry_key(entry): entry for entry in self.entries}
        self._scanned_for = message.fingerprint
        self._scanning = False
        self._show_list(keep)
        self.sub_title = f"{len(self.entries)} worksheet page(s)"
        if not self.entries:
            self.notify("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found", timeout=10)
        self._after_scan_or_load()

    @_while_shown
    def on_ontology_ready(self, message: OntologyReady) -> None:
        self.ontology = message.ontology
        if message.warning:
            self.notify(message.warning, title="Ontology", severity="warning", timeout=10)
        self._redraw_selected()

    @_while_shown
    def on_model_status(self, message: ModelStatus) -> None:
        self._model_line = message.text
        self._update_status()

    @_while_shown
    def on_model_ready(self, message: ModelReady) -> None:
        self.fingerprint = message.provenance.model_fingerprint
        self._model_line = f"model ready (loaded in {message.load_s:.1f} s)"
        self._update_status()
        self._after_scan_or_load()

    @_while_shown
    def on_model_failed(self, message: ModelFailed) -> None:
        self._model_line = "no model: browse and review only"
        self.notify(message.error, title="Model", severity="error", timeout=20)
        self._update_status()

    @_while_shown
    def on_page_started(self, message: PageStarted) -> None:
        entry = self._entry_for(message.ref)
        if entry is not None:
            entry.labeling = True
            self._refresh_entry(entry)

    @_while_shown
    def on_page_done(self, message: PageDone) -> None:
        self._done += 1
        timings = message.prediction.timings
        if message.status == "labeled" and message.prediction.outcome != "error":
            self._seconds.append(timings.total_s)
            self._figures = (
                f"last page: {timings.prompt_tokens:,} prompt tokens, {timings.total_s:.2f} s, "
                f"{timings.decode_tps:.1f} tok/s"
            )
        entry = self._entry_for(message.ref)
        if entry is not None:
            entry.labeling = False
            entry.prediction = message.prediction
            entry.sha256 = entry.sha256 or message.prediction.sha256
            self._refresh_entry(entry)
        self._update_status()

    @_while_shown
    def on_labeling_state(self, message: LabelingState) -> None:
        self._state = message.state
        if message.state in ("idle", "cancelled"):
            for entry in self.entries:
                if entry.labeling:
                    entry.labeling = False
                    self._refresh_entry(entry)
        self._update_status()

    # -- the list and the selection -------------------------------------------------------

    def _visible(self) -> list[Entry]:
        needle = self.query_one("#filter", Input).value.strip().lower()
        entries = [entry for entry in self.entries if not needle or _matches(entry, needle)]
        return least_confident_first(entries) if self.sort_by_confidence else entries

    def _show_list(self, keep: str | None = None) -> None:
        table = self.query_one(WorksheetList)
        table.show(self._visible(), keep)
        self.selected = table.selected_key
        self._redraw_selected()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected = event.row_key.value

    def watch_selected(self, key: str | None) -> None:
        entry = self.by_key.get(key) if key else None
        self._redraw_selected()
        if entry is None:
            self.query_one(Preview).show(None, "")
            return
        caption = _shown_path(entry.ref.path) + (
            f"  page {entry.ref.page}" if entry.ref.page else ""
        )
        self._load_preview(entry.ref, caption)

    def watch_sort_by_confidence(self) -> None:
        if self.is_mounted:
            self._show_list(self.selected)

    def _redraw_selected(self) -> None:
        entry = self.current
        self.query_one(LabelsPane).show(entry, self.ontology)

    @property
    def current(self) -> Entry | None:
        return self.by_key.get(self.selected) if self.selected else None

    def _entry_for(self, ref: WorksheetRef) -> Entry | None:
        return self.by_key.get(ref_key(ref))

    def _refresh_entry(self, entry: Entry) -> None:
        self.query_one(WorksheetList).update_entry(entry)
        if entry is self.current:
            self._redraw_selected()

    def _update_status(self) -> None:
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=max(self._queued, 1), progress=min(self._done, self._queued))
        parts = [self._model_line]
        if self._queued:
            remaining = max(self._queued - self._done, 0)
            eta = ""
            if self._seconds and remaining:
                mean = sum(self._seconds) / len(self._seconds)
                eta = f", ETA {clock(mean * remaining)}"
            parts.append(f"{min(self._done, self._queued)}/{self._queued} {self._state}{eta}")
        if self._figures:
            parts.append(self._figures)
        self.query_one("#status", Static).update(" · ".join(parts))

    def _after_scan_or_load(self) -> None:
        """Once both the scan and the model are done: look the store up again if the scan could
        not know this model's fingerprint (a repo id), else queue the unlabeled pages. One scan
        runs at a time, so no late scan replaces entries that labeling has filled."""
        if self._scanning or self.fingerprint is None:
            return
        if self._scanned_for != self.fingerprint:
            self._scanning = True
            self._scan(self.fingerprint)
        else:
            self._maybe_submit()

    def _maybe_submit(self) -> None:
        """Queue the unlabeled pages once the model is ready and the store was consulted."""
        if self._submitted or self.fingerprint is None or self._scanned_for != self.fingerprint:
            return
        self._submitted = True
        todo = [
            e.ref for e in self.entries if e.prediction is None or e.prediction.outcome == "error"
        ]
        self._queue(todo)

    def _queue(self, refs: list[WorksheetRef]) -> None:
        if refs:
            self._queued = self._done + len(refs)
            self.labeler.label(refs)
        self._update_status()

    # -- review actions: each one is in the store before the screen shows it --------------

    def _review(self, entry: Entry, review: Review | None) -> None:
        self._undo.append((entry_key(entry), entry.review))
        self._save(entry, review)

    def _save(self, entry: Entry, review: Review | None) -> None:
        if review is None:
            self.store.delete_review(entry.sha256, entry.ref.page)
        else:
            review.path = str(entry.ref.path)
            review = self.store.put_review(review)
        entry.review = review
        self._refresh_entry(entry)

    def _reviewable(self) -> Entry | None:
        entry = self.current
        if entry is None or entry.prediction is None or entry.prediction.outcome == "error":
            self.notify("nothing to review here: the page has no labels yet", timeout=3)
            return None
        return entry

    def _labels_of(self, entry: Entry) -> dict[str, list[str]]:
        if entry.review is not None:
            return {d: list(entry.review.labels.get(d, [])) for d in DIMENSIONS}
        return {d: entry.prediction.terms(d) for d in DIMENSIONS}

    def action_accept(self) -> None:
        """Accept the shown labels (corrections included) and go to the next unreviewed."""
        entry = self._reviewable()
        if entry is not None:
            self._review(entry, review_from(entry.prediction, "accepted", self._labels_of(entry)))
            self.action_next_unreviewed()

    def action_flag(self) -> None:
        """Set the page aside for a second look."""
        entry = self._reviewable()
        if entry is not None:
            self._review(entry, review_from(entry.prediction, "flagged", self._labels_of(entry)))

    def action_add_term(self) -> None:
        entry = self._reviewable()
        if entry is None:
            return
        shown = self.query_one(LabelsPane).highlighted
        dimension = shown.dimension if shown else DIMENSIONS[0]
        exclude = set(self._labels_of(entry)[dimension])

        def picked(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            dim, term = choice
            labels = self._labels_of(entry)
            if term not in labels[dim]:
                labels[dim].append(term)
            self._review(entry, review_from(entry.prediction, "corrected", labels))

        self.push_screen(TermPicker(self.ontology, dimension, exclude), picked)

    def action_remove_term(self) -> None:
        entry = self._reviewable()
        shown = self.query_one(LabelsPane).highlighted
        if entry is None or shown is None:
            return
        labels = self._labels_of(entry)
        labels[shown.dimension] = [t for t in labels[shown.dimension] if t != shown.term]
        self._review(entry, review_from(entry.prediction, "corrected", labels))

    def action_undo(self) -> None:
        if not self._undo:
            self.notify("nothing to undo", timeout=2)
            return
        key, previous = self._undo.pop()
        entry = self.by_key.get(key)
        if entry is not None:
            self._save(entry, previous)
            self.notify(f"undone: {entry.ref.path.name}", timeout=2)

    def action_next_unreviewed(self) -> None:
        visible = self._visible()
        keys = [entry_key(e) for e in visible]
        start = keys.index(self.selected) + 1 if self.selected in keys else 0
        for entry in visible[start:] + visible[:start]:
            if entry.unreviewed and entry_key(entry) != self.selected:
                table = self.query_one(WorksheetList)
                table.move_cursor(row=table.get_row_index(entry_key(entry)))
                return
        self.notify("every labeled page is reviewed", timeout=3)

    # -- list, preview and labeling controls ----------------------------------------------

    def action_toggle_sort(self) -> None:
        self.sort_by_confidence = not self.sort_by_confidence
        order = "least confident first" if self.sort_by_confidence else "by path"
        self.notify(f"sorted {order}", timeout=2)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._show_list(self.selected)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = bool(box.value)
        self.query_one(WorksheetList).focus()

    def action_raw_text(self) -> None:
        entry = self.current
        if entry is not None and entry.prediction is not None:
            name = entry.ref.path.name + (f" p{entry.ref.page}" if entry.ref.page else "")
            self.push_screen(RawText(f"The model's answer for {name}:", entry.prediction.raw_text))

    def action_zoom(self) -> None:
        self.query_one(Preview).zoom += 1

    def action_open_page(self) -> None:
        """Open the file in the system viewer (small print is lost in half-blocks)."""
        entry = self.current
        if entry is None:
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        if shutil.which(opener) is None:
            self.notify(f"cannot open {entry.ref.path}: no `{opener}` here", severity="error")
            return
        subprocess.Popen(
            [opener, str(entry.ref.path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def action_rerun(self) -> None:
        entry = self.current
        if entry is None:
            return
        if self.fingerprint is None:
            self.notify("the model is not loaded yet", timeout=3)
            return
        self._queued += 1
        self.labeler.rerun(entry.ref)
        self._update_status()

    def action_pause(self) -> None:
        if self.labeler.paused:
            self.labeler.resume()
            self._state = "running"
        else:
            self.labeler.pause()
            self._state = "pausing"
        self._update_status()

    def action_cancel(self) -> None:
        self.labeler.cancel()
        self._queued = self._done
        self._state = "cancelling"
        self._update_status()

    def action_label_rest(self) -> None:
        if self.fingerprint is None:
            self.notify("the model is not loaded yet", timeout=3)
            return
        self._queue([e.ref for e in self.entries if e.prediction is None and not e.labeling])

    def action_export(self) -> None:
        from mlx_edugraph.review_export import export_reviewed, reviewed_pages

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                count = export_reviewed(reviewed_pages(self.store, self.fingerprint), path)
            except (OSError, ValueError) as exc:
                self.notify(f"export failed: {exc}; any earlier file is intact", severity="error")
                return
            self.notify(f"exported {count} page(s) to {path}", timeout=5)

        self.push_screen(ExportScreen(Path.cwd() / "labels-reviewed.jsonl"), chosen)

    def action_help(self) -> None:
        keys = [(_key_names(b.key), b.description) for b in self.BINDINGS]
        keys += [
            ("j / k, arrows", "Move in the list"),
            ("tab", "Switch list / labels"),
            ("ctrl+p", "Command palette"),
        ]
        self.push_screen(HelpScreen(keys))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            action = getattr(self, f"action_{binding.action}")
            yield SystemCommand(binding.description, f"key: {_key_names(binding.key)}", action)


def _key_names(keys: str) -> str:
    """A binding's keys as people write them: "plus,i" -> "+ / i"."""
    names = {"question_mark": "?", "slash": "/", "plus": "+", "delete": "del"}
    return " / ".join(names.get(key, key) for key in keys.split(","))


def _matches(entry: Entry, needle: str) -> bool:
    """Filter: a state ("needs review", "error"), part of the file name, or part of a term."""
    if needle in entry.state or needle in str(entry.ref.path).lower():
        return True
    terms = [lab.term for lab in entry.prediction.labels] if entry.prediction else []
    if entry.review is not None:
        terms += [t for ts in entry.review.labels.values() for t in ts]
    return any(needle in term.lower() for term in terms)


def _shown_path(path: Path) -> str:
    """The path relative to the working folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
