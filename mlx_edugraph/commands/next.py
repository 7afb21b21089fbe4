"""`mlx-edugraph next`: the stored pages that practise what builds on a page's competences
(the ontology's `expands` links, its part-of hierarchy, the next Scope), each step explained."""

from __future__ import annotations

import argparse

from mlx_edugraph.commands.competence_options import add_competence_arguments, run


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_competence_arguments(parser, terms=False)


def main(args: argparse.Namespace) -> int:
    return run(
        args, "next", lambda index, labels, skip: index.steps(labels, args.k, after=True, skip=skip)
    )
