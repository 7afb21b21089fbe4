"""`mlx-edugraph import-reviews FILE`: Label Studio annotations into the store as reviews."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlx_edugraph.commands.context import Context, add_demo_argument, add_store_arguments
from mlx_edugraph.errors import ExitCode, UserError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a Label Studio project's JSON export")
    add_store_arguments(parser)
    add_demo_argument(parser, "the demo's ontology: for a store the demo model labeled")
    parser.add_argument(
        "--image-root",
        type=Path,
        help="Label Studio's document root, to match tasks by their local-files image path "
        "(tasks from `mlx-edugraph export` match by the SHA-256 in their meta)",
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.labelstudio.annotations import MalformedExport, read_export
    from mlx_edugraph.labelstudio.reviews_in import describe, import_annotations

    ctx = Context(args)
    with ctx.store(existing=True, first="label the worksheets") as store:
        if not args.file.is_file():
            raise UserError(f"no file at {args.file}")
        try:
            contents = read_export(args.file)
        except MalformedExport as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            raise UserError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        ontology = ctx.ontology(unverified="; terms are taken unchecked")
        report = import_annotations(contents, store, ontology, image_root=args.image_root)
    print(describe(report, contents, str(args.file)))
    return ExitCode.OK
