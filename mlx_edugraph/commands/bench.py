"""`mlx-edugraph bench`: the naive mlx-vlm path against our engine, same model, same pages;
with `--server`, pages per minute on each server alone and on all of them together."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mlx_edugraph.commands.context import Context, say
from mlx_edugraph.commands.server_options import add_server_arguments, remote_options
from mlx_edugraph.errors import ExitCode, UserError

SIZE_NAMES = "850x1100,1275x1650,2480x3508"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="an MLX model folder (default: --proxy tiny)")
    source.add_argument(
        "--demo", action="store_true", help="the tiny demo model (built once, no download)"
    )
    source.add_argument(
        "--proxy",
        choices=("tiny", "small", "4b"),
        help="a random-weight Qwen3-VL of these shapes, built once into the user cache "
        "(4b is for Apple Silicon; on a CPU use tiny or small)",
    )
    parser.add_argument(
        "--images", type=Path, help="a folder of worksheets to use instead of generated ones"
    )
    parser.add_argument(
        "--sizes",
        default=SIZE_NAMES,
        help=f"generated page sizes, WxH comma-separated (default {SIZE_NAMES})",
    )
    parser.add_argument(
        "--count", type=int, default=1, help="generated worksheets per size (default 1)"
    )
    parser.add_argument(
        "--answer-tokens",
        type=int,
        default=None,
        help="decode exactly N tokens on both paths (default: 32 with --proxy, "
        "else the model stops itself)",
    )
    parser.add_argument(
        "--no-constrain",
        action="store_true",
        help="decode our engine's answers without the answer grammar",
    )
    parser.add_argument("--ontology", type=Path, help="EduGraph ontology file for the grammar")
    parser.add_argument(
        "--collection",
        type=int,
        metavar="N",
        help="time `report`, `find` and the TUI's coverage screen on a generated store of N "
        "labeled pages (100000 for the targets)",
    )
    parser.add_argument(
        "--related",
        type=int,
        metavar="N",
        help="time `related`, `next` and `before` on a generated store of N labeled pages "
        "(100000 for the targets)",
    )
    parser.add_argument(
        "--similar",
        action="store_true",
        help="time page vectors: labeling with and without them on the proxy, and similar-page "
        "queries at 10,000 and 100,000 stored vectors (index against a naive loop)",
    )
    parser.add_argument(
        "--duplicates",
        action="store_true",
        help="duplicate sheets: pair precision and recall on generated letter pages at 150 and "
        "300 dpi, per kind of copy, and grouping time and memory at 10,000 and 100,000 pages",
    )
    parser.add_argument(
        "--templates",
        type=int,
        default=2,
        help="with --duplicates: templates per layout in the quality set (default 2; 0 skips "
        "the quality set)",
    )
    parser.add_argument(
        "--grouped",
        default="10000,100000",
        help="with --duplicates: numbers of stored pages grouped, comma-separated (default "
        "10000,100000; empty skips the scale part); up to 10,000 pages each is grouped twice, "
        "on worker processes and on one thread, and the ratio printed",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="time `tune` instead of labeling: steps/s, peak memory, time to a model in use "
        "(and LoRA against full fine-tuning)",
    )
    parser.add_argument(
        "--reviewed",
        default="50,200",
        help="with --tune: numbers of reviewed pages, comma-separated (default 50,200)",
    )
    parser.add_argument(
        "--epochs", type=int, default=3, help="with --tune: passes over the pages (default 3)"
    )
    add_server_arguments(parser)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'850x1100,1275x1650' as [(850, 1100), (1275, 1650)]."""
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        width, _, height = item.lower().partition("x")
        try:
            sizes.append((int(width), int(height)))
        except ValueError:
            raise UserError(f"--sizes: expected WxH, got {item!r}") from None
    if not sizes:
        raise UserError("--sizes: give at least one WxH")
    return sizes


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.benchmarks.proxy import REAL_VOCABULARY, proxy_model

    ctx = Context(args)
    if args.server:
        return _servers(ctx)
    if args.collection:
        return _collection(ctx)
    if args.duplicates:
        return _duplicates(args)
    if args.related:
        return _related(ctx)
    if args.demo:
        from mlx_edugraph.tinymodel import demo_model

        args.model = str(demo_model(log=lambda line: say(f"demo: {line}")))
    proxy = args.proxy or (None if args.model else "tiny")
    vocab = REAL_VOCABULARY if args.tune else None
    model = proxy_model(proxy, log=say, vocab_size=vocab) if proxy else args.model
    if args.tune:
        return _tune(args, model)
    if args.similar:
        return _similar(args, model)
    return _labeling(ctx, model, proxy is not None)


def _labeling(ctx: Context, model: str, proxy: bool) -> int:
    """The naive mlx-vlm path against our engine, on the same pages."""
    from mlx_edugraph.benchmarks.labeling_speed import DEFAULT_ANSWER_TOKENS, run_bench
    from mlx_edugraph.benchmarks.speed_table import format_table

    args = ctx.args
    answer_tokens = args.answer_tokens or (DEFAULT_ANSWER_TOKENS if proxy else None)
    grammar = not args.no_constrain and answer_tokens is None
    ontology = ctx.ontology() if grammar else None
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-bench-") as tmp:
        result = run_bench(
            model,
            _pages(args, Path(tmp)),
            answer_tokens=answer_tokens,
            constrain=not args.no_constrain,
            ontology=ontology,
            log=say,
        )
    print(format_table(result))
    return ExitCode.OK


