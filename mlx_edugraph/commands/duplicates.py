"""`mlx-edugraph duplicates`: groups of stored pages that are near-duplicates of each other."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlx_edugraph.commands.context import Context, demo_hint, say
from mlx_edugraph.commands.vector_options import (
    add_vector_arguments,
    neighbour_record,
    page_name,
    vector_model,
)
from mlx_edugraph.errors import ExitCode, UserError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from mlx_edugraph.store.similar_pages import DUPLICATE_THRESHOLD

    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DUPLICATE_THRESHOLD,
        help=f"cosine similarity from which pages are near-duplicates (default "
        f"{DUPLICATE_THRESHOLD}, measured: docs/similar.md)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of groups")
    add_vector_arguments(parser)


def main(args: argparse.Namespace) -> int:
    if not -1 <= args.threshold <= 1:
        raise UserError("--threshold must be between -1 and 1")
    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        groups, missing = duplicate_groups(store, ctx)
        if args.json:
            records = [[neighbour_record(store, n) for n in group] for group in groups]
            print(json.dumps(records, indent=2))
        else:
            for number, group in enumerate(groups, start=1):
                print(f"group {number}: {len(group)} pages")
                for n in group:
                    print(f"  {n.similarity:.4f}\t{page_name(store, n.page)}")
    if missing:
        say(
            f"warning: {missing} page(s) have no vector from this model and were not compared "
            f"(labeled through --server, or by another version): run `{demo_hint(args, 'embed')}`"
        )
    pages = sum(len(group) for group in groups)
    say(f"{len(groups)} group(s) of near-duplicates, {pages} page(s)")
    return ExitCode.OK


def duplicate_groups(store, ctx: Context) -> tuple[list, int]:
    """The groups among the pages under the given paths, and how many of those have no vector."""
    from mlx_edugraph.store.collection import pages
    from mlx_edugraph.store.similar_pages import NoVectors, VectorIndex, choose_model

    args = ctx.args
    choice = vector_model(ctx, required=False)
    try:
        model = choose_model(store, choice.fingerprint if choice else None)
    except NoVectors as exc:
        raise UserError(str(exc)) from None
    index = VectorIndex.load(store, model)
    wanted = {(p.key, p.page) for p in pages(store, args.paths)}
    if args.paths and not wanted:
        raise UserError("no stored pages under " + ", ".join(map(str, args.paths)))
    among = wanted if args.paths else None
    groups = index.duplicate_groups(args.threshold, among)
    missing = len(wanted - set(index.pages))
    return groups, missing
