"""`mlx-edugraph label`: label worksheets into the store and export them."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.commands.context import (
    Context,
    add_input_arguments,
    add_model_arguments,
    existing_paths,
    output_folder,
    output_format,
    say,
)
from mlx_edugraph.commands.server_options import add_server_arguments
from mlx_edugraph.errors import ExitCode, UserError

if TYPE_CHECKING:
    from mlx_edugraph.labeling.progress import Summary
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.engine import Engine
    from mlx_edugraph.prediction import Prediction
    from mlx_edugraph.store.sqlite_store import Store


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="worksheet files (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) or folders",
    )
    parser.add_argument("--out", type=Path, help="write this run's results here (JSONL or CSV)")
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default=None,
        help="format of --out (default: from its suffix, .jsonl or .csv)",
    )
    add_model_arguments(
        parser,
        model_help="MLX model folder or Hugging Face repo id "
        "(default: the model `mlx-edugraph convert` writes)",
        demo_help="use a tiny demo model built locally, on generated worksheets "
        "when no paths are given (labels are NOT meaningful)",
    )
    parser.add_argument(
        "--redo", action="store_true", help="relabel worksheets already labeled by this model"
    )
    parser.add_argument(
        "--redo-older",
        action="store_true",
        help="also relabel the stored pages an earlier version of this model labeled "
        "(after `tune` or `versions --use`); no paths needed",
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="token bound per answer (default 256)"
    )
    parser.add_argument("--pages", default=None, help="PDF pages to label, e.g. 1-3 (default: all)")
    parser.add_argument(
        "--no-constrain",
        action="store_true",
        help="decode freely instead of through the answer grammar (known ontology terms only)",
    )
    add_server_arguments(parser)


def parse_pages(value: str | None) -> range | None:
    """'3' or '2-5' as a range of 1-based page numbers."""
    if not value:
        return None
    first, _, last = value.partition("-")
    try:
        start, stop = int(first), int(last or first)
    except ValueError:
        raise UserError(f"--pages: expected N or N-M, got {value!r}") from None
    if not 1 <= start <= stop:
        raise UserError(f"--pages: expected pages from 1 up, first <= last; got {value!r}")
    return range(start, stop + 1)


OUT_FORMATS = {".jsonl": "jsonl", ".csv": "csv"}
"""--out's suffixes and their formats."""


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.pages.worksheets import discover

    ctx = Context(args)
    if args.out:  # a bad --out fails before anything is labeled
        args.format = output_format(args.out, args.format, OUT_FORMATS, "jsonl")
        output_folder(args.out)
    pages = parse_pages(args.pages)
    paths, missing = existing_paths(_paths(args))
    choice = ctx.model()
    if not (paths or missing or args.redo_older):
        raise UserError("give worksheet files or folders (or --demo)")
    ctx.ontology()  # a bad --ontology file fails before the model loads
    refs = list(discover(paths, pages=pages))
    store = ctx.store()
    if args.redo_older:
        refs += _older_refs(store, choice, {(ref.path, ref.page) for ref in refs})
    if not refs:
        if missing:
            raise UserError("nothing to label: the given paths are missing", ExitCode.INCOMPLETE)
        if args.redo_older:
            print(f"no pages labeled by other versions of {choice.path}: nothing to do")
            return ExitCode.OK
        if pages is not None:
            raise UserError(f"--pages {args.pages}: no such page in {_page_counts(paths)}")
        raise UserError("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found")
    engine = ctx.engine(choice, constrain=not args.no_constrain)
    _say_loaded(engine, choice, len(refs), store)
    results, summary = _label_all(refs, engine, store, redo=args.redo)
    for line in summary.lines():
        say(line)
    if args.demo:
        for prediction in results:  # show the demo's answers: there is no --out to read them in
            say(f"  {Path(prediction.path).name}: {_answer_line(prediction)}")
        say("(tiny demo model: labels are for trying the tool, not for use)")
    if args.out:
        _write_out(results, args, store.path)
    if summary.model_failures:
        raise UserError(
            f"the model failed on {summary.model_failures} of {len(refs)} page(s) (reasons "
            "above); they are stored as errors and the next run retries them",
            ExitCode.MODEL_FAILED,
        )
    return ExitCode.INCOMPLETE if missing else ExitCode.OK


