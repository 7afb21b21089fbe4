"""The README's screenshots of the review app, made from the demo so that they cannot go stale:
`python -m mlx_edugraph.tui.screenshots` writes them into `docs/`, `--check` only compares.

They show the real app (Textual's headless `run_test`, quadrant-character pages) on the demo
worksheets with the demo model's own answers, and must come out byte-identical wherever they
are made. What would differ is left out, each for a measured reason:

- the model's numbers: the demo model's terms are the same in every build, but its
  confidences differ between a checkout with `../shared` and one without (the chat template
  it is taught with differs: 96.9% against 99.5% for the same term), its fingerprint differs
  even between two builds of the same recipe, and timings and page vectors never repeat. The
  pages are labeled for real, then stored without confidences, timings or vectors, under a
  fixed fingerprint, and the app opens them with no model (nothing runs while it is shot);
- paths and the clock: the worksheets are copied into a temporary folder that is the working
  folder, so captions read `demo-worksheets/...`; nothing on these screens shows a date;
- Rich's SVG class prefix, a hash of the content and title: pinned to one name.

The labels pane shows the ontology's breadcrumbs and definitions, so the shots need the real
EduGraph v0.4.0 ontology: `../shared`'s copy in a checkout, else the cached release.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlx_edugraph.pages.worksheets import discover
from mlx_edugraph.prediction import Prediction, Provenance, Timings
from mlx_edugraph.store.sqlite_store import Store

DOCS = Path(__file__).resolve().parent.parent / "docs"
"""The checkout's docs folder (this module is `tui/` at the checkout's top level)."""

SHOTS = {"tui.svg": (120, 40), "tui-80x24.svg": (80, 24)}
"""File name -> terminal size (columns, rows)."""

SELECTED = "002-multiplication.png"
"""The page on screen: its labels include one implied by another."""

FOLDER = "demo-worksheets"
SVG_ID = "mlx-edugraph-tui"
COMMAND = "python -m mlx_edugraph.tui.screenshots"
READY_TIMEOUT_S = 60.0


def make_screenshots(model: Path, ontology: Path, worksheets: Path) -> dict[str, str]:
    """File name -> SVG text of every shot: `worksheets` labeled by `model` (the demo model's
    MLX folder), checked against the `ontology` file."""
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-shots-") as tmp:
        root = Path(tmp)
        folder = root / FOLDER
        shutil.copytree(worksheets, folder)
        db = root / "labels.sqlite"
        store_labels(folder, model, ontology, db)
        with _working_folder(root):
            return {
                name: asyncio.run(_shoot(folder, db, ontology, size))
                for name, size in SHOTS.items()
            }


def store_labels(folder: Path, model: Path, ontology: Path, db: Path) -> None:
    """Label the pages with the model, then keep in `db` only what every build answers alike."""
    from mlx_edugraph.labeling.batch import run
    from mlx_edugraph.labeling.engine_choice import make_engine
    from mlx_edugraph.labels.ontology import load_ontology
    from mlx_edugraph.model.choice import resolve_choice

    engine = make_engine(resolve_choice(str(model), demo=True), ontology=load_ontology(ontology))
    with Store(db.with_name("scratch.sqlite")) as scratch:
        events = list(run(list(discover([folder])), engine, scratch))
    with Store(db) as store:
        for event in events:
            store.put(pinned(event.prediction))


def pinned(prediction: Prediction) -> Prediction:
    """The prediction without what differs from build to build or run to run."""
    return dataclasses.replace(
        prediction,
        labels=[dataclasses.replace(label, confidence=None) for label in prediction.labels],
        timings=Timings(),
        embedding=None,
        provenance=Provenance(
            model=prediction.provenance.model,
            model_fingerprint="demo",
            ontology_version=prediction.provenance.ontology_version,
        ),
    )


async def _shoot(folder: Path, db: Path, ontology: Path, size: tuple[int, int]) -> str:
    from .app import ReviewApp
    from .labeler import Settings

    settings = Settings(db=db, ontology_file=ontology)  # no model: nothing runs while shot
    app = ReviewApp([folder], settings, image_mode="halfcell", demo=True)
    async with app.run_test(size=size) as pilot:
        await _settled(pilot)
        return pin_svg_id(app.export_screenshot())


async def _settled(pilot) -> None:
    """Wait until the list shows every page's stored labels, the ontology is read, the model
    line says there is none, and the selected page is drawn."""
    app = pilot.app
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S

    async def until(condition) -> None:
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the review app did not settle")
            await pilot.pause(0.05)

    def listed() -> bool:
        entries = app.entries
        return (
            app.ontology is not None
            and bool(entries)
            and all(entry.prediction is not None for entry in entries)
            and app.worklist.table.row_count == len(entries)
            and app.labeling.model != "starting ..."
        )

    await until(listed)
    names = [entry.ref.path.name for entry in app.entries]
    app.worklist.table.move_cursor(row=names.index(SELECTED))
    preview = app.preview
    await until(lambda: preview.caption.endswith(SELECTED) and preview.drawn == preview.caption)
    await pilot.pause()


def pin_svg_id(svg: str) -> str:
    """Rich names the SVG's classes after a hash of its content and title: one fixed name."""
    found = re.search(r"\.(terminal-\d+)-matrix", svg)
    return svg.replace(found.group(1), SVG_ID) if found else svg


@contextmanager
def _working_folder(path: Path) -> Iterator[None]:
    """The app shows paths relative to the working folder."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def default_ontology() -> Path | None:
    """EduGraph v0.4.0: `../shared`'s copy beside the checkout, else the cached release."""
    from mlx_edugraph.labels.ontology_source import DEFAULT_VERSION, cached_release
    from mlx_edugraph.tinymodel.checkpoint import SHARED_ONTOLOGY

    for path in (SHARED_ONTOLOGY, cached_release(DEFAULT_VERSION)):
        if path.is_file():
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --out; write nothing"
    )
    parser.add_argument("--out", type=Path, default=DOCS, help="folder of the SVGs (docs/)")
    parser.add_argument("--ontology", type=Path, default=None, help="EduGraph v0.4.0 file")
    args = parser.parse_args(argv)
    ontology = args.ontology or default_ontology()
    if ontology is None:
        print(
            "error: the shots need the EduGraph v0.4.0 ontology: give --ontology FILE, or run "
            "`mlx-edugraph convert` (or any labeling run with network) once to cache it",
            file=sys.stderr,
        )
        return 2
    from mlx_edugraph.tinymodel.demo import demo_model, demo_worksheets

    model = demo_model(log=lambda line: print(f"demo model: {line}", file=sys.stderr))
    shots = make_screenshots(model, ontology, demo_worksheets())
    stale = [name for name, svg in shots.items() if _read(args.out / name) != svg]
    if args.check:
        for name in stale:
            state = "stale" if (args.out / name).is_file() else "missing"
            print(f"{args.out / name} is {state}: regenerate it with `{COMMAND}`", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(shots[name], encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
