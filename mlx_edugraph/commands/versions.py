"""`mlx-edugraph versions`: list a model's tuned versions and switch between them."""

from __future__ import annotations

import argparse

from mlx_edugraph.commands.context import Context, add_model_arguments, demo_hint, say
from mlx_edugraph.errors import ExitCode, UserError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(
        parser,
        model_help="the base MLX model folder (default: the model `mlx-edugraph convert` writes)",
        demo_help="the tiny demo model's versions",
    )
    parser.add_argument(
        "--use",
        metavar="VERSION",
        help='make VERSION ("base", "v1", ...) the model `label` and `tui` use',
    )


def main(args: argparse.Namespace) -> int:
    from mlx_edugraph.model import versions

    base = Context(args).model().path
    if args.use:
        try:
            versions.use_version(base, args.use)
        except versions.VersionError as exc:
            raise UserError(str(exc)) from None
        say(f"{args.use} is now the model `label` and `tui` use")
        say(f"relabel what other versions labeled: `{demo_hint(args, 'label')} --redo-older`")
    for line in version_lines(base):
        print(line)
    return ExitCode.OK


def version_lines(base: str) -> list[str]:
    """A table: name, date, pages learned from, held-out F1 before -> after, state."""
    from mlx_edugraph.model import versions

    current = versions.current_name(base)
    lines = [
        f"versions of {base}",
        f"  {'':2}{'version':<9}{'created':<27}{'pages':>6}  {'held-out F1':<17}state",
        f"  {'*' if current == versions.BASE else '':2}{versions.BASE:<9}"
        f"{'(the converted model)':<27}{'':>6}  {'':<17}",
    ]
    for version in versions.list_versions(base):
        record = version.record
        scores = record["scores"]
        f1 = f"{scores['before']['f1']:.3f} -> {scores['after']['f1']:.3f}"
        state = "promoted" if version.promoted else "kept aside"
        lines.append(
            f"  {'*' if current == version.name else '':2}{version.name:<9}"
            f"{record['created_at']:<27}{len(record['training_pages']):>6}  {f1:<17}"
            f"{state} (vs {record['measured_against']['version']})"
        )
    lines.append("(* = in use; held-out F1 of the model in use then -> the tuned one)")
    return lines