def _pages(args: argparse.Namespace, tmp: Path) -> list[Path]:
    """The images of --images, else worksheets generated into `tmp` at --sizes."""
    from mlx_edugraph.benchmarks.labeling_speed import write_worksheets
    from mlx_edugraph.pages.worksheets import discover

    if not args.images:
        return write_worksheets(tmp, parse_sizes(args.sizes), args.count)
    pages = [ref.path for ref in discover([args.images]) if ref.page == 0]
    if not pages:
        raise UserError(f"no images in {args.images}")
    return pages


def _collection(ctx: Context) -> int:
    from mlx_edugraph.benchmarks.collection_speed import (
        format_collection_table,
        run_collection_bench,
    )
    from mlx_edugraph.tui.coverage_speed import coverage_screen_seconds

    ontology = ctx.ontology()
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-collection-") as tmp:
        db = Path(tmp) / "labels.sqlite"
        times = run_collection_bench(db, ctx.args.collection, ctx.args.ontology, ontology, log=say)
        say("the TUI's coverage screen ...")
        screen_s = coverage_screen_seconds(db, ontology)
    print(format_collection_table(times, screen_s))
    return ExitCode.OK


def _related(ctx: Context) -> int:
    from mlx_edugraph.benchmarks.related_speed import format_related_table, run_related_bench
    from mlx_edugraph.labels.demo_ontology import demo_ontology

    if ctx.args.related < 10:
        raise UserError("--related: give at least 10 pages")
    ontology = ctx.ontology() if ctx.args.ontology else None
    ontology_file = ctx.args.ontology if ontology else None
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-related-") as tmp:
        db = Path(tmp) / "labels.sqlite"
        times = run_related_bench(
            db, ctx.args.related, ontology_file, ontology or demo_ontology(), log=say
        )
    print(format_related_table(times))
    return ExitCode.OK


def _similar(args: argparse.Namespace, model: str) -> int:
    """Page vectors: their share of labeling time, and query times by stored count and width."""
    from mlx_edugraph.benchmarks.labeling_speed import DEFAULT_ANSWER_TOKENS, write_worksheets
    from mlx_edugraph.benchmarks.similarity import (
        format_queries,
        measure_labeling_cost,
        measure_query,
    )
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.model.vlm import hidden_size

    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-bench-") as tmp:
        pages = write_worksheets(Path(tmp), parse_sizes(args.sizes), args.count)
        say("labeling with and without page vectors ...")
        cost = measure_labeling_cost(
            model, pages, answer_tokens=args.answer_tokens or DEFAULT_ANSWER_TOKENS
        )
    width = hidden_size(MlxEngine(ModelChoice(str(model)), ontology=None, constrain=False).vlm)
    print(
        f"labeling {cost.pages} page(s): {cost.without_s:.3f} s per page without vectors, "
        f"{cost.with_s:.3f} s with: {cost.extra:+.1%}"
    )
    rows = []
    for count in (10_000, 100_000):
        for size in sorted({width, 2560}):
            say(f"query over {count:,} stored vectors of width {size} ...")
            rows.append(measure_query(count, size))
    print(format_queries(rows))
    return ExitCode.OK


ONE_THREAD_UP_TO = 10_000
"""Stored pages up to which `bench --duplicates` also groups on one thread, to compare."""


def _duplicates(args: argparse.Namespace) -> int:
    """Duplicate sheets: quality on the generated set, then grouping at scale."""
    from mlx_edugraph.benchmarks.duplicate_bench import (
        format_quality,
        format_scale,
        measure_quality,
        measure_scale,
    )
    from mlx_edugraph.benchmarks.sheet_copies import generated_set

    try:
        counts = [int(item) for item in args.grouped.split(",") if item.strip()]
    except ValueError:
        raise UserError(f"--grouped: expected numbers of pages, got {args.grouped!r}") from None
    if args.templates > 0:
        say(f"quality: {args.templates} template(s) per layout, 150 and 300 dpi ...")
        quality = measure_quality(generated_set(templates=args.templates, siblings=3))
        print(format_quality(quality), flush=True)
    if not counts:
        return ExitCode.OK
    say("scale: a pool of 10 templates per layout, 3 siblings each, one copy per sheet ...")
    started = time.perf_counter()
    pool = generated_set(templates=10, siblings=3, dpis=(150,), copies=1)
    say(f"pool of {len(pool)} pages drawn in {time.perf_counter() - started:.0f} s")
    rows = []
    for count in counts:
        say(f"grouping {count:,} stored pages ...")
        both = (None, 0) if count <= ONE_THREAD_UP_TO else (None,)
        rows += measure_scale(pool, count, workers=both, log=say)
        print(format_scale(rows[-len(both) :]), flush=True)
    print(format_scale(rows))
    return ExitCode.OK


def _tune(args: argparse.Namespace, model: str) -> int:
    """`tune` on generated reviewed pages of the first --sizes size."""
    from mlx_edugraph.benchmarks.tuning_speed import format_tune_table, run_tune_bench
    from mlx_edugraph.commands.tune import LEARNING_RATE

    counts = [int(item) for item in args.reviewed.split(",") if item.strip()]
    runs, baselines = run_tune_bench(
        str(model),
        counts,
        size=parse_sizes(args.sizes)[0],
        epochs=args.epochs,
        learning_rate=LEARNING_RATE,
        log=say,
    )
    print(format_tune_table(runs, baselines))
    return ExitCode.OK


def _servers(ctx: Context) -> int:
    """Throughput through `--server`s: each alone, then all together, on the same pages."""
    from mlx_edugraph.benchmarks.server_throughput import format_server_table, run_server_bench

    args = ctx.args
    ontology = ctx.ontology()
    options = remote_options(args)
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-bench-") as tmp:
        pages = _pages(args, Path(tmp))
        runs = run_server_bench(args.server, pages, ontology=ontology, options=options, log=say)
    print(format_server_table(runs, options.settings.per_server))
    return ExitCode.OK
