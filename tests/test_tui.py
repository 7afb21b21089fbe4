"""The review app driven by Textual's Pilot, with the taught tiny model labeling for real."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlx_edugraph.evaluation.coverage import walk
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_TTL

KINDS = ("addition", "multiplication", "counting", "clock", "picture")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five images of every kind, a 2-page PDF and a file that is not an image."""
    folder = tmp_path_factory.mktemp("tui") / "ws"
    write_samples(folder, 5, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=700, pdf_pages=2)
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def chooser(model: Path | None = None, **options):
    """The app's model resolution for a local folder (or servers, through `options`); None:
    browse and review only."""
    from mlx_edugraph.model.choice import resolve_choice

    if model is None and not options:
        return None
    return lambda say: resolve_choice(str(model) if model else None, **options)


def make_app(folder: Path, db: Path, model: Path | None, image_mode: str = "none"):
    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings

    settings = Settings(db=db, choose=chooser(model), ontology_file=ONTOLOGY_V04_TTL)
    return ReviewApp([folder], settings, image_mode=image_mode)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Let the app run until `condition` holds (the model works in a thread meanwhile)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def all_labeled(app) -> bool:
    """The model is loaded, every page has a result and the labeler is idle."""
    done = all(entry.prediction is not None or entry.problem for entry in app.entries)
    return app._submitted and bool(app.entries) and done and app.labeling.state == "idle"


def labels_text(app) -> str:
    from textual.widgets import OptionList

    options = app.query_one("#labels", OptionList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


def select(app, name: str) -> None:
    from mlx_edugraph.tui.worksheet_list import WorksheetList, entry_key

    table = app.query_one(WorksheetList)
    entry = next(e for e in app.entries if e.ref.path.name == name)
    table.move_cursor(row=table.get_row_index(entry_key(entry)))


@pytest.fixture(scope="module")
def labeled_db(folder: Path, taught_mlx_model: Path, tmp_path_factory) -> Path:
    """A store filled by a real labeling run inside the app (the first test's run)."""
    db = tmp_path_factory.mktemp("tui-db") / "labels.sqlite"

    async def run() -> None:
        app = make_app(folder, db, taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: all_labeled(app))

    asyncio.run(run())
    return db


def test_labeling_run_fills_the_labels_pane(folder: Path, taught_mlx_model: Path, tmp_path) -> None:
    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries)
            assert len(app.entries) == 8  # 5 images, 2 PDF pages, 1 broken file
            await wait_for(pilot, lambda: all_labeled(app))
            states = {
                entry.ref.path.name + str(entry.ref.page): entry.state for entry in app.entries
            }
            assert states["broken.png0"] == "error"
            assert states["005-picture.png0"] == "unsupported"
            assert states["001-addition.png0"] == "labeled"
            select(app, "002-multiplication.png")
            await pilot.pause()
            text = labels_text(app)
            assert "IntegerMultiplication" in text and "ProcedureApplication" in text
            assert "Arithmetic › IntegerArithmetic › IntegerMultiplication" in text
            assert "(implied)" in text  # ProcedureApplication beside its part
            status = str(app.query_one("#status").render())
            assert "8/8" in status and "prompt tokens" in status

    asyncio.run(run())


def test_navigation_filter_and_sort(folder: Path, labeled_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries and app.ontology is not None)
            first = app.selected
            await pilot.press("j")
            assert app.selected != first
            await pilot.press("k")
            assert app.selected == first
            await pilot.press("slash", *"error", "enter")
            assert [e.ref.path.name for e in app._visible()] == ["broken.png"]
            outcome = str(app.query_one("#outcome").render())
            assert "Error:" in outcome and "not a readable image" in outcome
            await pilot.press("slash", *("backspace",) * 5, *"integermult", "enter")  # a term
            found = [(e.ref.path.name, e.ref.page) for e in app._visible()]
            assert found == [("002-multiplication.png", 0), ("worksheets.pdf", 2)]
            await pilot.press("slash", *("backspace",) * 11, "enter")
            await pilot.press("s")  # least confident first: unreviewed labeled pages lead
            assert app._visible()[0].unreviewed

    asyncio.run(run())


