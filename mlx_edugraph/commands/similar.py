"""`mlx-edugraph similar`: the stored pages nearest to one page or image (cosine of vectors)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlx_edugraph.commands.context import Context, demo_hint, say
from mlx_edugraph.commands.vector_options import (
    add_vector_arguments,
    neighbour_record,
    page_name,
    vector_model,
)
from mlx_edugraph.errors import ExitCode, UserError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a stored page's file, or any worksheet image")
    parser.add_argument("-k", type=int, default=10, help="how many pages (default 10)")
    parser.add_argument("--page", type=int, default=None, help="PDF page number (default 1)")
    parser.add_argument("--json", action="store_true", help="print a JSON list for scripts")
    add_vector_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.similar_pages import DUPLICATE_THRESHOLD

    if args.k < 1:
        raise UserError("-k must be at least 1")
    ctx = Context(args)
    with ctx.store(existing=True) as store:
        neighbours = _nearest(ctx, store)
        if args.json:
            print(json.dumps([neighbour_record(store, n) for n in neighbours], indent=2))
        else:
            for n in neighbours:
                mark = "\tnear-duplicate" if n.similarity >= DUPLICATE_THRESHOLD else ""
                print(f"{n.similarity:.4f}\t{page_name(store, n.page)}{mark}")
    say(f"{len(neighbours)} similar page(s)")
    return ExitCode.OK


def _nearest(ctx: Context, store):
    """The neighbours of the asked page; `UserError` with the reason when there can be none."""
    from mlx_edugraph.pages.worksheets import WorksheetError, file_sha256
    from mlx_edugraph.store.similar_pages import NoVectors, VectorIndex, choose_model

    args = ctx.args
    if not args.path.is_file():
        raise UserError(f"no such file: {args.path}")
    is_pdf = args.path.suffix.lower() == ".pdf"
    number = (args.page or 1) if is_pdf else 0
    try:
        page = (file_sha256(args.path), number)
    except WorksheetError as exc:
        raise UserError(f"cannot read {args.path}: {exc}") from None
    choice = vector_model(ctx, required=False)
    try:
        model = choose_model(store, choice.fingerprint if choice else None)
    except NoVectors as exc:
        raise UserError(str(exc)) from None
    index = VectorIndex.load(store, model)
    vector = index.vector_of(page)
    if vector is None:
        vector = _embed_new(args, page, store, choice, model)
    return index.nearest(vector, args.k, skip=page)


def _embed_new(args, page: tuple[str, int], store, choice, model: str):
    """The vector of a page the store has no vector of, made by the local model."""
    path = args.path
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.worksheets import WorksheetError, WorksheetRef, load

    if store.latest(*page) is not None:
        raise UserError(
            f"{path} is in the store without a vector from model {model} (labeled through "
            f"--server, or by another model version): run `{demo_hint(args, 'embed')} {path}` first"
        )
    if choice is None or choice.fingerprint != model:
        raise UserError(
            f"{path} is not in the store, and embedding it needs the model of the stored "
            f"vectors ({model}) installed locally: give it with --model (or --demo)"
        )
    try:  # read it before loading the model: an unreadable file fails fast
        sheet = load(WorksheetRef(path, page[1]), sha256=page[0])
    except WorksheetError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # a hostile file: say so, like `label` does
        raise UserError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    say(f"{path} is not in the store: embedding it with {choice.label} ...")
    return MlxEngine(choice, ontology=None, constrain=False).embed(sheet)
