"""The speed benchmark: the naive mlx-vlm path against our engine, same model, same pages.

No UI here; `mlx-edugraph bench` prints what `run_bench` returns. The two paths alternate page
by page in one process, so machine load and thermal state hit both alike. Afterwards our
engine labels the whole set once more as a folder (prefetch on, results into a scratch store):
that pass gives the share of wall time spent inside the model's forward passes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SIZES: tuple[tuple[int, int], ...] = ((850, 1100), (1275, 1650), (2480, 3508))
"""Sample page sizes: about the training size, 150 dpi Letter, and a 300 dpi A4 scan."""

NAIVE_MAX_TOKENS = 512
"""What the model card's example passes to `mlx_vlm.generate`."""

DEFAULT_ANSWER_TOKENS = 32
"""Tokens both paths decode for a random-weight model, whose answers end anywhere."""

ATTENTION_MEMORY_SHARE = 0.5
"""The naive path runs a page only if its vision attention is estimated to need at most this
share of the memory available: beyond it MLX's attention can crash the process outright."""


@dataclass
class PageRun:
    """One page through one path."""

    path: str
    size: str
    """Source page size, `WxH`."""
    visual_tokens: int
    prompt_tokens: int
    prefill_s: float
    """From the call to the first token: file decoding, preprocessing, vision, prefill."""
    decoded_tokens: int
    decode_tps: float
    total_s: float
    peak_memory_gb: float
    text: str = ""
    decode_passes: int | None = None
    """Forward passes after the first token (ours; None: one per token)."""


@dataclass
class Skipped:
    """A page the naive path was not run on, and why."""

    path: str
    size: str
    reason: str


@dataclass
class BenchResult:
    """Everything `bench` measured, ready to tabulate."""

    model: str
    load_s: float
    weights_gb: float
    answer_tokens: int | None
    prefix_tokens: int = 0
    naive: list[PageRun] = field(default_factory=list)
    ours: list[PageRun] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    folder_wall_s: float = 0.0
    folder_forward_s: float = 0.0
    folder_pages: int = 0
    folder_peak_memory_gb: float = 0.0
    config: dict = field(default_factory=dict)
    """The model's config.json: what `flops` counts with."""

    @property
    def forward_share(self) -> float:
        """Share of the folder pass's wall time spent inside the model's forward passes."""
        return self.folder_forward_s / self.folder_wall_s if self.folder_wall_s else 0.0


def write_worksheets(folder: Path, sizes: Sequence[tuple[int, int]], count: int) -> list[Path]:
    """`count` generated worksheets of each size (kinds cycle), as PNG files in `folder`."""
    from mlx_edugraph.pages.samples import write_samples

    paths: list[Path] = []
    for index, (width, height) in enumerate(sizes):
        sub = Path(folder) / f"{width}x{height}"
        paths += write_samples(sub, count, size=(width, height), seed=100 * index)
    return paths


