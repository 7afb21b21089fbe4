"""The store, ontology and resolution options shared by `label`, `tui` and `eval`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from mlx_edugraph.labels.ontology import Ontology


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--db, --ontology and --ontology-version, spelled alike everywhere."""
    parser.add_argument("--db", type=Path, help="results store (default: in the user data folder)")
    parser.add_argument("--ontology", type=Path, help="EduGraph ontology file (TTL or RDF/XML)")
    parser.add_argument(
        "--ontology-version",
        default=None,
        help="EduGraph release to download when no file is given (default v0.4.0)",
    )


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The store and ontology options, and --max-pixels."""
    add_store_arguments(parser)
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"resolution cap per page (default {DEFAULT_MAX_PIXELS:,}, ~1 MP: "
        "about the size of the training pages)",
    )


class Refused(Exception):
    """A command cannot start; the message says why (the command exits 2)."""


def command_ontology(args: argparse.Namespace, *, unverified: str = "") -> Ontology | None:
    """The ontology of --ontology / --ontology-version, else the cached or downloaded release;
    without one, a warning (plus `unverified`: what that means for this command) and None.
    `Refused` when a given file cannot be used."""
    from mlx_edugraph.labels.ontology import OntologyError
    from mlx_edugraph.labels.ontology_source import resolve_ontology

    try:
        resolution = resolve_ontology(args.ontology, version=args.ontology_version)
    except OntologyError as exc:
        raise Refused(str(exc)) from None
    if resolution.warning:
        print(f"warning: {resolution.warning}{unverified}", file=sys.stderr)
    return resolution.ontology


def existing_store(args: argparse.Namespace, *, first: str = "label some worksheets") -> Path:
    """The --db file (or the default one), which must exist: reading commands create none."""
    from mlx_edugraph.paths import data_dir

    db = args.db or data_dir() / "labels.sqlite"
    if not db.is_file():
        raise Refused(f"no store at {db}: {first} first")
    return db
