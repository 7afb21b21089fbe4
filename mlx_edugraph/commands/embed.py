"""`mlx-edugraph embed`: make the local model's vectors of stored pages that have none.

Pages labeled through `--server` have no vectors (servers return no hidden states); this runs
the local model's prefill alone on each, without decoding, and stores the vector.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlx_edugraph.commands.input_options import Refused, existing_store
from mlx_edugraph.commands.vector_options import add_vector_arguments, fingerprint, local_model


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="only pages under these folders or files"
    )
    add_vector_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.store.collection import pages
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    try:
        db = existing_store(args)
        choice = local_model(args, required=True)
        model = fingerprint(choice)
        with Store(db) as store:
            if store.is_empty():
                raise Refused(f"the store {db} has no labeled pages yet: label some first")
            have = set(store.vectors(model)[0])
            todo = [p for p in pages(store, args.paths) if (p.key, p.page) not in have]
            if not todo:
                print(f"every stored page has a vector from {choice.label}: nothing to do")
                return 0
            print(f"embedding {len(todo)} page(s) with {choice.label} ...", file=sys.stderr)
            done, skipped = _embed(store, todo, choice, model)
    except (Refused, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{done} page(s) embedded" + (f", {skipped} skipped" if skipped else ""))
    return 0


def _embed(store, todo: list, choice, model: str) -> tuple[int, int]:
    """Embed each page from its file (each vector stored at once); pages whose file is gone,
    unreadable or changed since labeling are skipped with a warning."""
    from mlx_edugraph.model.mlx_engine import Engine
    from mlx_edugraph.pages.worksheets import WorksheetRef, file_sha256, load

    engine = Engine(choice.path, adapter=choice.adapter, ontology=None, constrain=False)
    done = skipped = 0
    for page in todo:
        try:
            ref = WorksheetRef(Path(page.path), page.page)
            if file_sha256(ref.path) != page.key:
                raise ValueError("the file changed since it was labeled")
            vector = engine.embed(load(ref, max_pixels=engine.max_pixels, sha256=page.key))
        except Exception as exc:  # one bad file must not stop the rest
            print(f"warning: skipped {page.label}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        store.put_vectors(model, [(page.key, page.page, vector)])
        done += 1
    return done, skipped
