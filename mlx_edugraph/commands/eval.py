"""`mlx-edugraph eval`: how good are the labels? Against ground truth, or between two builds."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph import __version__
from mlx_edugraph.commands.context import (
    Context,
    add_demo_argument,
    add_input_arguments,
    demo_truth,
    output_folder,
    say,
)
from mlx_edugraph.commands.server_options import add_server_arguments
from mlx_edugraph.errors import ExitCode, UserError

if TYPE_CHECKING:
    from mlx_edugraph.evaluation.model_info import ModelInfo
    from mlx_edugraph.model.engine import Engine
    from mlx_edugraph.prediction import Prediction
    from mlx_edugraph.store.sqlite_store import Store

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
    add_demo_argument(
        parser,
        "evaluate the tiny demo model (no download); with no reviews in the store and no "
        "--truth, against the demo worksheets' truth file",
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
    ctx = Context(args)
    if args.report:  # a report into a missing folder fails before any work
        output_folder(args.report)
    return _compare(ctx) if args.compare else _evaluate(ctx)


@dataclass
class _Predictions:
    """Where the scored predictions come from: how to find a page's, what to call them, the
    models a report names, and the engine that labels pages with none (made when needed)."""

    find: Callable[[str, int], Prediction | None]
    described: str
    models: list[ModelInfo]
    engine: Callable[[], Engine] | None = None


def _evaluate(ctx: Context) -> int:
    from mlx_edugraph.evaluation.report import term_charts
    from mlx_edugraph.evaluation.scoring import evaluate, plan
    from mlx_edugraph.evaluation.tables import evaluation_sections

    args = ctx.args
    if args.latest and (args.truth or args.model or args.prompt_from or args.server):
        raise UserError(
            "--latest scores the store's reviews alone; drop --truth, --model, --server"
        )
    if args.server and args.model:
        raise UserError("--server labels on the servers' model; drop --model")
    if not args.latest:
        args.truth = demo_truth(ctx) or args.truth
    truth, source = _truth_file(args.truth)  # first: a malformed file fails before any model
    # Only a truth file can send pages to the model; without one, eval only reads the store.
    first = "label worksheets and review them in `mlx-edugraph tui` (or give --truth FILE)"
    with ctx.store(existing=not args.truth, first=first) as store:
        ontology = _ontology(ctx)
        if not args.truth:
            truth, source = _truth_from_reviews(store)
        refs = _pages(args.paths) if args.paths else None
        predictions = _predictions(ctx, store)
        planned = plan(truth, store, predictions.find, refs)
        _label_missing(planned, predictions, store)
        result = evaluate(
            planned.matched,
            ontology=ontology if args.hierarchy else None,
            errors=planned.unmatched,
        )
        _warn_duplicates(store, planned.matched)
    settings = _settings(
        args,
        ontology,
        **{"ground truth": source, "predictions": predictions.described},
        **{"hierarchy-aware scoring": "yes" if args.hierarchy else "no"},
    )
    sections, charts = evaluation_sections(result), term_charts(result)
    _output(args, "Evaluation", predictions.models, [], settings, result, sections, charts)
    return ExitCode.OK


def _warn_duplicates(store: Store, matched: list) -> None:
    """Say when some evaluated pages are the same printed sheet: each copy is scored again,
    and a copy of a page the model was tuned on inflates the scores."""
    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates

    pages = {
        (m.prediction.sha256, m.prediction.page): SheetPage(
            m.prediction.sha256, m.prediction.page, m.prediction.path
        )
        for m in matched
        if m.prediction.sha256 and m.prediction.outcome != "error"
    }
    groups = sheet_duplicates(pages.values(), store).groups
    if not groups:
        return
    copies = sum(len(group) for group in groups) - len(groups)
    example = " = ".join(pages[page].label for page in groups[0][:3])
    say(
        f"warning: {len(groups)} group(s) of duplicate sheets among the evaluated pages: "
        f"{copies} copy(ies) are scored again (e.g. {example}); `mlx-edugraph duplicates` "
        "lists them"
    )


def _truth_file(path: Path | None) -> tuple[list, str]:
    from mlx_edugraph.evaluation.truth import TruthError, read_truth

    if path is None:
        return [], ""
    try:
        return read_truth(path), str(path)
    except TruthError as exc:
        raise UserError(str(exc)) from None


def _truth_from_reviews(store: Store) -> tuple[list, str]:
    from mlx_edugraph.evaluation.truth import truth_from_reviews

    truth = truth_from_reviews(store.reviews())
    if not truth:
        raise UserError(
            f"no accepted or corrected reviews in {store.path}: review worksheets in "
            "`mlx-edugraph tui`, or pass --truth FILE"
        )
    return truth, f"reviews in {store.path}"


def _ontology(ctx: Context):
    ontology = ctx.ontology()
    if ctx.args.hierarchy and ontology is None:
        raise UserError("--hierarchy needs the ontology (pass --ontology FILE)")
    return ontology


def _pages(paths: list[Path]) -> list:
    from mlx_edugraph.pages.worksheets import discover

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UserError(f"no such file or folder: {missing[0]}")
    return list(discover(paths))


def _predictions(ctx: Context, store: Store) -> _Predictions:
    """The newest of each page (--latest), the servers' (a probe tells their fingerprint),
    or the local model's in its version in use, with the prompt supplied."""
    from mlx_edugraph.evaluation.model_info import ModelInfo, model_info

    if ctx.args.latest:
        return _Predictions(store.latest, "the newest prediction of each page, by any model", [])
    choice = ctx.model()
    if choice.on_servers:
        engine = ctx.engine(choice)
        fingerprint = engine.provenance.model_fingerprint
        described = f"{engine.model_name} on {engine.provenance.server}"
        models = [ModelInfo(engine.model_name, fingerprint, f"served by {described}")]
        return _Predictions(_finder(store, fingerprint), described, models, lambda: engine)
    origin = choice.prompt.origin if choice.prompt else ""
    return _Predictions(
        _finder(store, choice.fingerprint),
        choice.label,
        [model_info(choice.path, choice.fingerprint, origin)],
        lambda: ctx.engine(choice),
    )


