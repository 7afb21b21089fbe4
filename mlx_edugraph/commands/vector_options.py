"""What `similar`, `duplicates` and `embed` share: the model whose vectors count, page names."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlx_edugraph.commands.context import Context, add_demo_argument, add_store_arguments
from mlx_edugraph.errors import UserError

if TYPE_CHECKING:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.store.similar_pages import Neighbour
    from mlx_edugraph.store.sqlite_store import Store


def add_vector_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --demo and the store options."""
    parser.add_argument(
        "--model",
        help="MLX model folder whose vectors are compared (default: the converted model if "
        "there is one, else the model of the store's newest vectors)",
    )
    add_store_arguments(parser)
    add_demo_argument(parser, "the tiny demo model's vectors (built once, no download)")


def vector_model(ctx: Context, *, required: bool) -> ModelChoice | None:
    """The local model (its current tuned version) of --model or the default folder; None
    when none is installed and none was asked for, unless `required`."""
    if required or ctx.args.model is not None or ctx.args.demo:
        return ctx.model()
    try:
        return ctx.model()
    except UserError:
        return None


def page_name(store: Store, page: tuple[str, int]) -> str:
    """A stored page as a person knows it: its first path, and the page number of a PDF."""
    paths = store.paths_of(*page)
    path = paths[0] if paths else page[0]
    return f"{path} p{page[1]}" if page[1] else path


def neighbour_record(store: Store, neighbour: Neighbour) -> dict:
    """One page of `similar` or `duplicates` for --json."""
    key, number = neighbour.page
    paths = store.paths_of(key, number)
    return {
        "path": paths[0] if paths else None,
        "page": number,
        "sha256": key,
        "similarity": round(neighbour.similarity, 6),
    }