def run_bench(
    model: str | Path,
    pages: Sequence[Path],
    *,
    answer_tokens: int | None,
    constrain: bool = True,
    ontology=None,
    memory_share: float = ATTENTION_MEMORY_SHARE,
    log: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    """Label `pages` with the naive path and our engine alternately; then once as a folder.

    `answer_tokens` fixes how many tokens both paths decode (random-weight models; our
    constraint is then off, since it would end the answers early); None lets the model stop.
    """
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS

    fixed = answer_tokens is not None
    engine = MlxEngine(
        ModelChoice(str(model)),
        ontology=ontology,
        max_pixels=DEFAULT_MAX_PIXELS,
        constrain=constrain and not fixed,
        answer_tokens=answer_tokens,
    )
    folder = Path(engine.vlm.path)
    result = BenchResult(str(model), engine.load_s, _weights_gb(folder), answer_tokens)
    result.config = json.loads((folder / "config.json").read_text())
    naive_tokens = answer_tokens if fixed else NAIVE_MAX_TOKENS
    log(f"model loaded in {engine.load_s:.2f} s; warming up both paths")
    warm = _ours(engine, pages[0])
    text_tokens = warm.prompt_tokens - warm.visual_tokens  # the same prompt text on both paths
    result.prefix_tokens = engine.prefix_tokens
    _naive(engine, pages[0], naive_tokens, fixed, text_tokens)
    for number, page in enumerate(pages, 1):
        size = _size_of(page)
        problem = _naive_memory_problem(engine, page, memory_share)
        if problem:
            result.skipped.append(Skipped(str(page), size, problem))
            log(f"[{number}/{len(pages)}] {page.name} ({size}): naive path skipped: {problem}")
        else:
            result.naive.append(_naive(engine, page, naive_tokens, fixed, text_tokens))
        result.ours.append(_ours(engine, page))
        naive = "skipped" if problem else f"{result.naive[-1].total_s:.2f} s"
        log(
            f"[{number}/{len(pages)}] {page.name} ({size}): naive {naive}, "
            f"ours {result.ours[-1].total_s:.2f} s"
        )
    _folder_pass(engine, pages, result)
    log(f"folder pass: {result.folder_pages} pages in {result.folder_wall_s:.2f} s")
    return result


def _size_of(page: Path) -> str:
    from PIL import Image

    with Image.open(page) as image:
        return f"{image.width}x{image.height}"


def _weights_gb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e9


def _naive(engine, page: Path, max_tokens: int, fixed: bool, text_tokens: int) -> PageRun:
    from mlx_edugraph.model import vlm_baseline

    run = vlm_baseline.naive_generate(
        engine.vlm, engine.prompt, str(page), max_tokens=max_tokens, fixed_length=fixed
    )
    decode_s = run.total_s - run.first_token_s
    return PageRun(
        path=str(page),
        size=_size_of(page),
        visual_tokens=run.prompt_tokens - text_tokens,
        prompt_tokens=run.prompt_tokens,
        prefill_s=run.first_token_s,
        decoded_tokens=len(run.token_ids),
        decode_tps=(len(run.token_ids) - 1) / decode_s if decode_s > 0 else 0.0,
        total_s=run.total_s,
        peak_memory_gb=run.peak_memory_gb,
        text=run.text,
    )


def _ours(engine, page: Path) -> PageRun:
    started = time.perf_counter()
    prediction = engine.label_file(page)
    total = time.perf_counter() - started
    timings = prediction.timings
    return PageRun(
        path=str(page),
        size=_size_of(page),
        visual_tokens=timings.visual_tokens,
        prompt_tokens=timings.prompt_tokens,
        # label_file decodes the file first: count it, as the naive path's time does.
        prefill_s=total - (timings.total_s - timings.prefill_s),
        decoded_tokens=timings.generated_tokens,
        decode_tps=timings.decode_tps,
        total_s=total,
        peak_memory_gb=timings.peak_memory_gb,
        text=prediction.raw_text,
        decode_passes=timings.decode_passes,
    )


def _naive_memory_problem(engine, page: Path, share: float) -> str | None:
    """Why the naive path must not run on `page` (its vision attention would not fit), or None."""
    from mlx_edugraph.model import vlm_baseline

    need = vlm_baseline.naive_attention_bytes(engine.vlm, page)
    available = _available_memory()
    if available is None or need <= share * available:
        return None
    return (
        f"its vision attention needs about {need / 2**30:.1f} GiB, more than "
        f"{share:.0%} of the {available / 2**30:.1f} GiB available"
    )


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux), else the machine's physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _folder_pass(engine, pages: Sequence[Path], result: BenchResult) -> None:
    """Label `pages` as `mlx-edugraph label` does (prefetch, store) and time it."""
    from mlx_edugraph.labeling.batch import run
    from mlx_edugraph.model import vlm
    from mlx_edugraph.pages.worksheets import discover
    from mlx_edugraph.store.sqlite_store import Store

    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-bench-") as tmp:
        store = Store(Path(tmp) / "bench.sqlite")
        refs = list(discover(pages))
        vlm.reset_peak_memory()
        started = time.perf_counter()
        with store:
            for event in run(refs, engine, store, redo=True):
                result.folder_forward_s += event.prediction.timings.forward_s
                result.folder_pages += 1
        result.folder_wall_s = time.perf_counter() - started
        result.folder_peak_memory_gb = vlm.peak_memory_gb()
