"""`mlx-edugraph find`: the pages that practise given competences (a term and its descendants)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlx_edugraph.commands.input_options import (
    Refused,
    add_store_arguments,
    command_ontology,
    existing_store,
)
from mlx_edugraph.prediction import DIMENSIONS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    for dimension in DIMENSIONS:
        parser.add_argument(
            f"--{dimension.lower()}",
            action="append",
            default=[],
            metavar="TERM",
            help=f"{dimension} term (repeatable: any of them; its descendants match too)",
        )
    parser.add_argument(
        "--reviewed", action="store_true", help="only pages a person accepted or corrected"
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="predicted pages only when their least confident label is at least P (0-1)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list for scripts")
    add_store_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.collection import find
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    asked = {d: list(getattr(args, d.lower())) for d in DIMENSIONS}
    if not any(asked.values()):
        print("error: give at least one --area, --scope or --ability TERM", file=sys.stderr)
        return 2
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        print("error: --min-confidence must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        db = existing_store(args)
        ontology = command_ontology(args, unverified="; terms match exactly, not their parts")
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wanted: dict[str, set[str]] = {}
    for dimension, terms in asked.items():
        for term in terms:
            problem = _check(term, dimension, ontology)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 2
            found = {term} | (ontology.descendants(term) if ontology else set())
            wanted.setdefault(dimension, set()).update(found)
    try:
        with Store(db) as store:
            if store.is_empty():
                print(
                    f"error: the store {db} has no labeled pages yet: run `mlx-edugraph label` "
                    "(or `tui`) on your worksheets first",
                    file=sys.stderr,
                )
                return 2
            matched = find(
                store, wanted, reviewed=args.reviewed, min_confidence=args.min_confidence
            )
            if args.paths:
                matched = _under_paths(store, matched, args.paths)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([_record(page) for page in matched], ensure_ascii=False, indent=2))
    else:
        for page in matched:
            print(_line(page))
    gone = sum(not page.exists for page in matched)
    print(
        f"{len(matched)} page(s) match" + (f" ({gone} whose file is gone)" if gone else ""),
        file=sys.stderr,
    )
    return 0


def _check(term: str, dimension: str, ontology) -> str | None:
    """Why `term` cannot be asked for under `dimension`, or None."""
    if ontology is None:
        return None
    actual = ontology.dimension_of(term)
    if actual is None:
        close = ontology.search(term, dimension, limit=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"{term} is not a term of the EduGraph ontology {ontology.version}{hint}"
    if actual != dimension:
        return f"{term} is an {actual} term: use --{actual.lower()} {term}"
    return None


def _under_paths(store, matched, paths: list[Path]):
    from mlx_edugraph.store.collection import pages, under_paths

    stored = pages(store)  # read once: a path with no stored pages is reported, not just empty
    for path in paths:
        if not under_paths(stored, [path]):
            print(f"warning: no stored pages under {path}", file=sys.stderr)
    return under_paths(matched, paths)


def _line(page) -> str:
    terms = " | ".join(f"{d} {', '.join(sorted(page.terms[d])) or '-'}" for d in DIMENSIONS)
    gone = "  (file gone)" if not page.exists else ""
    return f"{page.label}\t{page.source}\t{terms}{gone}"


def _record(page) -> dict:
    return {
        "path": page.path,
        "page": page.page,
        "sha256": page.key,
        "source": page.source,
        "review": page.review or None,
        "min_confidence": page.min_confidence,
        "exists": page.exists,
        **{d: sorted(page.terms[d]) for d in DIMENSIONS},
    }