def test_review_flow_saves_each_action_and_undoes(folder: Path, labeled_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries and app.ontology is not None)
            select(app, "001-addition.png")
            await pilot.pause()
            addition = app.current
            await pilot.press("a")  # accept, then on to the next unreviewed page
            with Store(labeled_db) as store:
                assert store.review(addition.sha256, 0).status == "accepted"
            assert app.current is not addition and app.current.unreviewed

            select(app, "002-multiplication.png")
            await pilot.pause()
            page = app.current
            await pilot.press("i", *"intadd")  # fuzzy completion, Area only
            await pilot.pause()
            await pilot.press("enter")
            with Store(labeled_db) as store:
                review = store.review(page.sha256, 0)
            assert review.status == "corrected"
            assert review.labels["Area"] == ["IntegerMultiplication", "IntegerAddition"]
            assert "+ added" in labels_text(app)

            await pilot.press("u")
            with Store(labeled_db) as store:
                assert store.review(page.sha256, 0) is None
            await pilot.press("u")  # and the accept before it
            with Store(labeled_db) as store:
                assert store.review(addition.sha256, 0) is None

            # Remove a term, then accept: saved as a correction.
            await pilot.press("tab")
            await pilot.pause()
            assert app.query_one("#labels-pane").highlighted.term == "IntegerMultiplication"
            await pilot.press("x", "a")
            with Store(labeled_db) as store:
                review = store.review(page.sha256, 0)
            assert review.status == "corrected" and review.labels["Area"] == []

    asyncio.run(run())


def test_reviews_survive_a_restart_and_export(folder: Path, labeled_db: Path, tmp_path) -> None:
    out = tmp_path / "reviewed.jsonl"

    async def review() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries and app.ontology is not None)
            select(app, "003-counting.png")
            await pilot.pause()
            await pilot.press("f")  # flagged: set aside, not yet truth

    async def reopen() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries)
            counting = next(e for e in app.entries if e.ref.path.name == "003-counting.png")
            assert counting.review.status == "flagged" and counting.state == "needs review"
            await pilot.press("E")
            await pilot.pause()
            await pilot.press("ctrl+a", "ctrl+k", *str(out), "enter")
            await wait_for(pilot, out.exists, timeout=10)

    asyncio.run(review())
    asyncio.run(reopen())
    records = {
        Path(r["path"]).name + str(r["page"]): r
        for r in map(json.loads, out.read_text().splitlines())
    }
    assert len(records) == 8
    assert records["003-counting.png0"]["source"] == "flagged"
    assert records["001-addition.png0"]["source"] == "predicted"
    assert records["001-addition.png0"]["Area"] == ["IntegerAddition"]
    assert records["001-addition.png0"]["model_fingerprint"]
    assert records["broken.png0"]["outcome"] == "error"


