"""`mlx-edugraph before`: the stored pages that practise what a page's competences build on
(`next` the other way round)."""

from __future__ import annotations

import argparse

from mlx_edugraph.commands.competence_options import add_competence_arguments, run


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_competence_arguments(parser, terms=False)


def main(args: argparse.Namespace) -> int:
    return run(
        args,
        "before",
        lambda index, labels, skip: index.steps(labels, args.k, after=False, skip=skip),
    )
