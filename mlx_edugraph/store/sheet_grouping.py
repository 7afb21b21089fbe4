"""Grouping pages into sheets from their hashes and signatures, on worker processes.

Candidate pairs (`sheet_candidates`) fall into connected parts that no pair links; each part
is grouped alone, its pairs nearest first, by `_confirm`. Parts go to worker processes: a
comparison is many small numpy steps that hold the GIL, so threads gave little over one core.
The calling thread reads each part's signatures (the store's connection is its own) and hands
them over with the part's known verdicts; it gets back the part's groups and the comparisons
made, which it stores as they come. Pages left alone then get a second look among their
layout's pages (`layout_candidates`), on the calling thread. No store is touched here:
`sheet_duplicates` passes the reading and the saving in.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from mlx_edugraph.store.sheet_candidates import candidates, layout_candidates

Page = tuple[str, int]
"""A stored page: (content key, page number)."""

Pair = tuple[int, int]
"""Two page indices, the lower first."""

MAX_REFUSED = 8
"""Refused comparisons per page: a pair is compared while one of its pages has had fewer.
What bounds the work on a template's many sibling sheets (each refused, at some 10 ms)."""

CACHE = 256
"""Decoded signatures kept in memory while grouping."""

SAVE_EVERY = 256
"""Comparisons handed to `save` at a time (some 10 s of work): a grouping stopped part way
(Ctrl-C, the app quitting) keeps what it compared."""

WORKERS = os.cpu_count() or 1
"""Worker processes that confirm parts: one per core."""

PROCESS_FROM = 400
"""Candidate pairs not yet judged from which the parts go to worker processes (some 4 s of
comparing on one core; a worker takes about a second to start). Less is done here."""

PART_IN_MEMORY = 2048
"""Pages of a connected part whose signatures are read at once and handed to a worker; a
larger part is confirmed on the calling thread, its signatures read as needed."""

COMPARING = "candidate pairs compared"
"""The stage `group` tells its progress as."""

Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as grouping goes."""


class Stopped(Exception):
    """Grouping stopped because `should_stop` said so; the comparisons made were saved."""


def group(
    pages: list[Page],
    hashes: np.ndarray,
    load: Callable[[Page], bytes],
    progress: Progress | None = None,
    verdicts: dict[tuple[Page, Page], object] | None = None,
    *,
    save: Callable[[list[tuple[tuple[Page, Page], object]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int | None = None,
) -> tuple[list[list[Page]], int, int]:
    """Duplicate groups among `pages` (each with its packed 32-byte hash row in `hashes`,
    its stored signature from `load`), the number of variant pairs, and the number of pairs
    compared.

    `verdicts` ((page, other page) in order -> `Match`) are the pairs compared before: they
    are not compared again. The pairs compared now go to `save`, `SAVE_EVERY` at a time and
    once more however grouping ends, always on this thread. `should_stop` is asked before
    each comparison here and every 0.1 s while workers compare; when it says so the workers
    stop at their next comparison and `Stopped` is raised. `workers` processes (None: one
    per core when there is enough work, `PROCESS_FROM`; 0: all on this thread)."""
    index = {page: i for i, page in enumerate(pages)}
    known: dict[Pair, object] = {}
    for (one, other), match in (verdicts or {}).items():
        i, j = index.get(one), index.get(other)
        if i is not None and j is not None:
            known[(i, j) if i < j else (j, i)] = match
    made: list[tuple[Pair, object]] = []
    saved = 0
    stop = should_stop or (lambda: False)

    def keep(at_least: int) -> None:
        nonlocal saved
        if save is not None and len(made) - saved >= at_least:
            save([(_ordered(pages[i], pages[j]), match) for (i, j), match in made[saved:]])
            saved = len(made)

    def judge(i: int, j: int, signature: Callable[[int], object]) -> object:
        match = _judge(known, made, i, j, signature, stop)
        keep(SAVE_EVERY)
        return match

    pairs = candidates(hashes)
    parts = _parts(len(pages), pairs)
    known_in = _known_by_part(parts, known)
    joined = Joined()
    variants = done = 0

    def collect(result: PartResult) -> None:
        nonlocal variants, done
        for pair, match in result.made:
            known[pair] = match
        made.extend(result.made)
        keep(SAVE_EVERY)
        joined.parent.update(result.joined.parent)
        joined.size.update(result.joined.size)
        variants += result.variants
        done += len(result.joined.pairs)
        if progress is not None:
            progress(COMPARING, done, len(pairs))

    if workers is None:
        workers = WORKERS if len(pairs) - len(known) >= PROCESS_FROM else 0
    pool, halted = _pool(workers) if workers else (None, None)
    pending: deque[Future] = deque()
    try:
        for number, part in enumerate(parts):
            members = sorted({i for pair in part for i in pair})
            part_known = known_in.get(number, {})
            judged = all(pair in part_known for pair in part)
            if pool is None or len(members) > PART_IN_MEMORY or judged:
                signature = _cached(lambda i: load(pages[i]))  # read as needed, on this thread
                collect(PartResult(*_confirm(Joined(part), signature, judge), made=[]))
                continue
            stored = {i: load(pages[i]) for i in members}
            pending.append(pool.submit(_confirm_apart, part, stored, part_known))
            while len(pending) > 2 * workers:
                _wait_first(pending, stop)
                collect(pending.popleft().result())
        while pending:
            _wait_first(pending, stop)
            collect(pending.popleft().result())
        alone = [i for i in range(len(pages)) if i not in joined.parent and i not in joined.size]
        second = layout_candidates(hashes, alone, sorted(joined.size), set(pairs))
        if second:
            joined.pairs = second
            signature = _cached(lambda i: load(pages[i]))
            variants += _confirm(joined, signature, judge)[1]
    except BaseException:
        if pool is not None:
            _halt(halted, pending, made)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        keep(1)
    members_of: dict[int, list[Page]] = {}
    for i in joined.parent:
        members_of.setdefault(joined.root(i), []).append(pages[i])
    groups = [sorted(g + [pages[anchor]]) for anchor, g in members_of.items()]
    return sorted(groups, key=lambda g: (-len(g), g[0])), variants, len(made)


def _ordered(one: Page, other: Page) -> tuple[Page, Page]:
    return (one, other) if one <= other else (other, one)


def _judge(
    known: dict[Pair, object],
    made: list[tuple[Pair, object]],
    i: int,
    j: int,
    signature: Callable[[int], object],
    stop: Callable[[], bool],
) -> object:
    """The pair's `Match` from `known`, else compared now (added to `known` and `made`)."""
    from mlx_edugraph.pages.sheet_match import compare

    pair = (i, j) if i < j else (j, i)
    if pair in known:
        return known[pair]
    if stop():
        raise Stopped
    known[pair] = match = compare(signature(i), signature(j))
    made.append((pair, match))
    return match


