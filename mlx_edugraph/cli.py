"""The `mlx-edugraph` command: subcommands, each in its own module, imported only when run.

`mlx-edugraph --help` must stay fast, so nothing here imports MLX.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import ExitCode, UserError

COMMANDS: dict[str, str] = {
    "label": "Label worksheets (images, PDFs, folders) with the EduGraph model.",
    "convert": "Convert the merged EduGraph checkpoint to a verified 4-bit MLX model.",
    "bench": "Time the naive mlx-vlm path against our engine on the same model and worksheets.",
    "tui": "Review worksheets beside their labels in the terminal, labeling in the background.",
    "export": "Export the store's labels (reviewed where a person settled them).",
    "import-reviews": "Take a Label Studio export's annotations into the store as reviews.",
    "serve-labelstudio": "Serve the model to Label Studio as its ML backend (pre-labels, reviews).",
    "eval": "Measure label quality against reviewed labels, or compare two model builds.",
    "tune": "Learn from reviewed pages (LoRA), prove it on held-out pages, version the result.",
    "versions": "List a model's tuned versions and switch between them.",
    "report": "What a collection covers: trees of the ontology with counts, gaps, progress.",
    "find": "Find the pages that practise given competences (a term and what is part of it).",
    "related": "The stored pages that practise what a page (or terms) practises, and why.",
    "next": "The stored pages that practise what builds on a page's competences (expands links).",
    "before": "The stored pages that practise what a page's competences build on.",
    "similar": "The stored pages most like one page or image (the model's own page vectors).",
    "duplicates": "Groups of near-duplicate pages: the same sheet scanned twice, resized, ...",
    "embed": "Make page vectors for stored pages that lack them (labeled through --server).",
}
"""Subcommand name -> one-line help; the module `mlx_edugraph.commands.<name>` implements it
(a `-` in the name is a `_` in the module's)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlx-edugraph",
        description="On-device EduGraph labeling of K-4 math worksheets (MLX).",
    )
    parser.add_argument("--version", action="version", version=f"mlx-edugraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        module = _command_module(name)
        module.configure_parser(sub.add_parser(name, help=summary, description=summary))
    return parser


def _command_module(name: str):
    return importlib.import_module(f"mlx_edugraph.commands.{name.replace('-', '_')}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = _command_module(args.command)
    try:
        return module.main(args) or ExitCode.OK
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\ninterrupted; every finished worksheet is saved", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as a Unix filter does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
