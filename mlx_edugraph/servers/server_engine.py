"""The labeling engine behind OpenAI-compatible servers (vLLM, llama-server, mlx-vlm's server).

It implements the `Engine` protocol (`model.engine`) as the local model does; its `label` is
thread-safe, and `in_flight` says how many pages `batch.run` keeps in flight so that every
server stays busy. No inference code here: the servers run the model; this module turns a
page into a request and the reply into a `Prediction`, parsed like a local answer.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mlx_edugraph.labels.answer import DEFAULT_MAX_TOKENS, page_prediction
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.model.choice import prompt_id, served_fingerprint
from mlx_edugraph.model.prompt import PromptOverride
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS, LoadedWorksheet
from mlx_edugraph.prediction import Prediction, Provenance, Timings
from mlx_edugraph.servers.chat_request import BadReply, read_reply, request_body, token_ends
from mlx_edugraph.servers.pool import (
    PoolSettings,
    RequestRejected,
    Server,
    ServerFailure,
    ServerPool,
    base_url,
    request_json,
)
from mlx_edugraph.servers.response_format import response_format
from mlx_edugraph.servers.send_system_prompt import Policy, prompt_text, should_send

API_KEY_ENV_VARS = ("MLX_EDUGRAPH_API_KEY", "OPENAI_API_KEY")
"""Where the API key comes from, first found wins; it is sent as a bearer token only."""

PROBE_TIMEOUT_S = 10.0


class ServerSetupError(Exception):
    """No usable server, or no model name to ask for; the message says which and why."""


@dataclass
class RemoteOptions:
    """How to talk to the servers (the CLI's `--server` options)."""

    model_name: str | None = None
    """The model to ask for; default: the one the servers list at `/v1/models`."""
    system_prompt: Policy = "auto"
    settings: PoolSettings | None = None


def api_key_from_env() -> str | None:
    """The API key from `MLX_EDUGRAPH_API_KEY` or `OPENAI_API_KEY`, if set."""
    for name in API_KEY_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _stderr(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


class RemoteEngine:
    """Label worksheet pages through one or more chat-completions servers."""

    def __init__(
        self,
        servers: list[str],
        *,
        ontology: Ontology | None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        constrain: bool = True,
        prompt: PromptOverride | None = None,
        options: RemoteOptions | None = None,
        note: Callable[[str], None] = _stderr,
    ):
        started = time.perf_counter()
        options = options or RemoteOptions()
        settings = options.settings or PoolSettings()
        if settings.api_key is None:
            settings = replace(settings, api_key=api_key_from_env())
        self.ontology = ontology
        self.max_pixels = max_pixels
        self.max_tokens = max_tokens
        self._schema = response_format(ontology) if constrain else None
        pool_servers = [Server(base_url(url)) for url in servers]
        for server in pool_servers:
            _probe(server, settings)
        reachable = [server for server in pool_servers if not server.out]
        if not reachable:
            raise ServerSetupError(
                "no server answered: "
                + "; ".join(f"{s.name}: {s.last_error}" for s in pool_servers)
            )
        for server in pool_servers:
            if server.out:
                note(f"{server.name} does not answer ({server.last_error}); not used")
        self.model_name = options.model_name or _common_model(reachable)
        for server in pool_servers:
            server.model = self.model_name
        # A prompt the user supplied is meant to be sent, unless they said omit.
        send = (prompt is not None and options.system_prompt != "omit") or any(
            should_send(options.system_prompt, s.template) for s in reachable
        )
        self.system = prompt_text(prompt) if send else None
        fingerprint = served_fingerprint(self.model_name, self.system)
        prompt_version = "server-template" if self.system is None else prompt_id(self.system)
        self.pool = ServerPool(pool_servers, settings, note)
        self.provenance = Provenance(
            model=self.model_name,
            model_fingerprint=fingerprint,
            ontology_version=ontology.version if ontology else "unverified",
            prompt_version=prompt_version,
            server=", ".join(s.name for s in reachable),
        )
        self.load_s = time.perf_counter() - started

    @property
    def in_flight(self) -> int:
        """Pages worth keeping in flight: every server's request slots."""
        return self.pool.capacity

    @property
    def sends_system_prompt(self) -> bool:
        """Whether the EduGraph prompt goes as a system message (the servers' templates lack it)."""
        return self.system is not None

    def label(self, sheet: LoadedWorksheet) -> Prediction:
        """Label one loaded worksheet page on whichever server is free (thread-safe).

        Raises `ServerFailure`, `RequestRejected` or `NoServerLeft` when no server answered;
        the batch records that as the page's error (and a rerun tries it again).
        """
        started = time.perf_counter()

        def body_for(server: Server, with_schema: bool) -> dict:
            return request_body(
                sheet.image,
                model=server.model,
                max_tokens=self.max_tokens,
                system=self.system,
                response_format=self._schema if with_schema else None,
                logprobs=True,
            )

        server, payload = self.pool.call(body_for)
        try:
            reply = read_reply(payload)
        except BadReply as exc:
            raise ServerFailure(f"{server.name}: {exc}") from None
        return page_prediction(
            sheet,
            reply.text,
            truncated=reply.truncated,
            ontology=self.ontology,
            token_ends=token_ends(reply),
            logprobs=reply.logprobs,
            timings=Timings(
                prompt_tokens=reply.prompt_tokens,
                generated_tokens=reply.generated_tokens,
                total_s=time.perf_counter() - started,
            ),
            provenance=replace(self.provenance, server=server.name),
        )


def _probe(server: Server, settings: PoolSettings) -> None:
    """Ask a server which models it serves (and, llama-server, its chat template)."""
    timeout = min(settings.timeout_s, PROBE_TIMEOUT_S)
    try:
        listing = request_json(
            "GET", server.url + "/models", None, timeout=timeout, api_key=settings.api_key
        )
    except (ServerFailure, RequestRejected) as exc:
        server.out, server.last_error = True, str(exc)
        return
    data = listing.get("data") if isinstance(listing, dict) else None
    ids = [m.get("id") for m in data or [] if isinstance(m, dict)]
    server.model = next((i for i in ids if isinstance(i, str) and i), "")
    try:
        props = request_json(
            "GET",
            server.url.removesuffix("/v1") + "/props",
            None,
            timeout=timeout,
            api_key=settings.api_key,
        )
    except (ServerFailure, RequestRejected):
        return  # only llama-server has /props; the others do not show their template
    template = props.get("chat_template") if isinstance(props, dict) else None
    server.template = template if isinstance(template, str) and template else None


def _common_model(servers: list[Server]) -> str:
    names = {server.model for server in servers if server.model}
    if len(names) != 1:
        listed = ", ".join(sorted(names)) or "none"
        raise ServerSetupError(
            f"cannot tell which model to ask for (the servers list: {listed}); give --model-name"
        )
    return names.pop()
