"""Label a stream of worksheet pages into the store: resume, prefetch, per-file errors.

Shared by the CLI and the TUI. Decoding and resizing the next pages (and rendering PDF pages)
run on a CPU thread while the model works on the current one; the model itself stays on the
calling thread (MLX streams are per thread). An engine that takes pages in flight (servers) is
called from worker threads instead; the store is still written from the calling thread only
(its SQLite connection belongs to it).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from mlx_edugraph.model.engine import Engine
from mlx_edugraph.pages.worksheets import (
    LoadedWorksheet,
    WorksheetError,
    WorksheetRef,
    file_sha256,
    load,
)
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.store.sqlite_store import Store, labeler_id

PREFETCH = 2
"""Pages decoded ahead of the model: enough to hide I/O, few enough to bound memory."""

CLAIM_POLL_S = 0.5
"""How often a run looks again at pages another run has claimed."""

Status = Literal["labeled", "skipped", "error", "failed"]
"""error: the page could not be read (bad input); failed: the model failed on a page it got."""


@dataclass
class Event:
    """What happened to one worksheet page."""

    ref: WorksheetRef
    status: Status
    prediction: Prediction


def error_prediction(
    ref: WorksheetRef, sha256: str, reason: str, provenance: Provenance
) -> Prediction:
    """The record of a worksheet that could not be labeled: path, page and reason."""
    return Prediction(
        path=str(ref.path),
        page=ref.page,
        sha256=sha256,
        outcome="error",
        error=reason,
        provenance=provenance,
    )


def _identify(ref: WorksheetRef) -> tuple[str, str | None]:
    try:
        return file_sha256(ref.path), None
    except WorksheetError as exc:
        return "", str(exc)


def _load(ref: WorksheetRef, sha256: str, max_pixels: int) -> LoadedWorksheet | str:
    try:
        loaded = load(ref, max_pixels=max_pixels, sha256=sha256)
    except WorksheetError as exc:
        return str(exc)
    except Exception as exc:  # a hostile file must not stop the batch
        return f"unexpected error reading file: {type(exc).__name__}: {exc}"
    loaded.signature = _signature(loaded)
    return loaded


def _signature(loaded: LoadedWorksheet):
    """The page's sheet signature, made here on the loader thread while the model works; None
    when it cannot be made (`duplicates` then says why)."""
    from mlx_edugraph.pages.sheet_signature import make_signature

    try:
        return make_signature(loaded.image)
    except Exception:  # a page too small to compare still gets labeled
        return None


def _known(ref: WorksheetRef, sha256: str, store: Store, fingerprint: str) -> Event:
    """A page whose bytes are already labeled: record this name too, answer under it."""
    store.remember_path(sha256, ref.page, str(ref.path))
    stored = store.get(sha256, ref.page, fingerprint)
    return Event(ref, "skipped", dataclasses.replace(stored, path=str(ref.path)))


@dataclass
class _Triage:
    """The opening both runners share: each page is answered without the model (unreadable,
    already labeled, same bytes as a page queued in this run) or handed on to be labeled."""

    engine: Engine
    store: Store
    redo: bool
    queued: set[tuple[str, int]] = dataclasses.field(default_factory=set)

    def sort(self, ref: WorksheetRef) -> Event | tuple[str, bool]:
        """The page's event when it needs no model; else its SHA-256 and whether it repeats
        a page queued before in this run (label once, answer both)."""
        sha256, problem = _identify(ref)
        if problem:
            prediction = error_prediction(ref, sha256, problem, self.engine.provenance)
            self.store.put(prediction)
            return Event(ref, "error", prediction)
        fingerprint = self.engine.provenance.model_fingerprint
        if not self.redo and self.store.is_done(sha256, ref.page, fingerprint):
            return _known(ref, sha256, self.store, fingerprint)
        repeat = (sha256, ref.page) in self.queued
        self.queued.add((sha256, ref.page))
        return sha256, repeat


def run(
    refs: Iterable[WorksheetRef],
    engine: Engine,
    store: Store,
    *,
    redo: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
    started: Callable[[WorksheetRef], None] = lambda ref: None,
) -> Iterator[Event]:
    """Label every page not yet in the store for this model; yield one event per page.

    `cancelled` is asked before each page (the run stops cleanly between pages); `started` is
    told when the model starts on a page (the TUI marks it as labeling).
    A `Stopped` from the engine ends the run at once, the page in flight unsaved.
    """
    triage = _Triage(engine, store, redo)
    if engine.in_flight:
        yield from _run_in_flight(refs, triage, cancelled=cancelled, started=started)
    else:
        yield from _run_here(refs, triage, cancelled=cancelled, started=started)


def _run_here(
    refs: Iterable[WorksheetRef],
    triage: _Triage,
    *,
    cancelled: Callable[[], bool],
    started: Callable[[WorksheetRef], None],
) -> Iterator[Event]:
    """`run` for an engine bound to this thread, with the next pages read on a loader thread."""
    engine, store = triage.engine, triage.store
    fingerprint = engine.provenance.model_fingerprint
    pending: deque[tuple[WorksheetRef, str, Future | None]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="worksheet-loader") as loader:
        refs_iter = iter(refs)

        def fill() -> Iterator[Event]:
            # Queue loads until PREFETCH are in flight; pages that need no model are answered
            # right away.
            while len(pending) < PREFETCH:
                ref = next(refs_iter, None)
                if ref is None:
                    return
                triaged = triage.sort(ref)
                if isinstance(triaged, Event):
                    yield triaged
                    continue
                sha256, repeat = triaged
                future = None if repeat else loader.submit(_load, ref, sha256, engine.max_pixels)
                pending.append((ref, sha256, future))

        yield from fill()
        while pending and not cancelled():
            ref, sha256, future = pending.popleft()
            yield from fill()
            if future is None:
                yield _known(ref, sha256, store, fingerprint)
                continue
            loaded = future.result()
            if not isinstance(loaded, str):
                started(ref)
            event = _labeled(ref, sha256, loaded, engine)
            store.put(event.prediction)
            yield event
        for _, _, future in pending:
            if future is not None:
                future.cancel()


def _labeled(
    ref: WorksheetRef, sha256: str, loaded: LoadedWorksheet | str, engine: Engine
) -> Event:
    """A page's event; a read problem (`loaded` is its reason) or a model failure becomes the
    page's error record with its status, and the run goes on (the next run retries it)."""
    if isinstance(loaded, str):
        return Event(ref, "error", error_prediction(ref, sha256, loaded, engine.provenance))
    try:
        prediction = engine.label(loaded)
    except Exception as exc:  # one page failing, or no server answering, must not stop the rest
        reason = f"model failed on this page: {type(exc).__name__}: {exc}"
        return Event(ref, "failed", error_prediction(ref, sha256, reason, engine.provenance))
    prediction.signature = loaded.signature
    return Event(ref, "labeled", prediction)


