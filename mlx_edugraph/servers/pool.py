"""Several OpenAI-compatible servers as one: bounded requests in flight per server, retries
with backoff, and take-out of a server that keeps failing (its work goes to the others).

Only the standard library (`http.client`): one connection per request, so a stalled or
dropped connection never poisons the next request. Thread-safe: the remote engine calls
`call` from several threads at once.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth another try (on the same or another server); other 4xx are final."""

SCHEMA_REFUSAL_STATUS = frozenset({400, 422, 500, 501})
"""Statuses a server may give a `response_format` it cannot honour (mlx-vlm's server without
Metal answers 500); not the transient ones (429, 502-504), which say nothing about it."""


class ServerFailure(Exception):
    """A request failed in a way another attempt may not (connection, timeout, 5xx, garbage)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RequestRejected(Exception):
    """The server refused the request itself (4xx): retrying elsewhere would not help."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NoServerLeft(Exception):
    """Every server was taken out; the message names each one's last failure."""


def base_url(url: str) -> str:
    """`http://host:port/v1` from `http://host:port`, `.../v1` or `.../v1/` (the API root)."""
    url = url.rstrip("/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"server URL must start with http:// or https://: {url}")
    return url if url.endswith("/v1") else url + "/v1"


def public_url(url: str) -> str:
    """The URL without user:password, fit for logs and provenance."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def request_json(
    method: str, url: str, body: dict | None, *, timeout: float, api_key: str | None
) -> object:
    """One HTTP request with a JSON body; the decoded JSON reply. The key is sent, never shown."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(body).encode("utf-8") if body is not None else None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except TimeoutError:
        raise ServerFailure(f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise ServerFailure(f"connection failed: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    detail = raw[:300].decode("utf-8", "replace")
    if response.status in RETRY_STATUS:
        raise ServerFailure(f"HTTP {response.status}: {detail}", response.status)
    if response.status >= 400:
        raise RequestRejected(f"HTTP {response.status}: {detail}", response.status)
    try:
        return json.loads(raw)
    except ValueError:
        raise ServerFailure(f"reply is not JSON: {detail!r}") from None


@dataclass
class Server:
    """One server and what this run learned about it."""

    url: str
    """The API root (`.../v1`), possibly with user:password (never logged: see `name`)."""
    model: str = ""
    template: str | None = None
    """Its chat template when it shows one (llama-server's `/props`), else None."""
    schema: bool | None = None
    """Whether it takes a JSON-schema `response_format`; None until a request tells."""
    in_flight: int = 0
    failures: int = 0
    """Consecutive failed attempts; reset by a success."""
    out: bool = False
    last_error: str = ""
    answered: int = 0

    @property
    def name(self) -> str:
        return public_url(self.url.removesuffix("/v1"))


@dataclass
class PoolSettings:
    """How hard to try: requests in flight per server, attempts, timeouts, take-out."""

    per_server: int = 2
    attempts: int = 4
    """Tries per worksheet, over all servers, before it gets an error record."""
    timeout_s: float = 120.0
    """Per socket read: a server silent for this long has stalled."""
    backoff_s: float = 0.5
    """First wait after a failure; doubled each time, with jitter, at most `max_backoff_s`."""
    max_backoff_s: float = 8.0
    take_out_after: int = 3
    """Consecutive failures after which a server gets no more work in this run."""
    api_key: str | None = field(default=None, repr=False)


class ServerPool:
    """Dispatch requests over servers: the least busy healthy server with a free slot."""

    def __init__(self, servers: list[Server], settings: PoolSettings, note: Callable[[str], None]):
        if not servers:
            raise ValueError("no servers given")
        self.servers = servers
        self.settings = settings
        self._note = note
        self._free = threading.Condition()

    @property
    def capacity(self) -> int:
        """Requests the pool can have in flight at once (all servers, taken out or not)."""
        return self.settings.per_server * len(self.servers)

    def call(self, body_for: Callable[[Server, bool], dict]) -> tuple[Server, object]:
        """POST a chat completion (body built per server; the flag asks for `response_format`)
        until one attempt succeeds; the server that answered and its reply."""
        last = ""
        for attempt in range(self.settings.attempts):
            if attempt:
                self._back_off(attempt)
            server = self._acquire()
            try:
                payload = self._post(server, body_for)
            except ServerFailure as exc:
                last = f"{server.name}: {exc}"
                self._release(server, error=str(exc))
                continue
            except RequestRejected:
                self._release(server, error=None)
                raise
            self._release(server, error=None)
            return server, payload
        raise ServerFailure(f"gave up after {self.settings.attempts} attempts; last: {last}")

    def _post(self, server: Server, body_for: Callable[[Server, bool], dict]) -> object:
        """One attempt; a server untested for `response_format` that fails with it is asked
        again without it, and then never sent it again (mlx-vlm's server without Metal)."""
        url = server.url + "/chat/completions"
        with_schema = server.schema is not False
        try:
            payload = self._send(url, body_for(server, with_schema))
        except (ServerFailure, RequestRejected) as exc:
            if not (with_schema and server.schema is None and exc.status in SCHEMA_REFUSAL_STATUS):
                raise
            payload = self._send(url, body_for(server, False))
            if server.schema is None:
                server.schema = False
                self._note(
                    f"{server.name} failed with a JSON-schema response_format ({exc}); "
                    "sending answers unconstrained to it"
                )
            return payload
        if with_schema:
            server.schema = True
        return payload

    def _send(self, url: str, body: dict) -> object:
        settings = self.settings
        return request_json("POST", url, body, timeout=settings.timeout_s, api_key=settings.api_key)

    def _acquire(self) -> Server:
        with self._free:
            while True:
                healthy = [server for server in self.servers if not server.out]
                if not healthy:
                    raise NoServerLeft(
                        "every server was taken out: "
                        + "; ".join(f"{s.name}: {s.last_error}" for s in self.servers)
                    )
                ready = [s for s in healthy if s.in_flight < self.settings.per_server]
                if ready:
                    server = min(ready, key=lambda s: (s.in_flight, s.answered))
                    server.in_flight += 1
                    return server
                self._free.wait(timeout=1.0)

    def _release(self, server: Server, *, error: str | None) -> None:
        with self._free:
            server.in_flight -= 1
            if error is None:
                server.failures = 0
                server.answered += 1
            else:
                server.failures += 1
                server.last_error = error
                if not server.out and server.failures >= self.settings.take_out_after:
                    server.out = True
                    self._note(
                        f"{server.name} taken out after {server.failures} failures in a row "
                        f"(last: {error}); its work goes to the other servers"
                    )
            self._free.notify_all()

    def _back_off(self, attempt: int) -> None:
        delay = min(self.settings.max_backoff_s, self.settings.backoff_s * 2 ** (attempt - 1))
        time.sleep(delay * random.uniform(0.5, 1.0))
