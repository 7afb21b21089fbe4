"""`mlx-edugraph label`: label worksheets into the store and export them."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from mlx_edugraph.commands.input_options import Refused, add_input_arguments, command_ontology
from mlx_edugraph.commands.server_options import add_server_arguments, prompt_source, remote_options

EXIT_MODEL_FAILED = 3
"""Exit codes: 0 every page handled (unreadable files get error records and do not count);
1 a given path is missing, or the store or --out could not be written; 2 nothing was labeled
(bad arguments, no model, no worksheets, an unusable --ontology file); 3 the model failed on
at least one page; 130 interrupted (Ctrl-C: every page done so far is kept)."""


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
        help="format of --out (default: from its suffix, else jsonl)",
    )
    parser.add_argument(
        "--model",
        help="MLX model folder or Hugging Face repo id "
        "(default: the model `mlx-edugraph convert` writes)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use a tiny demo model built locally, on generated worksheets "
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
        raise SystemExit(f"--pages: expected N or N-M, got {value!r}") from None
    return range(start, stop + 1)


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.labeling.batch import run
    from mlx_edugraph.labeling.engine_choice import make_engine
    from mlx_edugraph.labeling.progress import Progress, Summary
    from mlx_edugraph.model.location import ModelNotFound, resolve_model
    from mlx_edugraph.model.versions import ModelChoice, choose
    from mlx_edugraph.pages.worksheets import discover
    from mlx_edugraph.paths import data_dir
    from mlx_edugraph.store.export_predictions import ExportError, export
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    paths = list(args.paths)
    choice: ModelChoice | None = None
    if args.demo:
        from mlx_edugraph.tinymodel.demo import prepare_demo

        print(
            "DEMO: labels come from a tiny demo model trained on generated worksheets; "
            "they are not real EduGraph predictions.",
            file=sys.stderr,
        )
        model, demo_paths = prepare_demo(log=lambda line: print(f"demo: {line}", file=sys.stderr))
        paths = paths or ([] if args.redo_older else demo_paths)
    elif args.server:
        model = None  # the servers run the model
    else:
        try:
            model = resolve_model(args.model)
        except ModelNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if model is not None:
        choice = choose(model)
    if not paths and not args.redo_older:
        print("error: give worksheet files or folders (or --demo)", file=sys.stderr)
        return 2
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"error: no such file or folder: {path}", file=sys.stderr)
    paths = [p for p in paths if p.exists()]

    try:
        ontology = command_ontology(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    refs = list(discover(paths, pages=parse_pages(args.pages)))
    try:
        store = Store(args.db or data_dir() / "labels.sqlite")
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.redo_older:
        if choice is None:
            print("error: --redo-older needs a local model, not --server", file=sys.stderr)
            return 2
        refs += _older_refs(store, choice, {(ref.path, ref.page) for ref in refs})
    if not refs:
        if args.redo_older:
            print(f"no pages labeled by other versions of {choice.path}: nothing to do")
            return 0
        print("error: no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found", file=sys.stderr)
        return 2

    source = f"{len(args.server)} server(s)" if args.server else f"model {choice.label}"
    print(f"loading {source} ...", file=sys.stderr)
    try:
        engine = make_engine(
            model,
            adapter=choice.adapter if choice else None,
            version=choice.version if choice else "",
            servers=args.server,
            ontology=ontology,
            max_pixels=args.max_pixels,
            max_tokens=args.max_tokens,
            constrain=not args.no_constrain,
            prompt=prompt_source(args),
            remote=remote_options(args),
        )
    except Exception as exc:  # a broken folder, an unreachable repo id or server: say which
        print(f"error: cannot load {source}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.server:
        sent = "sent" if engine.sends_system_prompt else "left to the servers' chat template"
        print(
            f"servers: {engine.provenance.server}; model {engine.model_name}; "
            f"EduGraph system prompt {sent}",
            file=sys.stderr,
        )
    print(
        f"model loaded in {engine.load_s:.1f} s; labeling {len(refs)} worksheet page(s) "
        f"into {store.path}",
        file=sys.stderr,
    )

    progress = Progress(len(refs))
    summary = Summary()
    results = []
    with store:
        try:
            for event in run(refs, engine, store, redo=args.redo):
                seconds = event.prediction.timings.total_s if event.status == "labeled" else None
                progress.update(event.ref.label, model_seconds=seconds)
                summary.add(event.status, event.prediction.outcome, seconds)
                if event.status in ("error", "failed"):
                    print(f"\nerror: {event.ref.label}: {event.prediction.error}", file=sys.stderr)
                results.append(event.prediction)
        except sqlite3.Error as exc:  # a full disk or a quota: stop, saying what is safe
            print(
                f"\nerror: cannot write to the store {store.path} ({exc}); the {len(results)} "
                "page(s) done before are saved in it: run the same command again to go on",
                file=sys.stderr,
            )
            return 1
        progress.close()
    for line in summary.lines():
        print(line, file=sys.stderr)
    if args.demo:
        for prediction in results:  # show the demo's answers: there is no --out to read them in
            print(f"  {Path(prediction.path).name}: {_answer_line(prediction)}", file=sys.stderr)
        print("(tiny demo model: labels are for trying the tool, not for use)", file=sys.stderr)
    if args.out:
        fmt = args.format or ("csv" if args.out.suffix.lower() == ".csv" else "jsonl")
        # In path order, like the store: a resumed run exports the same file as an unbroken one.
        results.sort(key=lambda prediction: (prediction.path, prediction.page))
        try:
            count = export(results, args.out, fmt)
        except ExportError as exc:
            print(f"error: {exc}; every result is saved in {store.path}", file=sys.stderr)
            return 1
        print(f"wrote {count} record(s) to {args.out}", file=sys.stderr)
    if summary.model_failures:
        print(
            f"error: the model failed on {summary.model_failures} of {len(refs)} page(s) "
            "(reasons above); they are stored as errors and the next run retries them",
            file=sys.stderr,
        )
        return EXIT_MODEL_FAILED
    return 1 if missing else 0


def _older_refs(store, choice, given: set) -> list:
    """The stored pages an earlier version of `choice`'s model labeled (not yet this one)."""
    from mlx_edugraph.labeling.older import older_pages
    from mlx_edugraph.model.fingerprint import model_fingerprint
    from mlx_edugraph.model.versions import family

    current = model_fingerprint(Path(choice.path), choice.adapter)
    older = older_pages(store, family(choice.path), current)
    for missing in older.missing:
        print(f"warning: cannot relabel {missing}: the file is gone or changed", file=sys.stderr)
    refs = [ref for ref in older.refs if (ref.path, ref.page) not in given]
    print(
        f"--redo-older: {len(refs)} page(s) labeled by an earlier version of the model "
        f"(this one is {choice.version})",
        file=sys.stderr,
    )
    return refs


def _answer_line(prediction) -> str:
    """One page's labels on a line: `Area A | Scope B, C | Ability D`, or its outcome."""
    from mlx_edugraph.prediction import DIMENSIONS

    if prediction.outcome != "labeled":
        return prediction.outcome + (f": {prediction.error}" if prediction.error else "")
    return " | ".join(f"{d} {', '.join(prediction.terms(d)) or '-'}" for d in DIMENSIONS)
