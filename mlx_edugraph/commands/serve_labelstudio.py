"""`mlx-edugraph serve-labelstudio`: the model as a Label Studio ML backend.

docs/label-studio.md says how to start it, connect it and what it does with annotations."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_input_arguments,
    add_model_arguments,
    positive,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError

PASSWORD_ENV = "MLX_EDUGRAPH_BACKEND_PASSWORD"
"""The basic-auth password: from the environment, never the command line (`ps` shows that)."""

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(
        parser,
        model_help="MLX model folder (default: the model `mlx-edugraph convert` writes, in its "
        "version in use)",
        demo_help="serve the tiny demo model (no download needed)",
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    parser.add_argument("--port", type=int, default=9090, help="port (default 9090)")
    parser.add_argument(
        "--basic-auth",
        metavar="USER",
        help=f"require HTTP basic auth with this user and the password in ${PASSWORD_ENV}",
    )
    parser.add_argument(
        "--image-root",
        type=Path,
        help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, to read the files of "
        "/data/local-files/ image URLs",
    )
    parser.add_argument(
        "--downloads",
        type=Path,
        help="folder for images fetched from http(s) URLs (default: in the user data folder)",
    )
    parser.add_argument(
        "--download-timeout",
        type=float,
        default=30.0,
        help="seconds an image download may take in all (default 30)",
    )
    parser.add_argument(
        "--max-download-mb",
        type=int,
        default=64,
        help="refuse image downloads larger than this (default 64 MB)",
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.ml_backend.app import create_app

    backend, credentials, listener = start_backend(args)
    host, port = listener.getsockname()[:2]
    say(
        f"serving {backend.worker.model_version} to Label Studio at http://{host}:{port} "
        f"({'basic auth' if credentials else 'no auth'}); Ctrl-C stops after the page in hand"
    )
    if args.host not in LOOPBACK and credentials is None:
        say(f"warning: listening on {args.host} without --basic-auth: anyone may use it")
    return _serve(create_app(backend, credentials), listener, backend.worker)


def start_backend(args: argparse.Namespace):
    """The backend with its model loaded, its credentials, and its socket bound: each
    problem said (`UserError`) before anything listens."""
    from mlx_edugraph.labelstudio.task_images import TaskImages
    from mlx_edugraph.ml_backend.app import Backend
    from mlx_edugraph.ml_backend.worker import ModelWorker
    from mlx_edugraph.paths import data_dir

    positive(args, "max_download_mb")
    if args.download_timeout <= 0:
        raise UserError("--download-timeout must be above 0")
    credentials = _credentials(args)
    if args.image_root is not None and not args.image_root.is_dir():
        raise UserError(f"--image-root {args.image_root} is not a folder")
    ctx = Context(args)
    with ctx.store():  # made now if new: a broken store stops us before the model loads
        pass
    ontology = ctx.ontology(unverified="; predicted terms are shown unchecked")
    listener = _listen(args.host, args.port)
    worker = ModelWorker(lambda: ctx.engine(ctx.model()), ctx.db, say)
    try:
        worker.start()
    except BaseException:
        listener.close()
        raise
    images = TaskImages(
        args.image_root.absolute() if args.image_root else None,
        (args.downloads or data_dir() / "label-studio-downloads").absolute(),
        timeout_s=args.download_timeout,
        max_bytes=args.max_download_mb * 1024 * 1024,
    )
    backend = Backend(worker, images, ontology, ctx.db, _tune_command(args), say)
    return backend, credentials, listener


def _credentials(args: argparse.Namespace) -> tuple[str, str] | None:
    if not args.basic_auth:
        return None
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise UserError(f"--basic-auth needs the password in the environment ({PASSWORD_ENV})")
    return args.basic_auth, password


def _listen(host: str, port: int) -> socket.socket:
    """The bound socket, so a taken port is said before the model loads."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(info[0], socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(info[4])
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener


def _tune_command(args: argparse.Namespace) -> list[str]:
    """`tune` for the served model and store, as START_TRAINING runs it."""
    command = [sys.executable, "-m", "mlx_edugraph", "tune", "--max-pixels", str(args.max_pixels)]
    if args.demo:
        command.append("--demo")
    if args.model:
        command += ["--model", args.model]
    if args.db:
        command += ["--db", str(args.db)]
    if args.ontology:
        command += ["--ontology", str(args.ontology)]
    if args.ontology_version:
        command += ["--ontology-version", args.ontology_version]
    return command


def _serve(app, listener: socket.socket, worker) -> int:
    """Run until Ctrl-C or SIGTERM: the batch in hand stops after its page, the rest is
    refused (503), and every page done is kept."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            worker.stopping.set()
            super().handle_exit(sig, frame)

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=600))
    previous = signal.signal(signal.SIGTERM, interrupt)  # after the server: as Ctrl-C
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        return _stopped(worker)
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    return _stopped(worker)


def _stopped(worker) -> int:
    worker.stop()
    say("stopped; every page labeled is kept in the store")
    return ExitCode.INTERRUPTED
