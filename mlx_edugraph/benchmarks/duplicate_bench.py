"""Duplicate sheets measured: pair precision and recall on the generated set
(`benchmarks.sheet_copies`), and grouping at scale in a real store."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlx_edugraph.benchmarks.sheet_copies import SetPage
from mlx_edugraph.store.sheet_grouping import WORKERS


@dataclass
class Quality:
    """Pair precision and recall of `duplicates` on a generated set, overall and per kind."""

    precision: float
    recall: float
    per_copy: dict[str, tuple[float, int, int]] = field(default_factory=dict)
    """Per copy kind and dpi ("phone photo @150"): (recall, found pairs, true pairs)."""
    sibling_pairs_grouped: int = 0
    """Pairs of sheets of one template with other numbers called duplicates: must be 0."""
    one_change: tuple[int, int] = (0, 0)
    """Pairs of a sheet and its one-problem sibling (any copies): (grouped, all)."""
    other_dpi: tuple[int, int] = (0, 0)
    """Pairs of one sheet drawn at two dpis (any copies): (grouped, all). Not counted as
    copies: the drawing at another size moves text by a pixel or two (the font's hinting),
    as a reprint from the source would, which is no copy of the printed page."""
    pages: int = 0
    signature_s: float = 0.0
    """Median seconds to make one page's signature."""
    group_s: float = 0.0
    compared: int = 0


def measure_quality(pages: list[SetPage]) -> Quality:
    """Sign every page, group them as `duplicates` does, and count pairs. A page and its
    copies (one sheet at one dpi) are duplicates; sibling sheets never."""
    from mlx_edugraph.pages.sheet_signature import make_signature
    from mlx_edugraph.store.sheet_grouping import group

    signatures, times = [], []
    for page in pages:
        started = time.perf_counter()
        signatures.append(make_signature(page.image))
        times.append(time.perf_counter() - started)
    ids = [(str(i), 0) for i in range(len(pages))]
    hashes = np.frombuffer(b"".join(s.phash for s in signatures), dtype=np.uint8)
    stored = [signature.to_bytes() for signature in signatures]
    started = time.perf_counter()
    groups, _, compared = group(ids, hashes.reshape(-1, 32), lambda p: stored[int(p[0])])
    group_s = time.perf_counter() - started
    group_of = {int(p[0]): n for n, g in enumerate(groups) for p in g}
    true = found = correct = siblings = 0
    one_change, other_dpi = [0, 0], [0, 0]
    per_copy: dict[str, list[int]] = {}
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            one, other = pages[i].sheet, pages[j].sheet
            called = i in group_of and group_of.get(j) == group_of[i]
            if one == other and pages[i].dpi != pages[j].dpi:
                other_dpi[0] += called  # drawn again at another dpi: counted apart
                other_dpi[1] += 1
                continue
            same = one == other
            if not same and (one.layout, one.template, one.numbers) == (
                other.layout,
                other.template,
                other.numbers,
            ):
                one_change[0] += called  # a one-problem sibling: counted apart
                one_change[1] += 1
                continue
            true += same
            found += called
            correct += same and called
            if called and not same:
                siblings += (one.layout, one.template) == (other.layout, other.template)
            if same and (pages[i].copy == "" or pages[j].copy == ""):
                kind = pages[j].copy or pages[i].copy or "original"
                key = f"{kind} @{pages[i].dpi if pages[i].copy else pages[j].dpi}"
                tally = per_copy.setdefault(key, [0, 0])
                tally[0] += called
                tally[1] += 1
    return Quality(
        precision=correct / found if found else 1.0,
        recall=correct / true if true else 1.0,
        per_copy={k: (v[0] / v[1], v[0], v[1]) for k, v in sorted(per_copy.items())},
        sibling_pairs_grouped=siblings,
        one_change=(one_change[0], one_change[1]),
        other_dpi=(other_dpi[0], other_dpi[1]),
        pages=len(pages),
        signature_s=float(np.median(times)),
        group_s=group_s,
        compared=compared,
    )


def format_quality(quality: Quality) -> str:
    """The precision/recall table of `measure_quality` in Markdown."""
    lines = [
        f"{quality.pages} pages; pair precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}; sibling pairs grouped: {quality.sibling_pairs_grouped}; "
        f"one-problem sibling pairs grouped: {quality.one_change[0]} of {quality.one_change[1]}; "
        f"pairs of one sheet drawn at two dpis grouped: {quality.other_dpi[0]} of "
        f"{quality.other_dpi[1]}; "
        f"{quality.compared} pairs compared in {quality.group_s:.1f} s; signature "
        f"{quality.signature_s * 1000:.0f} ms per page (median)",
        "",
        "| copy kind | dpi | recall | found / pairs |",
        "|---|---|---|---|",
    ]
    for key, (recall, hit, total) in quality.per_copy.items():
        kind, _, dpi = key.rpartition(" @")
        lines.append(f"| {kind} | {dpi} | {recall:.3f} | {hit} / {total} |")
    return "\n".join(lines)


@dataclass
class ScaleTime:
    """Grouping a store of `pages` signatures: wall time, peak memory, pairs compared."""

    pages: int
    group_s: float
    peak_mb: float
    """The grouping process's peak resident memory (it does nothing else)."""
    worker_peak_mb: float
    """The largest worker process's peak resident memory (0: none ran)."""
    workers: int
    """Worker processes (0: all on the grouping process's thread)."""
    compared: int
    groups: int
    candidates: int
    """Candidate pairs from the hash buckets (pairs already grouped through another copy are
    not compared)."""
    store_s: float = 0.0
    """Seconds to write the store (not part of grouping)."""


def measure_scale(
    pool: list[SetPage],
    count: int,
    *,
    workers: tuple[int | None, ...] = (None,),
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[ScaleTime]:
    """Group `count` stored pages made of `pool`'s real signatures, repeated: each repetition's
    hashes are XORed with a random mask of its own, so distances inside a repetition stay real
    and repetitions stand apart like unrelated parts of a collection. Every page is a row of a
    real store; a fresh process groups them as `duplicates` does, so its peak memory is the
    grouping's, once per entry of `workers` (as `group` takes it), each from no verdicts."""
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    from mlx_edugraph.pages.sheet_signature import make_signature
    from mlx_edugraph.store.sqlite_store import Store

    started = time.perf_counter()
    signatures = [make_signature(page.image) for page in pool]
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-sheets-") as tmp:
        db = Path(tmp) / "labels.sqlite"
        with Store(db) as store:
            for start in range(0, count, len(signatures)):
                mask = rng.integers(0, 256, 32, dtype=np.uint8)
                store.put_sheet_signatures(
                    ((f"{start + i:064x}", 0), replace(s, phash=_xor(s.phash, mask)))
                    for i, s in enumerate(signatures[: count - start])
                )
        store_s = time.perf_counter() - started
        log(f"{count:,} signatures stored in {store_s:.0f} s")
        spawn = multiprocessing.get_context("spawn")
        rows = []
        for choice in workers:
            copy = Path(tmp) / "grouped.sqlite"  # each run starts with no verdicts
            shutil.copyfile(db, copy)
            log(f"grouping in a fresh process ({_workers_name(choice)}) ...")
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
                row = child.submit(_group_store, copy, count, choice).result()
            rows.append(replace(row, store_s=store_s))
            copy.unlink()
        return rows


def _workers_name(workers: int | None) -> str:
    if workers is None:
        return f"{WORKERS} worker processes"
    return "one thread" if workers == 0 else f"{workers} worker processes"


def _xor(phash: bytes, mask: np.ndarray) -> bytes:
    return (np.frombuffer(phash, np.uint8) ^ mask).tobytes()


def _group_store(db, count: int, workers: int | None) -> ScaleTime:
    """In a fresh process: group every page of the store, saying how far it got each minute."""
    import sys

    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates
    from mlx_edugraph.store.sqlite_store import Store

    here = str(db)  # a file that exists: the pages' own files are not read
    pages = [SheetPage(f"{i:064x}", 0, here) for i in range(count)]
    started = last = time.perf_counter()
    total = [0]
    worker_mb = 0.0

    def progress(stage: str, done: int, candidates: int) -> None:
        nonlocal last, worker_mb
        total[0] = candidates
        worker_mb = max([worker_mb] + [_peak_mb(pid) for pid in _children()])
        now = time.perf_counter()
        if now - last >= 60:
            last = now
            print(
                f"  {count:,} pages: {done:,} of {candidates:,} candidate pairs done in "
                f"{now - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    with Store(db) as store:
        found = sheet_duplicates(
            pages, store, make_missing=False, progress=progress, workers=workers
        )
    seconds = time.perf_counter() - started
    used = WORKERS if workers is None else workers
    return ScaleTime(
        count, seconds, _peak_mb(), worker_mb, used, found.compared, len(found.groups), total[0]
    )


def _peak_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory. Linux: VmHWM, which starts afresh at exec. Not
    `ru_maxrss`: a spawned process keeps the high mark of the fork it was made from (here
    the bench's 1.4 GB of drawn pages). Elsewhere (macOS, where it is in bytes) this
    process's `ru_maxrss`, 0 for another process."""
    import resource
    import sys

    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        if pid != "self":
            return 0.0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kib) / 1024


def _children() -> list[int]:
    """This process's child processes (Linux; none found elsewhere)."""
    pids = []
    for children in Path("/proc/self/task").glob("*/children"):
        pids += [int(pid) for pid in children.read_text().split()]
    return pids


def format_scale(rows: list[ScaleTime]) -> str:
    """The rows as a table, and for each count grouped both ways, how much faster the
    worker processes were than one thread."""
    lines = [
        "| pages | grouped on | store written | grouping | per page | peak memory "
        "(grouping / largest worker) | candidate pairs | pairs compared | groups |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        workers = f" / {row.worker_peak_mb:.0f} MB" if row.workers else ""
        lines.append(
            f"| {row.pages:,} | {_workers_name(row.workers)} | {row.store_s:.0f} s | "
            f"{row.group_s:.1f} s | {row.group_s / row.pages * 1000:.1f} ms | "
            f"{row.peak_mb:.0f} MB{workers} | {row.candidates:,} | {row.compared:,} | "
            f"{row.groups:,} |"
        )
    for count in sorted({row.pages for row in rows}):
        alone = [r for r in rows if r.pages == count and r.workers == 0]
        apart = [r for r in rows if r.pages == count and r.workers]
        if alone and apart:
            ratio = alone[0].group_s / apart[0].group_s
            lines.append(
                f"\n{count:,} pages: {apart[0].workers} worker processes {ratio:.2f}x as fast "
                "as one thread"
            )
    return "\n".join(lines)
