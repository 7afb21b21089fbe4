"""`mlx-edugraph tui`: review worksheets beside their labels; label the rest in the background."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlx_edugraph.commands.input_options import add_input_arguments
from mlx_edugraph.commands.label import parse_pages
from mlx_edugraph.commands.server_options import add_server_arguments, prompt_source, remote_options


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="worksheet files (images, PDFs) or folders"
    )
    parser.add_argument(
        "--model",
        help="MLX model folder or Hugging Face repo id "
        "(default: the model `mlx-edugraph convert` writes)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="the tiny demo model (built once, no download), on generated worksheets "
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
    from mlx_edugraph.model.location import ModelNotFound, resolve_model
    from mlx_edugraph.paths import data_dir

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _without_terminal(args)
    paths = list(args.paths)
    prepare = None
    model: str | None = None
    if args.demo:
        from mlx_edugraph.tinymodel import demo_model
        from mlx_edugraph.tinymodel.demo import demo_worksheets

        paths = paths or [demo_worksheets()]
        prepare = _demo_builder(demo_model)
    elif not args.no_label and not args.server:
        try:
            model = resolve_model(args.model)
        except ModelNotFound as exc:
            print(f"error: {exc} (or browse stored results with --no-label)", file=sys.stderr)
            return 2
    if not paths:
        print("error: give worksheet files or folders (or --demo)", file=sys.stderr)
        return 2
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2

    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings
    from mlx_edugraph.tui.preview import image_widget_class

    image_widget_class(args.image)  # detection asks the terminal: before the app takes it
    settings = Settings(
        model=model,
        db=args.db or data_dir() / "labels.sqlite",
        ontology_file=args.ontology,
        ontology_version=args.ontology_version,
        max_pixels=args.max_pixels,
        max_tokens=args.max_tokens,
        prepare=prepare,
        servers=None if args.no_label else args.server,
        remote=remote_options(args),
        prompt=prompt_source(args),
    )
    app = ReviewApp(
        paths, settings, image_mode=args.image, demo=args.demo, pages=parse_pages(args.pages)
    )
    app.run()
    return 0


def _demo_builder(demo_model):
    def prepare(say) -> str:
        return str(demo_model(log=say))

    return prepare


def _without_terminal(args: argparse.Namespace) -> int:
    """No terminal to draw on (a pipe, CI): label without the review UI, like `label`."""
    from mlx_edugraph.commands import label

    if args.no_label:
        print(
            "error: mlx-edugraph tui --no-label only browses stored results, which needs a "
            "terminal (standard input and output are not one here); run it in a terminal, or "
            "use `mlx-edugraph export` to read stored results",
            file=sys.stderr,
        )
        return 2
    print(
        "mlx-edugraph tui: not a terminal; labeling without the review UI "
        "(run it in a terminal to review)",
        file=sys.stderr,
    )
    parser = argparse.ArgumentParser()
    label.configure_parser(parser)
    label_args = parser.parse_args([])
    shared = ("paths", "model", "demo", "db", "ontology", "ontology_version", "max_pixels")
    remote = ("server", "model_name", "system_prompt", "prompt_from", "in_flight", "timeout")
    for name in (*shared, *remote, "max_tokens", "pages", "retries"):
        setattr(label_args, name, getattr(args, name))
    return label.main(label_args)
