"""A real Label Studio on 127.0.0.1 for the round-trip test, and a small client of its API.

Label Studio comes from its pip package, in an environment of its own (its Django pins would
fight ours): `.ci/run` installs it and names its `label-studio` executable in
MLX_EDUGRAPH_LABEL_STUDIO; else one on PATH is used. Without either the round trip skips with
that reason, except where MLX_EDUGRAPH_REQUIRE_LABEL_STUDIO is set (CI), where it fails.

Authentication. Label Studio 1.23 turns legacy API tokens off by default, and the token
LABEL_STUDIO_USER_TOKEN gives the start-up user is such a legacy token: it is refused with 401.
Its documented replacement is the personal access token: a long-lived JWT *refresh* token that
a signed-in user creates (POST /api/token/), traded at POST /api/token/refresh/ for a
short-lived access token sent as `Authorization: Bearer`. The client signs in once through the
login form with the user and password the start-up created (a session, as a browser has),
creates its personal access token there, and from then on uses bearer tokens only.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

USER = "reviewer@example.org"
PASSWORD = "round-trip-password-1"
STARTUP_TIMEOUT_S = 420.0
"""First start migrates its database: about a minute on these machines, more when busy."""


def executable() -> str:
    """The `label-studio` to run; skips (or fails, where it is required) without one."""
    found = os.environ.get("MLX_EDUGRAPH_LABEL_STUDIO") or shutil.which("label-studio")
    if found and Path(found).is_file():
        return found
    reason = (
        "label-studio is not installed: `python3 -m venv V && V/bin/pip install label-studio` "
        "and set MLX_EDUGRAPH_LABEL_STUDIO=V/bin/label-studio (.ci/run does)"
    )
    if os.environ.get("MLX_EDUGRAPH_REQUIRE_LABEL_STUDIO"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str

    def json(self):
        return json.loads(self.body or b"null")


class LabelStudio:
    """A running Label Studio and an API client signed in to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._refresh = ""
        self._access = ""
        self.cookies: list[dict] = []
        """The signed-in session, for a browser (DevTools `Network.setCookies` form)."""
        self.server: Server | None = None

    def sign_in(self) -> None:
        """Create a personal access token through a signed-in session (see the module's
        docstring), and trade it for the first access token."""
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = f"{self.url}/user/login/"
        page = browser.open(login, timeout=60).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"csrfmiddlewaretoken": csrf, "email": USER, "password": PASSWORD}
        request = urllib.request.Request(
            login, data=urllib.parse.urlencode(form).encode(), headers={"Referer": login}
        )
        browser.open(request, timeout=60)
        self.cookies = [{"name": c.name, "value": c.value, "url": self.url} for c in jar]
        cookie = next(c.value for c in jar if c.name == "csrftoken")
        create = urllib.request.Request(
            f"{self.url}/api/token/",
            data=b"{}",
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": cookie,
                "Referer": f"{self.url}/",
            },
        )
        with browser.open(create, timeout=60) as answer:
            self._refresh = json.loads(answer.read())["token"]
        self.renew()

    def renew(self) -> None:
        """A fresh access token for the personal access token (kept in Label Studio's
        database, so it outlives a restart)."""
        answer = self._send("POST", "/api/token/refresh/", {"refresh": self._refresh}, auth=False)
        assert answer.status == 200, answer.body
        self._access = answer.json()["access"]

    def call(self, method: str, path: str, body=None) -> Response:
        """One API call with the bearer token (renewed once when it has expired)."""
        answer = self._send(method, path, body)
        if answer.status == 401:
            self.renew()
            answer = self._send(method, path, body)
        return answer

    def ok(self, method: str, path: str, body=None):
        answer = self.call(method, path, body)
        assert 200 <= answer.status < 300, f"{method} {path}: {answer.status} {answer.body[:500]}"
        return answer.json()

    def _send(self, method: str, path: str, body=None, *, auth: bool = True) -> Response:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._access}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                kind = answer.headers.get("Content-Type", "")
                return Response(answer.status, answer.read(), kind)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read(), error.headers.get("Content-Type", ""))


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"label-studio exited ({process.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(1.0)
    raise AssertionError(f"label-studio did not answer /health in {STARTUP_TIMEOUT_S:.0f} s")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class Server:
    """One Label Studio process over a data folder that outlives it (a crash, then a start)."""

    def __init__(self, data: Path, document_root: Path) -> None:
        self.command = executable()
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / "label-studio.log"
        self.env = {
            **os.environ,
            "LABEL_STUDIO_BASE_DATA_DIR": str(data),
            "DJANGO_DB": "sqlite",
            "LABEL_STUDIO_USERNAME": USER,
            "LABEL_STUDIO_PASSWORD": PASSWORD,
            # Its JWTs are signed with SECRET_KEY. Left unset, Label Studio draws one and keeps
            # it in DATA/.env, which django-environ reads back as a reference to another
            # variable when the key starts with "$" (1 start in 50): the restarted server then
            # draws a new key and every token the client holds is "invalid". A key of hex
            # digits, the same across restarts, avoids both.
            "SECRET_KEY": secrets.token_hex(32),
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
            # The ML backend and its webhook live on 127.0.0.1, which Label Studio refuses
            # by default (server-side request forgery protection).
            "ML_BLOCK_LOCAL_IP": "false",
            "SSRF_PROTECTION_ENABLED": "false",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    self.command,
                    "start",
                    "--no-browser",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=self.data,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_healthy(self.url, self.process, self.log)

    def crash(self) -> None:
        """Kill it at once (SIGKILL to its process group), as a power cut would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


def run_label_studio(data: Path, document_root: Path) -> Iterator[LabelStudio]:
    """Start Label Studio with its data in `data` and local files served from
    `document_root`; yield a signed-in client (its `server` can crash and start again); stop
    it."""
    server = Server(data, document_root)
    try:
        server.start()
        studio = LabelStudio(server.url)
        studio.server = server
        studio.sign_in()
        yield studio
    finally:
        server.stop()


@pytest.fixture(scope="session")
def studio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Label Studio's document root: the worksheets and exports of its tests live below it."""
    return tmp_path_factory.mktemp("studio-root")


@pytest.fixture(scope="session")
def studio(studio_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    """One Label Studio for the session: it takes about a minute to start. The modules that
    use it share an xdist group, so one worker runs them all."""
    yield from run_label_studio(tmp_path_factory.mktemp("studio-data"), studio_root)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
