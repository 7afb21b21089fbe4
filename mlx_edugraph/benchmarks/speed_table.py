"""The speed benchmark's results as a Markdown table, with the figures that do not fit in it:
load time, the cached prefix, the folder pass, forward passes, and each path's arithmetic."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from mlx_edugraph.benchmarks.labeling_speed import NAIVE_MAX_TOKENS, BenchResult, PageRun


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered) + 0.5) - 1))]


COLUMNS = (
    "pages",
    "path",
    "worksheets",
    "visual tok",
    "prompt tok",
    "prefill s",
    "decode tok/s",
    "s/ws median",
    "s/ws p90",
    "pages/min",
    "peak GB",
    "naive/ours",
)


def _row(label: str, path: str, runs: Sequence[PageRun], ratio: str) -> list[str]:
    med = statistics.median
    seconds = [r.total_s for r in runs]
    return [
        label,
        path,
        str(len(runs)),
        f"{med(r.visual_tokens for r in runs):,.0f}",
        f"{med(r.prompt_tokens for r in runs):,.0f}",
        f"{med(r.prefill_s for r in runs):.2f}",
        f"{med(r.decode_tps for r in runs):.1f}",
        f"{med(seconds):.2f}",
        f"{_p90(seconds):.2f}",
        f"{60 * len(runs) / sum(seconds):.1f}",
        f"{max(r.peak_memory_gb for r in runs):.2f}",
        ratio,
    ]


def table_rows(result: BenchResult) -> list[list[str]]:
    """One naive and one ours row per page size, then both over all sizes.

    The ratio compares median seconds per worksheet on the pages both paths ran.
    """
    rows: list[list[str]] = []
    sizes = list(dict.fromkeys(r.size for r in result.ours))
    groups = [(size, [size]) for size in sizes]
    if len(sizes) > 1:
        groups.append(("all", sizes))
    for label, members in groups:
        naive = [r for r in result.naive if r.size in members]
        ran = {r.path for r in naive}
        ours = [r for r in result.ours if r.size in members]
        ours_paired = [r for r in ours if r.path in ran]
        ratio = "-"
        if naive and ours_paired:
            naive_median = statistics.median(r.total_s for r in naive)
            ratio = f"{naive_median / statistics.median(r.total_s for r in ours_paired):.2f}x"
        if naive:
            rows.append(_row(label, "naive", naive, ""))
        elif ours:
            rows.append([label, "naive", "0"] + ["-"] * (len(COLUMNS) - 4) + ["skipped"])
        if ours:
            rows.append(_row(label, "ours", ours, ratio))
    return rows


def format_table(result: BenchResult) -> str:
    """The bench's Markdown table and the figures that do not fit in it."""
    rows = table_rows(result)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    out.append("")
    fixed = (
        f"both paths decode exactly {result.answer_tokens} tokens (random weights)"
        if result.answer_tokens is not None
        else f"the model stops itself (naive: end of turn, max {NAIVE_MAX_TOKENS} tokens; "
        "ours: the answer's closing brace)"
    )
    out.append(f"model: {result.model} (weights {1000 * result.weights_gb:,.1f} MB); {fixed}")
    out.append(f"model load: {result.load_s:.2f} s (once per process, not in the table)")
    out.append(f"ours: {result.prefix_tokens:,} prompt tokens per page come from the cached prefix")
    out.append(
        f"ours as a folder ({result.folder_pages} pages, prefetch on): "
        f"{result.folder_wall_s:.2f} s wall, {result.forward_share:.1%} inside model forward "
        f"passes, peak memory {result.folder_peak_memory_gb:.2f} GB"
    )
    counted = [r for r in result.ours if r.decode_passes is not None]
    tokens = sum(r.decoded_tokens for r in counted)
    passes = sum(1 + r.decode_passes for r in counted)
    if passes < tokens:
        out.append(
            f"ours: {tokens:,} answer tokens took {passes:,} forward passes "
            f"(tokens the grammar forces are fed together)"
        )
    out += flops_lines(result)
    for skipped in result.skipped:
        out.append(
            f"naive path not run on {Path(skipped.path).name} ({skipped.size}): {skipped.reason}"
        )
    return "\n".join(out)


def flops_lines(result: BenchResult) -> list[str]:
    """Per page size: the prefill arithmetic of both paths on this model (median page).

    The ratio is what doing less work can give on any hardware, before speed differences
    between the parts (on this CPU the vision tower's attention is slow, on a GPU fast).
    """
    from mlx_edugraph.benchmarks.flops import page_flops

    if not result.config:
        return []

    def median_flops(runs: list[PageRun], cached: int) -> float:
        return statistics.median(
            page_flops(
                result.config,
                visual_tokens=r.visual_tokens,
                prompt_tokens=r.prompt_tokens,
                cached_tokens=cached,
            ).total
            for r in runs
        )

    lines = []
    for size in dict.fromkeys(r.size for r in result.naive):
        naive = median_flops([r for r in result.naive if r.size == size], 0)
        ours = median_flops([r for r in result.ours if r.size == size], result.prefix_tokens)
        lines.append(
            f"prefill arithmetic at {size}: naive {naive / 1e9:,.1f} GFLOP, ours "
            f"{ours / 1e9:,.1f} GFLOP ({naive / ours:.2f}x less)"
        )
    return lines
