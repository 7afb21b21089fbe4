"""Where the tiny checkpoints get their chat template: the EduGraph model's own, or a fallback.

The real template (`../shared/model/chat_template.jinja`, beside the repository) is read at build
time and never copied into the project. Users without it (the demo mode on an installed wheel)
get `FALLBACK_TEMPLATE`: a minimal template written here that injects the same public EduGraph
system prompt and renders image-only user turns the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlx_edugraph.model.prompt import EDUGRAPH_SYSTEM_PROMPT

TEMPLATE_ENV_VAR = "MLX_EDUGRAPH_CHAT_TEMPLATE"
"""Environment variable naming a chat template file to use instead of the shared one."""

SHARED_TEMPLATE = Path(__file__).resolve().parents[2].parent / "shared/model/chat_template.jinja"
"""The EduGraph model's template in a checkout: `../shared/model/` relative to the repository."""

FALLBACK_TEMPLATE = (
    "{%- set system_prompt = " + json.dumps(EDUGRAPH_SYSTEM_PROMPT) + " -%}\n"
    """\
{%- set ns = namespace(first=0) -%}
{{- '<|im_start|>system\\n' -}}
{%- if messages[0].role == 'system' -%}
    {%- set ns.first = 1 -%}
    {%- if messages[0].content is string -%}
        {{- messages[0].content -}}
    {%- else -%}
        {%- for part in messages[0].content -%}
            {%- if 'text' in part -%}{{- part.text -}}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- else -%}
    {{- system_prompt -}}
{%- endif -%}
{{- '<|im_end|>\\n' -}}
{%- for message in messages[ns.first:] if message.role in ('user', 'assistant') -%}
    {{- '<|im_start|>' + message.role + '\\n' -}}
    {%- if message.content is string -%}
        {{- message.content -}}
    {%- else -%}
        {%- for part in message.content -%}
            {%- if message.role == 'user' and (part.type == 'image' or 'image' in part
                or 'image_url' in part) -%}
                {{- '<|vision_start|><|image_pad|><|vision_end|>' -}}
            {%- elif 'text' in part -%}
                {{- part.text -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\\n' -}}
{%- endif -%}
"""
)
"""A minimal stand-in for the EduGraph template, used only when the real one is absent."""


def find_chat_template(path: Path | None = None) -> Path | None:
    """The template file to use: `path`, else the env var, else the shared file, else None."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"chat template not found: {path}")
        return path
    if env := os.environ.get(TEMPLATE_ENV_VAR):
        env_path = Path(env)
        if not env_path.is_file():
            raise FileNotFoundError(f"{TEMPLATE_ENV_VAR} names a missing file: {env_path}")
        return env_path
    return SHARED_TEMPLATE if SHARED_TEMPLATE.is_file() else None


def read_chat_template(path: Path | None = None) -> str:
    """The text of the template `find_chat_template` picks, or `FALLBACK_TEMPLATE`."""
    found = find_chat_template(path)
    return found.read_text(encoding="utf-8") if found is not None else FALLBACK_TEMPLATE
