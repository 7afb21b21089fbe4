"""`mlx-edugraph export`: the store's labels, reviewed where a person settled them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlx_edugraph.commands.input_options import (
    Refused,
    add_store_arguments,
    command_ontology,
    existing_store,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="file to write (.jsonl, .csv, or .json)")
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
    from mlx_edugraph.model.fingerprint import model_fingerprint
    from mlx_edugraph.model.versions import choose
    from mlx_edugraph.store.export_reviewed import export_reviewed, format_for, reviewed_pages
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    try:
        db = existing_store(args)
        fmt = format_for(args.out, args.format)
        # The folder's version in use (`mlx-edugraph versions`), as `label` would run it.
        fingerprint = (
            model_fingerprint(args.model, choose(args.model).adapter) if args.model else None
        )
        with Store(db) as store:
            pages = list(reviewed_pages(store, fingerprint))
    except (Refused, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.reviewed_only:
        pages = [page for page in pages if page.review is not None and page.review.is_truth]
    try:
        if fmt == "labelstudio":
            return _label_studio(args, pages)
        count = export_reviewed(pages, args.out, fmt)
    except OSError as exc:
        print(
            f"error: cannot write {args.out}: {exc}; any earlier file there is intact",
            file=sys.stderr,
        )
        return 1
    reviewed = sum(1 for page in pages if page.review is not None and page.review.is_truth)
    print(f"wrote {count} page(s) to {args.out} ({reviewed} reviewed)", file=sys.stderr)
    return 0


def _label_studio(args: argparse.Namespace, pages: list) -> int:
    from mlx_edugraph.labelstudio.export import export_label_studio, serving_advice
    from mlx_edugraph.labelstudio.images import ImageLinkError

    try:
        ontology = command_ontology(
            args, unverified="; the labeling config lists only the exported terms, flat"
        )
        export = export_label_studio(
            pages,
            args.out,
            ontology,
            image_root=args.image_root,
            url_prefix=args.image_url_prefix,
        )
    except (Refused, ImageLinkError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    links = export.links
    for problem in links.missing[:10]:
        print(f"warning: no image for {problem}", file=sys.stderr)
    if len(links.missing) > 10:
        print(f"warning: ... and {len(links.missing) - 10} more without an image", file=sys.stderr)
    rendered = f", {len(links.rendered)} page(s) rendered to PNG" if links.rendered else ""
    print(
        f"wrote {export.count} task(s) to {export.tasks} and the labeling config to "
        f"{export.config}{rendered}",
        file=sys.stderr,
    )
    print(serving_advice(export), file=sys.stderr)
    return 0
