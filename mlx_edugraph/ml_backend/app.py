"""Label Studio's ML backend protocol over HTTP (Starlette): `/health`, `/setup`, `/predict`,
`/webhook`, as Label Studio 1.23 calls them (`label_studio/ml/api_connector.py`) and as
HumanSignal's `label_studio_ml/api.py` answers them.

Handlers never run model work on the event loop: pages are fetched on a thread pool and labeled
by the one model thread (`ModelWorker`), so `/health` (which Label Studio gives 1 s) answers
while a batch runs; a webhook (given 1 s too) writes its review on the thread pool and queues
a training run rather than waiting for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.labelstudio.annotations import MalformedExport
from mlx_edugraph.labelstudio.task_images import TaskImageError, TaskImages
from mlx_edugraph.ml_backend.predict import predict
from mlx_edugraph.ml_backend.webhook import (
    ANNOTATION_EVENTS,
    TRAINING_EVENT,
    Training,
    run_tune,
    take_annotation,
)
from mlx_edugraph.ml_backend.worker import BackendStopping, ModelWorker
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.store.sqlite_store import Store


@dataclass
class Backend:
    """Everything the handlers share."""

    worker: ModelWorker
    images: TaskImages
    ontology: Ontology | None
    db: Path
    tune_command: list[str] | None
    """`mlx-edugraph tune ...` for this model and store; None: training is refused."""
    log: Callable[[str], None]
    training: Training = field(default_factory=Training)


class BadRequest(Exception):
    """A request body that is not what the protocol sends."""


def create_app(backend: Backend, credentials: tuple[str, str] | None = None) -> ASGIApp:
    """The ASGI app; with `credentials` (user, password) every request needs them (HTTP basic
    auth, as Label Studio sends when the backend's connection has them)."""

    async def health(_: Request) -> Response:
        return JSONResponse(
            {
                "status": "UP",
                "model_class": "mlx-edugraph",
                "model_version": backend.worker.model_version,
                "queued": backend.worker.queued,
            }
        )

    async def setup(request: Request) -> Response:
        await _body(request)
        return JSONResponse({"model_version": backend.worker.model_version})

    async def predict_tasks(request: Request) -> Response:
        body = await _body(request)
        tasks = body.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
            raise BadRequest("`tasks` must be a list of task objects")
        start = time.monotonic()
        pages = await run_in_threadpool(_pages, backend.images, tasks)
        future = backend.worker.submit(lambda loaded: predict(pages, loaded, backend.ontology))
        answer = await asyncio.wrap_future(future)
        counts = ", ".join(f"{n} {kind}" for kind, n in answer.counts.items() if n)
        backend.log(f"predict: {len(tasks)} task(s) in {time.monotonic() - start:.1f} s: {counts}")
        return JSONResponse({"results": answer.results, "model_version": answer.model_version})

    async def webhook(request: Request) -> Response:
        body = await _body(request)
        action = body.get("action")
        if action in ANNOTATION_EVENTS:
            result = await run_in_threadpool(_annotation, backend, body)
            written = len(result["written"])
            backend.log(f"{action}: {written} review(s) written, {result['unchanged']} unchanged")
        elif action == TRAINING_EVENT:
            result = _start_training(backend)
        else:
            return JSONResponse({"status": "Unknown event", "action": action})
        return JSONResponse({"status": "ok", "result": result}, status_code=201)

    async def training(_: Request) -> Response:
        return JSONResponse(backend.training.report())

    app = Starlette(
        routes=[
            Route("/", health, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/setup", setup, methods=["POST"]),
            Route("/predict", predict_tasks, methods=["POST"]),
            Route("/webhook", webhook, methods=["POST"]),
            Route("/training", training, methods=["GET"]),
        ],
        exception_handlers={
            BadRequest: _refused(400),
            MalformedExport: _refused(400),
            BackendStopping: _refused(503),
        },
    )
    return BasicAuth(app, credentials) if credentials else app


async def _body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _refused(status: int):
    async def handler(_: Request, exc: Exception) -> Response:
        return JSONResponse({"status": "error", "error": str(exc)}, status_code=status)

    return handler


def _pages(images: TaskImages, tasks: list[dict]) -> list[WorksheetRef | str]:
    """Each task's page (its image fetched if need be), or why it has none."""
    pages: list[WorksheetRef | str] = []
    for task in tasks:
        try:
            pages.append(images.ref(task))
        except TaskImageError as exc:
            pages.append(f"task {task.get('id', '?')}: {exc}")
    return pages


def _annotation(backend: Backend, body: dict) -> dict:
    with Store(backend.db) as store:
        return take_annotation(body, store, backend.ontology, backend.images)


def _start_training(backend: Backend) -> dict:
    """Queue a `tune` run behind the pages in hand; its verdict is logged and at /training."""
    if backend.tune_command is None:
        return {"training": "refused", "why": "the backend runs a model it cannot tune"}
    current = backend.training
    if current.state in ("queued", "running"):
        return {"training": current.state, "status": "/training"}
    backend.training = current = Training(state="queued")
    command = backend.tune_command
    future = backend.worker.submit(lambda loaded: run_tune(command, current, loaded))

    def said(done) -> None:
        if done.exception() is not None:
            current.state = "stopped"
        verdict = current.verdict or "no verdict: " + " | ".join(current.output[-3:])
        backend.log(f"START_TRAINING: tune {current.state}: {verdict}")
        if current.promoted:
            backend.log(f"now serving {backend.worker.model_version}")

    future.add_done_callback(said)
    return {"training": "queued", "status": "/training"}


class BasicAuth:
    """HTTP basic auth in front of an ASGI app (constant-time comparison)."""

    def __init__(self, app: ASGIApp, credentials: tuple[str, str]) -> None:
        self.app = app
        self.expected = f"{credentials[0]}:{credentials[1]}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            refusal = Response(
                "Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="mlx-edugraph"'}
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except binascii.Error:
            return False
        return hmac.compare_digest(given, self.expected)
