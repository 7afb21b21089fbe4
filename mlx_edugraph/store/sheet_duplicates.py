"""Duplicate sheets: groups of stored pages that are the same printed sheet.

Two stages. Candidates come from buckets of the pages' hashes (`sheet_candidates`), never
from all pairs. Each candidate pair is then confirmed by aligning the two pages and comparing
them locally (`pages.sheet_match`), on worker processes (`sheet_grouping`); a page left alone
gets a second look among its layout's pages. Pages whose signature is missing get one from
their file on first use; a page whose file is gone, or that cannot be read, is reported and
left out; blank pages are set apart as blank. The comparisons are stored as they are made.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlx_edugraph.store.sheet_grouping import Page, Progress, group
from mlx_edugraph.store.sqlite_store import Store

STORE_BATCH = 32
"""Signatures made on first use are stored this many at a time (one transaction each)."""

SIGNING = "sheet signatures made"
"""The stage progress is told as while signatures are made (`sheet_grouping.COMPARING`
follows)."""


@dataclass(frozen=True)
class SheetPage:
    """A page to group: its identity and where its file is."""

    key: str
    page: int
    path: str

    @property
    def id(self) -> Page:
        return (self.key, self.page)

    @property
    def label(self) -> str:
        return f"{self.path} p{self.page}" if self.page else self.path


@dataclass
class SheetDuplicates:
    """What grouping found, and the pages it could not look at (with the reason)."""

    groups: list[list[Page]] = field(default_factory=list)
    """Groups of the same printed sheet, largest first."""
    blank: list[Page] = field(default_factory=list)
    variants: int = 0
    """Candidate pairs of one layout with other content (sibling sheets): not grouped."""
    gone: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """(page, reason) of pages no signature could be made of."""
    compared: int = 0
    """Candidate pairs confirmed or refused by the local comparison."""

    @property
    def pages(self) -> set[Page]:
        """Every page that has a duplicate."""
        return {page for group in self.groups for page in group}

    def problems(self) -> list[str]:
        """One line per kind of page left out, naming a few."""
        lines = []
        if self.gone:
            shown = ", ".join(self.gone[:3]) + (", ..." if len(self.gone) > 3 else "")
            lines.append(f"{len(self.gone)} page(s) whose file is gone were not compared: {shown}")
        for name, reason in self.unreadable[:10]:
            lines.append(f"{name} was not compared: {reason}")
        if len(self.unreadable) > 10:
            lines.append(f"... and {len(self.unreadable) - 10} more page(s) not compared")
        return lines


def sheet_duplicates(
    pages: Iterable[SheetPage],
    store: Store | None = None,
    *,
    make_missing: bool = True,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int | None = None,
) -> SheetDuplicates:
    """Group `pages` by printed sheet. Signatures come from `store`; those missing are made
    from the files (and stored when there is a store) unless `make_missing` is False.
    `progress` is told (stage, done, total). `should_stop` is asked before each comparison:
    when it says so, `sheet_grouping.Stopped` is raised, the comparisons made so far stored,
    as they are when anything else (Ctrl-C) stops it. `workers` as `group` takes it."""
    from mlx_edugraph.pages.sheet_match import METHOD_VERSION, Match
    from mlx_edugraph.pages.sheet_signature import SIGNATURE_VERSION, SheetSignature

    found = SheetDuplicates()
    wanted = {p.id: p for p in pages}
    known = store.sheet_hashes(SIGNATURE_VERSION) if store is not None else {}
    in_memory: dict[Page, bytes] = {}
    batch: list[tuple[Page, SheetSignature]] = []
    present = []
    missing = sum(p.id not in known for p in wanted.values()) if make_missing else 0
    signed = 0
    for page in wanted.values():
        if not os.path.exists(page.path):
            found.gone.append(page.label)
            continue
        if page.id in known:
            present.append(page.id)
            continue
        if not make_missing:
            continue
        if progress is not None:
            progress(SIGNING, signed, missing)
        signed += 1
        signature = _signature_from_file(page)
        if isinstance(signature, str):
            found.unreadable.append((page.label, signature))
            continue
        known[page.id] = (signature.blank, signature.phash)
        present.append(page.id)
        if store is None:
            in_memory[page.id] = signature.to_bytes()
            continue
        batch.append((page.id, signature))
        if len(batch) == STORE_BATCH:
            store.put_sheet_signatures(batch)
            batch.clear()
    if batch:
        store.put_sheet_signatures(batch)

    def load(page: Page) -> bytes:
        return in_memory[page] if page in in_memory else store.sheet_signature(*page)

    found.blank = sorted(p for p in present if known[p][0])
    printed = [p for p in present if not known[p][0]]
    hashes = np.frombuffer(b"".join(known[p][1] for p in printed), dtype=np.uint8)
    stored = {} if store is None else store.sheet_verdicts(METHOD_VERSION)
    verdicts = {pair: Match(*verdict) for pair, verdict in stored.items()}

    def save(made: list[tuple[tuple[Page, Page], Match]]) -> None:
        store.put_sheet_verdicts(METHOD_VERSION, ((p, (m.aligned, m.difference)) for p, m in made))

    found.groups, found.variants, found.compared = group(
        printed,
        hashes.reshape(-1, 32),
        load,
        progress,
        verdicts,
        save=None if store is None else save,
        should_stop=should_stop,
        workers=workers,
    )
    return found


def _signature_from_file(page: SheetPage):
    """The page's `SheetSignature` from its file, or why it cannot be made."""
    from mlx_edugraph.pages.sheet_signature import SignatureError, make_signature
    from mlx_edugraph.pages.worksheets import WorksheetError, WorksheetRef, file_sha256, load

    ref = WorksheetRef(Path(page.path), page.page)
    try:
        if not page.key.startswith("path:") and file_sha256(ref.path) != page.key:
            return "the file changed since it was labeled: label it again"
        return make_signature(load(ref, sha256=page.key).image)
    except (WorksheetError, SignatureError) as exc:
        return str(exc)
    except Exception as exc:  # a hostile file: said, and the rest goes on
        return f"cannot read it: {type(exc).__name__}: {exc}"
