"""The EduGraph system prompt, and an explicit prompt for a model whose own chat template
lacks it.

The fine-tune's template injects the labeling prompt as the system turn; base Qwen3-VL's does
not. To compare them on equal terms, the base model is given the fine-tune's template (from its
model folder, or a `.jinja` file) or the prompt text itself as a system message (a text file).
Read without loading any model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json", "tokenizer_config.json")
"""Where a model folder keeps its chat template, in the order mlx-vlm looks."""


EDUGRAPH_SYSTEM_PROMPT = """\
You are an expert at labeling learning materials using the EduGraph ontology. Your task is to \
analyze the provided
image and provide a classification in JSON format.

Follow these steps during the labeling process:

1. Determine if the image represents math learning material that matches or is adjacent to \
elementary school math. If not then output '{"Error": "UnsupportedMaterial"}' and skip step 2.
2. Classify the material across the three ontology dimensions: "Area", "Scope", and "Ability"
2.1 Be as specific as possible in your classification.
2.2 Return your classification in a JSON schema

Here are 4 examples of valid JSON responses:

{"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller10", "NumbersWithoutZero"], \
"Ability": ["ProcedureExecution"]}

{"Area": ["FractionAddition", "IntegerMultiplication"], "Scope": ["NumbersSmaller1000", \
"NumbersWithNegatives"], "Ability": ["ProcedureIdentification", "ProcedureExecution"]}

{"Area": ["Arithmetic"], "Scope": ["NumbersSmaller10"], "Ability": ["ConceptualUnderstanding"]}

{"Error": "UnsupportedMaterial"}"""
"""The system turn the EduGraph template injects when a conversation has none (public text)."""


class PromptSourceError(Exception):
    """No prompt could be read from the given model folder or file; the message says why."""


@dataclass(frozen=True)
class PromptOverride:
    """A chat template to render with, or a system message to send; `origin` names its source."""

    origin: str
    template: str | None = None
    system: str | None = None


def read_prompt(source: Path | str) -> PromptOverride:
    """The chat template of a model folder or a `.jinja` file, or a text file as system prompt."""
    path = Path(source).expanduser()
    if path.is_dir():
        for name in TEMPLATE_FILES:
            template = _template_in(path / name)
            if template:
                return PromptOverride(f"chat template of {path}", template=template)
        raise PromptSourceError(f"{path} has no chat template ({', '.join(TEMPLATE_FILES)})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptSourceError(f"cannot read a prompt from {path}: {exc}") from None
    if not text.strip():
        raise PromptSourceError(f"{path} is empty")
    if path.suffix == ".jinja":
        return PromptOverride(f"chat template {path}", template=text)
    return PromptOverride(f"system prompt {path}", system=text.strip())


def _template_in(path: Path) -> str | None:
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jinja":
        return text
    try:
        template = json.loads(text).get("chat_template")
    except (ValueError, AttributeError):
        return None
    return template if isinstance(template, str) else None
