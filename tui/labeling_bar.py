"""The bar above the footer: the background labeling's controls and what it shows of them, the
model's state, progress with an ETA, and the last page's figures. It keeps the counts it shows;
the app tells it what the labeler reported."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from mlx_edugraph.labeling.progress import clock
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.prediction import Prediction

from .labeler import Labeler
from .lifetime import live


class LabelingBar(Horizontal):
    """A progress bar and one line: model · done/queued state, ETA · last page's figures."""

    def __init__(self, labeler: Labeler, **kwargs) -> None:
        super().__init__(**kwargs)
        self.labeler = labeler
        self.model = "starting ..."
        self.queued = 0
        self.done = 0
        self.state = "idle"
        self.seconds: list[float] = []
        """The labeled pages' times so far, for the ETA of the rest."""
        self.figures = ""
        self.shown = ""
        """What the list is narrowed to (the coverage screen's term), shown first."""
        self._progress = ProgressBar(id="progress", show_eta=False)
        self._status = Static("", id="status")

    def compose(self) -> ComposeResult:
        yield self._progress
        yield self._status

    def on_mount(self) -> None:
        self._paint()

    def set_model(self, text: str) -> None:
        self.model = text
        self._redraw()

    def set_shown(self, text: str) -> None:
        self.shown = text
        self._redraw()

    def set_state(self, state: str) -> None:
        """The labeler's state: running, pausing, paused, cancelling, cancelled or idle."""
        self.state = state
        self._redraw()

    def label(self, refs: list[WorksheetRef]) -> None:
        """Queue `refs` as a new run, counted after the pages already done."""
        if refs:
            self.queued = self.done + len(refs)
            self.labeler.label(refs)
        self._redraw()

    def rerun(self, ref: WorksheetRef) -> None:
        """Label one page again, whatever the store holds; counted in this run."""
        self.queued += 1
        self.labeler.rerun(ref)
        self._redraw()

    def toggle_pause(self) -> None:
        if self.labeler.paused:
            self.labeler.resume()
            self.set_state("running")
        else:
            self.labeler.pause()
            self.set_state("pausing")

    def cancel(self) -> None:
        self.labeler.cancel()
        self.queued = self.done
        self.set_state("cancelling")

    def page_done(self, status: str, prediction: Prediction) -> None:
        self.done += 1
        timings = prediction.timings
        if status == "labeled" and prediction.outcome != "error":
            self.seconds.append(timings.total_s)
            self.figures = (
                f"last page: {timings.prompt_tokens:,} prompt tokens, {timings.total_s:.2f} s, "
                f"{timings.decode_tps:.1f} tok/s"
            )
        self._redraw()

    def _redraw(self) -> None:
        if live(self):  # else on_mount draws what was set before, or the bar is closing
            self._paint()

    def _paint(self) -> None:
        queued, done = self.queued, self.done
        self._progress.update(total=max(queued, 1), progress=min(done, queued))
        parts = [self.shown] if self.shown else []
        parts.append(self.model)
        if queued:
            remaining = max(queued - done, 0)
            eta = ""
            if self.seconds and remaining:
                eta = f", ETA {clock(sum(self.seconds) / len(self.seconds) * remaining)}"
            parts.append(f"{min(done, queued)}/{queued} {self.state}{eta}")
        if self.figures:
            parts.append(self.figures)
        self._status.update(" · ".join(parts))
