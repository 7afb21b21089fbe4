"""Open a page's file in the system viewer (small print is lost in half-blocks)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def open_in_viewer(path: Path) -> str | None:
    """Start the platform's opener on `path` without waiting; the reason when there is none."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(opener) is None:
        return f"cannot open {path}: no `{opener}` here"
    subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None
