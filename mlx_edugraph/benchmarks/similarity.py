"""Figures for similar pages: what page vectors cost while labeling, how fast a query is, and
how well they separate worksheet kinds and find copies (on the taught tiny model)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.mlx_engine import MlxEngine
from mlx_edugraph.pages.samples import ALL_KINDS, make_worksheet
from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef
from mlx_edugraph.store.similar_pages import VectorIndex, unit_rows

COPIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg": lambda image: _jpeg(image, quality=70),
    "resized": lambda image: image.resize(
        (round(image.width * 0.75), round(image.height * 0.75)), Image.LANCZOS
    ),
    "rotated 2°": lambda image: image.rotate(2, resample=Image.BICUBIC, fillcolor="white"),
}
"""What happens to a page between two scans: how `duplicates` must still see it."""

POOLINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda rows: rows.mean(axis=0),
    "max": lambda rows: rows.max(axis=0),
}


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _sheet(image: Image.Image) -> LoadedWorksheet:
    return LoadedWorksheet(WorksheetRef(Path("page.png")), "", image)


@dataclass
class Separation:
    """How one (depth, pooling) choice orders pages: kinds apart, copies together."""

    depth: int
    pooling: str
    same_kind: float
    """Mean cosine between distinct pages of one kind."""
    other_kind: float
    """Mean cosine between pages of different kinds."""
    other_kind_max: float
    recall: float
    """recall@k: the share of each page's k nearest pages that are of its kind."""
    copies_min: dict[str, float] = field(default_factory=dict)
    """Per kind of copy, the least similarity between a page and its copy."""
    same_kind_max: float = 0.0
    """The most similar pair of distinct pages of one kind."""


def measure_separation(
    engine: MlxEngine, *, seeds: Sequence[int] = range(6), size=(256, 320), k: int = 5
) -> list[Separation]:
    """Every depth of the language model x mean/max pooling, on generated pages of every kind
    and their copies: one prefill per page gives all depths."""
    from mlx_edugraph.model import vlm

    depths = list(range(vlm.text_layers(engine.vlm) + 1))
    kinds, originals = [], []
    for kind in ALL_KINDS:
        for seed in seeds:
            kinds.append(kind)
            originals.append(make_worksheet(kind, size=size, seed=seed))

    def rows(image: Image.Image) -> list[np.ndarray]:
        return [s.rows for s in engine.image_states(_sheet(image), depths)]

    states = [rows(image) for image in originals]
    copied = {name: [rows(make(image)) for image in originals] for name, make in COPIES.items()}
    labels = np.array(kinds)
    same = labels[:, None] == labels[None, :]
    other = ~np.eye(len(labels), dtype=bool)
    found = []
    for depth in depths:
        for name, pool in POOLINGS.items():
            vectors = unit_rows(np.stack([pool(s[depth]) for s in states]))
            scores = vectors @ vectors.T
            ranked = np.argsort(-np.where(other, scores, -np.inf), axis=1)[:, :k]
            copies = {
                copy: float(
                    (unit_rows(np.stack([pool(s[depth]) for s in items])) * vectors).sum(1).min()
                )
                for copy, items in copied.items()
            }
            found.append(
                Separation(
                    depth=depth,
                    pooling=name,
                    same_kind=float(scores[same & other].mean()),
                    other_kind=float(scores[~same].mean()),
                    other_kind_max=float(scores[~same].max()),
                    recall=float((labels[ranked] == labels[:, None]).mean()),
                    copies_min=copies,
                    same_kind_max=float(scores[same & other].max()),
                )
            )
    return found


def format_separation(rows: list[Separation], chosen_depth: int, k: int = 5) -> str:
    """A Markdown table of `measure_separation`, the engine's choice marked."""
    copy_names = list(COPIES)
    lines = [
        f"| depth | pooling | same kind | other kinds (max) | recall@{k} | "
        + " | ".join(f"{name} copy (min)" for name in copy_names)
        + " | distinct same kind (max) |",
        "|---" * (6 + len(copy_names)) + "|",
    ]
    for row in rows:
        mark = " (used)" if row.depth == chosen_depth and row.pooling == "mean" else ""
        lines.append(
            f"| {row.depth}{mark} | {row.pooling} | {row.same_kind:.4f} | "
            f"{row.other_kind:.4f} ({row.other_kind_max:.4f}) | {row.recall:.3f} | "
            + " | ".join(f"{row.copies_min[name]:.4f}" for name in copy_names)
            + f" | {row.same_kind_max:.4f} |"
        )
    return "\n".join(lines)


