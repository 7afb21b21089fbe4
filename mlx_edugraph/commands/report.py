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
        duplicates = _duplicates(store, reported)
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


def _duplicates(store, reported: list):
    """The duplicate sheets among the reported pages (signatures missing are made on first
    use), and the pages that could not be compared."""
    from mlx_edugraph.commands.vector_options import page_name
    from mlx_edugraph.evaluation.coverage_report import Duplicates
    from mlx_edugraph.labeling.progress import StageProgress
    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates

    sheets = {(p.key, p.page): SheetPage(p.key, p.page, p.path) for p in reported}
    progress = StageProgress()
    found = sheet_duplicates(sheets.values(), store, progress=progress)
    progress.close()
    note = (
        "Pages that are the same printed sheet (a re-scan, a photo, a resized, recompressed, "
        "rotated or cropped copy): aligned and compared problem by problem, so sibling sheets "
        "of one template with other numbers are not grouped."
    )
    if found.blank:
        note += f" {len(found.blank)} blank page(s) were not compared."
    for line in found.problems():
        note += f" {line}."
    return Duplicates(note, [[page_name(store, p) for p in group] for group in found.groups])
