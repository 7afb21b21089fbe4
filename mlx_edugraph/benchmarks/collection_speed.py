"""`bench --collection N`: `report` and `find` on a generated store of N labeled pages, against
the naive way (read every record, filter in Python) in the same run."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.benchmarks.collection_store import fill_store
from mlx_edugraph.evaluation.coverage import coverage
from mlx_edugraph.evaluation.coverage_report import Section, html_report
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.store.collection import find, pages
from mlx_edugraph.store.export_reviewed import reviewed_pages
from mlx_edugraph.store.sqlite_store import Store

QUERY = {"Area": {"IntegerMultiplication"}, "Scope": {"NumbersSmaller100"}}


@dataclass
class CollectionTimes:
    pages: int
    fill_s: float
    report_s: float
    """pages + coverage + HTML, in this process."""
    report_command_s: float
    """`mlx-edugraph report` as a user runs it (interpreter start included)."""
    find_s: float
    find_command_s: float
    naive_find_s: float
    """Every record read and filtered in Python (what `export` does), same answer."""
    matches: int


def run_collection_bench(
    db: Path,
    count: int,
    ontology_file: Path | None,
    ontology: Ontology | None,
    log: Callable[[str], None] = lambda _: None,
) -> CollectionTimes:
    """Generate `count` pages into `db` (a new file), then time report and find on them."""
    log(f"generating a store of {count:,} labeled pages ...")
    started = time.perf_counter()
    fill_store(db, count)
    fill_s = time.perf_counter() - started
    with Store(db) as store:
        started = time.perf_counter()
        found = pages(store)
        html_report("bench", [], [Section("All pages", coverage(found, ontology))])
        report_s = time.perf_counter() - started
        started = time.perf_counter()
        matched = find(store, QUERY)
        find_s = time.perf_counter() - started
        started = time.perf_counter()
        naive = [
            page
            for page in reviewed_pages(store)
            if all(set(page.labels[d]) & terms for d, terms in QUERY.items())
        ]
        naive_s = time.perf_counter() - started
    if len(naive) != len(matched):
        raise RuntimeError(f"find gave {len(matched)} pages, the naive scan {len(naive)}")
    given = ("--ontology", ontology_file) if ontology_file else ()
    log("the commands ...")
    report_command_s = _command("report", "--db", db, "--out", db.with_suffix(".html"), *given)
    find_command_s = _command(
        "find", "--db", db, "--area", "IntegerMultiplication", "--scope", "NumbersSmaller100",
        *given,
    )  # fmt: skip
    return CollectionTimes(
        count, fill_s, report_s, report_command_s, find_s, find_command_s, naive_s, len(matched)
    )


def _command(*args) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlx_edugraph", *map(str, args)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def format_collection_table(times: CollectionTimes, screen_s: float | None) -> str:
    t = times
    rows = [
        ("generate the store (not timed by the targets)", t.fill_s, ""),
        ("report: pages, coverage, HTML (in process)", t.report_s, "target < 10 s"),
        ("`mlx-edugraph report` (whole command)", t.report_command_s, "target < 10 s"),
        (f"find, {t.matches:,} matches (in process)", t.find_s, "target < 1 s"),
        ("`mlx-edugraph find` (whole command)", t.find_command_s, "target < 1 s"),
        ("naive find: every record read and filtered", t.naive_find_s, ""),
    ]
    if screen_s is not None:
        rows.append(("TUI coverage screen: counted and drawn", screen_s, "target < 1 s"))
    lines = [f"| {t.pages:,} stored pages | seconds | |", "|---|---:|---|"]
    lines += [f"| {name} | {seconds:.2f} | {note} |" for name, seconds, note in rows]
    lines.append(
        f"\nfind through the term index: {t.naive_find_s / t.find_s:.0f}x faster than the naive "
        "scan, same pages"
    )
    return "\n".join(lines)
