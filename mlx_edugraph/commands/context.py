"""What commands share: the options naming the store, the ontology and the model, spelled alike
everywhere, and a `Context` that resolves each of them once per command.

Every problem a user can fix comes out as a `UserError` (`cli.main` prints it and exits with its
code), so command mains read as orchestration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.commands.server_options import remote_options
from mlx_edugraph.errors import UserError
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from mlx_edugraph.labels.ontology import Ontology
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.engine import Engine
    from mlx_edugraph.stopping import StopCheck
    from mlx_edugraph.store.sqlite_store import Store


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--db, --ontology, --ontology-version and --verbose."""
    parser.add_argument("--db", type=Path, help="results store (default: in the user data folder)")
    parser.add_argument("--ontology", type=Path, help="EduGraph ontology file (TTL or RDF/XML)")
    parser.add_argument(
        "--ontology-version",
        default=None,
        help="EduGraph release to download when no file is given (default v0.4.0)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="say in full why no ontology is at hand"
    )


def add_term_arguments(parser: argparse.ArgumentParser, help: str) -> None:
    """--area, --scope and --ability TERM, each repeatable; `help` names {dimension}."""
    from mlx_edugraph.prediction import DIMENSIONS

    for dimension in DIMENSIONS:
        parser.add_argument(
            f"--{dimension.lower()}",
            action="append",
            default=[],
            metavar="TERM",
            help=help.format(dimension=dimension),
        )


def add_demo_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """--demo for commands without a model of their own: the demo's ontology (and model)."""
    parser.add_argument("--demo", action="store_true", help=help)


def demo_hint(args: argparse.Namespace, command: str) -> str:
    """`mlx-edugraph <command>`, with --demo when the demo is in use: a hint that runs."""
    return f"mlx-edugraph {command}" + (" --demo" if getattr(args, "demo", False) else "")


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


def add_model_arguments(parser: argparse.ArgumentParser, *, model_help: str, demo_help: str):
    """--model and --demo."""
    parser.add_argument("--model", help=model_help)
    parser.add_argument("--demo", action="store_true", help=demo_help)


def default_store() -> Path:
    """The store every command uses without --db."""
    from mlx_edugraph.paths import data_dir

    return data_dir() / "labels.sqlite"


def say(line: str) -> None:
    """A line for the person at the terminal (stderr: stdout is for results)."""
    print(line, file=sys.stderr, flush=True)


