"""`serve-labelstudio` for the tests: in this process (uvicorn on a thread, the model loaded
once per module) or as the command, and a small JSON client of its HTTP API."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlx_edugraph.cli import build_parser
from mlx_edugraph.commands.serve_labelstudio import start_backend
from mlx_edugraph.ml_backend.app import Backend, create_app
from tests.run_cli import cli_env


def call(url: str, path: str, body=None, *, auth: tuple[str, str] | None = None, timeout=120.0):
    """(status, JSON body) of one request; POST when there is a body."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data, headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except json.JSONDecodeError:
            return error.code, text.decode()


@contextmanager
def in_process(argv: list[str]) -> Iterator[tuple[str, Backend]]:
    """The backend of `serve-labelstudio ARGV` served on a thread: its URL and its state."""
    import uvicorn

    args = build_parser().parse_args(["serve-labelstudio", *argv])
    backend, credentials, listener = start_backend(args)
    server = uvicorn.Server(uvicorn.Config(create_app(backend, credentials), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = listener.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", backend
    finally:
        server.should_exit = True
        thread.join()
        backend.worker.stop()
        listener.close()


class Process:
    """`mlx-edugraph serve-labelstudio` as a user starts it: a process that can be stopped
    mid-batch and started again."""

    def __init__(self, argv: list[str], port: int, log: Path, home: Path) -> None:
        self.argv = ["--port", str(port), *argv]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = cli_env(home)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlx_edugraph", "serve-labelstudio", *self.argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if call(self.url, "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the backend did not answer /health:\n{self.log.read_text()}")

    def terminate(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self.process.terminate()
        return self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
