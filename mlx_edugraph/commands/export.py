"""`mlx-edugraph export`: the store's labels, reviewed where a person settled them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="file to write (.jsonl, .csv, or .json)")
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", "labelstudio"),
        help="default: from the suffix (.csv: CSV, .json: Label Studio predictions, else JSONL)",
    )
    parser.add_argument("--db", type=Path, help="results store (default: in the user data folder)")
    parser.add_argument(
        "--model",
        type=Path,
        help="export this model folder's predictions (default: each page's newest prediction)",
    )
    parser.add_argument(
        "--reviewed-only", action="store_true", help="only pages a person accepted or corrected"
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.model.fingerprint import model_fingerprint
    from mlx_edugraph.model.versions import choose
    from mlx_edugraph.paths import data_dir
    from mlx_edugraph.store.export_reviewed import export_reviewed, reviewed_pages
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    db = args.db or data_dir() / "labels.sqlite"
    if not db.is_file():
        print(f"error: no store at {db}; label some worksheets first", file=sys.stderr)
        return 2
    # The folder's version in use (`mlx-edugraph versions`), as `label` would run it.
    fingerprint = model_fingerprint(args.model, choose(args.model).adapter) if args.model else None
    try:
        with Store(db) as store:
            pages = list(reviewed_pages(store, fingerprint))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.reviewed_only:
        pages = [page for page in pages if page.review is not None and page.review.is_truth]
    try:
        count = export_reviewed(pages, args.out, args.format)
    except OSError as exc:
        print(
            f"error: cannot write {args.out}: {exc}; any earlier file there is intact",
            file=sys.stderr,
        )
        return 1
    reviewed = sum(1 for page in pages if page.review is not None and page.review.is_truth)
    print(f"wrote {count} page(s) to {args.out} ({reviewed} reviewed)", file=sys.stderr)
    return 0
