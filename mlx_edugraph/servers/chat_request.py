"""One worksheet as an OpenAI chat-completions request, and the answer read from the reply.

Pure data: no network here (see `pool.py`). The page goes as a base64 PNG data URL of
the image after our resolution policy, so a server sees the same pixels as the local engine
(PNG is lossless). Greedy decoding, a token bound, and optionally a JSON-schema
`response_format` and per-token log-probabilities.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from PIL import Image


class BadReply(Exception):
    """The server's reply is not a chat completion (a broken proxy, a wrong endpoint)."""


@dataclass
class Reply:
    """The parts of a chat completion the labeler uses."""

    text: str
    truncated: bool
    token_bytes: list[bytes] = field(default_factory=list)
    """Per generated token, its UTF-8 bytes (empty when the server gave no log-probabilities)."""
    logprobs: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    generated_tokens: int = 0


def image_data_url(image: Image.Image) -> str:
    """The page as a `data:image/png;base64,...` URL."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def request_body(
    image: Image.Image,
    *,
    model: str,
    max_tokens: int,
    system: str | None,
    response_format: dict | None,
    logprobs: bool,
) -> dict:
    """The JSON body for `/v1/chat/completions`: the image alone as the user turn, as trained."""
    messages: list[dict] = [{"role": "system", "content": system}] if system else []
    messages.append(
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": image_data_url(image)}}],
        }
    )
    body: dict = {
        "model": model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": False,
    }
    if response_format is not None:
        body["response_format"] = response_format
    if logprobs:
        body["logprobs"] = True
    return body


def read_reply(payload: object) -> Reply:
    """The answer text, whether the token bound cut it, and token log-probabilities if any."""
    try:
        choice = payload["choices"][0]  # type: ignore[index]
        message = choice["message"]
        text = message.get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise BadReply(f"not a chat completion: {str(payload)[:200]!r}") from None
    if not isinstance(text, str):
        raise BadReply(f"message content is not text: {str(text)[:200]!r}")
    usage = payload.get("usage") or {}  # type: ignore[union-attr]
    token_bytes, logprobs = _token_logprobs(choice.get("logprobs"))
    return Reply(
        text=text,
        truncated=choice.get("finish_reason") == "length",
        token_bytes=token_bytes,
        logprobs=logprobs,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        generated_tokens=int(usage.get("completion_tokens") or 0),
    )


def _token_logprobs(section: object) -> tuple[list[bytes], list[float]]:
    """Token bytes and log-probabilities from a `logprobs.content` list; empty if malformed.
    The `bytes` field is preferred: a character split across tokens has no text of its own."""
    content = section.get("content") if isinstance(section, dict) else None
    if not isinstance(content, list):
        return [], []
    tokens, values = [], []
    for entry in content:
        try:
            raw = entry.get("bytes")
            tokens.append(bytes(raw) if raw else str(entry["token"]).encode("utf-8"))
            values.append(float(entry["logprob"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return [], []
    return tokens, values


def token_ends(reply: Reply) -> list[int] | None:
    """Each token's end offset in the answer text (decoded cumulatively, like the local
    engine), or None when the tokens do not spell the text: then no term gets a confidence."""
    if not reply.token_bytes:
        return None
    ends, spelled = [], b""
    for token in reply.token_bytes:
        spelled += token
        ends.append(len(spelled.decode("utf-8", "ignore")))
    return ends if spelled.decode("utf-8", "replace") == reply.text else None
