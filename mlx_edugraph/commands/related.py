"""`mlx-edugraph related`: the stored pages that practise what a page (or given terms)
practises, closest competences first, each with what it shares (docs/related.md)."""

from __future__ import annotations

import argparse

from mlx_edugraph.commands.competence_options import add_competence_arguments, run


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_competence_arguments(parser, terms=True)


def main(args: argparse.Namespace) -> int:
    return run(args, "related", lambda index, labels, skip: index.related(labels, args.k, skip))