def _load_and_label(ref: WorksheetRef, sha256: str, engine: Engine) -> Event:
    """One page on a worker thread: read it, label it."""
    return _labeled(ref, sha256, _load(ref, sha256, engine.max_pixels), engine)


def _run_in_flight(
    refs: Iterable[WorksheetRef],
    triage: _Triage,
    *,
    cancelled: Callable[[], bool],
    started: Callable[[WorksheetRef], None],
) -> Iterator[Event]:
    """`run` for an engine that takes `engine.in_flight` pages at once: events come in the
    order pages finish. A cancel stops new pages; those in flight finish and are stored.

    Each page is claimed in the store first, so two processes labeling the same folder through
    different servers split it: a page another live run holds waits until that run stores it
    (then it is answered from the store) or lets it go (then it is labeled here).
    """
    engine, store, redo = triage.engine, triage.store, triage.redo
    fingerprint = engine.provenance.model_fingerprint
    owner = labeler_id()
    repeats: list[tuple[WorksheetRef, str]] = []
    waiting: deque[tuple[WorksheetRef, str]] = deque()
    running: dict[Future, tuple[WorksheetRef, str]] = {}
    refs_iter = iter(refs)
    more = True

    def take(ref: WorksheetRef, sha256: str) -> Event | None:
        """Claim and submit a page; its event now if another run already stored it."""
        state = "claimed" if redo else store.claim(sha256, ref.page, fingerprint, owner)
        if state == "done":
            return _known(ref, sha256, store, fingerprint)
        if state == "taken":
            waiting.append((ref, sha256))
            return None
        started(ref)
        running[workers.submit(_load_and_label, ref, sha256, engine)] = (ref, sha256)
        return None

    with ThreadPoolExecutor(engine.in_flight, thread_name_prefix="page-in-flight") as workers:
        while True:
            while more and len(running) < engine.in_flight and not cancelled():
                ref = next(refs_iter, None)
                if ref is None:
                    more = False
                    break
                triaged = triage.sort(ref)
                if isinstance(triaged, Event):
                    yield triaged
                elif triaged[1]:
                    repeats.append((ref, triaged[0]))
                elif event := take(ref, triaged[0]):
                    yield event
            for _ in range(len(waiting)):
                if more or len(running) >= engine.in_flight or cancelled():
                    break
                if event := take(*waiting.popleft()):
                    yield event
            if not running:
                if not waiting or cancelled():
                    break
                time.sleep(CLAIM_POLL_S)
                continue
            timeout = CLAIM_POLL_S if waiting and not more else None
            finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                ref, sha256 = running.pop(future)
                event = future.result()
                store.put(event.prediction)
                store.release(sha256, ref.page, fingerprint, owner)
                yield event
    for ref, sha256 in repeats:
        if store.get(sha256, ref.page, fingerprint) is not None:
            yield _known(ref, sha256, store, fingerprint)
