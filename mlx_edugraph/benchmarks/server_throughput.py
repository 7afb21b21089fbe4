"""Throughput through servers (`bench --server`): pages per minute on each server alone, then
on all of them at once, over the same pages, through the real remote engine and batch runner.

When every server is the bottleneck (its own GPU, or a fixed delay per request) the pages per
minute of N servers should approach N times one server's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.labeling.batch import run
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetRef, load
from mlx_edugraph.servers.server_engine import RemoteEngine, RemoteOptions
from mlx_edugraph.store.sqlite_store import Store


@dataclass
class ServerRun:
    """One timed pass over the pages on a set of servers."""

    servers: list[str]
    pages: int
    errors: int
    seconds: float

    @property
    def pages_per_minute(self) -> float:
        return 60.0 * (self.pages - self.errors) / self.seconds if self.seconds > 0 else 0.0


def run_server_bench(
    servers: Sequence[str],
    pages: Sequence[Path],
    *,
    ontology: Ontology | None,
    options: RemoteOptions,
    log: Callable[[str], None],
) -> list[ServerRun]:
    """Time `pages` on each server alone, then on all together (one warm-up page first)."""
    groups = [[server] for server in servers]
    if len(servers) > 1:
        groups.append(list(servers))
    refs = [WorksheetRef(path, 0) for path in pages]
    runs = []
    for group in groups:
        engine = RemoteEngine(group, ontology=ontology, options=options, note=log)
        engine.label(load(refs[0], max_pixels=engine.max_pixels))  # warm-up, not timed
        with (
            tempfile.TemporaryDirectory(prefix="mlx-edugraph-bench-") as tmp,
            Store(Path(tmp) / "bench.sqlite") as store,
        ):
            started = time.perf_counter()
            events = list(run(refs, engine, store, redo=True))
            seconds = time.perf_counter() - started
        errors = sum(event.status in ("error", "failed") for event in events)
        runs.append(ServerRun(group, len(refs), errors, seconds))
        log(f"{', '.join(group)}: {len(refs)} pages in {seconds:.1f} s")
    return runs


def format_server_table(runs: Sequence[ServerRun], in_flight: int) -> str:
    """The runs as a plain-text table, with each run's speed-up over the first server alone."""
    base = runs[0].pages_per_minute if runs else 0.0
    lines = [f"{'servers':<48} {'pages':>5} {'errors':>6} {'seconds':>8} {'pages/min':>9} {'x':>5}"]
    for item in runs:
        name = " + ".join(item.servers)
        speedup = item.pages_per_minute / base if base else 0.0
        lines.append(
            f"{name:<48} {item.pages:>5} {item.errors:>6} {item.seconds:>8.1f} "
            f"{item.pages_per_minute:>9.1f} {speedup:>5.2f}"
        )
    lines.append(f"({in_flight} request(s) in flight per server)")
    return "\n".join(lines)