@dataclass
class QueryTime:
    """One query over n stored vectors of one width: the index and the naive loop."""

    count: int
    width: int
    load_s: float
    """Reading the vectors from the store into the index."""
    query_s: float
    naive_s: float
    """A Python loop computing each stored page's cosine one by one (what a script does)."""


def measure_query(
    count: int, width: int, *, naive_sample: int = 10_000, seed: int = 0
) -> QueryTime:
    """Time a k=10 query against `count` random vectors of `width` stored in a real store.
    The naive loop is timed on `naive_sample` rows and scaled (it is linear in them)."""
    import tempfile

    from mlx_edugraph.store.sqlite_store import Store

    rng = np.random.default_rng(seed)
    with (
        tempfile.TemporaryDirectory(prefix="mlx-edugraph-vectors-") as tmp,
        Store(Path(tmp) / "labels.sqlite") as store,
    ):
        _fill(store, rng, count, width)
        started = time.perf_counter()
        index = VectorIndex.load(store, "bench")
        load_s = time.perf_counter() - started
    query = rng.standard_normal(width).astype(np.float32)
    index.nearest(query, 10)  # warm
    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        index.nearest(query, 10)
    query_s = (time.perf_counter() - started) / repeats
    sample = min(count, naive_sample)
    started = time.perf_counter()
    scores = [
        float(np.dot(row, query) / (np.linalg.norm(row) * np.linalg.norm(query)))
        for row in index.matrix[:sample]
    ]
    sorted(range(len(scores)), key=scores.__getitem__)[-10:]
    naive_s = (time.perf_counter() - started) * count / sample
    return QueryTime(count, width, load_s, query_s, naive_s)


def _fill(store, rng: np.random.Generator, count: int, width: int) -> None:
    """`count` random float16 vectors under made-up page keys, in batches."""
    batch = 5_000
    for start in range(0, count, batch):
        vectors = unit_rows(rng.standard_normal((min(batch, count - start), width)))
        vectors = vectors.astype(np.float16)
        store.put_vectors(
            "bench", ((f"{start + i:064x}", 0, vector) for i, vector in enumerate(vectors))
        )


def format_queries(rows: list[QueryTime]) -> str:
    lines = [
        "| stored vectors | width | load from store | query (k=10) | naive loop | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.count:,} | {row.width} | {row.load_s:.2f} s | {row.query_s * 1000:.1f} ms | "
            f"{row.naive_s:.2f} s | {row.naive_s / row.query_s:.0f}x |"
        )
    return "\n".join(lines)


@dataclass
class LabelingCost:
    """Labeling the same pages with and without page vectors."""

    pages: int
    with_s: float
    without_s: float

    @property
    def extra(self) -> float:
        return self.with_s / self.without_s - 1


def measure_labeling_cost(
    model: str | Path, pages: Sequence[Path], *, answer_tokens: int, rounds: int = 3
) -> LabelingCost:
    """Median seconds per page through the engine with embedding on and off, interleaved
    (both engines load the same model; labels are identical, the vector is the only change)."""
    from mlx_edugraph.pages.worksheets import load

    engines = {
        embed: MlxEngine(
            ModelChoice(str(model)),
            ontology=None,
            constrain=False,
            answer_tokens=answer_tokens,
            embed=embed,
        )
        for embed in (True, False)
    }
    sheets = [load(WorksheetRef(page)) for page in pages]
    times: dict[bool, list[float]] = {True: [], False: []}
    for engine in engines.values():
        engine.label(sheets[0])  # the cached prefix and warm-up
    for _ in range(rounds):
        for sheet in sheets:
            for embed, engine in engines.items():
                started = time.perf_counter()
                engine.label(sheet)
                times[embed].append(time.perf_counter() - started)
    return LabelingCost(len(pages), float(np.median(times[True])), float(np.median(times[False])))
