"""Duplicate sheets: the same printed sheet found through every kind of copy, sibling sheets of
one template never grouped, on a generated set of letter pages at 150 and 300 dpi; the stored
signatures, the bad inputs, and the held-out split of `tune` that keeps copies together."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlx_edugraph.benchmarks.duplicate_bench import measure_quality
from mlx_edugraph.benchmarks.sheet_copies import COPIES, SetPage, Sheet, draw_sheet
from mlx_edugraph.pages.sheet_signature import (
    SIGNATURE_VERSION,
    SheetSignature,
    SignatureError,
    make_signature,
)
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS, cap_pixels, file_sha256
from mlx_edugraph.prediction import Prediction, Provenance
from mlx_edugraph.store.sheet_candidates import candidates
from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates
from mlx_edugraph.store.sqlite_store import MIGRATIONS, Store

pytestmark = pytest.mark.xdist_group("sheet_copies")  # one worker builds the set once

TARGET = 0.95


def _sheet_pages(sheet: Sheet, dpi: int, kinds) -> list[SetPage]:
    """The sheet printed at `dpi` and a copy of each of `kinds`, capped as the labeler loads
    pages."""
    import random

    original = draw_sheet(sheet, dpi)
    rng = random.Random(sheet.name)
    pages = [SetPage(sheet, dpi, "", cap_pixels(original, DEFAULT_MAX_PIXELS))]
    for kind in kinds:
        copy = cap_pixels(COPIES[kind](original, rng), DEFAULT_MAX_PIXELS)
        pages.append(SetPage(sheet, dpi, kind, copy))
    return pages


@pytest.fixture(scope="session")
def quality():
    """A small generated set, signed and grouped once per session: at 150 and at 300 dpi, a
    sheet with a copy of each kind, and siblings without copies (at 150 dpi one with other
    numbers and one with a single problem changed, at 300 dpi the latter). `bench
    --duplicates` measures the full set (docs/similar.md)."""
    pages = _sheet_pages(Sheet("sums", 0, 0), 150, COPIES)
    pages += _sheet_pages(Sheet("sums", 0, 1), 150, ())
    pages += _sheet_pages(Sheet("sums", 0, 0, changed=3), 150, ())
    pages += _sheet_pages(Sheet("products", 0, 0), 300, COPIES)
    pages += _sheet_pages(Sheet("products", 0, 0, changed=3), 300, ())
    return measure_quality(pages)


def test_copies_are_found_and_siblings_never_grouped(quality) -> None:
    assert quality.sibling_pairs_grouped == 0 and quality.one_change[0] == 0, quality
    assert quality.precision >= TARGET, quality
    assert quality.recall >= TARGET, quality
    assert len(quality.per_copy) == 2 * len(COPIES)  # every kind at 150 and at 300 dpi
    for kind, (recall, _, _) in quality.per_copy.items():
        assert recall >= TARGET, (kind, quality.per_copy)


def test_signature_survives_the_store_and_blank_and_tiny_pages_are_told() -> None:
    from PIL import Image

    page = draw_sheet(Sheet("sums", 0, 0), 100)
    signature = make_signature(page)
    again = SheetSignature.from_bytes(signature.to_bytes())
    assert again.phash == signature.phash and again.size == signature.size
    assert (again.ink_bits() == signature.ink_bits()).all()
    assert make_signature(Image.new("RGB", (850, 1100), "white")).blank
    with pytest.raises(SignatureError, match="too small"):
        make_signature(Image.new("RGB", (40, 40), "white"))


def test_a_photographed_sheet_is_squared_and_a_framed_sheet_is_left_whole() -> None:
    """The signature squares a sheet photographed on a table (its corners found against the
    darker surround); a sheet with a frame printed round it is no photo: left as it is."""
    import random

    import numpy as np
    from PIL import ImageDraw

    from mlx_edugraph.pages.sheet_signature import _paper_corners

    sheet = draw_sheet(Sheet("products", 0, 0), 100)
    photo = COPIES["phone photo"](sheet, random.Random(0))
    framed = sheet.copy()
    ImageDraw.Draw(framed).rectangle((40, 40, 810, 1060), outline="black", width=4)
    found = _paper_corners(np.asarray(photo.convert("L")))
    assert found is not None
    # The sheet's corners in the photo lie within the 4 % pad plus 3.5 % of perspective.
    assert (found[0] < 0.1 * np.array(photo.size)).all()
    assert (found[2] > 0.9 * np.array(photo.size)).all()
    for page in (sheet, framed, sheet.convert("L").point(lambda v: v * 0.6)):
        assert _paper_corners(np.asarray(page.convert("L"))) is None


def test_candidates_come_from_buckets_not_all_pairs() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 256, (2000, 32), dtype=np.uint8)
    hashes[1] = hashes[0]
    hashes[2] = hashes[0] ^ np.eye(32, dtype=np.uint8)[3]  # one bit away
    pairs = candidates(hashes)
    assert (0, 1) in pairs and (0, 2) in pairs and (1, 2) in pairs
    assert len(pairs) == 3  # random hashes share no chunk by chance often enough to pass


def _store_page(store: Store, path: Path, page: int = 0) -> None:
    store.put(
        Prediction(
            path=str(path),
            page=page,
            sha256=file_sha256(path),
            outcome="labeled",
            provenance=Provenance(model_fingerprint="m1"),
        )
    )


def test_an_older_store_gains_the_signature_table(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        for version, script in enumerate(MIGRATIONS[:5], start=1):
            for statement in filter(str.strip, script.split(";")):
                old.execute(statement)
            old.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (version,))
    with Store(db) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.sheet_hashes(SIGNATURE_VERSION) == {}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sums sheets of one template, a re-scan and a rotated copy of the first, blank pages,
    and a 12-page PDF whose 7th page is the first sheet again."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("sheets")
    import random

    first, sibling = draw_sheet(Sheet("sums", 0, 0), 100), draw_sheet(Sheet("sums", 0, 1), 100)
    first.save(folder / "a-first.png")
    sibling.save(folder / "b-sibling.png")
    COPIES["re-scan"](first, random.Random(1)).save(folder / "c-rescan.jpg")
    COPIES["rotated"](first, random.Random(2)).save(folder / "d-rotated.png")
    Image.new("RGB", (850, 1100), "white").save(folder / "e-blank.png")
    Image.new("RGB", (850, 1100), (250, 250, 250)).save(folder / "f-blank.png")
    pages = [draw_sheet(Sheet("products", 0, n), 60) for n in range(12)]
    pages[6] = first.resize((510, 660))
    pages[0].save(folder / "g-many.pdf", save_all=True, append_images=pages[1:], resolution=60.0)
    return folder


def _names(store: Store, groups) -> list[list[str]]:
    return [sorted(f"{Path(store.paths_of(*p)[0]).name}:{p[1]}" for p in g) for g in groups]


def test_duplicates_of_a_folder_with_a_pdf_and_blank_pages(folder: Path, tmp_path: Path) -> None:
    from PIL import Image

    from mlx_edugraph.pages.worksheets import discover

    with Store(tmp_path / "s.sqlite") as store:
        refs = list(discover([folder]))
        for ref in refs:
            _store_page(store, ref.path, ref.page)
        sheets = [SheetPage(file_sha256(r.path), r.page, str(r.path)) for r in refs]
        found = sheet_duplicates(sheets, store)  # signatures made on first use, and stored
        assert _names(store, found.groups) == [
            ["a-first.png:0", "c-rescan.jpg:0", "d-rotated.png:0", "g-many.pdf:7"]
        ]
        assert len(found.blank) == 2 and found.variants >= 1
        assert len(store.sheet_hashes(SIGNATURE_VERSION)) == len(refs)
        # Grouping again (the TUI after labeling) reuses every stored verdict: nothing compared.
        again = sheet_duplicates(sheets, store, make_missing=False)
        assert again.groups == found.groups and found.compared > 0 and again.compared == 0
        # A page signed again (its file changed) is compared again, alone.
        store.put_sheet_signatures([(sheets[0].id, make_signature(Image.open(refs[0].path)))])
        assert 0 < sheet_duplicates(sheets, store).compared < found.compared


@pytest.mark.parametrize("workers", [0, 2], ids=["here", "2 processes"])
@pytest.mark.parametrize("how", ["stopped", "Ctrl-C"])
def test_grouping_stopped_part_way_keeps_what_it_compared(
    how: str, workers: int, folder: Path, tmp_path: Path
) -> None:
    """The app quitting (`should_stop`) or Ctrl-C (here from the progress callback, on the
    grouping's own thread, where the signal lands) stops grouping at once, on this thread or
    on worker processes; the signatures made and the pairs compared are stored, and the next
    grouping compares only the rest and groups as one uninterrupted run does."""
    from mlx_edugraph.pages.sheet_match import METHOD_VERSION
    from mlx_edugraph.pages.worksheets import discover
    from mlx_edugraph.store.sheet_grouping import COMPARING, Stopped

    refs = list(discover([folder]))
    sheets = [SheetPage(file_sha256(r.path), r.page, str(r.path)) for r in refs]
    with Store(tmp_path / "whole.sqlite") as store:
        whole = sheet_duplicates(sheets, store, workers=0)
    with Store(tmp_path / "s.sqlite") as store:
        asked, told = [], []

        def should_stop() -> bool:
            # Here it is asked before each comparison; with workers, while waiting for them.
            asked.append(1)
            return how == "stopped" and (len(asked) > 3 if not workers else bool(told))

        def progress(stage: str, done: int, total: int) -> None:
            if stage == COMPARING and done:
                told.append(done)
                if how == "Ctrl-C":
                    raise KeyboardInterrupt

        with pytest.raises(Stopped if how == "stopped" else KeyboardInterrupt):
            sheet_duplicates(
                sheets, store, progress=progress, should_stop=should_stop, workers=workers
            )
        assert len(store.sheet_hashes(SIGNATURE_VERSION)) == len(refs)
        kept = len(store.sheet_verdicts(METHOD_VERSION))
        assert 0 < kept <= whole.compared and (workers or kept < whole.compared)
        rest = sheet_duplicates(sheets, store, workers=workers)
        assert rest.groups == whole.groups and rest.compared == whole.compared - kept


def test_the_app_stops_marking_duplicates_when_asked(folder: Path, tmp_path: Path) -> None:
    """The review app's worker (`find_duplicates`) answers nothing once cancelled (the app
    quitting): it must not keep the process alive for the minutes a first look can take."""
    from mlx_edugraph.pages.worksheets import discover
    from mlx_edugraph.store.sheet_grouping import Stopped
    from tui.similar_search import find_duplicates

    db = tmp_path / "s.sqlite"
    refs = list(discover([folder]))
    pages = {(file_sha256(r.path), r.page): str(r.path) for r in refs}
    with Store(db) as store:
        for ref in refs:
            _store_page(store, ref.path, ref.page)
        sheets = [SheetPage(key, page, path) for (key, page), path in pages.items()]
        with pytest.raises(Stopped):  # signed, nothing compared
            sheet_duplicates(sheets, store, should_stop=lambda: True)
    assert find_duplicates(db, pages, lambda: True) is None
    found = find_duplicates(db, pages, lambda: False)
    assert found is not None and len(found.pages) == 4


APP_MARKS_ON_WORKERS = """
import asyncio, sys, time
from pathlib import Path

