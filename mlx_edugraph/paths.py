"""Where mlx-edugraph keeps user files, and how it writes them without leaving half files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "mlx-edugraph"
HOME_ENV_VAR = "MLX_EDUGRAPH_HOME"
"""Set to a folder to keep data and cache under it (tests point it at a temp folder)."""


def _user_dir(kind: str) -> Path:
    home = os.environ.get(HOME_ENV_VAR)
    if home:
        path = Path(home).expanduser() / kind
    elif kind == "data":
        path = Path(platformdirs.user_data_dir(APP_NAME))
    else:
        path = Path(platformdirs.user_cache_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Folder for files the user would miss if deleted (the label store)."""
    return _user_dir("data")


def cache_dir() -> Path:
    """Folder for files that can be rebuilt or downloaded again."""
    return _user_dir("cache")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
