"""The store, ontology and resolution options shared by `label`, `tui` and `eval`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS


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