def test_export_command_writes_label_studio_predictions(labeled_db: Path, tmp_path) -> None:
    import subprocess
    import sys

    out = tmp_path / "tasks.json"
    result = subprocess.run(
        [sys.executable, "-m", "mlx_edugraph", "export", str(out), "--db", str(labeled_db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    tasks = json.loads(out.read_text())
    by_name = {Path(t["data"]["path"]).name + str(t["data"]["page"]): t for t in tasks}
    assert by_name["001-addition.png0"]["data"]["image"].startswith("/data/local-files/?d=")
    addition = by_name["001-addition.png0"]["predictions"][0]
    assert addition["model_version"] and 0 < addition["score"] <= 1
    areas = [r["value"]["taxonomy"] for r in addition["result"] if r["from_name"] == "Area"]
    assert [path[-1] for path in areas[0]] == ["IntegerAddition"]
    assert out.with_name("tasks.label_config.xml").is_file()
    assert by_name["001-addition.png0"]["meta"]["source"] in ("predicted", "accepted", "corrected")


@pytest.mark.reliability("Trust and safety", "research-use notice in the TUI")
def test_research_notice_is_shown_once_at_start(folder: Path, tmp_path, outcome) -> None:
    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries)
            notices = [n.message for n in app._notifications if "Research use" in n.title]
            assert len(notices) == 1
            outcome(f"a notification at start: {notices[0]}")

    asyncio.run(run())


def test_pause_resume_cancel_and_rerun(taught_mlx_model: Path, tmp_path) -> None:
    folder = tmp_path / "many"
    write_samples(folder, 24, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=800)

    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.labeling.state == "running")
            await pilot.press("p")
            await wait_for(pilot, lambda: app.labeling.state == "paused")
            paused_at = app.labeling.done
            await pilot.pause(0.5)
            assert app.labeling.done <= paused_at + 1  # at most the page in flight
            await pilot.press("p")
            await wait_for(pilot, lambda: app.labeling.done > paused_at + 1)
            await pilot.press("c")
            await wait_for(pilot, lambda: app.labeling.state == "cancelled")
            labeled = sum(e.prediction is not None for e in app.entries)
            assert 0 < labeled < 24
            await pilot.pause(0.3)
            assert sum(e.prediction is not None for e in app.entries) == labeled

            select(app, "001-addition.png")
            first = app.current.prediction
            await pilot.press("r")  # re-run one page: a new prediction, same answer
            await wait_for(pilot, lambda: app.current.prediction is not first)
            assert app.current.prediction.raw_text == first.raw_text

            await pilot.press("l")  # label the rest
            await wait_for(pilot, lambda: all_labeled(app))

    asyncio.run(run())


def test_a_page_read_while_the_app_closes_does_not_end_it(
    folder: Path, tmp_path, monkeypatch
) -> None:
    """The race behind a `WorkerFailed: NoMatches('#preview-caption')`, made certain: a page
    finishes loading while the app closes, after Textual removed the preview's caption and
    before the preview itself. Drawing it then raised in the worker, which ended the app."""
    import threading

    from textual.widgets import Static
    from textual.worker import WorkerState

    from mlx_edugraph.tui import preview as preview_module

    loading = threading.Event()
    real_load = preview_module.load

    def held_load(*args, **kwargs):
        loading.wait(30)
        return real_load(*args, **kwargs)

    async def held_unmount(self: Static) -> None:
        """Keep the preview's image part until the page has loaded and been handled."""
        if self.id != "preview-image":
            return
        deadline = time.monotonic() + 30
        while caption.parent is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        loading.set()
        while not reader.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    monkeypatch.setattr(preview_module, "load", held_load)
    monkeypatch.setattr(Static, "on_unmount", held_unmount, raising=False)

    async def run() -> None:
        nonlocal caption, reader
        app = make_app(folder, tmp_path / "labels.sqlite", None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: any(w.group == "preview" for w in app.workers))
            caption = app.query_one("#preview-caption")
            reader = next(w for w in app.workers if w.group == "preview")
        assert app.return_code in (None, 0)

    caption = reader = None
    asyncio.run(run())
    assert loading.is_set() and reader.state == WorkerState.SUCCESS


@pytest.mark.parametrize(
    ("target", "image_mode", "notice"),
    [
        ("mlx_edugraph.tui.app.scan", "none", "could not scan the pages"),
        ("mlx_edugraph.tui.preview.halfblock_strips", "halfcell", "could not draw the page"),
    ],
)
def test_failed_background_work_is_a_notice(
    folder: Path, tmp_path, monkeypatch, caplog, target: str, image_mode: str, notice: str
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(target, broken)

    async def run() -> None:
        from mlx_edugraph.tui.help_screen import HelpScreen

        app = make_app(folder, tmp_path / "labels.sqlite", None, image_mode=image_mode)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(
                pilot, lambda: any(n.severity == "error" for n in app._notifications), timeout=30
            )
            [failure] = [n for n in app._notifications if n.severity == "error"]
            assert failure.message == f"{notice}: RuntimeError: disk on fire"
            await pilot.press("question_mark")  # the app still answers keys
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
        assert app.return_code in (None, 0)

    asyncio.run(run())
    [record] = [r for r in caplog.records if r.name == "mlx_edugraph.tui.app"]
    assert record.getMessage() == notice and "disk on fire" in caplog.text  # with its traceback


def test_the_status_bar_told_before_it_is_mounted_shows_it(tmp_path) -> None:
    from textual.app import App

    from mlx_edugraph.tui.labeler import Labeler, Settings
    from mlx_edugraph.tui.labeling_bar import LabelingBar

    bar = LabelingBar(Labeler(Settings(db=tmp_path / "labels.sqlite"), print))
    bar.set_model("loading the model ...")

    class Host(App):
        def compose(self):
            yield bar

    async def run() -> None:
        async with Host().run_test() as pilot:
            await pilot.pause()
            assert str(bar.query_one("#status").render()) == "loading the model ..."

    asyncio.run(run())


def test_up_on_the_empty_list_does_nothing(tmp_path) -> None:
    """Up before the scan filled the list made Textual highlight a row that is not there (no
    row key), which ended the app."""
    empty = tmp_path / "ws"
    empty.mkdir()

    async def run() -> None:
        app = make_app(empty, tmp_path / "labels.sqlite", None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: not app._scanning)
            await pilot.press("up", "k")
            assert app.selected is None and app.is_running

    asyncio.run(run())


def test_without_an_ontology_one_notice_says_why_and_no_label_is_tagged(
    taught_mlx_model: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings

    pages = tmp_path / "ws"
    write_samples(pages, 2, size=DEMO_PAGE_SIZE, kinds=("addition", "clock"), seed=5)
    # No --ontology, none cached, and the download refused (tests/conftest.py): offline.
    settings = Settings(db=tmp_path / "labels.sqlite", choose=chooser(taught_mlx_model))

    async def run() -> None:
        app = ReviewApp([pages], settings, image_mode="none")
        posted: list[str] = []  # every notice, expired ones too
        notify = app.notify
        app.notify = lambda message, **options: (
            posted.append(str(message)),
            notify(message, **options),
        )
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: all_labeled(app))
            for entry in app.entries:
                assert {label.status for label in entry.prediction.labels} == {"unverified"}
                select(app, entry.ref.path.name)
                await pilot.pause()
                text = labels_text(app)
                assert entry.prediction.labels[0].term in text
                assert "unverified" not in text
            said = [message for message in posted if "unverified" in message]
            assert len(said) == 1, said
            assert "--ontology FILE" in said[0] and "network access" in said[0]

    asyncio.run(run())


# -- the coverage screen: trees with counts; a term narrows the list ---------------------


def _counts(screen) -> dict[str, str]:
    """Each term's label on the screen, by term (the first place it appears)."""
    found = {}
    for (_, term), items in screen.items.items():
        found.setdefault(term, str(items[0].label))
    return found


@pytest.fixture
def known_db(folder: Path, tmp_path: Path) -> Path:
    """A store with fixed labels for the folder's pages (no model): each image its kind's Area,
    both PDF pages IntegerMultiplication, the picture unsupported."""
    from mlx_edugraph.pages.worksheets import discover, file_sha256
    from mlx_edugraph.prediction import Label, Prediction, Provenance

    areas = {
        "addition": "IntegerAddition",
        "multiplication": "IntegerMultiplication",
        "counting": "NumerationWithIntegers",
        "clock": "MeasuringTime",
        "worksheets": "IntegerMultiplication",
    }
    db = tmp_path / "known.sqlite"
    with Store(db) as store:
        for ref in discover([folder]):
            kind = next((k for k in areas if k in ref.path.name), None)
            if kind is None and "picture" not in ref.path.name:
                continue  # the broken file
            labels = [Label(areas[kind], "Area", "known", False, 0.9)] if kind else []
            store.put(
                Prediction(
                    str(ref.path),
                    ref.page,
                    file_sha256(ref.path),
                    "labeled" if kind else "unsupported",
                    labels,
                    provenance=Provenance("m", "fixed", "v0.4.0", "t"),
                )
            )
    return db


def test_coverage_screen_narrows_the_list_to_a_term(folder: Path, known_db: Path) -> None:
    from mlx_edugraph.tui.coverage_screen import CoverageScreen

    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries and app.ontology is not None)
            all_pages = len(app._visible())
            await pilot.press("C")
            await wait_for(pilot, lambda: isinstance(app.screen, CoverageScreen))
            screen = app.screen
            counts = _counts(screen)
            assert counts["IntegerMultiplication"] == "IntegerMultiplication  3 (3 at this term)"
            assert counts["Arithmetic"] == "Arithmetic  4 (0 at this term)"
            assert counts["Algebra"] == "Algebra  none"
            assert "7 page(s) with results" in str(screen.counts_line.render())
            # Choose Arithmetic: the list keeps the pages at or below it.
            (node,) = screen.items[("Area", "Arithmetic")]
            screen.terms_tree.select_node(node)
            await wait_for(pilot, lambda: not isinstance(app.screen, CoverageScreen))
            names = sorted(e.ref.path.name + str(e.ref.page) for e in app._visible())
            assert names == [
                "001-addition.png0",
                "002-multiplication.png0",
                "worksheets.pdf1",
                "worksheets.pdf2",
            ], names
            status = str(app.query_one("#status").render())
            assert "Area Arithmetic: 4 page(s), esc: all" in status
            await pilot.press("escape")
            await pilot.pause()
            assert len(app._visible()) == all_pages
            assert "Arithmetic" not in str(app.query_one("#status").render())

    asyncio.run(run())


def test_coverage_counts_follow_labeling(folder: Path, taught_mlx_model: Path, tmp_path) -> None:
    from mlx_edugraph.tui.coverage_screen import CoverageScreen

    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.entries and app.ontology is not None)
            await pilot.press("C")  # before the model has labeled anything
            await wait_for(pilot, lambda: isinstance(app.screen, CoverageScreen))
            screen = app.screen
            await wait_for(pilot, lambda: all_labeled(app))
            await wait_for(pilot, lambda: screen.coverage.pages >= 6)
            counts = _counts(screen)
            truth = {n.term: n for _, n in walk(app._coverage().trees["Area"])}
            assert counts["MeasuringTime"].startswith(
                f"MeasuringTime  {truth['MeasuringTime'].below}"
            )
            assert truth["MeasuringTime"].below >= 1

    asyncio.run(run())
