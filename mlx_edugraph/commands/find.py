"""`mlx-edugraph find`: the pages that practise given competences (a term and its descendants)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_demo_argument,
    add_store_arguments,
    add_term_arguments,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError
from mlx_edugraph.prediction import DIMENSIONS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    add_term_arguments(
        parser, "{dimension} term (repeatable: any of them; its descendants match too)"
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
    add_demo_argument(parser, "the demo's ontology: for a store the demo model labeled")


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.collection import find

    asked = {d: list(getattr(args, d.lower())) for d in DIMENSIONS}
    if not any(asked.values()):
        raise UserError("give at least one --area, --scope or --ability TERM")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise UserError("--min-confidence must be between 0 and 1")
    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        ontology = ctx.ontology(unverified="; terms match exactly, not their parts")
        if ontology is None:
            _say_unstored(asked, store.terms())
        wanted = _wanted(asked, ontology)
        matched = find(store, wanted, reviewed=args.reviewed, min_confidence=args.min_confidence)
        if args.paths:
            matched = _under_paths(store, matched, args.paths)
    if args.json:
        print(json.dumps([_record(page) for page in matched], ensure_ascii=False, indent=2))
    else:
        for page in matched:
            print(_line(page))
    gone = sum(not page.exists for page in matched)
    say(f"{len(matched)} page(s) match" + (f" ({gone} whose file is gone)" if gone else ""))
    return ExitCode.OK


def _wanted(asked: dict[str, list[str]], ontology) -> dict[str, set[str]]:
    """Per dimension, the asked terms and their descendants; `UserError` for a term that is
    not one of the dimension's."""
    wanted: dict[str, set[str]] = {}
    for dimension, terms in asked.items():
        for term in terms:
            problem = check_term(term, dimension, ontology)
            if problem:
                raise UserError(problem)
            found = {term} | (ontology.descendants(term) if ontology else set())
            wanted.setdefault(dimension, set()).update(found)
    return wanted


def check_term(term: str, dimension: str, ontology) -> str | None:
    """Why `term` cannot be asked for under `dimension`, or None."""
    if ontology is None:
        return None
    actual = ontology.dimension_of(term)
    if actual is None:
        close = ontology.search(term, dimension, limit=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"{term} is not a term of the EduGraph ontology {ontology.version}{hint}"
    if actual != dimension:
        article = "an" if actual[0] in "AEIOU" else "a"
        return f"{term} is {article} {actual} term: use --{actual.lower()} {term}"
    return None


def _say_unstored(asked: dict[str, list[str]], stored: dict[str, set[str]]) -> None:
    """Without an ontology to check them, say which asked terms no stored page names, with
    the stored terms they may have meant."""
    from mlx_edugraph.labels.ontology import search_names

    for dimension, terms in asked.items():
        names = stored.get(dimension, set())
        for term in terms:
            if term not in names:
                close = search_names(term, names, limit=3) if term.strip() else []
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                say(f"warning: no stored page has the {dimension} term {term}{hint}")


def _under_paths(store, matched, paths: list[Path]):
    from mlx_edugraph.store.collection import pages, under_paths

    stored = pages(store)  # read once: a path with no stored pages is reported, not just empty
    for path in paths:
        if not under_paths(stored, [path]):
            say(f"warning: no stored pages under {path}")
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
