"""Training examples from reviewed pages: the store's reviews or a ground-truth file.

An example is a worksheet page whose file is still there with the bytes that were reviewed,
and the answer the model should have written for it, in the model's own JSON form. Pages that
cannot be used are counted, never dropped silently: flagged reviews (not settled), files gone,
files changed since the review, and reviews of the same page that a newer one overrules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlx_edugraph.evaluation.truth import TruthItem, read_truth, term_name
from mlx_edugraph.pages.worksheets import WorksheetError, file_sha256
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.sqlite_store import Store

UNSUPPORTED_ANSWER = '{"Error": "UnsupportedMaterial"}'


@dataclass(frozen=True)
class Example:
    """One reviewed page and its true labels, in the order the reviewer gave them."""

    path: Path
    page: int
    sha256: str
    labels: dict[str, tuple[str, ...]]
    unsupported: bool
    origin: str

    @property
    def answer(self) -> str:
        """The answer JSON exactly as the model writes it (separators included)."""
        if self.unsupported:
            return UNSUPPORTED_ANSWER
        return json.dumps({d: list(self.labels[d]) for d in DIMENSIONS}, ensure_ascii=False)

    @property
    def area(self) -> str:
        """The page's group for the held-out split: its first Area term, or its kind."""
        if self.unsupported:
            return "UnsupportedMaterial"
        return min(self.labels["Area"], default="(no Area)")

    def truth(self) -> TruthItem:
        """The example as ground truth for `evaluation.scoring`."""
        labels = {d: frozenset(self.labels[d]) for d in DIMENSIONS}
        return TruthItem(labels, self.origin, self.path, self.page, self.sha256, self.unsupported)


@dataclass
class Collected:
    """The usable examples and what was left out, by reason."""

    examples: list[Example] = field(default_factory=list)
    flagged: int = 0
    gone: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    overruled: list[str] = field(default_factory=list)
    """Older reviews of a page that a newer review of the same page replaces."""

    def left_out(self) -> list[str]:
        """One line per reason anything was left out."""
        lines = []
        if self.flagged:
            lines.append(f"{self.flagged} flagged review(s) left out (not settled yet)")
        for what, items in (
            ("file(s) gone", self.gone),
            ("file(s) changed since the review (other bytes)", self.changed),
            ("older contradicting review(s) of a page (the newest one wins)", self.overruled),
        ):
            if items:
                shown = ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")
                lines.append(f"{len(items)} {what} skipped: {shown}")
        return lines


@dataclass(frozen=True)
class _Candidate:
    paths: tuple[Path, ...]
    page: int
    sha256: str
    labels: dict[str, tuple[str, ...]]
    unsupported: bool
    origin: str


def from_store(store: Store) -> Collected:
    """Accepted and corrected reviews of the store (flagged ones are counted, not used)."""
    collected = Collected()
    candidates = []
    for review in store.reviews():
        if not review.is_truth:
            collected.flagged += 1
            continue
        known = [Path(review.path)] + [Path(p) for p in store.paths_of(review.sha256, review.page)]
        labels = {d: tuple(map(term_name, review.labels.get(d, []))) for d in DIMENSIONS}
        origin = f"review of {review.path}" + (f" p{review.page}" if review.page else "")
        candidates.append(
            _Candidate(
                tuple(dict.fromkeys(known)),
                review.page,
                review.sha256,
                labels,
                review.unsupported,
                origin,
            )
        )
    return _settle(candidates, collected)


def from_truth_file(source: Path) -> Collected:
    """Records of a truth file in any format `eval --truth` reads (later records are newer).

    Term order is not kept by those readers: terms are written in name order.
    """
    candidates = [
        _Candidate(
            (item.path,) if item.path else (),
            item.page,
            item.sha256,
            {d: tuple(sorted(item.labels[d])) for d in DIMENSIONS},
            item.unsupported,
            item.origin,
        )
        for item in read_truth(source)
    ]
    return _settle(candidates, Collected())


def _settle(candidates: Iterable[_Candidate], collected: Collected) -> Collected:
    """Keep the candidates whose file still has the reviewed bytes; the newest of several
    reviews of one page (same bytes, same page) wins."""
    chosen: dict[tuple[str, int], Example] = {}
    for candidate in candidates:
        found = _find(candidate)
        if isinstance(found, str):
            (collected.gone if found == "gone" else collected.changed).append(candidate.origin)
            continue
        path, sha256 = found
        key = (sha256, candidate.page)
        if key in chosen:
            older = chosen[key]
            if (older.labels, older.unsupported) != (candidate.labels, candidate.unsupported):
                collected.overruled.append(older.origin)
        chosen[key] = Example(
            path, candidate.page, sha256, candidate.labels, candidate.unsupported, candidate.origin
        )
    collected.examples = list(chosen.values())
    return collected


def _find(candidate: _Candidate) -> tuple[Path, str] | str:
    """A path whose bytes are the reviewed ones, with their hash; else "gone" or "changed"."""
    seen = False
    for path in candidate.paths:
        try:
            sha256 = file_sha256(path)
        except WorksheetError:
            continue
        seen = True
        if not candidate.sha256 or sha256 == candidate.sha256:
            return path, sha256
    return "changed" if seen else "gone"
