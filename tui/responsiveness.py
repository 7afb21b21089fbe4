"""Responsiveness benchmark: while the model labels a folder in the background, how long from
a key press to the updated screen? Prints median and max over the presses: j/k to the next
page, and (zoomed in) a pan key to the page redrawn.

    python -m mlx_edugraph.tui.responsiveness [--model DIR] [--pages 2000] [--presses 50]
        [--size 160x45]

Without --model it uses the tiny demo model (built once, cached). The app runs headless, so
the figures are the app's own work (no terminal emulator in the loop): from the key event to
the end of the first screen refresh showing the new page's labels, and to its image drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from textual import events

TARGET_MS = 100.0


async def press(app, key: str, changed) -> float:
    """Seconds from a key event to the end of the first screen refresh that shows its effect.

    Not Pilot's `press`: that waits until the whole process is idle (CPU time against wall
    time), which never happens while the model thread works; it would time the labeler.
    """
    refreshed = asyncio.Event()
    event = events.Key(key, key)
    event.set_sender(app)
    started = time.perf_counter()
    app._driver.send_message(event)
    while not changed():
        await asyncio.sleep(0.001)
    app.call_after_refresh(refreshed.set)
    await refreshed.wait()
    return time.perf_counter() - started


async def measure(
    model: Path, folder: Path, db: Path, presses: int, size: tuple[int, int] = (160, 45)
) -> dict:
    """Press j/k alternately while labeling runs; time each press to the refreshed list and
    labels pane, and to the page image drawn in the preview. Then zoom to 4x and pan down and
    up: time each pan key to the page redrawn."""
    from mlx_edugraph.model.choice import resolve_choice

    from .app import ReviewApp
    from .labeler import Settings
    from .preview import Preview, shown_path

    settings = Settings(db=db, choose=lambda say, stop: resolve_choice(str(model)))
    app = ReviewApp([folder], settings, image_mode="halfcell")
    keys, images, pans, during = [], [], [], 0
    async with app.run_test(size=size) as pilot:
        while app.labeling.state != "running":
            await pilot.pause(0.05)
        preview = app.query_one(Preview)
        for i in range(presses):
            before = app.selected
            started = time.perf_counter()
            key = "j" if i % 2 == 0 else "k"
            keys.append(await press(app, key, lambda before=before: app.selected != before))
            shown = shown_path(app.current.ref.path)
            while not preview.drawn.startswith(shown):
                await asyncio.sleep(0.001)
            images.append(time.perf_counter() - started)
            during += app.labeling.state == "running"
            await asyncio.sleep(0.1)  # a person's pace, not a key held down
        while preview.view is None or preview.view.name != "4x":
            await pilot.press("z")
        for i in range(presses):
            before = preview.draws
            started = time.perf_counter()
            await press(app, "j" if i % 2 == 0 else "k", lambda b=before: preview.draws > b)
            while preview.drawn_draw < preview.draws:
                await asyncio.sleep(0.001)
            pans.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
        done = app.labeling.done
    return {"keys": keys, "images": images, "pans": pans, "during": during, "labeled": done}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlx_edugraph.tui.responsiveness")
    parser.add_argument("--model", type=Path, help="MLX model folder (default: the demo model)")
    parser.add_argument("--pages", type=int, default=2000, help="worksheets in the list")
    parser.add_argument("--size", default="160x45", help="terminal size, COLSxROWS")
    parser.add_argument("--presses", type=int, default=50)
    args = parser.parse_args(argv)

    from mlx_edugraph.pages.samples import write_samples
    from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, demo_model

    model = args.model or demo_model(log=lambda line: print(line, file=sys.stderr))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ws"
        write_samples(folder, args.pages, size=DEMO_PAGE_SIZE, seed=4000)
        size = tuple(int(n) for n in args.size.split("x"))
        db = Path(tmp) / "labels.sqlite"
        result = asyncio.run(measure(model, folder, db, args.presses, size))
    print(f"model: {model}; {args.pages} pages; terminal {args.size}")
    print(
        f"presses: {args.presses} (j/k), {result['during']} of them while labeling ran; "
        f"{result['labeled']} pages labeled meanwhile"
    )
    for name, values in (
        ("key -> list + labels", result["keys"]),
        ("key -> page image", result["images"]),
        ("pan at 4x -> redrawn", result["pans"]),
    ):
        median, worst = statistics.median(values) * 1000, max(values) * 1000
        verdict = "OK" if median < TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
        print(f"{name:22} median {median:6.1f} ms   max {worst:6.1f} ms   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
