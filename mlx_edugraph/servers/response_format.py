"""The answer format as a JSON schema, for servers that constrain output by `response_format`.

The same answers the local grammar (`model/grammar.py`) admits, in the form OpenAI-compatible
servers take: the three dimensions with known terms of each, or the UnsupportedMaterial error.
Without an ontology the terms are any strings. Plain data: no MLX import.
"""

from __future__ import annotations

from mlx_edugraph.labels.answer import UNSUPPORTED
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS


def answer_schema(ontology: Ontology | None) -> dict:
    """A JSON schema accepting exactly the two answer shapes."""

    def terms(dimension: str) -> dict:
        known = sorted(ontology.terms_of(dimension)) if ontology is not None else []
        item = {"type": "string", "enum": known} if known else {"type": "string"}
        return {"type": "array", "items": item}

    labels = {
        "type": "object",
        "properties": {dimension: terms(dimension) for dimension in DIMENSIONS},
        "required": list(DIMENSIONS),
        "additionalProperties": False,
    }
    error = {
        "type": "object",
        "properties": {"Error": {"type": "string", "enum": [UNSUPPORTED]}},
        "required": ["Error"],
        "additionalProperties": False,
    }
    return {"anyOf": [labels, error]}


def response_format(ontology: Ontology | None) -> dict:
    """The chat-completions `response_format` field carrying `answer_schema`."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "edugraph_labels",
            "strict": True,
            "schema": answer_schema(ontology),
        },
    }
