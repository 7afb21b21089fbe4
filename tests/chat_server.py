"""A chat-completions server of our own on 127.0.0.1 that can be told to misbehave.

Speaks enough of the OpenAI protocol for `RemoteEngine`: `GET /v1/models`, optionally
`GET /props` (a chat template, as llama-server shows), and `POST /v1/chat/completions`. Each
chat request takes the next mode from `script` (then `mode`):

- `ok`: the answer, with per-token log-probabilities, after `delay_s`;
- `fail`: HTTP 503; `stall`: silence for `stall_s`, then the answer (too late);
- `drop`: the connection closed with no reply; `garbage`: a valid reply whose text is not JSON;
- `badjson`: HTTP 200 with a body that is not JSON;
- `no-schema`: HTTP 500 when the request carries a `response_format`, else `ok`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = (
    '{"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20", "NumbersWithoutZero"], '
    '"Ability": ["ProcedureExecution"]}'
)
GARBAGE = "This worksheet is about adding numbers up to twenty."


class ChatServer:
    """Start with `with ChatServer() as server:`; `server.url` is its base URL."""

    def __init__(
        self,
        *,
        mode: str = "ok",
        script: list[str] | None = None,
        delay_s: float = 0.0,
        stall_s: float = 3.0,
        model: str = "edugraph-test",
        template: str | None = None,
        answer: str = ANSWER,
    ):
        self.mode = mode
        self.script = deque(script or [])
        self.delay_s = delay_s
        self.stall_s = stall_s
        self.model = model
        self.template = template
        self.answer = answer
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.modes: list[str] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def next_mode(self, body: dict, headers: dict[str, str]) -> str:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            mode = self.script.popleft() if self.script else self.mode
            self.modes.append(mode)
            return mode

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def completion(text: str, model: str) -> dict:
    """A chat completion of `text`, its tokens four characters each at logprob -0.01."""
    tokens = [text[i : i + 4] for i in range(0, len(text), 4)]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
                "logprobs": {
                    "content": [
                        {
                            "token": t,
                            "logprob": -0.01,
                            "bytes": list(t.encode()),
                            "top_logprobs": [],
                        }
                        for t in tokens
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 300, "completion_tokens": len(tokens), "total_tokens": 0},
    }


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet test output
            pass

        def _send(self, status: int, payload: object) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": server.model}]})
            elif self.path == "/props" and server.template is not None:
                self._send(200, {"chat_template": server.template})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            mode = server.next_mode(body, dict(self.headers))
            if mode == "drop":
                self.close_connection = True
                return
            if mode == "fail":
                self._send(503, {"error": "overloaded"})
                return
            if mode == "badjson":
                self._send(200, b"<html>proxy error</html>")
                return
            if mode == "no-schema" and "response_format" in body:
                self._send(500, {"detail": "Generation failed: no structured output here"})
                return
            time.sleep(server.stall_s if mode == "stall" else server.delay_s)
            text = GARBAGE if mode == "garbage" else server.answer
            with contextlib.suppress(OSError):  # the client gave up on a stalled request
                self._send(200, completion(text, server.model))

    return Handler


def main() -> None:
    """Serve until interrupted, for measuring fan-out: `python -m tests.chat_server --delay-s 1`."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--delay-s", type=float, default=1.0, help="seconds per answer")
    parser.add_argument("--mode", default="ok", help="ok, fail, stall, drop, garbage, badjson")
    args = parser.parse_args()
    with ChatServer(mode=args.mode, delay_s=args.delay_s) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
