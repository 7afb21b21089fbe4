"""The review app driven by Textual's Pilot, with the taught tiny model labeling for real."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import file_sha256
from mlx_edugraph.prediction import Prediction
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
    return lambda say, stop: resolve_choice(str(model) if model else None, **options)


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


# -- what the user sees: the list, the status line, the labels pane, notifications ------


def rows(app) -> list[tuple[str, str, str]]:
    """The list's rows, top to bottom: state (without its mark; a compact list shows only the
    mark), page name (without the near-duplicate mark) and confidence, as shown."""
    from mlx_edugraph.tui.worksheet_list import DUPLICATE_MARK, MARKS, WorksheetList

    by_mark = {mark: state for state, (mark, _) in MARKS.items()}
    table = app.query_one(WorksheetList)
    shown = []
    for index in range(table.row_count):
        state, name, confidence = (str(cell) for cell in table.get_row_at(index))
        state = state.split(" ", 1)[1] if " " in state else by_mark[state]
        shown.append((state, name.removeprefix(f"{DUPLICATE_MARK} "), confidence))
    return shown


def listed(app) -> bool:
    """The list shows the pages with what the store holds for them (the header's count of
    pages loses its "…" once the stored labels are read)."""
    return bool(rows(app)) and app.sub_title.endswith("page(s)")


def names(app) -> list[str]:
    """The pages the list shows, in its order ("name pN" for page N of a PDF)."""
    return [name for _, name, _ in rows(app)]


def states(app) -> dict[str, str]:
    """Each listed page's state, by name."""
    return {name: state for state, name, _ in rows(app)}


def highlighted(app) -> str | None:
    """The name of the page under the list's cursor."""
    from mlx_edugraph.tui.worksheet_list import WorksheetList

    table = app.query_one(WorksheetList)
    return names(app)[table.cursor_row] if table.row_count else None


UNREVIEWED = ("labeled", "needs review", "unsupported")
"""The states of a page the model has answered and no person has settled."""


def status(app) -> str:
    return str(app.query_one("#status").render())


def labeling_count(app) -> tuple[int, int, str] | None:
    """The status line's "done/queued state" of the labeling run, if it shows one."""
    found = re.search(r"(\d+)/(\d+) ([a-z]+)", status(app))
    return (int(found[1]), int(found[2]), found[3]) if found else None


def run_state(app) -> str | None:
    """The labeling run's state as the status line shows it (running, paused, ...)."""
    count = labeling_count(app)
    return count[2] if count else None


def notices(app, severity: str = "") -> list[str]:
    """The notice line's text ("title: message") while it shows one (of one severity)."""
    line = app.screen_stack[0].query_one("#notice")
    if not line.display or (severity and not line.has_class(f"-{severity}")):
        return []
    return [str(line.render())]


def all_labeled(app) -> bool:
    """As the user sees it: the model is ready, the list has rows and none is queued or being
    labeled, and the status line shows no run still going."""
    count = labeling_count(app)
    over = count is None or (count[0] == count[1] and count[2] == "idle")
    shown = [state for state, _, _ in rows(app)]
    waiting = {"queued", "labeling"}
    return "ready" in status(app) and over and bool(shown) and not waiting & set(shown)


def labels_text(app) -> str:
    from textual.widgets import OptionList

    options = app.query_one("#labels", OptionList)
    return "\n".join(
        str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
    )


def highlighted_label(app) -> str:
    """The term under the labels pane's cursor."""
    from textual.widgets import OptionList

    options = app.query_one("#labels", OptionList)
    return str(options.get_option_at_index(options.highlighted).prompt).split()[0]


def select(app, name: str) -> None:
    """Move the list's cursor to the page shown as `name`."""
    from mlx_edugraph.tui.worksheet_list import WorksheetList

    app.query_one(WorksheetList).move_cursor(row=names(app).index(name))