def _paths(args: argparse.Namespace) -> list[Path]:
    """The given paths; with --demo and none given, its generated worksheets."""
    if not args.demo:
        return list(args.paths)
    from mlx_edugraph.tinymodel.demo import demo_worksheets

    say(
        "DEMO: labels come from a tiny demo model trained on generated worksheets; "
        "they are not real EduGraph predictions."
    )
    if args.paths or args.redo_older:
        return list(args.paths)
    folder = demo_worksheets()
    say(f"demo worksheets (and their truth.jsonl): {folder}")
    return [folder]


def _page_counts(paths: list[Path]) -> str:
    """The given PDFs with their page counts: "a.pdf (2 pages), b.pdf (1 page)"."""
    from mlx_edugraph.pages.worksheets import PDF_SUFFIXES, WorksheetError, pdf_page_count

    pdfs = [p for p in paths if p.suffix.lower() in PDF_SUFFIXES] or [
        pdf for folder in paths if folder.is_dir() for pdf in sorted(folder.rglob("*.pdf"))
    ]
    counts = []
    for pdf in pdfs:
        try:
            count = pdf_page_count(pdf)
        except WorksheetError:
            continue
        counts.append(f"{pdf} ({count} page{'s' if count != 1 else ''})")
    return ", ".join(counts) or "the given files (no PDF among them)"


def _say_loaded(engine: Engine, choice: ModelChoice, pages: int, store: Store) -> None:
    if choice.on_servers:
        sent = "sent" if engine.sends_system_prompt else "left to the servers' chat template"
        say(
            f"servers: {engine.provenance.server}; model {engine.model_name}; "
            f"EduGraph system prompt {sent}"
        )
    say(
        f"model loaded in {engine.load_s:.1f} s; labeling {pages} worksheet page(s) "
        f"into {store.path}"
    )


def _label_all(
    refs: list, engine: Engine, store: Store, *, redo: bool
) -> tuple[list[Prediction], Summary]:
    """Every page through the engine into the store, with a progress bar and a summary."""
    from mlx_edugraph.labeling.batch import run
    from mlx_edugraph.labeling.progress import Progress, Summary

    progress = Progress(len(refs))
    summary = Summary()
    results = []
    with store:
        try:
            for event in run(refs, engine, store, redo=redo):
                seconds = event.prediction.timings.total_s if event.status == "labeled" else None
                progress.update(event.ref.label, model_seconds=seconds)
                summary.add(event.status, event.prediction.outcome, seconds)
                if event.status in ("error", "failed"):
                    say(f"\nerror: {event.ref.label}: {event.prediction.error}")
                results.append(event.prediction)
        except sqlite3.Error as exc:  # a full disk or a quota: stop, saying what is safe
            raise UserError(
                f"cannot write to the store {store.path} ({exc}); the {len(results)} page(s) "
                "done before are saved in it: run the same command again to go on",
                ExitCode.INCOMPLETE,
            ) from None
        progress.close()
    return results, summary


def _write_out(results: list[Prediction], args: argparse.Namespace, db: Path) -> None:
    """This run's results into --out, in path order like the store: a resumed run exports
    the same file as an unbroken one."""
    from mlx_edugraph.store.export_predictions import ExportError, export

    fmt = args.format
    results.sort(key=lambda prediction: (prediction.path, prediction.page))
    try:
        count = export(results, args.out, fmt)
    except ExportError as exc:
        raise UserError(f"{exc}; every result is saved in {db}", ExitCode.INCOMPLETE) from None
    say(f"wrote {count} record(s) to {args.out}")


def _older_refs(store: Store, choice: ModelChoice, given: set) -> list:
    """The stored pages an earlier version of `choice`'s model labeled (not yet this one)."""
    from mlx_edugraph.labeling.older import older_pages
    from mlx_edugraph.model.versions import family

    if choice.on_servers:
        raise UserError("--redo-older needs a local model, not --server")
    older = older_pages(store, family(choice.path), choice.fingerprint)
    for missing in older.missing:
        say(f"warning: cannot relabel {missing}: the file is gone or changed")
    refs = [ref for ref in older.refs if (ref.path, ref.page) not in given]
    say(
        f"--redo-older: {len(refs)} page(s) labeled by an earlier version of the model "
        f"(this one is {choice.version})"
    )
    return refs


def _answer_line(prediction: Prediction) -> str:
    """One page's labels on a line: `Area A | Scope B, C | Ability D`, or its outcome."""
    from mlx_edugraph.prediction import DIMENSIONS

    if prediction.outcome != "labeled":
        return prediction.outcome + (f": {prediction.error}" if prediction.error else "")
    return " | ".join(f"{d} {', '.join(prediction.terms(d)) or '-'}" for d in DIMENSIONS)
