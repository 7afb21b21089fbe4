"""`mlx-edugraph eval`: how good are the labels? Against ground truth, or between two builds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlx_edugraph.commands.eval_inputs import (
    Failure,
    engine_of,
    model_of,
    ontology_of,
    open_store,
    pages_of,
    prompt_of,
    settings_of,
)
from mlx_edugraph.commands.input_options import add_input_arguments
from mlx_edugraph.commands.server_options import add_server_arguments

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


def main(args: argparse.Namespace) -> int:
    try:
        if args.compare:
            return _compare(args)
        return _evaluate(args)
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _evaluate(args: argparse.Namespace) -> int:
    from mlx_edugraph.evaluation.model_info import ModelInfo, model_info
    from mlx_edugraph.evaluation.report import term_charts
    from mlx_edugraph.evaluation.scoring import Unmatched, evaluate, plan
    from mlx_edugraph.evaluation.tables import evaluation_sections
    from mlx_edugraph.evaluation.truth import TruthError, read_truth, truth_from_reviews
    from mlx_edugraph.model.fingerprint import model_fingerprint
    from mlx_edugraph.model.versions import choose

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
    ontology = ontology_of(args)
    with open_store(args) as store:
        if not args.truth:
            truth = truth_from_reviews(store.reviews())
            source = f"reviews in {store.path}"
            if not truth:
                raise Failure(
                    f"no accepted or corrected reviews in {store.path}: review worksheets in "
                    "`mlx-edugraph tui`, or pass --truth FILE"
                )
        refs = pages_of(args.paths) if args.paths else None
        engine = None
        models = []
        if args.latest:
            described = "the newest prediction of each page, by any model"

            def find(sha256: str, page: int):
                return store.latest(sha256, page)
        elif args.server:
            engine = engine_of(None, args, ontology, prompt_of(args))
            fingerprint = engine.provenance.model_fingerprint
            described = f"{engine.model_name} on {engine.provenance.server}"
            models = [ModelInfo(engine.model_name, fingerprint, f"served by {described}")]

            def find(sha256: str, page: int):
                return store.get(sha256, page, fingerprint)
        else:
            model, prompt = model_of(args.model), prompt_of(args)
            if prompt is not None or not Path(model).is_dir():
                # The fingerprint of a repo id or of a supplied prompt is known once loaded.
                engine = engine_of(model, args, ontology, prompt)
                fingerprint = engine.provenance.model_fingerprint
            else:
                fingerprint = model_fingerprint(Path(model), choose(model).adapter)
            described = choose(model).label
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
                _label(planned, engine or engine_of(model, args, ontology, prompt), store)
        result = evaluate(
            planned.matched,
            ontology=ontology if args.hierarchy else None,
            errors=planned.unmatched,
        )
    settings = settings_of(
        args,
        ontology,
        **{"ground truth": source, "predictions": described},
        **{"hierarchy-aware scoring": "yes" if args.hierarchy else "no"},
    )
    sections, charts = evaluation_sections(result), term_charts(result)
    _output(args, "Evaluation", models, [], settings, result, sections, charts)
    return 0


def _label(planned, engine, store) -> None:
    from mlx_edugraph.evaluation.scoring import label_planned
    from mlx_edugraph.labeling.progress import Progress

    progress = Progress(len(planned.to_label))

    def on_event(event) -> None:
        seconds = event.prediction.timings.total_s if event.status == "labeled" else None
        progress.update(event.ref.label, model_seconds=seconds)

    label_planned(planned, engine, store, on_event)
    progress.close()


def _compare(args: argparse.Namespace) -> int:
    from mlx_edugraph.evaluation.comparison import DEFAULT_TOKEN_PAGES, compare_builds
    from mlx_edugraph.evaluation.report import agreement_chart
    from mlx_edugraph.evaluation.tables import comparison_sections
    from mlx_edugraph.labeling.progress import Progress

    if args.truth or args.latest or args.model:
        raise Failure("--compare compares models A and B; drop --truth, --latest, --model")
    if args.server:
        raise Failure(
            "--compare runs both builds here (it reads their answer tokens); drop --server"
        )
    if not args.paths:
        raise Failure("--compare needs worksheet files or folders to compare the models on")
    ontology = ontology_of(args)
    first, second = (model_of(value) for value in args.compare)
    prompt = prompt_of(args)
    refs = pages_of(args.paths)
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

    with open_store(args) as store:
        result = compare_builds(
            [
                lambda: engine_of(first, args, ontology, None),
                lambda: engine_of(second, args, ontology, prompt),
            ],
            refs,
            store,
            token_pages=token_pages,
            prompt_origins=("", prompt.origin if prompt else ""),
            on_event=on_event,
        )
    if bars:
        bars[max(bars)].close()
    settings = settings_of(
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

    from mlx_edugraph.evaluation.report import write_report
    from mlx_edugraph.evaluation.tables import model_section, render_text

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
