"""`mlx-edugraph duplicates`: groups of stored pages that are the same printed sheet."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_demo_argument,
    add_store_arguments,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError
from mlx_edugraph.labeling.progress import StageProgress


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of groups")
    add_store_arguments(parser)
    add_demo_argument(parser, "the demo's store (pages the demo model labeled)")


def main(args: argparse.Namespace) -> int:
    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        progress = StageProgress()
        try:
            found = duplicates_under(store, args.paths, progress=progress)
        except KeyboardInterrupt:
            progress.close()
            say("\ninterrupted; the signatures made and sheets compared are kept: run it again")
            return ExitCode.INTERRUPTED
        progress.close()
        names = {p: _record(store, p) for g in found.groups for p in g}
        if args.json:
            print(json.dumps([[names[p] for p in group] for group in found.groups], indent=2))
        else:
            for number, group in enumerate(found.groups, start=1):
                print(f"group {number}: {len(group)} pages")
                for page in group:
                    print(f"  {_name(names[page])}")
            if found.blank:
                print(f"blank: {len(found.blank)} pages (nothing printed: not compared)")
                for page in found.blank:
                    print(f"  {_name(_record(store, page))}")
    for line in found.problems():
        say(f"warning: {line}")
    pages = sum(len(group) for group in found.groups)
    variants = f"; {found.variants} pair(s) of sibling sheets (one layout, other content)"
    say(
        f"{len(found.groups)} group(s) of duplicate sheets, {pages} page(s)"
        + (variants if found.variants else "")
    )
    return ExitCode.OK


def duplicates_under(
    store, paths: list[Path], *, progress: Callable[[str, int, int], None] | None = None
):
    """`SheetDuplicates` of the stored pages under `paths` (all pages when none given);
    `progress` as `sheet_duplicates` takes it."""
    from mlx_edugraph.store.collection import pages
    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates

    chosen = pages(store, paths)
    if paths and not chosen:
        raise UserError("no stored pages under " + ", ".join(map(str, paths)))
    sheets = [SheetPage(p.key, p.page, p.path) for p in chosen]
    return sheet_duplicates(sheets, store, progress=progress)


def _record(store, page: tuple[str, int]) -> dict:
    key, number = page
    paths = store.paths_of(key, number)
    return {"path": paths[0] if paths else None, "page": number, "sha256": key}


def _name(record: dict) -> str:
    path = record["path"] or record["sha256"]
    return f"{path} p{record['page']}" if record["page"] else path
