"""`mlx-edugraph eval`: how good are the labels? Against ground truth, or between two builds."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from .input_options import add_input_arguments
from .server_options import add_server_arguments, remote_options

EPILOG = """\
examples:
  mlx-edugraph eval                                   the store's reviewed worksheets as truth
  mlx-edugraph eval --truth labels.jsonl worksheets/  a labeled set from elsewhere
  mlx-edugraph eval --compare ./edugraph-bf16 ./edugraph-q4 worksheets/
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="worksheet files or folders: the pages to evaluate (default: every page the truth "
        "names); needed with --compare",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        help="ground truth: a JSONL file of {path|image, Area, Scope, Ability}, an EduGraph "
        "meta.json, or a folder of meta.json files (default: the store's reviews)",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="compare model build B with build A (MLX folders or repo ids) on the worksheets",
    )
    parser.add_argument(
        "--model",
        help="the model to evaluate (default: the model `mlx-edugraph convert` writes)",
    )
    parser.add_argument(
        "--latest",
        action="store_true",
        help="score each reviewed page's newest stored prediction, whichever model made it "
        "(labels nothing)",
    )
    parser.add_argument(
        "--prompt-from",
        metavar="MODEL|FILE",
        help="supply the prompt to --model (or to B with --compare), for a base model whose "
        "template lacks it: a model folder or .jinja file (its chat template) or a text file "
        "(sent as the system message)",
    )
    parser.add_argument(
        "--hierarchy",
        action="store_true",
        help="also score hierarchy-aware: a predicted ancestor of a true term counts partially",
    )
    parser.add_argument(
        "--token-pages",
        type=int,
        default=None,
        help="pages whose answer tokens --compare compares (default 32)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="write a Markdown report with charts here"
    )
    parser.add_argument("--note", default="", help="a line shown at the top of the report")
    add_input_arguments(parser)
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="token bound per answer (default 256)"
    )
    add_server_arguments(parser, prompt_from=False)


