"""Write predictions to JSONL or CSV, atomically: a failed write leaves the old file intact."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from mlx_edugraph.paths import write_atomic
from mlx_edugraph.prediction import DIMENSIONS, Prediction

FORMATS = ("jsonl", "csv")


class ExportError(OSError):
    """An export that could not be written (disk full, no permission); the message says
    whether a previous file at the path is still there, unchanged."""


CSV_COLUMNS = (
    "path",
    "page",
    "sha256",
    "outcome",
    *DIMENSIONS,
    "unknown_terms",
    "min_confidence",
    "model",
    "ontology_version",
    "error",
)


def jsonl_record(prediction: Prediction) -> dict:
    """The stored record plus `answer`: the labels per dimension, as the model's JSON has them."""
    record = prediction.to_dict()
    if prediction.outcome == "labeled":
        record["answer"] = {dim: prediction.terms(dim) for dim in DIMENSIONS}
    return record


def to_jsonl(predictions: Iterable[Prediction]) -> str:
    """One JSON record per worksheet page."""
    return "".join(_json_line(jsonl_record(p)) for p in predictions)


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""Characters JSON leaves raw that some readers split lines at (str.splitlines, JavaScript)."""


def _json_line(record: dict) -> str:
    # A file name that is not UTF-8 (surrogates in the str) is written as JSON escapes.
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record)
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text + "\n"


def safe_cell(value: str) -> str:
    """Escape text a spreadsheet would run as a formula (=, +, -, @ at the start)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _utf8_with_escapes(text: str) -> bytes:
    """UTF-8 for a spreadsheet: the bytes of a file name that is not UTF-8 appear as \\x.."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace").encode()


def to_csv(predictions: Iterable[Prediction]) -> str:
    """One row per worksheet page; each dimension's terms joined with ';'."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for p in predictions:
        unknown = [lab.term for lab in p.labels if lab.status in ("unknown", "wrong_dimension")]
        confidence = p.min_confidence
        row = [
            p.path,
            str(p.page),
            p.sha256,
            p.outcome,
            *(";".join(p.terms(dim)) for dim in DIMENSIONS),
            ";".join(unknown),
            "" if confidence is None else f"{confidence:.4f}",
            p.provenance.model,
            p.provenance.ontology_version,
            p.error or "",
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def export(predictions: Iterable[Prediction], path: Path, fmt: str = "jsonl") -> int:
    """Write predictions to `path` in `fmt` ("jsonl" or "csv"); returns the record count."""
    records = list(predictions)
    if fmt == "jsonl":
        data = to_jsonl(records).encode()
    elif fmt == "csv":
        data = _utf8_with_escapes(to_csv(records))
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    try:
        write_atomic(path, data)
    except OSError as exc:
        kept = "the previous file is unchanged" if path.exists() else "no file was written"
        raise ExportError(f"could not write {path}: {exc.strerror or exc}; {kept}") from exc
    return len(records)
