"""The EduGraph system prompt for a server: whether to send it, and its text.

The fine-tune's chat template injects the labeling prompt when a conversation has no system
message, so a server running the model with its own template (vLLM, mlx-vlm's server) must be
sent none: the model then sees exactly its training prompt. A server with a generic template
(llama-server with a GGUF whose template was replaced, a base model) would send no prompt at
all; it needs the prompt as an explicit system message.
"""

from __future__ import annotations

from typing import Literal

from mlx_edugraph.model.prompt import EDUGRAPH_SYSTEM_PROMPT, PromptOverride

Policy = Literal["auto", "send", "omit"]
"""auto: send only when the server shows a chat template that lacks the prompt; send; omit."""

MARKER = "labeling learning materials using the EduGraph ontology"
"""A phrase of the EduGraph prompt: a template containing it injects the prompt itself."""

_SYSTEM_START = "<|im_start|>system\n"
_TURN_END = "<|im_end|>"


class SystemPromptError(Exception):
    """No system prompt could be read from the given source; the message says why."""


def template_injects(template: str) -> bool:
    """True when a chat template carries the EduGraph prompt (and so adds it by itself)."""
    return MARKER in template


def should_send(policy: Policy, server_template: str | None) -> bool:
    """Whether to send the prompt to a server whose template is `server_template` (None when
    the server does not show it: then `auto` trusts it, as vLLM and mlx-vlm run the model's own)."""
    if policy != "auto":
        return policy == "send"
    return server_template is not None and not template_injects(server_template)


def prompt_text(source: PromptOverride | None) -> str:
    """The system prompt to send: a text file's, the system turn a template renders, or the
    EduGraph model's public prompt."""
    if source is None:
        return EDUGRAPH_SYSTEM_PROMPT
    if source.system:
        return source.system
    return system_turn(source.template or "", source.origin)


def system_turn(template: str, origin: str = "chat template") -> str:
    """The system turn a Qwen-style chat template renders for an image-only conversation."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.filters["tojson"] = _tojson
    try:
        rendered = environment.from_string(template).render(
            messages=[{"role": "user", "content": [{"type": "image"}]}],
            add_generation_prompt=True,
        )
    except TemplateError as exc:
        raise SystemPromptError(f"{origin} does not render: {exc}") from None
    start = rendered.find(_SYSTEM_START)
    end = rendered.find(_TURN_END, start + 1)
    if start < 0 or end < 0 or not rendered[start + len(_SYSTEM_START) : end].strip():
        raise SystemPromptError(f"{origin} renders no system prompt")
    return rendered[start + len(_SYSTEM_START) : end].strip()


def _tojson(value: object, indent: int | None = None) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent)
