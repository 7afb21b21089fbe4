"""Keys never trap, notices stay in one line, the terminal is known: the review app driven by
Textual's Pilot, as a user sees it (widgets, screen text, store rows)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from tests import test_tui
from tests.test_tui import (
    highlighted,
    labels_text,
    listed,
    make_app,
    names,
    notices,
    select,
    stored_review,
    wait_for,
)

folder, known_db = test_tui.folder, test_tui.known_db  # the same pages, fixed labels


async def ready(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: listed(app) and app.ontology is not None, timeout=30)


async def quit_with(pilot, *keys: str) -> None:
    """Press `keys`; the app must end (run_test's context then closes)."""
    await pilot.press(*keys)
    await wait_for(pilot, lambda: not pilot.app.is_running, timeout=10)


def focused(app) -> str:
    return type(app.focused).__name__ if app.focused else ""


def test_escape_leaves_and_clears_the_filter_and_q_is_a_letter_there(
    folder: Path, known_db: Path
) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            every = names(app)
            await pilot.press("slash", *"clockq")
            box = app.query_one("#filter")
            assert box.value == "clockq" and names(app) == [] and app.is_running
            await pilot.press("escape")  # out, cleared, the list has the keys again
            assert not box.display and box.value == ""
            assert names(app) == every and focused(app) == "WorksheetList"
            await pilot.press("j")
            assert highlighted(app) == every[1]
            await pilot.press("slash", *"clock", "enter")  # kept, the list has the keys
            assert names(app) == ["004-clock.png"] and focused(app) == "WorksheetList"
            await pilot.press("escape")  # esc on the list: every page again
            assert names(app) == every and not box.display
            await pilot.press("question_mark")  # help says so, and how to quit from a box
            said = " ".join(str(app.screen.query_one("#help-keys").render()).split())
            assert "esc leaves the box (the filter is cleared)" in said
            assert "ctrl+c quits from anywhere" in said and "q too" in said
            await quit_with(pilot, "q")

    asyncio.run(run())


@pytest.mark.parametrize("typed", ["", "q"])
def test_ctrl_c_quits_from_the_filter(folder: Path, known_db: Path, typed: str) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("slash", *typed)
            assert app.query_one("#filter").value == typed
            await quit_with(pilot, "ctrl+c")

    asyncio.run(run())


def type_ahead(app, *keys: str) -> None:
    """Send `keys` as a fast typist does: all queued before the app handles the first (Pilot's
    `press` lets the app go idle after each key)."""
    from textual import events

    for key in keys:
        event = events.Key(key, "/" if key == "slash" else key)
        event.set_sender(app)
        app._driver.send_message(event)


def test_keys_typed_right_after_slash_go_into_the_filter(folder: Path, known_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            select(app, "001-addition.png")
            await pilot.pause()
            type_ahead(app, "slash", *"add")  # on the list, a would accept the page
            await wait_for(pilot, lambda: app.query_one("#filter").value == "add", timeout=5)
            await wait_for(pilot, lambda: names(app) == ["001-addition.png"], timeout=5)
            assert focused(app) == "FilterBox"
            await pilot.press("slash")  # in the box, `/` is text
            assert app.query_one("#filter").value == "add/"
            await quit_with(pilot, "ctrl+c")
        assert stored_review(known_db, folder / "001-addition.png") is None

    asyncio.run(run())


@pytest.mark.parametrize("leave", ["escape", "ctrl+c"])
def test_term_picker_types_q_and_is_left_with_esc_or_ctrl_c(
    folder: Path, known_db: Path, leave: str
) -> None:
    from mlx_edugraph.tui.term_picker import TermPicker

    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            select(app, "001-addition.png")
            await pilot.press("i", *"equ")  # "q" in a term's name (Equations) is text
            assert isinstance(app.screen, TermPicker)
            assert app.screen.query_one("#picker-input").value == "equ"
            await pilot.press(leave)
            if leave == "escape":
                assert not isinstance(app.screen, TermPicker) and app.is_running
                await quit_with(pilot, "q")
            else:
                await wait_for(pilot, lambda: not app.is_running, timeout=10)
        assert stored_review(known_db, folder / "001-addition.png") is None

    asyncio.run(run())


@pytest.mark.parametrize(("opens", "key"), [("C", "q"), ("C", "ctrl+c"), ("?", "q"), ("t", "q")])
def test_q_and_ctrl_c_quit_from_the_other_screens(
    folder: Path, known_db: Path, opens: str, key: str
) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            select(app, "001-addition.png")
            await pilot.pause()
            await pilot.press(opens)
            await wait_for(pilot, lambda: len(app.screen_stack) == 2, timeout=10)
            await quit_with(pilot, key)

    asyncio.run(run())


def test_x_removes_a_label_only_from_the_labels_pane(folder: Path, known_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(120, 40)) as pilot:  # the list beside the page
            await ready(pilot)
            page = folder / "001-addition.png"
            select(app, page.name)
            await pilot.pause()
            before = labels_text(app)
            await pilot.press("x")  # the list has the focus: nothing is removed
            assert stored_review(known_db, page) is None and labels_text(app) == before
            assert "tab to the labels" in notices(app)[0]
            await pilot.press("tab", "x")
            assert stored_review(known_db, page).labels["Area"] == []

    asyncio.run(run())


def test_x_at_80x24_removes_the_highlighted_label(folder: Path, known_db: Path) -> None:
    """The list is folded at 80x24: the labels have the keys, x removes the one highlighted."""

    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            page = folder / "002-multiplication.png"
            select(app, page.name)
            await pilot.pause()
            assert app.query_one("#labels").has_focus
            assert app.labels_pane.highlighted.term == "IntegerMultiplication"
            await pilot.press("x")
            assert stored_review(known_db, page).labels["Area"] == []

    asyncio.run(run())


def test_notices_take_one_line_and_time_out_at_80x24(folder: Path, known_db: Path) -> None:
    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            line, preview = app.query_one("#notice"), app.query_one("#preview")
            assert not notices(app) and app.query_one("#status-bar").display
            page = preview.region
            await pilot.press("u")  # "nothing to undo", for 2 s
            await pilot.pause()
            assert notices(app) == ["nothing to undo"]
            assert line.region.height == 1 and not line.region.overlaps(page)
            assert preview.region == page  # the page did not move or shrink
            assert not app.screen.query("Toast")
            await pilot.press("s")  # a second notice shows in the same line
            await pilot.pause()
            assert notices(app) == ["sorted least confident first"]
            # then the one it hid, for its whole time (a notice at start is not lost)
            await wait_for(pilot, lambda: notices(app) == ["nothing to undo"], timeout=5)
            await wait_for(pilot, lambda: not notices(app), timeout=5)
            assert app.query_one("#status-bar").display  # the status bar is back

    asyncio.run(run())


def test_the_terminal_hint_is_said_once_without_picture_protocol(
    folder: Path, known_db: Path
) -> None:
    from mlx_edugraph.tui.halfblocks import HalfBlockImage
    from mlx_edugraph.tui.preview import image_widget_class
    from mlx_edugraph.tui.terminal_hint import HINT

    if image_widget_class("auto") is not HalfBlockImage:
        pytest.skip("this terminal draws pictures")

    async def run(mode: str) -> list[str]:
        app = make_app(folder, known_db, None, image_mode=mode)
        posted: list[str] = []
        notify = app.notify
        app.notify = lambda message, **options: (posted.append(message), notify(message, **options))
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            if mode == "auto":
                assert notices(app) == [HINT]
            await pilot.press("j", "k", "j")
            await pilot.pause()
        return posted

    posted = asyncio.run(run("auto"))
    assert posted.count(HINT) == 1
    for name in ("iTerm2", "WezTerm", "Ghostty", "Kitty"):
        assert name in HINT
    assert len(HINT) <= 78  # one line at 80 columns
    assert HINT not in asyncio.run(run("halfcell"))  # chosen by the user: no hint


def _fake_opener(bin_dir: Path, record: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {record}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS opens with `open`")
def test_o_opens_the_page_in_the_system_viewer(
    folder: Path, known_db: Path, tmp_path: Path, monkeypatch
) -> None:
    record = tmp_path / "opened"
    _fake_opener(tmp_path / "bin", record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            select(app, "003-counting.png")
            await pilot.press("o")
            await wait_for(pilot, record.exists, timeout=10)
            assert notices(app) == ["opening 003-counting.png in the system viewer"]

    asyncio.run(run())
    assert Path(record.read_text()) == folder / "003-counting.png"


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS opens with `open`")
def test_o_without_a_viewer_says_so_in_one_line(
    folder: Path, known_db: Path, tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    async def run() -> None:
        app = make_app(folder, known_db, None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            select(app, "003-counting.png")
            await pilot.press("o")
            await pilot.pause()
            [said] = notices(app, "error")
            assert "no `xdg-open`" in said and "003-counting.png" in said
            assert app.is_running

    asyncio.run(run())
