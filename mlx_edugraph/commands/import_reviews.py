"""`mlx-edugraph import-reviews FILE`: Label Studio annotations into the store as reviews."""

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
    parser.add_argument("file", type=Path, help="a Label Studio project's JSON export")
    add_store_arguments(parser)
    parser.add_argument(
        "--image-root",
        type=Path,
        help="Label Studio's document root, to match tasks by their local-files image path "
        "(tasks from `mlx-edugraph export` match by the SHA-256 in their meta)",
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.labelstudio.annotations import MalformedExport, read_export
    from mlx_edugraph.labelstudio.reviews_in import describe, import_annotations
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    try:
        db = existing_store(args, first="label the worksheets")
        if not args.file.is_file():
            raise Refused(f"no file at {args.file}")
        contents = read_export(args.file)
        ontology = command_ontology(args, unverified="; terms are taken unchecked")
        with Store(db) as store:
            report = import_annotations(contents, store, ontology, image_root=args.image_root)
    except (Refused, MalformedExport, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(describe(report, contents, str(args.file)))
    return 0
