"""`mlx-edugraph tui`: review worksheets beside their labels; label the rest in the background."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.commands.context import (
    Context,
    add_input_arguments,
    add_model_arguments,
    say,
)
from mlx_edugraph.commands.label import parse_pages
from mlx_edugraph.commands.server_options import add_server_arguments
from mlx_edugraph.errors import ExitCode, UserError

if TYPE_CHECKING:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.stopping import StopCheck
    from mlx_edugraph.tui.labeler import Labeler


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="worksheet files (images, PDFs) or folders"
    )
    add_model_arguments(
        parser,
        model_help="MLX model folder or Hugging Face repo id "
        "(default: the model `mlx-edugraph convert` writes)",
        demo_help="the tiny demo model (built once, no download), on generated worksheets "
        "when no paths are given (labels are NOT meaningful)",
    )
    parser.add_argument(
        "--no-label",
        action="store_true",
        help="browse and review stored results only; do not load a model",
    )
    add_input_arguments(parser)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--pages", default=None, help="PDF pages to show, e.g. 1-3")
    parser.add_argument(
        "--image",
        choices=("auto", "kitty", "sixel", "halfcell", "none"),
        default="auto",
        help="how to draw pages: detect the terminal's best (default), Kitty graphics, Sixel, "
        "Unicode half-blocks, or none",
    )
    add_server_arguments(parser)


def main(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _without_terminal(args)
    ctx = Context(args)
    paths = list(args.paths)
    if args.demo and not paths:
        from mlx_edugraph.tinymodel.demo import demo_worksheets

        paths = [demo_worksheets()]
    if not paths:
        raise UserError("give worksheet files or folders (or --demo)")
    missing = [path for path in paths if not path.exists()]
    if missing:
        raise UserError(f"no such file or folder: {', '.join(map(str, missing))}")
    choose = None if args.no_label else _chooser(ctx)

    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings
    from mlx_edugraph.tui.preview import image_widget_class

    image_widget_class(args.image)  # detection asks the terminal: before the app takes it
    settings = Settings(
        db=ctx.db,
        choose=choose,
        ontology_file=args.ontology,
        ontology_version=args.ontology_version,
        demo=args.demo,
        max_pixels=args.max_pixels,
        max_tokens=args.max_tokens,
    )
    app = ReviewApp(
        paths, settings, image_mode=args.image, demo=args.demo, pages=parse_pages(args.pages)
    )
    app.run()
    _let_the_model_stop(app.labeler)
    return ExitCode.OK


MODEL_STOP_WAIT_S = 30.0
"""After the app closed, how long to wait for the model thread to stop."""


def _let_the_model_stop(labeler: Labeler) -> None:
    """The closing app asked the model thread to stop; the process must not exit while MLX
    computes there (the exit aborts). A token or a teaching step ends within a second, but a
    page's prefill or a model's load runs to its end: say why the terminal waits."""
    if not labeler.stop():
        say("mlx-edugraph tui: waiting for the model to finish its current step ...")
        labeler.stop(wait=MODEL_STOP_WAIT_S)


def _chooser(ctx: Context) -> Callable[[Callable[[str], None], StopCheck], ModelChoice]:
    """How the app's labeler thread gets the model. A local folder is resolved now, so that a
    missing model is said before the app opens; the demo model (which may build first, stopping
    when the app quits) and servers (which are asked) are resolved on that thread, their lines
    in the status bar."""
    args = ctx.args
    if args.demo or args.server:
        return lambda say, stop: ctx.model(log=say, stop=stop)
    try:
        choice = ctx.model()
    except UserError as exc:
        raise UserError(f"{exc} (or browse stored results with --no-label)") from None
    return lambda say, stop: choice


def _without_terminal(args: argparse.Namespace) -> int:
    """No terminal to draw on (a pipe, CI): label without the review UI, like `label`."""
    from mlx_edugraph.commands import label

    if args.no_label:
        raise UserError(
            "mlx-edugraph tui --no-label only browses stored results, which needs a terminal "
            "(standard input and output are not one here); run it in a terminal, or use "
            "`mlx-edugraph export` to read stored results"
        )
    say(
        "mlx-edugraph tui: not a terminal; labeling without the review UI "
        "(run it in a terminal to review)"
    )
    parser = argparse.ArgumentParser()
    label.configure_parser(parser)
    label_args = parser.parse_args([])
    shared = ("paths", "model", "demo", "db", "ontology", "ontology_version", "max_pixels")
    remote = ("server", "model_name", "system_prompt", "prompt_from", "in_flight", "timeout")
    for name in (*shared, *remote, "max_tokens", "pages", "retries", "verbose"):
        setattr(label_args, name, getattr(args, name))
    return label.main(label_args)
