"""What `related`, `next` and `before` share: a page (a stored page's file, or a copy of it) or
terms to start from, the collection's index, and the listing of the answer."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_demo_argument,
    add_store_arguments,
    add_term_arguments,
    demo_hint,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError
from mlx_edugraph.prediction import DIMENSIONS


def add_competence_arguments(parser: argparse.ArgumentParser, *, terms: bool) -> None:
    """PAGE (and, with `terms`, --area/--scope/--ability), -k, --page, --json, the store's."""
    parser.add_argument(
        "path",
        type=Path,
        nargs="?" if terms else None,
        help="a stored page's file (found by its content, so a copy or moved file works too)",
    )
    if terms:
        add_term_arguments(parser, "instead of a page: {dimension} term (repeatable)")
    parser.add_argument("-k", type=int, default=10, help="how many pages (default 10)")
    parser.add_argument("--page", type=int, default=None, help="PDF page number (default 1)")
    parser.add_argument("--json", action="store_true", help="print a JSON list for scripts")
    add_store_arguments(parser)
    add_demo_argument(parser, "the demo's ontology: for a store the demo model labeled")


def run(args: argparse.Namespace, command: str, answer) -> int:
    """Load the collection, resolve the start, print `answer(index, labels, skip)`."""
    from mlx_edugraph.store.competence_index import CompetenceIndex

    if args.k < 1:
        raise UserError("-k must be at least 1")
    asked = {d: list(getattr(args, d.lower(), [])) for d in DIMENSIONS}
    if args.path is not None and any(asked.values()):
        raise UserError("give a page or --area/--scope/--ability terms, not both")
    if args.path is None and not any(asked.values()):
        raise UserError("give a page, or at least one --area, --scope or --ability TERM")
    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        ontology = ctx.ontology(unverified="; terms compare exactly, without their ancestors")
        if command != "related" and ontology is None:
            raise UserError(f"`{command}` follows the ontology's links: it needs the ontology")
        index = CompetenceIndex.load(store, ontology)
        if args.path is not None:
            skip = _page(args, store)
            labels = _labels_of(args, store, index, skip)
        else:
            skip, labels = None, _asked(asked, ontology, index)
    matches = answer(index, labels, skip)
    if args.json:
        print(json.dumps([_record(m) for m in matches], ensure_ascii=False, indent=2))
    else:
        for match in matches:
            print(f"{match.score:.4f}\t{match.name}\t{match.why}")
    say(f"{len(matches)} page(s)" + ("" if matches else f": {_none(command, index)}"))
    return ExitCode.OK


def _page(args: argparse.Namespace, store) -> tuple[str, int]:
    from mlx_edugraph.pages.worksheets import WorksheetError, file_sha256

    path = args.path
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    number = (args.page or 1) if path.suffix.lower() == ".pdf" else 0
    try:
        page = (file_sha256(path), number)
    except (WorksheetError, OSError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if store.latest(*page) is None:
        raise UserError(
            f"{path} is not in the store: label it first (`{demo_hint(args, 'label')} {path}`)"
        )
    return page


def _labels_of(args, store, index, page):
    """The page's final labels; `UserError` for a page that has none to compare."""
    labels = index.labels_of(page)
    if labels is not None:
        return labels
    outcome = store.latest(*page).outcome
    if outcome == "unsupported":
        raise UserError(
            f"{args.path} is unsupported material (not a K-4 math worksheet, the model said): "
            "it has no competences to compare"
        )
    raise UserError(
        f"{args.path} has no labels (its newest prediction is {outcome}): review it or label "
        "it again first"
    )


def _asked(asked: dict[str, list[str]], ontology, index):
    """The label set of --area/--scope/--ability; `UserError` for a term of no dimension."""
    from mlx_edugraph.commands.find import check_term
    from mlx_edugraph.labels.competence import label_set

    for dimension, terms in asked.items():
        for term in terms:
            problem = check_term(term, dimension, ontology)
            if problem is None and ontology is None and (dimension, term) not in index.space.index:
                problem = f"no stored page has the {dimension} term {term}"
            if problem:
                raise UserError(problem)
    return label_set(asked)


def _none(command: str, index) -> str:
    if command == "related":
        return "no other page has labels"
    paths = index.paths
    return (
        f"no stored page {'builds on' if command == 'next' else 'comes before'} these "
        f"competences ({len(paths.area_links)} Area links and {len(paths.scope_links)} Scope "
        f"links in the ontology {paths.ontology.version})"
    )


def _record(match) -> dict:
    return {
        "path": match.path,
        "page": match.page,
        "sha256": match.key,
        "score": round(match.score, 6),
        "why": match.why,
        **{d: sorted(terms) for d, terms in zip(DIMENSIONS, match.labels, strict=True)},
    }
