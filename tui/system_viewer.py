"""Open a page's file in the system viewer (small print is lost in half-blocks)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def opener() -> str:
    """The platform's command that opens a file in its default application."""
    return "open" if sys.platform == "darwin" else "xdg-open"


def open_in_viewer(path: Path) -> str | None:
    """Start the platform's opener on `path` without waiting; one line saying why when it
    cannot (no opener here, or it would not start)."""
    command = opener()
    found = shutil.which(command)
    if found is None:
        return f"cannot open the page: no `{command}` on this system ({path.name})"
    try:
        subprocess.Popen(
            [found, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a viewer left open outlives the app
        )
    except OSError as exc:
        return f"cannot open the page: `{command}` did not start ({exc.strerror or exc})"
    return None
