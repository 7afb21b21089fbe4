"""Run `mlx-edugraph` as a user does: a subprocess with a user folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlx_edugraph.tinymodel.template import TEMPLATE_ENV_VAR
from tests.models import REAL_TEMPLATE

COMMAND = (sys.executable, "-m", "mlx_edugraph")


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a run with `home` as its user folder."""
    env = {**os.environ, "MLX_EDUGRAPH_HOME": str(home)}
    if REAL_TEMPLATE is not None:  # the demo's cache entry name hashes the template
        env[TEMPLATE_ENV_VAR] = str(REAL_TEMPLATE)
    return env


def cli(*args: str | Path, home: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run one command to its end; its exit code, stdout and stderr."""
    return subprocess.run(
        [*COMMAND, *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=timeout,
    )
