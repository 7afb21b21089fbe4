"""Ground truth for evaluation: reviewed labels from the store, JSONL files, EduGraph releases.

Readers are strict where tolerance would hide a mistake: a malformed line or entry raises
`TruthError` naming the file and the line or entry, rather than being skipped and silently
shrinking the test set. Term spellings are tolerant the way the answer parser is: any key case,
plural keys (Areas, Scopes, Abilities), a single string instead of a list, full IRIs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.prediction import DIMENSION_KEYS, DIMENSIONS
from mlx_edugraph.store.review import Review

META_FILE = "meta.json"
"""The EduGraph content releases' index file: a list of labeled question images."""

_UNSUPPORTED = "unsupportedmaterial"


class TruthError(Exception):
    """A ground-truth file that cannot be read; the message names the file and the place."""


@dataclass
class TruthItem:
    """The true labels of one worksheet page."""

    labels: dict[str, frozenset[str]]
    origin: str
    """Where the item came from, for messages: "truth.jsonl line 3", "review of a.png"."""
    path: Path | None = None
    page: int = 0
    sha256: str = ""
    """Known for reviews; for files it is computed when the worksheet is found."""
    unsupported: bool = False
    """The page is not K-4 math material: the right answer is UnsupportedMaterial."""


def term_name(value: str) -> str:
    """The term a label names: IRIs and prefixed names (edu#Term, edu:Term) name their last part."""
    stripped = value.strip()
    return stripped[max(stripped.rfind("#"), stripped.rfind("/"), stripped.rfind(":")) + 1 :]


def read_labels(record: dict, where: str) -> tuple[dict[str, frozenset[str]], bool]:
    """The three dimensions' terms of a record (any key case, plurals), and whether it marks
    the page unsupported ("Error": "UnsupportedMaterial" or "unsupported": true)."""
    labels: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    unsupported = record.get("unsupported") is True
    for key, value in record.items():
        lowered = key.strip().lower()
        if lowered == "error":
            if not (isinstance(value, str) and value.strip().lower() == _UNSUPPORTED):
                raise TruthError(f'{where}: Error must be "UnsupportedMaterial", got {value!r}')
            unsupported = True
            continue
        dimension = DIMENSION_KEYS.get(lowered)
        if dimension is None:
            continue
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise TruthError(f"{where}: {key} must be a list of term names, got {value!r}")
        labels[dimension].update(filter(None, map(term_name, items)))
    if unsupported and any(labels.values()):
        raise TruthError(f"{where}: marked UnsupportedMaterial but also has labels")
    return {d: frozenset(terms) for d, terms in labels.items()}, unsupported


def read_truth(source: Path) -> list[TruthItem]:
    """Ground truth from a JSONL file, a `meta.json` file, or a folder of `meta.json` files."""
    source = Path(source)
    if source.is_dir():
        metas = sorted(source.rglob(META_FILE))
        if not metas:
            raise TruthError(f"{source}: no {META_FILE} files in this folder")
        return [item for meta in metas for item in read_meta(meta)]
    if not source.is_file():
        raise TruthError(f"{source}: no such file or folder")
    if source.suffix.lower() == ".json":
        return read_meta(source)
    return read_jsonl(source)


def read_jsonl(path: Path) -> list[TruthItem]:
    """One JSON object per line: {"path" or "image": file, "page"?: n, "Area": [...], ...};
    paths are relative to the JSONL file's folder. Blank lines are skipped."""
    items = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TruthError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise TruthError(f"{where}: expected a JSON object, got {type(record).__name__}")
        image = record.get("path", record.get("image"))
        if not isinstance(image, str) or not image:
            raise TruthError(f'{where}: needs "path" or "image": the worksheet file')
        page = record.get("page", 0)
        if not isinstance(page, int) or page < 0:
            raise TruthError(f'{where}: "page" must be a page number, got {page!r}')
        if image.lower().endswith(".pdf") and page == 0:
            raise TruthError(f'{where}: a PDF needs "page": the 1-based page number')
        labels, unsupported = read_labels(record, where)
        items.append(TruthItem(labels, where, path.parent / image, page, "", unsupported))
    if not items:
        raise TruthError(f"{path}: no ground-truth records")
    return items


def read_meta(path: Path) -> list[TruthItem]:
    """An EduGraph content release's `meta.json`: a list of {"questionImage": file relative
    to the meta.json, "labels": {"Area": [...], "Scope": [...], "Ability": [...]}}."""
    try:
        entries = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise TruthError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(entries, list):
        raise TruthError(f"{path}: expected a list of entries, got {type(entries).__name__}")
    items = []
    for index, entry in enumerate(entries):
        where = f"{path} entry {index}"
        if not isinstance(entry, dict):
            raise TruthError(f"{where}: expected an object, got {type(entry).__name__}")
        image = entry.get("questionImage")
        if not isinstance(image, str) or not image:
            raise TruthError(f'{where}: needs "questionImage": the image file')
        labels = entry.get("labels")
        if not isinstance(labels, dict):
            raise TruthError(f'{where}: needs "labels": an object with Area, Scope, Ability')
        terms, unsupported = read_labels(labels, where)
        items.append(TruthItem(terms, where, path.parent / image, 0, "", unsupported))
    if not items:
        raise TruthError(f"{path}: no entries")
    return items


def truth_from_reviews(reviews: Iterable[Review]) -> list[TruthItem]:
    """Accepted and corrected reviews as ground truth (flagged ones are not settled yet)."""
    return [
        TruthItem(
            {d: frozenset(map(term_name, review.labels.get(d, []))) for d in DIMENSIONS},
            f"review of {review.path}" + (f" p{review.page}" if review.page else ""),
            Path(review.path),
            review.page,
            review.sha256,
            review.unsupported,
        )
        for review in reviews
        if review.is_truth
    ]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TruthError(f"{path}: cannot be read ({exc})") from None
