"""The README walk's runner: each step in this one process (`cli.main`, so the imports are paid
once), in order, in the folder it is given; prints each step's exit code, seconds and output as
JSON. `tests/test_readme_walk.py` starts it with the network cut.

Usage: python -m tests.readme_walk STEPS.json  (a list of {"argv": [...]} or {"page": path}: a
generated worksheet written there before the next step, as a user brings a new image)
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path


def run(argv: list[str]) -> dict:
    """One command as `mlx-edugraph` runs it: its exit code, stdout and stderr."""
    from mlx_edugraph.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses its arguments so
            code = exc.code if isinstance(exc.code, int) else 2
    seconds = time.perf_counter() - started
    return {"argv": argv, "code": int(code), "seconds": seconds, "out": out.getvalue(),
            "err": err.getvalue()}  # fmt: skip


def write_page(path: Path) -> None:
    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE

    make_worksheet("multiplication", size=DEMO_PAGE_SIZE, seed=4242).save(path)


def main(steps_file: str) -> None:
    results = []
    for step in json.loads(Path(steps_file).read_text(encoding="utf-8")):
        if "page" in step:
            write_page(Path(step["page"]))
        else:
            results.append(run(step["argv"]))
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
