"""How pages are drawn: Kitty graphics, Sixel or half-blocks, as the terminal answers
textual-image's queries, with whichever textual-image version this Python has.

`auto` asks the real terminal once, at import. Here a fake terminal on a pseudo-terminal
answers those queries the way Kitty, a Sixel terminal or a plain one does, and the child
process reports what `image_widget_class("auto")` chose.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from mlx_edugraph.tui.halfblocks import HalfBlockImage
from mlx_edugraph.tui.preview import image_widget_class

PROBE = (
    "from mlx_edugraph.tui.preview import image_widget_class\n"
    "name = lambda cls: f'{cls.__module__}.{cls.__qualname__}'\n"
    "print('CHOSE', name(image_widget_class('auto')), end=' ', flush=True)\n"
    "try:\n"
    "    from textual_image import renderable\n"
    "    print(name(renderable.Image), 'END', flush=True)\n"
    "except Exception as exc:\n"  # textual-image 0.13+ probes in renderable already
    "    print(type(exc).__name__, 'END', flush=True)\n"
)

DEVICE_ATTRIBUTES = {True: b"\x1b[?62;4;22c", False: b"\x1b[?62;22c"}
"""The terminal's answer to `ESC [ c`: attribute 4 means Sixel graphics."""

TGP_QUERY = re.compile(rb"\x1b_G([^;\x1b]*)[^\x1b]*\x1b\\")


def _answers(output: bytes, sixel: bool, kitty: bool) -> bytes:
    """What a terminal with these graphics writes back for the queries in `output`."""
    reply = b""
    for match in TGP_QUERY.finditer(output):
        if kitty:
            image_id = re.search(rb"i=(\d+)", match.group(1))
            reply += b"\x1b_Gi=" + (image_id.group(1) if image_id else b"1") + b";OK\x1b\\"
    if b"\x1b[c" in output or b"\x1b[0c" in output:
        reply += DEVICE_ATTRIBUTES[sixel]
    return reply


def _auto_choice(sixel: bool, kitty: bool, size: tuple[int, int] = (40, 120)) -> tuple[str, str]:
    """Run the probe on a fake terminal of `size` (rows, columns); return (our widget class,
    textual-image's renderable)."""
    leader, follower = pty.openpty()
    rows, columns = size
    fcntl.ioctl(
        follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, columns * 8, rows * 16)
    )
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"END" not in seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer from the probe: {seen!r}")
            ready, _, _ = select.select([leader], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            seen += chunk
            if reply := _answers(chunk, sixel, kitty):
                os.write(leader, reply)
        child.wait(timeout=60)
    finally:
        os.close(leader)
        if child.poll() is None:
            child.kill()
    if b"CHOSE" not in seen:
        raise AssertionError(f"the probe said {seen!r}; stderr: {child.stderr.read()!r}")
    words = seen.split(b"CHOSE", 1)[1].split()
    return words[0].decode(), words[1].decode()


@pytest.mark.parametrize(
    ("sixel", "kitty", "renderable", "widget"),
    [
        (False, True, "textual_image.renderable.tgp.Image", "textual_image.widget"),
        (True, False, "textual_image.renderable.sixel.Image", "textual_image.widget"),
        (False, False, "textual_image.renderable.halfcell.Image", "mlx_edugraph.tui.halfblocks"),
    ],
    ids=["kitty", "sixel", "plain"],
)
def test_auto_follows_what_the_terminal_answers(
    sixel: bool, kitty: bool, renderable: str, widget: str
) -> None:
    # textual-image waits 0.1 s (2 s from 0.13) for each answer: a busy machine can miss one,
    # which reads as "no graphics", so a miss is asked again before it counts.
    for _ in range(3):
        chosen = _auto_choice(sixel, kitty)
        if chosen[1] == renderable:
            break
    assert chosen[1] == renderable
    assert chosen[0].startswith(widget)


def test_auto_falls_back_to_half_blocks_where_textual_image_cannot_probe() -> None:
    # A terminal that reports 0 columns: textual-image's import divides by it.
    widget, _ = _auto_choice(sixel=False, kitty=False, size=(0, 0))
    assert widget == "mlx_edugraph.tui.halfblocks.HalfBlockImage"


def test_explicit_modes() -> None:
    from textual_image import widget

    assert image_widget_class("kitty") is widget.TGPImage
    assert image_widget_class("sixel") is widget.SixelImage
    assert image_widget_class("halfcell") is HalfBlockImage
    assert image_widget_class("none") is None
