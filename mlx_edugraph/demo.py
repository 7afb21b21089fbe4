"""Demo mode: a tiny model taught locally on generated worksheets, for machines without the
real model. Its labels show the tool working; they are not real EduGraph predictions."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .paths import cache_dir

DEMO_BANNER = (
    "DEMO MODE: labels come from a tiny demo model trained on generated worksheets, "
    "not from the EduGraph model"
)


def prepare_demo(count: int = 8) -> tuple[str, list[Path]]:
    """The demo model folder (built once, cached) and a folder of generated worksheets."""
    from .tinymodel import demo_model

    return str(demo_model()), [demo_worksheets(count)]


def demo_worksheets(count: int = 8) -> Path:
    """A folder of generated worksheets in the cache (written once; fast, no MLX)."""
    from .samples import write_samples
    from .tinymodel import DEMO_PAGE_SIZE

    folder = cache_dir() / "demo-worksheets"
    if not folder.is_dir():
        # Written beside the final folder and renamed: an interrupted run leaves nothing half-made.
        staging = Path(tempfile.mkdtemp(prefix=".demo-worksheets.", dir=folder.parent))
        try:
            write_samples(staging, count, size=DEMO_PAGE_SIZE, seed=1000)
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder
