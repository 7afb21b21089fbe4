"""Duplicate sheets: groups of stored pages that are the same printed sheet.

Two stages. Candidates come from buckets of the pages' 256-bit hashes (multi-index hashing:
the hash cut into 16 chunks of 16 bits; pages sharing a chunk are looked at, and those within
`MAX_HASH_DISTANCE` bits kept, at most `MAX_CANDIDATES` nearest per page), never from all
pairs. Each candidate pair is then confirmed by aligning the two pages and comparing them
locally (`pages.sheet_match`). Pages whose signature is missing get one from their file on
first use; a page whose file is gone, or that cannot be read, is reported and left out;
blank pages are set apart as blank.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlx_edugraph.store.sqlite_store import Store

Page = tuple[str, int]
"""A stored page: (content key, page number)."""

CHUNKS = 16
"""The hash is cut into this many chunks of 16 bits; two pages within 15 bits share one."""

MAX_HASH_DISTANCE = 64
"""Hash bits (of 256) two pages may differ by and still be confirmed (measured: copies stay
under it; docs/similar.md)."""

MAX_CANDIDATES = 12
"""Nearest candidates per page that are confirmed: bounds the work on many sibling sheets."""

CACHE = 256
"""Decoded signatures kept in memory while grouping."""

STORE_BATCH = 32
"""Signatures made on first use are stored this many at a time (one transaction each)."""


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
    pages: Iterable[SheetPage], store: Store | None = None, *, make_missing: bool = True
) -> SheetDuplicates:
    """Group `pages` by printed sheet. Signatures come from `store`; those missing are made
    from the files (and stored when there is a store) unless `make_missing` is False."""
    from mlx_edugraph.pages.sheet_signature import SIGNATURE_VERSION, SheetSignature

    found = SheetDuplicates()
    wanted = {p.id: p for p in pages}
    known = store.sheet_hashes(SIGNATURE_VERSION) if store is not None else {}
    in_memory: dict[Page, SheetSignature] = {}
    batch: list[tuple[Page, SheetSignature]] = []
    present = []
    for page in wanted.values():
        if not os.path.exists(page.path):
            found.gone.append(page.label)
            continue
        if page.id in known:
            present.append(page.id)
            continue
        if not make_missing:
            continue
        signature = _signature_from_file(page)
        if isinstance(signature, str):
            found.unreadable.append((page.label, signature))
            continue
        known[page.id] = (signature.blank, signature.phash)
        present.append(page.id)
        if store is None:
            in_memory[page.id] = signature
            continue
        batch.append((page.id, signature))
        if len(batch) == STORE_BATCH:
            store.put_sheet_signatures(batch)
            batch.clear()
    if batch:
        store.put_sheet_signatures(batch)

    def load(page: Page) -> SheetSignature:
        if page in in_memory:
            return in_memory[page]
        return SheetSignature.from_bytes(store.sheet_signature(*page))

    found.blank = sorted(p for p in present if known[p][0])
    printed = [p for p in present if not known[p][0]]
    hashes = np.frombuffer(b"".join(known[p][1] for p in printed), dtype=np.uint8)
    found.groups, found.variants, found.compared = group(printed, hashes.reshape(-1, 32), load)
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


def group(
    pages: list[Page], hashes: np.ndarray, load: Callable[[Page], object]
) -> tuple[list[list[Page]], int, int]:
    """Duplicate groups among `pages` (each with its packed 32-byte hash row in `hashes`),
    the number of variant pairs, and the number of pairs compared."""
    from mlx_edugraph.pages.sheet_match import compare

    pairs = candidates(hashes)
    parent = list(range(len(pages)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cache: OrderedDict[int, object] = OrderedDict()

    def signature(i: int):
        if i in cache:
            cache.move_to_end(i)
            return cache[i]
        cache[i] = load(pages[i])
        if len(cache) > CACHE:
            cache.popitem(last=False)
        return cache[i]

    size = [1] * len(pages)
    variants = compared = 0
    for one, other in pairs:
        first, second = root(one), root(other)
        if first == second:
            continue  # already one sheet through another copy
        match = compare(signature(one), signature(other))
        compared += 1
        if match.duplicate and size[first] > 1 and size[second] > 1:
            # Two groups join only if their first pages match too: one wrong link must not
            # chain two sheets' copies together.
            match = compare(signature(first), signature(second))
            compared += 1
        if match.duplicate:
            low, high = sorted((first, second))
            parent[high] = low  # the group's root stays its earliest page: its anchor
            size[low] += size[high]
        elif match.variant:
            variants += 1
    members: dict[int, list[Page]] = {}
    for i, page in enumerate(pages):
        members.setdefault(root(i), []).append(page)
    groups = [sorted(g) for g in members.values() if len(g) > 1]
    return sorted(groups, key=lambda g: (-len(g), g[0])), variants, compared


_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
"""Set bits of each byte value: Hamming distances of packed hashes by table look-up."""


def candidates(hashes: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i < j) of rows whose hashes share one of `CHUNKS` 16-bit chunks and differ by at
    most `MAX_HASH_DISTANCE` bits; each row keeps its `MAX_CANDIDATES` nearest. Sorted by
    distance, nearest first."""
    count = len(hashes)
    if count < 2:
        return []
    chunks = hashes.view(">u2").reshape(count, CHUNKS)
    buckets = []
    for c in range(CHUNKS):
        order = np.argsort(chunks[:, c], kind="stable")
        values = chunks[order, c]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        ends = np.r_[starts[1:], count]
        buckets.append((values[starts], starts, ends, order))
    found: dict[tuple[int, int], int] = {}
    for i in range(count):
        members = []
        for c, (keys, starts, ends, order) in enumerate(buckets):
            at = np.searchsorted(keys, chunks[i, c])
            if ends[at] - starts[at] > 1:
                members.append(order[starts[at] : ends[at]])
        if not members:
            continue
        near = np.unique(np.concatenate(members))
        near = near[near != i]
        if not len(near):
            continue
        distance = _BITS[hashes[near] ^ hashes[i]].sum(axis=1, dtype=np.int32)
        keep = distance <= MAX_HASH_DISTANCE
        near, distance = near[keep], distance[keep]
        if len(near) > MAX_CANDIDATES:
            nearest = np.argpartition(distance, MAX_CANDIDATES)[:MAX_CANDIDATES]
            near, distance = near[nearest], distance[nearest]
        for j, d in zip(near.tolist(), distance.tolist(), strict=True):
            found[(min(i, j), max(i, j))] = d
    return sorted(found, key=lambda pair: (found[pair], pair))
