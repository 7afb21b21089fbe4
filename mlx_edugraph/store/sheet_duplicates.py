"""Duplicate sheets: groups of stored pages that are the same printed sheet.

Two stages. Candidates come from buckets of the pages' hashes (`sheet_candidates`), never
from all pairs. Each candidate pair is then confirmed by aligning the two pages and comparing them
locally (`pages.sheet_match`); a page left alone gets a second look among its layout's pages
(`layout_candidates`). Pages whose signature is missing get one from their file on
first use; a page whose file is gone, or that cannot be read, is reported and left out;
blank pages are set apart as blank.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlx_edugraph.store.sheet_candidates import candidates, layout_candidates
from mlx_edugraph.store.sqlite_store import Store

Page = tuple[str, int]
"""A stored page: (content key, page number)."""

MAX_REFUSED = 8
"""Refused comparisons per page: a pair is compared while one of its pages has had fewer.
What bounds the work on a template's many sibling sheets (each refused, at some 10 ms)."""

CACHE = 256
"""Decoded signatures kept in memory while grouping."""

STORE_BATCH = 32
"""Signatures made on first use are stored this many at a time (one transaction each)."""

SAVE_EVERY = 256
"""Comparisons handed to the store at a time while grouping (some 10 s of work): a grouping
stopped part way (Ctrl-C, the app quitting) keeps what it compared."""

Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as grouping goes: `SIGNING` pages with no stored signature, then
`COMPARING` candidate pairs."""

SIGNING = "sheet signatures made"
COMPARING = "candidate pairs compared"


class Stopped(Exception):
    """Grouping stopped because `should_stop` said so; the comparisons made were stored."""


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
) -> SheetDuplicates:
    """Group `pages` by printed sheet. Signatures come from `store`; those missing are made
    from the files (and stored when there is a store) unless `make_missing` is False.
    `should_stop` is asked before each comparison: when it says so, `Stopped` is raised, the
    comparisons made so far stored, as they are when anything else (Ctrl-C) stops it."""
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


def group(
    pages: list[Page],
    hashes: np.ndarray,
    load: Callable[[Page], bytes],
    progress: Progress | None = None,
    verdicts: dict[tuple[Page, Page], object] | None = None,
    *,
    save: Callable[[list[tuple[tuple[Page, Page], object]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[list[list[Page]], int, int]:
    """Duplicate groups among `pages` (each with its packed 32-byte hash row in `hashes`,
    its stored signature from `load`), the number of variant pairs, and the number of pairs
    compared.

    Candidate pairs fall into connected parts (pages linked by candidate pairs); no pair joins
    two parts, so each part is grouped alone, its pairs nearest first, on `WORKERS` threads
    (OpenCV and numpy let go of the GIL in the heavy steps). A part's signatures are read
    once, here (the store's connection is this thread's), and dropped when it is done.
    Pages left without a duplicate then get a second look among their layout's pages
    (`layout_candidates`). `verdicts` ((page, other page) in order -> `Match`) are the pairs
    compared before: they are not compared again, and the pairs compared now are added and
    handed to `save`, `SAVE_EVERY` at a time and once more however grouping ends, always on
    this thread. `should_stop` is asked before each comparison (see `sheet_duplicates`)."""
    from mlx_edugraph.pages.sheet_match import compare

    verdicts = {} if verdicts is None else verdicts
    made: list[tuple[tuple[Page, Page], object]] = []  # appended by any thread, saved by this one
    saved = 0
    home = threading.get_ident()
    halt = threading.Event()

    def keep(at_least: int) -> None:
        nonlocal saved
        end = len(made)
        if save is not None and end - saved >= at_least:
            save(made[saved:end])
            saved = end

    def judge(i: int, j: int, signature: Callable[[int], object]) -> tuple[object, bool]:
        pair = (pages[i], pages[j]) if pages[i] <= pages[j] else (pages[j], pages[i])
        if pair in verdicts:
            return verdicts[pair], False
        if halt.is_set() or (should_stop is not None and should_stop()):
            halt.set()
            raise Stopped
        verdicts[pair] = match = compare(signature(i), signature(j))
        made.append((pair, match))
        if threading.get_ident() == home:
            keep(SAVE_EVERY)
        return match, True

    def known(part: list[tuple[int, int]]) -> bool:
        return all(
            ((pages[i], pages[j]) if pages[i] <= pages[j] else (pages[j], pages[i])) in verdicts
            for i, j in part
        )

    pairs = candidates(hashes)
    joined = Joined()
    variants = compared = done = 0

    def collect(result: tuple[Joined, int, int]) -> None:
        nonlocal variants, compared, done
        part_joined, part_variants, part_compared = result
        joined.parent.update(part_joined.parent)
        joined.size.update(part_joined.size)
        variants += part_variants
        compared += part_compared
        done += len(part_joined.pairs)
        keep(SAVE_EVERY)
        if progress is not None:
            progress(COMPARING, done, len(pairs))

    pool = ThreadPoolExecutor(WORKERS)
    try:
        pending: deque[Future] = deque()
        for part in _parts(len(pages), pairs):
            members = sorted({i for pair in part for i in pair})
            if len(members) > PART_IN_MEMORY or known(part):  # read as needed, on this thread
                collect(_confirm(Joined(part), _cached(lambda i: load(pages[i])), judge))
                continue
            stored = {i: load(pages[i]) for i in members}
            pending.append(pool.submit(_confirm, Joined(part), _cached(stored.__getitem__), judge))
            while len(pending) > 2 * WORKERS:
                collect(pending.popleft().result())
        while pending:
            collect(pending.popleft().result())
        alone = [i for i in range(len(pages)) if i not in joined.parent and i not in joined.size]
        second = layout_candidates(hashes, alone, sorted(joined.size), set(pairs))
        if second:
            joined.pairs = second
            signature = _cached(lambda i: load(pages[i]))
            _, more_variants, more_compared = _confirm(joined, signature, judge)
            variants += more_variants
            compared += more_compared
    except BaseException:
        halt.set()  # the parts in hand stop at their next comparison
        raise
    finally:
        pool.shutdown(cancel_futures=True)
        keep(1)
    members: dict[int, list[Page]] = {}
    for i in joined.parent:
        members.setdefault(joined.root(i), []).append(pages[i])
    groups = [sorted(g + [pages[anchor]]) for anchor, g in members.items()]
    return sorted(groups, key=lambda g: (-len(g), g[0])), variants, compared


@dataclass
class Joined:
    """Union-find over page indices: each group's root is its earliest page, its anchor;
    pages not in `parent` are alone. `pairs` are the candidates still to confirm."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    parent: dict[int, int] = field(default_factory=dict)
    size: dict[int, int] = field(default_factory=dict)

    def root(self, i: int) -> int:
        parent = self.parent
        while i in parent:
            if parent[i] in parent:
                parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, first: int, second: int) -> None:
        low, high = sorted((first, second))
        self.parent[high] = low
        self.size[low] = self.size.get(low, 1) + self.size.pop(high, 1)