def _finder(store: Store, fingerprint: str) -> Callable[[str, int], Prediction | None]:
    return lambda sha256, page: store.get(sha256, page, fingerprint)


def _label_missing(planned, predictions: _Predictions, store: Store) -> None:
    """Label the pages the truth names that have no prediction yet (none with --latest: they
    are listed as unmatched)."""
    from mlx_edugraph.evaluation.scoring import Unmatched, label_planned
    from mlx_edugraph.labeling.progress import Progress

    if not planned.to_label:
        return
    if predictions.engine is None:
        planned.unmatched += [
            Unmatched(item.origin, "no stored prediction (or only an error)")
            for item, _ in planned.to_label.values()
        ]
        planned.to_label.clear()
        return
    progress = Progress(len(planned.to_label))

    def on_event(event) -> None:
        seconds = event.prediction.timings.total_s if event.status == "labeled" else None
        progress.update(event.ref.label, model_seconds=seconds)

    label_planned(planned, predictions.engine(), store, on_event)
    progress.close()


def _compare(ctx: Context) -> int:
    from mlx_edugraph.evaluation.comparison import DEFAULT_TOKEN_PAGES, compare_builds
    from mlx_edugraph.evaluation.report import agreement_chart
    from mlx_edugraph.evaluation.tables import comparison_sections

    args = ctx.args
    if args.truth or args.latest or args.model:
        raise UserError("--compare compares models A and B; drop --truth, --latest, --model")
    if args.server:
        raise UserError(
            "--compare runs both builds here (it reads their answer tokens); drop --server"
        )
    if not args.paths:
        raise UserError("--compare needs worksheet files or folders to compare the models on")
    ontology = ctx.ontology()
    first = ctx.model(args.compare[0], with_prompt=False)
    second = ctx.model(args.compare[1])
    refs = _pages(args.paths)
    if not refs:
        raise UserError("no worksheets (PNG, JPEG, WebP, TIFF, BMP, GIF, PDF) found")
    token_pages = args.token_pages or DEFAULT_TOKEN_PAGES
    bars = _ComparisonBars(len(refs))
    with ctx.store() as store:
        result = compare_builds(
            [lambda: ctx.engine(first), lambda: ctx.engine(second)],
            refs,
            store,
            token_pages=token_pages,
            prompt_origins=("", second.prompt.origin if second.prompt else ""),
            on_event=bars.update,
        )
    bars.close()
    settings = _settings(
        args,
        ontology,
        worksheets=", ".join(map(str, args.paths)),
        **{"answer-token pages": f"the first {min(token_pages, len(refs))} of {len(refs)}"},
    )
    sections, charts = comparison_sections(result), agreement_chart(result)
    title = "Comparison of two model builds"
    _output(args, title, result.models, ["A", "B"], settings, result, sections, charts)
    return ExitCode.OK


class _ComparisonBars:
    """A progress bar per model, A then B."""

    def __init__(self, pages: int):
        self.pages = pages
        self.bars: dict = {}

    def update(self, index: int, event) -> None:
        from mlx_edugraph.labeling.progress import Progress

        if index not in self.bars:
            if self.bars:
                self.bars[index - 1].close()
            self.bars[index] = Progress(self.pages)
        seconds = event.prediction.timings.total_s if event.status == "labeled" else None
        self.bars[index].update(f"{'AB'[index]}: {event.ref.label}", model_seconds=seconds)

    def close(self) -> None:
        if self.bars:
            self.bars[max(self.bars)].close()


def _settings(args: argparse.Namespace, ontology, **extra: str) -> dict[str, str]:
    """The settings a report records."""
    return {
        **extra,
        "ontology": ontology.version if ontology else "none (terms unverified)",
        "max pixels": f"{args.max_pixels:,}",
        "mlx-edugraph": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


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
        say(f"wrote {report}")
