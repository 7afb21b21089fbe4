"""`bench --related N`: `related`, `next` and `before` on a generated store of N pages whose
labels are drawn from many distinct label sets of the ontology's own terms (no model involved)."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.labels.competence import label_set
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import file_sha256
from mlx_edugraph.prediction import DIMENSIONS, Label, Prediction, Provenance
from mlx_edugraph.store.competence_index import CompetenceIndex
from mlx_edugraph.store.sqlite_store import Store

DISTINCT = 5_000
"""Distinct label sets in the generated store: a collection labeled by one model repeats its
answers, but a large one still holds thousands."""

QUERIES = 30


@dataclass
class RelatedTimes:
    pages: int
    sets: int
    fill_s: float
    load_s: float
    """Reading every page's final labels and building the index: once per command or TUI key."""
    query_ms: dict[str, tuple[float, float]]
    """Query -> (median, max) milliseconds over `QUERIES` pages, the index loaded."""
    command_s: dict[str, float]
    """`mlx-edugraph related/next PAGE` as a user runs them (interpreter start included)."""
    worst_sets: int
    worst_ms: dict[str, float]
    """Median milliseconds with every page a label set of its own (in memory)."""


def random_sets(ontology: Ontology, count: int, seed: int = 0) -> list[dict[str, list[str]]]:
    """`count` distinct answers of one or two terms per dimension (leaves and inner terms)."""
    rng = random.Random(seed)
    terms = {d: ontology.terms_of(d) for d in DIMENSIONS}
    found: dict[tuple, dict[str, list[str]]] = {}
    while len(found) < count:
        answer = {d: sorted(set(rng.sample(terms[d], rng.choice((1, 1, 2))))) for d in DIMENSIONS}
        found.setdefault(tuple(tuple(answer[d]) for d in DIMENSIONS), answer)
    return list(found.values())


def fill_varied_store(
    db: Path, count: int, answers: list[dict[str, list[str]]], first: Path, seed: int = 0
) -> None:
    """`count` labeled pages at `db`, each with one of `answers` (a few of them common); the
    first is the file `first` (a page the commands can be asked about), the others have none."""
    rng = random.Random(seed)
    provenance = Provenance("generated", "generated0000000", "v0.4.0", "generated", "", "base")
    weights = [1 / (1 + i) ** 0.8 for i in range(len(answers))]
    chosen = rng.choices(answers, weights, k=count)
    first.write_bytes(b"the page the commands are asked about")
    with Store(db) as store:
        store.put_many(
            Prediction(
                str(first) if i == 0 else f"/generated/{i // 1000:03d}/{i:06d}.png",
                0,
                file_sha256(first) if i == 0 else f"{seed:08x}{i:056x}",
                "labeled",
                [Label(t, d, "known", False, 0.9) for d, terms in answer.items() for t in terms],
                provenance=provenance,
            )
            for i, answer in enumerate(chosen)
        )


def _query_ms(index: CompetenceIndex, pages: list[tuple[str, int]]) -> dict[str, float]:
    queries = {
        "related": lambda labels, page: index.related(labels, 10, page),
        "next": lambda labels, page: index.steps(labels, 10, after=True, skip=page),
        "before": lambda labels, page: index.steps(labels, 10, after=False, skip=page),
    }
    times: dict[str, list[float]] = {name: [] for name in queries}
    for page in pages:
        labels = index.labels_of(page)
        for name, query in queries.items():
            started = time.perf_counter()
            query(labels, page)
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def run_related_bench(
    db: Path,
    count: int,
    ontology_file: Path | None,
    ontology: Ontology,
    log: Callable[[str], None] = lambda _: None,
) -> RelatedTimes:
    """Fill `db` (a new file) with `count` pages, then time the index and the queries."""
    answers = random_sets(ontology, min(DISTINCT, count))
    log(f"generating a store of {count:,} pages over {len(answers):,} label sets ...")
    started = time.perf_counter()
    first = db.with_name("page.png")
    fill_varied_store(db, count, answers, first)
    fill_s = time.perf_counter() - started
    with Store(db) as store:
        started = time.perf_counter()
        index = CompetenceIndex.load(store, ontology)
        load_s = time.perf_counter() - started
    rng = random.Random(1)
    pages = [(key, page) for _, key, page, _ in rng.sample(list(index.pages()), QUERIES)]
    times = _query_ms(index, pages)
    log("the commands ...")
    given = ("--ontology", ontology_file) if ontology_file else ("--demo",)
    command_s = {name: _command(name, first, db, given) for name in ("related", "next")}
    log(f"every page its own label set: {count:,} sets in memory ...")
    worst = random_sets(ontology, count, seed=2)
    members = {
        label_set(answer): [(f"/worst/{i:06d}.png", f"{i:064x}", 0)]
        for i, answer in enumerate(worst)
    }
    wide = CompetenceIndex(members, ontology)
    worst_times = _query_ms(wide, [(f"{i:064x}", 0) for i in range(0, count, count // 10)])
    return RelatedTimes(
        pages=len(index),
        sets=len(index.sets),
        fill_s=fill_s,
        load_s=load_s,
        query_ms={n: (statistics.median(t), max(t)) for n, t in times.items()},
        command_s=command_s,
        worst_sets=len(wide.sets),
        worst_ms={n: statistics.median(t) for n, t in worst_times.items()},
    )


def _command(name: str, page: Path, db: Path, given) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlx_edugraph", name, page, "--db", db, *given],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def format_related_table(t: RelatedTimes) -> str:
    rows = [
        ("generate the store (not timed by the targets)", f"{t.fill_s:.2f} s", ""),
        ("read the final labels, build the index (once)", f"{t.load_s:.2f} s", ""),
        *(
            (f"{name}, per query: median / max", f"{med:.1f} / {top:.1f} ms", "target < 200 ms")
            for name, (med, top) in t.query_ms.items()
        ),
        *(
            (f"`mlx-edugraph {name} PAGE` (whole command)", f"{sec:.2f} s", "")
            for name, sec in t.command_s.items()
        ),
        *(
            (f"{name}, every page its own set ({t.worst_sets:,} sets)", f"{ms:.1f} ms", "")
            for name, ms in t.worst_ms.items()
        ),
    ]
    lines = [f"| {t.pages:,} pages, {t.sets:,} distinct label sets | time | |", "|---|---:|---|"]
    return "\n".join([*lines, *(f"| {a} | {b} | {c} |" for a, b, c in rows)])
