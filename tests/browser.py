"""Headless Chromium (Debian's package) driven over the DevTools protocol: open a page, collect
console errors and exceptions, measure elements, wait for a condition, take a screenshot. No
browser download."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
"""Without the networking flags Chromium keeps calling home, refused on a closed network."""


@dataclass
class PageVisit:
    """What a page did when it loaded."""

    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and failed loads."""
    sizes: list[tuple[float, float]] = field(default_factory=list)
    """Width and height of each element the query matched."""
    screenshot: bytes = b""


def visit(page: Path, selector: str = "svg", *, screenshot: bool = False) -> PageVisit:
    """Load `page` (a file) in headless Chromium; the sizes of the elements matching `selector`."""
    with _devtools("1280,2000") as socket:
        return _drive(socket, page, selector, screenshot)


def wait_in_page(
    url: str,
    condition: str,
    *,
    cookies: list[dict] = (),
    timeout: float = 90.0,
    window: str = "1400,1000",
) -> tuple[object, bytes]:
    """Open `url` (with `cookies`, e.g. a signed-in session) and evaluate the JavaScript
    expression `condition` every half second until it is truthy; its value and a screenshot.
    Raises TimeoutError with the last value when it never is."""
    with _devtools(window) as socket:
        call = _caller(socket, PageVisit())
        call("Page.enable")
        if cookies:
            call("Network.setCookies", cookies=list(cookies))
        call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            result = call("Runtime.evaluate", expression=condition, returnByValue=True)
            value = result.get("result", {}).get("value")
            if value:
                shot = call("Page.captureScreenshot", format="png")
                return value, base64.b64decode(shot["data"])
            time.sleep(0.5)
        raise TimeoutError(f"{condition} did not hold in {timeout:.0f} s (last value {value!r})")


@contextmanager
def _devtools(window: str) -> Iterator:
    """A headless Chromium of its own (fresh profile) and a DevTools socket to a blank tab."""
    from websockets.sync.client import connect

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _port(Path(profile) / "DevToolsActivePort", process)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank")
            request.method = "PUT"
            with urllib.request.urlopen(request, timeout=30) as response:
                target = json.load(response)
            with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
                yield socket
        finally:
            _stop_all(process)


def _stop_all(process: subprocess.Popen) -> None:
    """Stop Chromium and every process it started (renderers, network and storage services),
    and wait until they are gone: one of them still writing its cache into the profile folder
    made removing that folder fail ("Directory not empty") when the machine was busy."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _group_running(process.pid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        time.sleep(0.05)
    process.wait()


def _group_running(group: int) -> bool:
    """Whether a process of the group still runs (zombies, which write nothing, do not count:
    a container's first process may never reap them)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


def _caller(socket, visit_: PageVisit):
    """`call(method, **params)`: one DevTools command and its result (events noted meanwhile)."""
    counter = iter(range(1, 1_000_000))

    def call(method: str, **params) -> dict:
        number = next(counter)
        socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(socket.recv(timeout=60))
            _note(message, visit_)
            if message.get("id") == number:
                return message.get("result", {})

    return call


def _port(marker: Path, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker.is_file() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


def _drive(socket, page: Path, selector: str, screenshot: bool) -> PageVisit:
    visit_ = PageVisit()
    call = _caller(socket, visit_)
    for domain in ("Runtime", "Log", "Page"):
        call(f"{domain}.enable")
    call("Page.navigate", url=page.resolve().as_uri())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = json.loads(socket.recv(timeout=60))
        _note(message, visit_)
        if message.get("method") == "Page.loadEventFired":
            break
    script = (
        f"JSON.stringify([...document.querySelectorAll({json.dumps(selector)})]"
        ".map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; }))"
    )
    result = call("Runtime.evaluate", expression=script, returnByValue=True)
    visit_.sizes = [tuple(size) for size in json.loads(result["result"]["value"])]
    if screenshot:
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        visit_.screenshot = base64.b64decode(shot["data"])
    return visit_


def _note(message: dict, visit_: PageVisit) -> None:
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.exceptionThrown":
        visit_.errors.append(params["exceptionDetails"].get("text", "exception"))
    elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
        visit_.errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        visit_.errors.append(params["entry"].get("text", "error"))
