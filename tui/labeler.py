"""The labeling thread: it alone loads and runs the model (MLX streams are per thread) and
talks to the app only through messages. The app sends it jobs: label these pages, re-run
that one, pause, resume, cancel."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message

from mlx_edugraph.errors import UserError
from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.engine import Engine
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS, WorksheetRef
from mlx_edugraph.stopping import StopCheck, Stopped

from .messages import (
    LabelingState,
    ModelChosen,
    ModelFailed,
    ModelReady,
    ModelStatus,
    OntologyReady,
    PageDone,
    PageStarted,
)


@dataclass
class Settings:
    """What the labeler needs to start: model, ontology source, store, limits."""

    db: Path
    choose: Callable[[Callable[[str], None], StopCheck], ModelChoice] | None = None
    """Resolves the model on the labeler thread (the demo model builds on first use), told
    progress lines and asked whether to stop (the build raises `Stopped`); None: browse and
    review only."""
    ontology_file: Path | None = None
    ontology_version: str | None = None
    demo: bool = False
    """The demo: without a file or cached release, the demo's own ontology."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_tokens: int | None = None


@dataclass
class _Batch:
    refs: list[WorksheetRef]
    redo: bool = False


_STOP = object()


@dataclass
class Labeler:
    """Owns the engine on one thread; `run` is that thread's body."""

    settings: Settings
    post: Callable[[Message], object]
    _jobs: queue.Queue = field(default_factory=queue.Queue)
    _paused: threading.Event = field(default_factory=threading.Event)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _urgent: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _parked: threading.Event = field(default_factory=threading.Event)

    def label(self, refs: list[WorksheetRef]) -> None:
        """Queue pages to label (those this model already labeled are skipped)."""
        if refs:
            self._cancel.clear()  # new work after a cancel is wanted work
            self._jobs.put(_Batch(list(refs)))

    def rerun(self, ref: WorksheetRef) -> None:
        """Label one page again, ahead of the queue (the running batch yields after its page)."""
        self._urgent.set()
        self._jobs.put(_Batch([ref], redo=True))

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self._wake.set()

    def cancel(self) -> None:
        """Drop every queued page; the page in flight finishes and is saved."""
        self._cancel.set()
        self._wake.set()

    def stop(self, wait: float = 0.0) -> bool:
        """Stop at the next token or demo-build step (the page in flight is not saved); wait up
        to `wait` seconds for that, so the process does not exit while MLX is computing on the
        model thread. True once the thread is parked."""
        self._stopped.set()
        self._cancel.set()
        self._wake.set()
        self._jobs.put(_STOP)
        return self._parked.wait(wait)

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def start(self) -> None:
        """Start the model thread. It is a daemon that never ends: MLX tears down a thread's
        stream when the thread ends, and at interpreter exit that teardown can abort the
        process ("terminate called without an active exception", seen here); a parked daemon
        thread is simply dropped at exit."""
        thread = threading.Thread(target=self._main, name="mlx-labeler", daemon=True)
        thread.start()

    def _main(self) -> None:
        try:
            self.run()
        except Stopped:  # the app is closing: nothing to say
            pass
        except Exception as exc:  # say so on screen; reviews and saved labels stay usable
            self.post(ModelFailed(f"labeling stopped: {type(exc).__name__}: {exc}"))
        self._parked.set()
        threading.Event().wait()

    def run(self) -> None:
        """Thread body: ontology, model, then jobs until stopped. The app hears which model
        labels (`ModelChosen`) as soon as that is known: for a local model before its weights
        load, for servers once they have said which model they serve."""
        ontology = self._ontology()
        if self._stopped.is_set():
            return
        choice = self._choice()
        if choice is None:
            self.post(ModelChosen(None))  # the app stays usable for browsing and review
            return
        if self._stopped.is_set():
            return
        if not choice.on_servers:
            self.post(ModelChosen(choice.fingerprint))
        engine = self._load(choice, ontology)
        if choice.on_servers:
            self.post(ModelChosen(engine.provenance.model_fingerprint if engine else None))
        if engine is None:
            return
        self.post(ModelReady(engine.provenance, engine.load_s))
        from mlx_edugraph.store.sqlite_store import Store

        with Store(self.settings.db) as store:
            self._serve(engine, store)

    def _status(self, line: str) -> None:
        self.post(ModelStatus(line))

    def _choice(self) -> ModelChoice | None:
        """The model to label with, or None after saying why there is none."""
        if self.settings.choose is None:
            self._status("browse and review only: no model")
            return None
        try:
            return self.settings.choose(self._status, self._stopped.is_set)
        except UserError as exc:  # no model installed: the message says how to get one
            self.post(ModelFailed(str(exc)))
            return None
        except Exception as exc:  # a failed demo build: say which
            self.post(ModelFailed(f"{type(exc).__name__}: {exc}"))
            return None

    def _load(self, choice: ModelChoice, ontology) -> Engine | None:
        """The engine of `choice`, or None after saying why it could not be made."""
        from mlx_edugraph.labeling.engine_choice import make_engine

        self._status(f"loading {choice.source} ...")
        try:
            return make_engine(
                choice,
                ontology=ontology,
                max_pixels=self.settings.max_pixels,
                max_tokens=self.settings.max_tokens,
                note=self._status,
                stop=self._stopped.is_set,
            )
        except Exception as exc:  # a broken folder or no server: say which
            self.post(ModelFailed(f"cannot load {choice.source}: {type(exc).__name__}: {exc}"))
            return None

    def _ontology(self):
        from mlx_edugraph.labels.ontology import OntologyError
        from mlx_edugraph.labels.ontology_source import resolve_ontology

        try:
            resolution = resolve_ontology(
                self.settings.ontology_file,
                version=self.settings.ontology_version,
                demo=self.settings.demo,
            )
        except OntologyError as exc:
            self.post(OntologyReady(None, str(exc)))
            return None
        self.post(OntologyReady(resolution.ontology, resolution.summary or resolution.warning))
        return resolution.ontology

    def _serve(self, engine, store) -> None:
        from mlx_edugraph.labeling.batch import run

        while True:
            job = self._jobs.get()
            if job is _STOP or self._stopped.is_set():
                return
            self.post(LabelingState("running"))
            reported: set[WorksheetRef] = set()

            def interrupted(redo: bool = job.redo) -> bool:
                urgent = self._urgent.is_set() and not redo
                return self._stopped.is_set() or self._cancel.is_set() or self.paused or urgent

            events = run(
                job.refs,
                engine,
                store,
                redo=job.redo,
                cancelled=interrupted,
                started=lambda ref: self.post(PageStarted(ref)),
            )
            for event in events:
                reported.add(event.ref)
                self.post(PageDone(event.ref, event.status, event.prediction))
            if job.redo:
                self._urgent.clear()
            rest = [ref for ref in job.refs if ref not in reported]
            if self._cancel.is_set():
                self._drain()
                self.post(LabelingState("cancelled"))
                continue
            if rest:
                self._jobs.put(_Batch(rest))  # after the urgent job, or once resumed
            self._wait_while_paused()
            if self._jobs.empty():
                self.post(LabelingState("idle"))

    def _drain(self) -> None:
        """Forget every queued page (re-runs asked for after the cancel are kept)."""
        kept = []
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is _STOP or job.redo:
                kept.append(job)
        for job in kept:
            self._jobs.put(job)
        self._cancel.clear()

    def _wait_while_paused(self) -> None:
        if self.paused:
            self.post(LabelingState("paused"))
        while self.paused and not self._stopped.is_set() and not self._cancel.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
        if self._cancel.is_set():
            self._drain()
            self.post(LabelingState("cancelled"))
