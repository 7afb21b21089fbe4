"""Which model a command uses: `--demo`, `--model`, or the converted default, and its version."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def base_model(
    args: argparse.Namespace, *, log_demo: bool = True, local: bool = True
) -> str | None:
    """The base model of `--demo` / `--model` / the default (a local folder unless `local` is
    False: then a Hugging Face repo id too); None after printing why there is none."""
    from mlx_edugraph.model.location import ModelNotFound, resolve_model

    if getattr(args, "demo", False):
        from mlx_edugraph.tinymodel import demo_model

        say = (lambda line: print(f"demo: {line}", file=sys.stderr)) if log_demo else None
        return str(demo_model(log=say))
    try:
        model = resolve_model(args.model)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if local and not Path(model).is_dir():
        print(
            f"error: {model} is not a local model folder; versions are kept for local "
            "folders only: convert it first (`mlx-edugraph convert`)",
            file=sys.stderr,
        )
        return None
    return model