from mlx_edugraph.store import sheet_grouping
from tests.test_tui import make_app, wait_for

sheet_grouping.PROCESS_FROM = 0  # this folder's few pairs go to worker processes too


async def run():
    app = make_app(Path(sys.argv[1]), Path(sys.argv[2]), None)
    async with app.run_test(size=(120, 40)) as pilot:
        marked = lambda: sorted((e.ref.path.name, e.ref.page) for e in app.entries if e.duplicate)
        await wait_for(pilot, lambda: len(marked()) == 4, timeout=60)
        print(marked())


asyncio.run(run())
"""


def test_the_app_marks_duplicates_on_worker_processes(folder: Path, tmp_path: Path) -> None:
    """Inside the app, sys.stderr is Textual's capture with no descriptor, which
    multiprocessing's resource tracker is handed when it starts: the app starts it first.
    A fresh interpreter, so no earlier test has started it."""
    import subprocess
    import sys

    from mlx_edugraph.pages.worksheets import discover
    from mlx_edugraph.store.sheet_grouping import Stopped

    db = tmp_path / "s.sqlite"
    refs = list(discover([folder]))
    with Store(db) as store:
        for ref in refs:
            _store_page(store, ref.path, ref.page)
        sheets = [SheetPage(file_sha256(r.path), r.page, str(r.path)) for r in refs]
        with pytest.raises(Stopped):  # signed, nothing compared: the app compares
            sheet_duplicates(sheets, store, should_stop=lambda: True)
    run = subprocess.run(
        [sys.executable, "-c", APP_MARKS_ON_WORKERS, str(folder), str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[1],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "('a-first.png', 0), ('c-rescan.jpg', 0), ('d-rotated.png', 0)" in run.stdout


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            "gone",
            marks=pytest.mark.reliability("Inputs", "`duplicates` with a page whose file is gone"),
        ),
        pytest.param(
            "unreadable",
            marks=pytest.mark.reliability("Inputs", "`duplicates` with an unreadable image"),
        ),
        pytest.param(
            "tiny", marks=pytest.mark.reliability("Inputs", "`duplicates` with a tiny image")
        ),
    ],
)
def test_duplicates_reports_bad_pages_and_leaves_the_store(
    case: str, folder: Path, tmp_path: Path, capsys, outcome
) -> None:
    import shutil

    from PIL import Image

    from mlx_edugraph.cli import main

    pages, db = tmp_path / "pages", tmp_path / "s.sqlite"
    shutil.copytree(folder, pages, ignore=shutil.ignore_patterns("*.pdf", "*-blank.png"))
    bad = pages / "x-bad.png"
    if case == "tiny":
        Image.new("RGB", (30, 30), "black").save(bad)
    elif case == "unreadable":
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    with Store(db) as store:
        for path in sorted(pages.iterdir()):
            _store_page(store, path)
    assert main(["duplicates", str(pages), "--db", str(db)]) == 0  # signatures made once
    capsys.readouterr()
    if case == "gone":
        (pages / "d-rotated.png").unlink()
    before = db.read_bytes()
    assert main(["duplicates", str(pages), "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "a-first.png" in out and "c-rescan.jpg" in out and "b-sibling.png" not in out
    assert db.read_bytes() == before  # nothing written, nothing lost
    warning = next(line for line in err.splitlines() if line.startswith("warning"))
    warning = warning.replace(f"{pages}/", "")
    outcome(f"exit 0, the other pages grouped, the store unchanged: {warning}")


def test_no_copy_of_a_training_page_is_held_out(tmp_path: Path) -> None:
    import random

    from mlx_edugraph.tuning.examples import Example
    from mlx_edugraph.tuning.split import duplicate_sheets, split

    examples = []
    for n in range(8):
        layout = ("sums", "products")[n % 2]
        sheet = draw_sheet(Sheet(layout, 0, n), 80)
        files = [sheet]
        if n < 4:  # four sheets with a copy each
            files.append(COPIES[("re-scan", "gray")[n // 2]](sheet, random.Random(n)))
        for c, image in enumerate(files):
            path = tmp_path / f"{layout}-{n}-{c}.png"
            image.save(path)
            area = "IntegerAddition" if layout == "sums" else "IntegerMultiplication"
            labels = {"Area": (area,), "Scope": (), "Ability": ()}
            examples.append(Example(path, 0, file_sha256(path), labels, False, path.name))
    together = duplicate_sheets(examples, None)
    assert sorted(len(group) for group in together) == [2, 2, 2, 2]
    for seed in range(5):
        parts = split(examples, 0.3, seed, together)
        held = {(e.sha256, e.page) for e in parts.held_out}
        for group in together:
            assert len(held & set(group)) in (0, len(group)), seed
        assert parts.held_out and len(parts.train) + len(parts.held_out) == len(examples)


def test_eval_warns_when_its_pages_hold_duplicates(folder: Path, tmp_path: Path, capsys) -> None:
    from mlx_edugraph.cli import main
    from mlx_edugraph.prediction import Label
    from mlx_edugraph.store.review import Review

    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        for name in ("a-first.png", "b-sibling.png", "c-rescan.jpg"):
            path = folder / name
            store.put(
                Prediction(
                    path=str(path),
                    page=0,
                    sha256=file_sha256(path),
                    outcome="labeled",
                    labels=[Label("IntegerAddition", "Area")],
                    provenance=Provenance(model_fingerprint="m1"),
                )
            )
            labels = {"Area": ["IntegerAddition"], "Scope": [], "Ability": []}
            store.put_review(Review(file_sha256(path), 0, str(path), "accepted", labels))
    assert main(["eval", "--latest", "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert "1 group(s) of duplicate sheets among the evaluated pages" in err
    assert "a-first.png" in err and "c-rescan.jpg" in err and "b-sibling.png" not in err