class Failure(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def main(args: argparse.Namespace) -> int:
    try:
        if args.compare:
            return _compare(args)
        return _evaluate(args)
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _ontology(args: argparse.Namespace):
    from ..ontology import OntologyError
    from ..ontology_source import resolve_ontology

    try:
        resolution = resolve_ontology(args.ontology, version=args.ontology_version)
    except OntologyError as exc:
        raise Failure(str(exc)) from None
    if resolution.warning:
        print(f"warning: {resolution.warning}", file=sys.stderr)
    if args.hierarchy and resolution.ontology is None:
        raise Failure("--hierarchy needs the ontology (pass --ontology FILE)")
    return resolution.ontology


def _store(args: argparse.Namespace):
    from ..paths import data_dir
    from ..store import Store, StoreError

    try:
        return Store(args.db or data_dir() / "labels.sqlite")
    except StoreError as exc:
        raise Failure(str(exc)) from None


def _model(value: str | None) -> str:
    from ..model_location import ModelNotFound, resolve_model

    try:
        return resolve_model(value)
    except ModelNotFound as exc:
        raise Failure(str(exc)) from None


def _prompt(args: argparse.Namespace):
    from ..prompt_source import PromptSourceError, read_prompt

    if not args.prompt_from:
        return None
    try:
        return read_prompt(args.prompt_from)
    except PromptSourceError as exc:
        raise Failure(str(exc)) from None


def _engine(model: str | None, args: argparse.Namespace, ontology, prompt):
    from ..engines import make_engine

    source = f"{len(args.server)} server(s)" if args.server else f"model {model}"
    print(f"loading {source} ...", file=sys.stderr)
    try:
        return make_engine(
            model,
            servers=args.server,
            ontology=ontology,
            max_pixels=args.max_pixels,
            max_tokens=args.max_tokens,
            prompt=prompt,
            remote=remote_options(args),
        )
    except Exception as exc:  # a broken folder, an unreachable repo id or server: say which
        raise Failure(f"cannot load {source}: {type(exc).__name__}: {exc}") from None


def _refs(paths: list[Path]):
    from ..worksheets import discover

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise Failure(f"no such file or folder: {missing[0]}")
    return list(discover(paths))


def _settings(args: argparse.Namespace, ontology, **extra: str) -> dict[str, str]:
    from .. import __version__

    return {
        **extra,
        "ontology": ontology.version if ontology else "none (terms unverified)",
        "max pixels": f"{args.max_pixels:,}",
        "mlx-edugraph": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _evaluate(args: argparse.Namespace) -> int:
    from ..eval_report import term_charts
    from ..eval_tables import evaluation_sections
    from ..evaluation import Unmatched, evaluate, plan
    from ..fingerprint import model_fingerprint
    from ..model_info import ModelInfo, model_info
    from ..truth import TruthError, read_truth, truth_from_reviews

    if args.latest and (args.truth or args.model or args.prompt_from or args.server):
        raise Failure("--latest scores the store's reviews alone; drop --truth, --model, --server")
    if args.server and args.model:
        raise Failure("--server labels on the servers' model; drop --model")
    truth = []
    if args.truth:  # read first: a malformed file fails before any download or model load
        try:
            truth = read_truth(args.truth)
        except TruthError as exc:
            raise Failure(str(exc)) from None
        source = str(args.truth)
    ontology = _ontology(args)
    with _store(args) as store:
        if not args.truth:
            truth = truth_from_reviews(store.reviews())
            source = f"reviews in {store.path}"
            if not truth:
                raise Failure(
                    f"no accepted or corrected reviews in {store.path}: review worksheets in "
                    "`mlx-edugraph tui`, or pass --truth FILE"
                )
        refs = _refs(args.paths) if args.paths else None
        engine = None
        models = []
        if args.latest:
            described = "the newest prediction of each page, by any model"

            def find(sha256: str, page: int):
                return store.latest(sha256, page)
        elif args.server:
            engine = _engine(None, args, ontology, _prompt(args))
            fingerprint = engine.provenance.model_fingerprint
            described = f"{engine.model_name} on {engine.provenance.server}"
            models = [ModelInfo(engine.model_name, fingerprint, f"served by {described}")]

            def find(sha256: str, page: int):
                return store.get(sha256, page, fingerprint)
        else:
            model, prompt = _model(args.model), _prompt(args)
            if prompt is not None or not Path(model).is_dir():
                # The fingerprint of a repo id or of a supplied prompt is known once loaded.
                engine = _engine(model, args, ontology, prompt)
                fingerprint = engine.provenance.model_fingerprint
            else:
                fingerprint = model_fingerprint(Path(model))
            described = model
            models = [model_info(model, fingerprint, prompt.origin if prompt else "")]

            def find(sha256: str, page: int):
                return store.get(sha256, page, fingerprint)

        planned = plan(truth, store, find, refs)
        if planned.to_label:
            if args.latest:
                planned.unmatched += [
                    Unmatched(item.origin, "no stored prediction (or only an error)")
                    for item, _ in planned.to_label.values()
                ]
            else:
                _label(planned, engine or _engine(model, args, ontology, prompt), store)
        result = evaluate(
            planned.matched,
            ontology=ontology if args.hierarchy else None,
            errors=planned.unmatched,
        )
    settings = _settings(
        args,
        ontology,
        **{"ground truth": source, "predictions": described},
        **{"hierarchy-aware scoring": "yes" if args.hierarchy else "no"},
    )
    sections, charts = evaluation_sections(result), term_charts(result)
    _output(args, "Evaluation", models, [], settings, result, sections, charts)
    return 0


def _label(planned, engine, store) -> None:
    from ..evaluation import label_planned
    from ..progress import Progress

    progress = Progress(len(planned.to_label))

    def on_event(event) -> None:
        seconds = event.prediction.timings.total_s if event.status == "labeled" else None
        progress.update(event.ref.label, model_seconds=seconds)

    label_planned(planned, engine, store, on_event)
    progress.close()


def _compare(args: argparse.Namespace) -> int:
    from ..comparison import DEFAULT_TOKEN_PAGES, compare_builds
    from ..eval_report import agreement_chart
    from ..eval_tables import comparison_sections
    from ..progress import Progress

    if args.truth or args.latest or args.model:
        raise Failure("--compare compares models A and B; drop --truth, --latest, --model")
    if args.server:
        raise Failure(
            "--compare runs both builds here (it reads their answer tokens); drop --server"
        )
    if not args.paths:
        raise Failure("--compare needs worksheet files or folders to compare the models on")
    ontology = _ontology(args)
    first, second = (_model(value) for value in args.compare)
    prompt = _prompt(args)
    refs = _refs(args.paths)
    if not refs:
        raise Failure("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found")
    token_pages = args.token_pages or DEFAULT_TOKEN_PAGES
    bars: dict[int, Progress] = {}

    def on_event(index: int, event) -> None:
        if index not in bars:
            if bars:
                bars[index - 1].close()
            bars[index] = Progress(len(refs))
        seconds = event.prediction.timings.total_s if event.status == "labeled" else None
        bars[index].update(f"{'AB'[index]}: {event.ref.label}", model_seconds=seconds)

    with _store(args) as store:
        result = compare_builds(
            [
                lambda: _engine(first, args, ontology, None),
                lambda: _engine(second, args, ontology, prompt),
            ],
            refs,
            store,
            token_pages=token_pages,
            prompt_origins=("", prompt.origin if prompt else ""),
            on_event=on_event,
        )
    if bars:
        bars[max(bars)].close()
    settings = _settings(
        args,
        ontology,
        worksheets=", ".join(map(str, args.paths)),
        **{"answer-token pages": f"the first {min(token_pages, len(refs))} of {len(refs)}"},
    )
    sections, charts = comparison_sections(result), agreement_chart(result)
    title = "Comparison of two model builds"
    _output(args, title, result.models, ["A", "B"], settings, result, sections, charts)
    return 0


def _output(args, title, models, roles, settings, result, sections, charts) -> None:
    """Print the tables (or JSON) and write the report when asked."""
    from dataclasses import asdict

    from ..eval_report import write_report
    from ..eval_tables import model_section, render_text

    data = {"settings": settings, "models": [asdict(m) for m in models], **result.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render_text([model_section(title, models, roles), *sections]))
    if args.report:
        report = write_report(
            args.report,
            title=title,
            settings=settings,
            models=models,
            roles=roles,
            sections=sections,
            charts=charts,
            data=data,
            note=args.note,
        )
        print(f"wrote {report}", file=sys.stderr)
