"""`eval`'s options turned into what it runs on: the ontology, the store, the model and its
prompt, an engine, the pages, and the settings a report records. Each problem a user can fix is
a `Failure`, printed as one line."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from mlx_edugraph import __version__
from mlx_edugraph.commands.server_options import remote_options


class Failure(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def ontology_of(args: argparse.Namespace):
    from mlx_edugraph.commands.input_options import Refused, command_ontology

    try:
        ontology = command_ontology(args)
    except Refused as exc:
        raise Failure(str(exc)) from None
    if args.hierarchy and ontology is None:
        raise Failure("--hierarchy needs the ontology (pass --ontology FILE)")
    return ontology


def open_store(args: argparse.Namespace):
    from mlx_edugraph.paths import data_dir
    from mlx_edugraph.store.sqlite_store import Store, StoreError

    try:
        return Store(args.db or data_dir() / "labels.sqlite")
    except StoreError as exc:
        raise Failure(str(exc)) from None


def model_of(value: str | None) -> str:
    from mlx_edugraph.model.location import ModelNotFound, resolve_model

    try:
        return resolve_model(value)
    except ModelNotFound as exc:
        raise Failure(str(exc)) from None


def prompt_of(args: argparse.Namespace):
    from mlx_edugraph.model.prompt import PromptSourceError, read_prompt

    if not args.prompt_from:
        return None
    try:
        return read_prompt(args.prompt_from)
    except PromptSourceError as exc:
        raise Failure(str(exc)) from None


def engine_of(model: str | None, args: argparse.Namespace, ontology, prompt):
    """The engine of `model` in its version in use (see `model.versions`), or of the servers."""
    from mlx_edugraph.labeling.engine_choice import make_engine
    from mlx_edugraph.model.versions import choose

    choice = choose(model) if model is not None else None
    source = f"{len(args.server)} server(s)" if args.server else f"model {choice.label}"
    print(f"loading {source} ...", file=sys.stderr)
    try:
        return make_engine(
            model,
            adapter=choice.adapter if choice else None,
            version=choice.version if choice else "",
            servers=args.server,
            ontology=ontology,
            max_pixels=args.max_pixels,
            max_tokens=args.max_tokens,
            prompt=prompt,
            remote=remote_options(args),
        )
    except Exception as exc:  # a broken folder, an unreachable repo id or server: say which
        raise Failure(f"cannot load {source}: {type(exc).__name__}: {exc}") from None


def pages_of(paths: list[Path]):
    from mlx_edugraph.pages.worksheets import discover

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise Failure(f"no such file or folder: {missing[0]}")
    return list(discover(paths))


def settings_of(args: argparse.Namespace, ontology, **extra: str) -> dict[str, str]:
    return {
        **extra,
        "ontology": ontology.version if ontology else "none (terms unverified)",
        "max pixels": f"{args.max_pixels:,}",
        "mlx-edugraph": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
