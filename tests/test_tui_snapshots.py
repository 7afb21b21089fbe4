"""Snapshots of the review app's screens (pytest-textual-snapshot; Textual is pinned exactly).

Pure layout tests: the store is filled with fixed predictions (fixed confidences) so the
pictures do not depend on a model; the labeling path is tested for real in test_tui.py.
Update after a deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import file_sha256
from mlx_edugraph.prediction import Label, Prediction, Provenance, Timings
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_TTL
from tests.ontology_files import needs_shared, write_small_ontology

SIZE = (150, 42)
SIZES = [(80, 24), (100, 30), (120, 40), (160, 48), (200, 60)]
"""The page-first layout's sizes, from Terminal.app's default window up."""
PROVENANCE = Provenance("demo", "0123456789abcdef", "v0.4.0", "template-demo")

PREDICTED = {
    "001-addition.png": (
        "labeled",
        [
            Label("IntegerAddition", "Area", "known", False, 0.962),
            Label("NumbersSmaller20", "Scope", "known", False, 0.991),
            Label("NumbersWithoutZero", "Scope", "known", False, 0.43),
            Label("ProcedureExecution", "Ability", "known", False, 0.998),
        ],
    ),
    "002-multiplication.png": (
        "labeled",
        [
            Label("IntegerMultiplication", "Area", "known", False, 0.88),
            Label("TimesTables", "Scope", "unknown", False, 0.31),
            Label("ProcedureApplication", "Ability", "known", True, 0.97),
            Label("ProcedureExecution", "Ability", "known", False, 0.95),
        ],
    ),
    "003-picture.png": ("unsupported", []),
}


@pytest.fixture
def prefilled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A folder of three pages and a broken file, with fixed predictions in a store."""
    monkeypatch.chdir(tmp_path)  # the app shows paths relative to the working folder
    folder = tmp_path / "ws"
    kinds = ("addition", "multiplication", "picture")
    write_samples(folder, 3, size=DEMO_PAGE_SIZE, kinds=kinds, seed=900)
    (folder / "broken.png").write_bytes(b"not a png")
    db = tmp_path / "labels.sqlite"
    with Store(db) as store:
        for name, (outcome, labels) in PREDICTED.items():
            path = folder / name
            store.put(
                Prediction(
                    str(path),
                    0,
                    file_sha256(path),
                    outcome,
                    labels,
                    raw_text="{}",
                    image_size=DEMO_PAGE_SIZE,
                    timings=Timings(prompt_tokens=303, total_s=0.3),
                    provenance=PROVENANCE,
                )
            )
        broken = folder / "broken.png"
        store.put(
            Prediction(
                str(broken),
                0,
                file_sha256(broken),
                "error",
                error="not a readable image: cannot identify image file",
                provenance=PROVENANCE,
            )
        )
    return folder, db


def _app(folder: Path, db: Path, image_mode: str, ontology: Path = ONTOLOGY_V04_TTL):
    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings

    settings = Settings(db=db, ontology_file=ontology)
    return ReviewApp([folder], settings, image_mode=image_mode)


async def _ready(pilot, name: str | None = None) -> None:
    from mlx_edugraph.tui.preview import Preview
    from tests.test_tui import listed, select, wait_for

    app = pilot.app
    await wait_for(pilot, lambda: listed(app) and app.ontology is not None, timeout=30)
    if name:
        select(app, name)
    preview = app.query_one(Preview)
    await wait_for(pilot, lambda: preview.caption and preview.drawn == preview.caption, timeout=30)
    app.clear_notifications()
    await pilot.pause()


# The labels pane shows the real release's definitions and breadcrumbs.
@needs_shared("ontology/edugraph-v0.4.0.ttl")
def test_main_screen_with_labels(prefilled, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot, "002-multiplication.png")

    assert snap_compare(_app(*prefilled, "halfcell"), terminal_size=SIZE, run_before=run_before)


def test_error_view(prefilled, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        from tests.test_tui import select

        select(pilot.app, "broken.png")
        await pilot.pause()

    assert snap_compare(_app(*prefilled, "none"), terminal_size=SIZE, run_before=run_before)


@needs_shared("ontology/edugraph-v0.4.0.ttl")  # the help is drawn over the labels pane
def test_help_screen(prefilled, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("question_mark")

    assert snap_compare(_app(*prefilled, "none"), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_at_size(prefilled, snap_compare, tmp_path: Path, size) -> None:
    """Page first at each size, the page drawn in cell characters. The small stand-in
    ontology, so the picture is the same with or without ../shared."""
    ontology, _ = write_small_ontology(tmp_path / "ontology")

    async def run_before(pilot) -> None:
        await _ready(pilot, "001-addition.png")

    app = _app(*prefilled, "halfcell", ontology)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