def _known_by_part(parts: list[list[Pair]], known: dict[Pair, object]) -> dict[int, dict]:
    """The known verdicts within each part (part number -> {pair: Match}): what its worker
    needs, the group-joining pairs between its pages included."""
    part_of = {i: number for number, part in enumerate(parts) for pair in part for i in pair}
    by_part: dict[int, dict] = {}
    for (i, j), match in known.items():
        number = part_of.get(i)
        if number is not None and part_of.get(j) == number:
            by_part.setdefault(number, {})[(i, j)] = match
    return by_part


@dataclass
class PartResult:
    """What confirming one part gave: its groups, its variant pairs, the comparisons made
    ((i, j), `Match`); stopped part way, only `made` counts."""

    joined: Joined
    variants: int
    made: list[tuple[Pair, object]]


_halted = None
"""In a worker process: the event the calling process sets to stop it."""


def _pool(workers: int):
    """Worker processes started afresh ("spawn": the caller may have threads, and macOS
    starts processes so anyway), and the event that stops them."""
    context = multiprocessing.get_context("spawn")
    halted = context.Event()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(halted,)
    )
    return pool, halted


def _start_worker(halted) -> None:
    """Ctrl-C reaches the calling process, which stops the workers through `halted` (a
    worker killed by it would lose its part's comparisons). One OpenCV thread: the workers
    are one per core already."""
    import cv2

    global _halted
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    _halted = halted


def _confirm_apart(part: list[Pair], stored: dict[int, bytes], known: dict) -> PartResult:
    """In a worker process: `_confirm` of one part, with its signatures and known verdicts;
    stopped by the calling process, it answers with the comparisons made until then."""
    made: list[tuple[Pair, object]] = []

    def judge(i: int, j: int, signature: Callable[[int], object]) -> object:
        return _judge(known, made, i, j, signature, _halted.is_set)

    try:
        joined, variants = _confirm(Joined(part), _cached(stored.__getitem__), judge)
    except Stopped:
        return PartResult(Joined(part), 0, made)
    return PartResult(joined, variants, made)


def _wait_first(pending: deque[Future], stop: Callable[[], bool]) -> None:
    """Wait for the first of `pending`, asking `stop` every 0.1 s."""
    while not wait([pending[0]], timeout=0.1, return_when=FIRST_COMPLETED).done:
        if stop():
            raise Stopped


def _halt(halted, pending: deque[Future], made: list) -> None:
    """Stop the workers at their next comparison (`halted` set); the comparisons of the parts
    in hand are added to `made` (parts not started are dropped)."""
    halted.set()
    deadline = time.monotonic() + 60
    for future in pending:
        if future.cancel():
            continue
        try:
            made.extend(future.result(timeout=max(deadline - time.monotonic(), 0)).made)
        except Exception:  # a worker that died or did not answer: its part is lost, not more
            continue


@dataclass
class Joined:
    """Union-find over page indices: each group's root is its earliest page, its anchor;
    pages not in `parent` are alone. `pairs` are the candidates still to confirm."""

    pairs: list[Pair] = field(default_factory=list)
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


def _parts(count: int, pairs: list[Pair]) -> list[list[Pair]]:
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
    parts: dict[int, list[Pair]] = {}
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


Judge = Callable[[int, int, Callable[[int], object]], object]
"""(i, j, signature of an index) -> the pair's `Match`, known or compared now."""


def _confirm(
    joined: Joined, signature: Callable[[int], object], judge: Judge
) -> tuple[Joined, int]:
    """Confirm `joined.pairs` in order, joining the duplicates; `joined` and the number of
    variant pairs."""
    variants = 0
    refused: dict[int, int] = {}
    for one, other in joined.pairs:
        first, second = joined.root(one), joined.root(other)
        if first == second:
            continue  # already one sheet through another copy
        if min(refused.get(one, 0), refused.get(other, 0)) >= MAX_REFUSED:
            continue
        match = judge(one, other, signature)
        if not match.duplicate:
            refused[one] = refused.get(one, 0) + 1
            refused[other] = refused.get(other, 0) + 1
        if match.duplicate and first in joined.size and second in joined.size:
            # Two groups join only if their first pages match too: one wrong link must not
            # chain two sheets' copies together.
            match = judge(first, second, signature)
        if match.duplicate:
            joined.join(first, second)
        elif match.variant:
            variants += 1
    return joined, variants
