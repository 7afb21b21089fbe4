"""`mlx-edugraph embed`: make the local model's vectors of stored pages that have none.

Pages labeled through `--server` have no vectors (servers return no hidden states); this runs
the local model's prefill alone on each, without decoding, and stores the vector.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.commands.context import Context, say
from mlx_edugraph.commands.vector_options import add_vector_arguments, vector_model
from mlx_edugraph.errors import ExitCode

if TYPE_CHECKING:
    from mlx_edugraph.model.choice import ModelChoice


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    add_vector_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.collection import pages

    ctx = Context(args)
    with ctx.store(labeled=True) as store:
        choice = vector_model(ctx, required=True)
        have = set(store.vectors(choice.fingerprint)[0])
        todo = [p for p in pages(store, args.paths) if (p.key, p.page) not in have]
        if not todo:
            print(f"every stored page has a vector from {choice.label}: nothing to do")
            return ExitCode.OK
        say(f"embedding {len(todo)} page(s) with {choice.label} ...")
        done, skipped = _embed(store, todo, choice)
    print(f"{done} page(s) embedded" + (f", {skipped} skipped" if skipped else ""))
    return ExitCode.OK


def _embed(store, todo: list, choice: ModelChoice) -> tuple[int, int]:
    """Embed each page from its file (each vector stored at once); pages whose file is gone,
    unreadable or changed since labeling are skipped with a warning."""
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.worksheets import WorksheetRef, file_sha256, load

    engine = MlxEngine(choice, ontology=None, constrain=False)
    done = skipped = 0
    for page in todo:
        try:
            ref = WorksheetRef(Path(page.path), page.page)
            if file_sha256(ref.path) != page.key:
                raise ValueError("the file changed since it was labeled")
            vector = engine.embed(load(ref, max_pixels=engine.max_pixels, sha256=page.key))
        except Exception as exc:  # one bad file must not stop the rest
            say(f"warning: skipped {page.label}: {exc}")
            skipped += 1
            continue
        store.put_vectors(choice.fingerprint, [(page.key, page.page, vector)])
        done += 1
    return done, skipped