class Context:
    """One command's store, ontology and model, each resolved once from its options."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._ontology: tuple[Ontology | None] | None = None

    @property
    def db(self) -> Path:
        return self.args.db or default_store()

    def store(
        self, *, existing: bool = False, labeled: bool = False, first: str = "label some worksheets"
    ) -> Store:
        """The store, opened; with `existing`, one that must already be there (commands that
        only read create none); with `labeled`, one that holds labeled pages too."""
        from mlx_edugraph.store.sqlite_store import Store, StoreError

        if (existing or labeled) and not self.db.is_file():
            raise UserError(f"no store at {self.db}: {first} first")
        try:
            store = Store(self.db)
        except StoreError as exc:
            raise UserError(str(exc)) from None
        if labeled and store.is_empty():
            store.close()
            raise UserError(
                f"the store {self.db} has no labeled pages yet: run "
                f"`{demo_hint(self.args, 'label')}` (or `tui`) on your worksheets first"
            )
        return store

    def ontology(self, *, unverified: str = "") -> Ontology | None:
        """The ontology of --ontology / --ontology-version, else the cached release, else the
        demo's own (--demo), else the downloaded release; without one, a warning (plus
        `unverified`: what that means for this command) and None. A given file that cannot be
        used is a `UserError`."""
        if self._ontology is None:
            from mlx_edugraph.labels.ontology import OntologyError
            from mlx_edugraph.labels.ontology_source import resolve_ontology

            try:
                resolution = resolve_ontology(
                    self.args.ontology,
                    version=getattr(self.args, "ontology_version", None),
                    demo=getattr(self.args, "demo", False),
                )
            except OntologyError as exc:
                raise UserError(str(exc)) from None
            if resolution.summary and not getattr(self.args, "verbose", False):
                say(f"warning: {resolution.summary}{unverified} (--verbose: why)")
            elif resolution.warning:
                say(f"warning: {resolution.warning}{unverified}")
            self._ontology = (resolution.ontology,)
        return self._ontology[0]

    @cached_property
    def prompt(self):
        """The `--prompt-from` source read (`PromptOverride`), or None."""
        from mlx_edugraph.model.prompt import PromptSourceError, read_prompt

        source = getattr(self.args, "prompt_from", None)
        if not source:
            return None
        try:
            return read_prompt(source)
        except PromptSourceError as exc:
            raise UserError(str(exc)) from None

    def model(
        self,
        value: str | None = None,
        *,
        version: str | None = None,
        with_prompt: bool = True,
        log: Callable[[str], None] | None = None,
        stop: StopCheck | None = None,
    ) -> ModelChoice:
        """The model of --server / --demo / --model (or `value`) / the converted default, in
        its version in use (or `version`), with --prompt-from unless not `with_prompt`; `log`
        hears the demo build, which `stop` can stop (`Stopped`)."""
        from mlx_edugraph.model.choice import resolve_choice
        from mlx_edugraph.model.location import ModelNotFound
        from mlx_edugraph.model.versions import VersionError

        args = self.args
        servers = getattr(args, "server", None)
        demo = getattr(args, "demo", False) and not servers
        log = log or (lambda line: say(f"demo: {line}"))
        try:
            if demo and value is None:  # a model named by value (--compare A B) stays
                from mlx_edugraph.tinymodel import demo_model

                value = str(demo_model(log=log, stop=stop))
            return resolve_choice(
                value or getattr(args, "model", None),
                demo=demo,
                servers=servers,
                remote=remote_options(args) if servers else None,
                prompt=self.prompt if with_prompt else None,
                version=version,
                log=log,
            )
        except (ModelNotFound, VersionError) as exc:
            raise UserError(str(exc)) from None

    def engine(self, choice: ModelChoice, *, constrain: bool = True) -> Engine:
        """The engine of `choice`, loaded; a model or servers that cannot be used are a
        `UserError` naming which."""
        from mlx_edugraph.labeling.engine_choice import make_engine

        say(f"loading {choice.source} ...")
        try:
            return make_engine(
                choice,
                ontology=self.ontology(),
                max_pixels=self.args.max_pixels,
                max_tokens=getattr(self.args, "max_tokens", None),
                constrain=constrain,
            )
        except Exception as exc:  # a broken folder, an unreachable server: say which
            raise UserError(f"cannot load {choice.source}: {type(exc).__name__}: {exc}") from None


def positive(args: argparse.Namespace, *names: str) -> None:
    """Refuse a count option below 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")


def existing_paths(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """The given paths that exist, and those that do not (each said as an error line)."""
    missing = [path for path in paths if not path.exists()]
    for path in missing:
        say(f"error: no such file or folder: {path}")
    return [path for path in paths if path.exists()], missing


def output_format(path: Path, fmt: str | None, suffixes: dict[str, str], default: str) -> str:
    """The format to write `path` in: --format, else its suffix's (none: `default`); a suffix
    of no format is refused, naming the formats, rather than written as another format."""
    if fmt:
        return fmt
    suffix = path.suffix.lower()
    if not suffix:
        return default
    if suffix not in suffixes:
        known = ", ".join(f"{s} ({f})" for s, f in suffixes.items())
        raise UserError(
            f"{path}: no format writes {suffix} files; name it {known}, or give --format"
        )
    return suffixes[suffix]


def output_folder(path: Path) -> None:
    """Refuse an output in a folder that does not exist: making it would hide a typo (and as
    root, make folders anywhere). Checked before any work, so nothing is made or lost."""
    folder = path.absolute().parent
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: no folder {folder} (create it first)")


def demo_truth(ctx: Context) -> Path | None:
    """With --demo and no --truth: the demo's truth file when the store holds no accepted or
    corrected reviews (said so), so `tune --demo` and `eval --demo` run before any review."""
    args = ctx.args
    if not getattr(args, "demo", False) or args.truth is not None:
        return None
    if ctx.db.is_file():
        with ctx.store() as store:
            if any(review.is_truth for review in store.reviews()):
                return None
    from mlx_edugraph.tinymodel.demo import demo_truth as truth_file

    truth = truth_file()
    say(f"demo: no reviews in the store yet; using the demo's truth file {truth}")
    return truth
