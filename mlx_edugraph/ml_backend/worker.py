"""The ML backend's one model: loaded on a thread of its own, which runs every job in turn.

MLX streams belong to the thread that made them, so the model is made, used and remade (after
a promoted `tune`) on this thread only; the web server's event loop hands it jobs and awaits
their futures, so `/health` answers while a long batch runs. The thread's own store connection
writes the predictions.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlx_edugraph.model.engine import Engine
from mlx_edugraph.store.sqlite_store import Store

Job = Callable[["Loaded"], Any]


@dataclass
class Loaded:
    """What a job gets: the engine, the store, and the question whether to stop."""

    engine: Engine
    store: Store
    stopping: threading.Event
    reload: bool = False
    """Set by a job (a promoted `tune`): the model is made again after it."""

    @property
    def model_version(self) -> str:
        return model_version(self.engine)


def model_version(engine: Engine) -> str:
    """Label Studio's name of the model: its fingerprint (which the store keys predictions
    by) and its version ("base", or a tuned "v2")."""
    provenance = engine.provenance
    return f"{provenance.model_fingerprint}-{provenance.model_version or 'base'}"


def _release_streams() -> None:
    """Destroy the MLX streams this thread made, as MLX asks of a thread that used it: left to
    the process's exit, their teardown can abort it ("terminate called without an active
    exception", ml-explore/mlx#3126), which 2 of 3 live runs here did after SIGTERM."""
    mlx = sys.modules.get("mlx.core")
    if mlx is not None:
        mlx.clear_streams()


class BackendStopping(Exception):
    """The backend was asked to stop (Ctrl-C, SIGTERM) before this job was done."""


class ModelWorker:
    """One thread, one model, one queue of jobs."""

    def __init__(self, load: Callable[[], Engine], db: Path, log: Callable[[str], None]) -> None:
        self._load = load
        self._log = log
        self._db = db
        self._jobs: queue.Queue[tuple[Job, Future] | None] = queue.Queue()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.stopping = threading.Event()
        self.model_version = ""
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="model", daemon=True)

    def start(self) -> None:
        """Load the model; raise what loading raised."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def submit(self, job: Job) -> Future:
        """Queue a job; its future has the job's result or exception."""
        future: Future = Future()
        if self.stopping.is_set():
            future.set_exception(BackendStopping("the backend is stopping"))
            return future
        self._jobs.put((job, future))
        return future

    @property
    def queued(self) -> int:
        """Jobs waiting or running (the health answer says so)."""
        return self._jobs.qsize() + self._busy

    def stop(self) -> None:
        """Let the job in hand finish (its batch stops after the page in hand), end the rest."""
        self.stopping.set()
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            _release_streams()

    def _serve(self) -> None:
        try:
            loaded = self._make(None)
        except BaseException as exc:  # the command says it and exits
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while (item := self._jobs.get()) is not None:
                job, future = item
                if self.stopping.is_set():
                    future.set_exception(BackendStopping("the backend is stopping"))
                elif future.set_running_or_notify_cancel():
                    loaded = self._call(job, future, loaded)
        finally:
            loaded.store.close()
            while not self._jobs.empty():
                item = self._jobs.get_nowait()
                if item is not None:
                    item[1].set_exception(BackendStopping("the backend is stopping"))

    def _call(self, job: Job, future: Future, loaded: Loaded) -> Loaded:
        self._busy = True
        try:
            future.set_result(job(loaded))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            self._busy = False
        if not loaded.reload:
            return loaded
        loaded.reload = False
        try:
            return self._make(loaded)
        except Exception as exc:  # the model in use stays; say why the new one did not load
            self._log(f"error: the new version did not load, {self.model_version} stays: {exc}")
            return loaded

    def _make(self, old: Loaded | None) -> Loaded:
        engine = self._load()
        if old is not None:
            old.store.close()
        self.model_version = model_version(engine)
        return Loaded(engine, Store(self._db), self.stopping)
