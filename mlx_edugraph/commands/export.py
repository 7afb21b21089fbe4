"""`mlx-edugraph export`: the store's labels, reviewed where a person settled them."""

from __future__ import annotations

import argparse
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

SUFFIXES = {".jsonl": "jsonl", ".csv": "csv", ".json": "labelstudio"}
"""The export's suffixes and their formats."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, nargs="?", help="file to write (.jsonl, .csv, or .json)")
    parser.add_argument(
        "--vectors",
        type=Path,
        metavar="FILE",
        help="instead: each page's competence vector, FILE.npy (with a FILE.json index) or "
        "FILE.parquet (needs pyarrow): docs/related.md",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", "labelstudio"),
        help="default: from the suffix (.csv: CSV, .json: Label Studio tasks, else JSONL)",
    )
    add_store_arguments(parser)
    parser.add_argument(
        "--model",
        type=Path,
        help="export this model folder's predictions (default: each page's newest prediction)",
    )
    add_demo_argument(parser, "the demo's ontology: for a store the demo model labeled")
    parser.add_argument(
        "--reviewed-only", action="store_true", help="only pages a person accepted or corrected"
    )
    studio = parser.add_argument_group("Label Studio (.json)")
    studio.add_argument(
        "--image-root",
        type=Path,
        help="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (default: the folder above "
        "the images' common folder); images link to its /data/local-files/ URLs",
    )
    studio.add_argument(
        "--image-url-prefix",
        metavar="URL",
        help="link images as URL + their path under --image-root (default root: the images' "
        "common folder), for files served elsewhere",
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.export_reviewed import export_reviewed, reviewed_pages

    ctx = Context(args)
    if (args.out is None) == (args.vectors is None):
        raise UserError("give a file to write: OUT for labels, or --vectors FILE (not both)")
    if args.vectors is not None:
        return _vectors(ctx)
    fmt = output_format(args.out, args.format, SUFFIXES, "jsonl")
    output_folder(args.out)
    with ctx.store(labeled=True) as store:
        # The folder's version in use (`mlx-edugraph versions`), as `label` would run it.
        fingerprint = ctx.model(str(args.model)).fingerprint if args.model else None
        pages = list(reviewed_pages(store, fingerprint))
    if args.reviewed_only:
        pages = [page for page in pages if page.review is not None and page.review.is_truth]
    if fmt == "labelstudio":
        return _label_studio(ctx, pages)
    try:
        count = export_reviewed(pages, args.out, fmt)
    except OSError as exc:
        raise UserError(
            f"cannot write {args.out}: {exc}; any earlier file there is intact", ExitCode.INCOMPLETE
        ) from None
    reviewed = sum(1 for page in pages if page.review is not None and page.review.is_truth)
    say(f"wrote {count} page(s) to {args.out} ({reviewed} reviewed)")
    return ExitCode.OK


def _vectors(ctx: Context) -> int:
    from mlx_edugraph.store.competence_index import CompetenceIndex
    from mlx_edugraph.store.export_vectors import (
        VECTOR_SUFFIXES,
        ParquetUnavailable,
        export_vectors,
    )

    out = ctx.args.vectors
    if out.suffix.lower() not in VECTOR_SUFFIXES:
        raise UserError(f"{out}: name it .npy (with a .json index beside it) or .parquet")
    output_folder(out)
    with ctx.store(labeled=True) as store:
        ontology = ctx.ontology(unverified="; each term is a column of its own, no ancestors")
        index = CompetenceIndex.load(store, ontology)
    try:
        count = export_vectors(index, out)
    except ParquetUnavailable:
        raise UserError(
            f"{out}: Parquet needs pyarrow (pip install pyarrow); or name it .npy"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}", ExitCode.INCOMPLETE) from None
    index_file = "" if out.suffix.lower() == ".parquet" else f" (index: {out.with_suffix('.json')})"
    say(f"wrote {count} page vector(s) of {index.matrix.shape[1]} columns to {out}{index_file}")
    return ExitCode.OK


def _label_studio(ctx: Context, pages: list) -> int:
    from mlx_edugraph.labelstudio.export import export_label_studio, serving_advice
    from mlx_edugraph.labelstudio.images import ImageLinkError

    args = ctx.args
    errors = [page for page in pages if page.prediction.outcome == "error"]
    if errors:  # a file that could not be read has nothing to show or label in Label Studio
        say(f"left out {len(errors)} page(s) whose file could not be read (error records)")
        pages = [page for page in pages if page.prediction.outcome != "error"]
    ontology = ctx.ontology(unverified="; the labeling config lists only the exported terms, flat")
    try:
        export = export_label_studio(
            pages, args.out, ontology, image_root=args.image_root, url_prefix=args.image_url_prefix
        )
    except ImageLinkError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc}", ExitCode.INCOMPLETE) from None
    links = export.links
    for problem in links.missing[:10]:
        say(f"warning: no image for {problem}")
    if len(links.missing) > 10:
        say(f"warning: ... and {len(links.missing) - 10} more without an image")
    rendered = f", {len(links.rendered)} page(s) rendered to PNG" if links.rendered else ""
    say(
        f"wrote {export.count} task(s) to {export.tasks} and the labeling config to "
        f"{export.config}{rendered}"
    )
    say(serving_advice(export))
    return ExitCode.OK