def stored_review(db: Path, page: Path):
    """The review the store file holds for the (first) page of the file `page`."""
    with Store(db) as store:
        return store.review(file_sha256(page), 0)


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
            await wait_for(pilot, lambda: listed(app))
            assert len(rows(app)) == 8  # 5 images, 2 PDF pages, 1 broken file
            await wait_for(pilot, lambda: all_labeled(app))
            shown = states(app)
            assert shown["broken.png"] == "error"
            assert shown["005-picture.png"] == "unsupported"
            assert shown["001-addition.png"] == "labeled"
            select(app, "002-multiplication.png")
            await pilot.pause()
            text = labels_text(app)
            assert "IntegerMultiplication" in text and "ProcedureApplication" in text
            assert "Arithmetic › IntegerArithmetic › IntegerMultiplication" in text
            assert "(implied)" in text  # ProcedureApplication beside its part
            assert "8/8 idle" in status(app) and "prompt tokens" in status(app)

    asyncio.run(run())


def test_navigation_filter_and_sort(folder: Path, labeled_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            first = highlighted(app)
            await pilot.press("j")
            assert highlighted(app) != first
            await pilot.press("k")
            assert highlighted(app) == first
            await pilot.press("slash", *"error", "enter")
            assert names(app) == ["broken.png"]
            outcome = str(app.query_one("#outcome").render())
            assert "Error:" in outcome and "not a readable image" in outcome
            await pilot.press("slash", *("backspace",) * 5, *"integermult", "enter")  # a term
            assert names(app) == ["002-multiplication.png", "worksheets.pdf p2"]
            await pilot.press("slash", *("backspace",) * 11, "enter")
            assert len(names(app)) == 8
            await pilot.press("s")  # least confident first: unreviewed labeled pages lead
            assert rows(app)[0][0] in UNREVIEWED

    asyncio.run(run())


def test_review_flow_saves_each_action_and_undoes(folder: Path, labeled_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            addition, page = folder / "001-addition.png", folder / "002-multiplication.png"
            select(app, addition.name)
            await pilot.pause()
            await pilot.press("a")  # accept, then on to the next unreviewed page
            assert stored_review(labeled_db, addition).status == "accepted"
            assert states(app)[addition.name] == "reviewed"
            assert highlighted(app) != addition.name
            assert states(app)[highlighted(app)] in UNREVIEWED

            select(app, page.name)
            await pilot.pause()
            await pilot.press("i", *"intadd")  # fuzzy completion, Area only
            await pilot.pause()
            await pilot.press("enter")
            review = stored_review(labeled_db, page)
            assert review.status == "corrected"
            assert review.labels["Area"] == ["IntegerMultiplication", "IntegerAddition"]
            assert "+ added" in labels_text(app)

            await pilot.press("u")
            assert stored_review(labeled_db, page) is None
            await pilot.press("u")  # and the accept before it
            assert stored_review(labeled_db, addition) is None

            # Remove a term, then accept: saved as a correction.
            await pilot.press("tab")
            await pilot.pause()
            assert highlighted_label(app) == "IntegerMultiplication"
            await pilot.press("x", "a")
            review = stored_review(labeled_db, page)
            assert review.status == "corrected" and review.labels["Area"] == []

    asyncio.run(run())


def test_reviews_survive_a_restart_and_export(folder: Path, labeled_db: Path, tmp_path) -> None:
    out = tmp_path / "reviewed.jsonl"

    async def review() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            select(app, "003-counting.png")
            await pilot.pause()
            await pilot.press("f")  # flagged: set aside, not yet truth
            assert stored_review(labeled_db, folder / "003-counting.png").status == "flagged"

    async def reopen() -> None:
        app = make_app(folder, labeled_db, None)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: listed(app))
            assert states(app)["003-counting.png"] == "needs review"  # read back from the store
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
def test_research_notice_is_in_the_header_and_help(folder: Path, tmp_path, outcome) -> None:
    from mlx_edugraph.tui.help_screen import RESEARCH_NOTICE

    async def run() -> None:
        app = make_app(folder, tmp_path / "labels.sqlite", None)
        async with app.run_test(size=(80, 24)) as pilot:
            title = app.query_one("HeaderTitle")
            # The header widget draws the new sub-title a refresh after `listed` sees it: wait
            # for the drawing, or the recorded header depends on a busy machine's timing.
            await wait_for(pilot, lambda: listed(app) and str(title.render()).endswith("page(s)"))
            header = str(title.render())
            assert "mlx-edugraph (research use only)" in header, header
            assert not app.screen.query("Toast")  # nothing over the page
            await pilot.press("question_mark")
            shown = str(app.screen.query_one("#help-notes").render())
            assert " ".join(shown.split()) == RESEARCH_NOTICE
            outcome(f"always in the header ({header!r}); in full in help: {RESEARCH_NOTICE}")

    asyncio.run(run())


def test_pause_resume_cancel_and_rerun(taught_mlx_model: Path, tmp_path) -> None:
    folder = tmp_path / "many"
    write_samples(folder, 24, size=DEMO_PAGE_SIZE, kinds=KINDS, seed=800)
    db = tmp_path / "labels.sqlite"
    page = folder / "001-addition.png"

    def labeled(app) -> int:
        """The pages the list shows as done (labeled, unsupported, ...)."""
        return sum(state not in ("queued", "labeling") for state, _, _ in rows(app))

    def stored() -> Prediction | None:
        with Store(db) as store:
            return store.latest(file_sha256(page), 0)

    async def run() -> None:
        app = make_app(folder, db, taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: run_state(app) == "running")
            await pilot.press("p")
            await wait_for(pilot, lambda: run_state(app) == "paused")
            paused_at = labeled(app)  # the page in flight was finished and is listed
            await pilot.pause(0.5)
            assert labeled(app) == paused_at
            await pilot.press("p")
            await wait_for(pilot, lambda: labeled(app) > paused_at + 1)
            await pilot.press("c")
            await wait_for(pilot, lambda: run_state(app) == "cancelled")
            cancelled_at = labeled(app)
            assert 0 < cancelled_at < 24
            await pilot.pause(0.3)
            assert labeled(app) == cancelled_at
            with Store(db) as store:
                assert len(list(store.predictions())) == cancelled_at

            select(app, page.name)
            first = stored()
            await pilot.press("r")  # re-run one page: a new prediction, same answer
            await wait_for(pilot, lambda: stored().timings != first.timings)
            assert stored().raw_text == first.raw_text

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
        ("mlx_edugraph.tui.preview.quadrant_strips", "halfcell", "could not draw the page"),
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
            await wait_for(pilot, lambda: notices(app, "error"), timeout=30)
            [failure] = notices(app, "error")
            assert failure == f"Background work failed: {notice}: RuntimeError: disk on fire"
            await pilot.press("question_mark")  # the app still answers keys
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=30)
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
            await wait_for(pilot, lambda: any("no worksheets" in t for t in notices(app)))
            await pilot.press("up", "k")
            assert rows(app) == [] and highlighted(app) is None and app.is_running
            assert app.query_one("#outcome").render().plain == ""  # no page shown

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
            with Store(settings.db) as store:
                predictions = list(store.predictions())
            assert len(predictions) == 2
            for prediction in predictions:
                assert {label.status for label in prediction.labels} == {"unverified"}
                select(app, Path(prediction.path).name)
                await pilot.pause()
                text = labels_text(app)
                assert prediction.labels[0].term in text
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
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            all_pages = names(app)
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
            screen.terms_tree.move_cursor(node)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, CoverageScreen))
            assert sorted(names(app)) == [
                "001-addition.png",
                "002-multiplication.png",
                "worksheets.pdf p1",
                "worksheets.pdf p2",
            ], names(app)
            assert "Area Arithmetic: 4 page(s), esc: all" in status(app)
            await pilot.press("escape")
            await pilot.pause()
            assert names(app) == all_pages
            assert "Arithmetic" not in status(app)

    asyncio.run(run())


def test_coverage_counts_follow_labeling(folder: Path, taught_mlx_model: Path, tmp_path) -> None:
    from mlx_edugraph.tui.coverage_screen import CoverageScreen

    db = tmp_path / "labels.sqlite"

    async def run() -> None:
        app = make_app(folder, db, taught_mlx_model)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: listed(app) and app.ontology is not None)
            await pilot.press("C")  # before the model has labeled anything
            await wait_for(pilot, lambda: isinstance(app.screen, CoverageScreen))
            screen = app.screen
            await wait_for(pilot, lambda: all_labeled(app))
            # The pages at or below MeasuringTime, counted from the store file.
            terms = {"MeasuringTime", *app.ontology.descendants("MeasuringTime")}
            with Store(db) as store:
                below = sum(bool(terms & set(p.terms("Area"))) for p in store.predictions())
            assert below >= 1
            shown = f"MeasuringTime  {below} "
            await wait_for(pilot, lambda: _counts(screen)["MeasuringTime"].startswith(shown))

    asyncio.run(run())
