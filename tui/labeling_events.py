"""What the labeler thread reports (the model's state, each page started and done, the run's
state) shown in the list and the status bar; and the keys that steer the run."""

from __future__ import annotations

from .lifetime import while_shown
from .messages import (
    LabelingState,
    ModelChosen,
    ModelFailed,
    ModelReady,
    ModelStatus,
    PageDone,
    PageStarted,
)


class LabelingEvents:
    """Mixed into the review app: its handlers of the labeler's messages, and the run's keys."""

    @while_shown
    def on_model_status(self, message: ModelStatus) -> None:
        self.labeling.set_model(message.text)

    @while_shown
    def on_model_chosen(self, message: ModelChosen) -> None:
        self.collection.chosen = (message.fingerprint,)
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
        entry = self.collection.page_started(message.ref)
        if entry is not None:
            self._refresh_entry(entry)

    @while_shown
    def on_page_done(self, message: PageDone) -> None:
        self.labeling.page_done(message.status, message.prediction)
        entry = self.collection.page_done(message.ref, message.prediction)
        if entry is not None:
            self._refresh_entry(entry)
            self._collection_changed()

    @while_shown
    def on_labeling_state(self, message: LabelingState) -> None:
        self.labeling.set_state(message.state)
        if message.state in ("idle", "cancelled"):
            for entry in self.collection.labeling_stopped():
                self._refresh_entry(entry)
            self._mark_duplicates()

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
        self.labeling.label(self.collection.unlabeled())