WORKERS = min(2, os.cpu_count() or 1)
"""Threads that confirm candidate pairs."""

PART_IN_MEMORY = 2048
"""Pages of a connected part whose signatures are read at once and handed to a thread; a
larger part is confirmed on the reading thread, its signatures read as needed."""


def _parts(count: int, pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """`pairs` split into connected parts, each in the given order."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for one, other in pairs:
        first, second = root(one), root(other)
        if first != second:
            parent[max(first, second)] = min(first, second)
    parts: dict[int, list[tuple[int, int]]] = {}
    for pair in pairs:
        parts.setdefault(root(pair[0]), []).append(pair)
    return list(parts.values())


def _cached(read: Callable[[int], bytes]) -> Callable[[int], object]:
    """Decoded signatures of `read`, the last `CACHE` kept."""
    from mlx_edugraph.pages.sheet_signature import SheetSignature

    cache: OrderedDict[int, SheetSignature] = OrderedDict()

    def signature(i: int) -> SheetSignature:
        if i in cache:
            cache.move_to_end(i)
            return cache[i]
        cache[i] = SheetSignature.from_bytes(read(i))
        if len(cache) > CACHE:
            cache.popitem(last=False)
        return cache[i]

    return signature


Judge = Callable[[int, int, Callable[[int], object]], tuple[object, bool]]
"""(i, j, signature of an index) -> (the pair's `Match`, whether it was compared now)."""


def _confirm(
    joined: Joined, signature: Callable[[int], object], judge: Judge
) -> tuple[Joined, int, int]:
    """Confirm `joined.pairs` in order, joining the duplicates; `joined` with the variant
    pairs and the pairs compared (not those whose verdict was known)."""
    variants = compared = 0
    refused: dict[int, int] = {}
    for one, other in joined.pairs:
        first, second = joined.root(one), joined.root(other)
        if first == second:
            continue  # already one sheet through another copy
        if min(refused.get(one, 0), refused.get(other, 0)) >= MAX_REFUSED:
            continue
        match, fresh = judge(one, other, signature)
        compared += fresh
        if not match.duplicate:
            refused[one] = refused.get(one, 0) + 1
            refused[other] = refused.get(other, 0) + 1
        if match.duplicate and first in joined.size and second in joined.size:
            # Two groups join only if their first pages match too: one wrong link must not
            # chain two sheets' copies together.
            match, fresh = judge(first, second, signature)
            compared += fresh
        if match.duplicate:
            joined.join(first, second)
        elif match.variant:
            variants += 1
    return joined, variants, compared
