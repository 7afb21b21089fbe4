"""`mlx-edugraph report`: what a collection covers, as one self-contained HTML page or Markdown."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_demo_argument,
    add_store_arguments,
    output_folder,
    output_format,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError

SUFFIXES = {".html": "html", ".htm": "html", ".md": "md"}
"""The report's suffixes and their formats."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="folders or files to report on, one section each (default: every stored page)",
    )
    parser.add_argument(
        "--out", type=Path, help="where to write it (default coverage-report.html or .md)"
    )
    parser.add_argument("--format", choices=("html", "md"), help="default: from --out, else html")
    add_store_arguments(parser)
    add_demo_argument(parser, "the demo's ontology: for a store the demo model labeled")


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.evaluation.coverage import coverage
    from mlx_edugraph.evaluation.coverage_report import Section, html_report, markdown_report
    from mlx_edugraph.paths import write_atomic
    from mlx_edugraph.store.collection import pages, under_paths

    fmt = output_format(args.out, args.format, SUFFIXES, "html") if args.out else args.format
    out = args.out or Path(f"coverage-report.{fmt or 'html'}")
    output_folder(out)
    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        db = store.path
        ontology = ctx.ontology()
        everything = pages(store)  # read once; each path's section is a filter of it
        groups = [(str(p), under_paths(everything, [p])) for p in args.paths]
        reported = [p for _, found in groups for p in found] if args.paths else everything
        duplicates = _duplicates(store, {(p.key, p.page) for p in reported})
    for name, found in groups:
        if not found:
            say(f"warning: no stored pages under {name}")
    groups = [(name, found) for name, found in groups if found]
    if args.paths and not groups:
        raise UserError("none of the given paths has stored pages")
    sections = [Section(name, coverage(found, ontology)) for name, found in groups]
    if len(sections) != 1:
        chosen = [p for _, found in groups for p in found] if groups else everything
        unique = list({(p.key, p.page): p for p in chosen}.values())
        sections.insert(0, Section("All pages", coverage(unique, ontology)))
    header = [
        f"Store: {db}",
        f"Ontology: {ontology.version if ontology else 'none (terms unverified)'}",
        f"Written {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        "A page counts with a person's labels where they accepted or corrected it, "
        "else with its newest prediction.",
    ]
    title = "Worksheet coverage of the EduGraph ontology"
    render = markdown_report if fmt == "md" else html_report
    try:
        write_atomic(out, render(title, header, sections, duplicates).encode("utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}", ExitCode.INCOMPLETE) from None
    first = sections[0].coverage
    say(
        f"wrote {out}: {first.pages} page(s), {first.reviewed} reviewed, "
        f"{first.flagged} flagged, {first.unreviewed} left"
    )
    return ExitCode.OK


def _duplicates(store, among: set):
    """The near-duplicate groups of the reported pages by the newest model's vectors; None
    when no page has a vector (labeled through servers only: then the section is left out)."""
    from mlx_edugraph.commands.vector_options import page_name
    from mlx_edugraph.evaluation.coverage_report import Duplicates
    from mlx_edugraph.store.similar_pages import (
        DUPLICATE_THRESHOLD,
        NoVectors,
        VectorIndex,
        choose_model,
    )

    try:
        model = choose_model(store, None)
    except NoVectors:
        return None
    index = VectorIndex.load(store, model)
    groups = index.duplicate_groups(DUPLICATE_THRESHOLD, among)
    missing = len(among - set(index.pages))
    note = (
        f"Pages whose vectors (model {model}) have a cosine similarity of at least "
        f"{DUPLICATE_THRESHOLD}: the same sheet scanned twice, resized or re-saved."
    )
    if missing:
        note += f" {missing} page(s) have no vector from this model: run `mlx-edugraph embed`."
    return Duplicates(
        note,
        [[(page_name(store, n.page), n.similarity) for n in group] for group in groups],
    )
