"""How long the coverage screen takes for a large collection: from the key to the trees drawn
with their counts, in the real app (headless), over the pages of a store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.pages.worksheets import WorksheetRef
from mlx_edugraph.store.export_reviewed import reviewed_pages
from mlx_edugraph.store.page_states import Entry
from mlx_edugraph.store.sqlite_store import Store


def coverage_screen_seconds(db: Path, ontology: Ontology | None) -> float:
    """Seconds from pressing C to the coverage screen drawn, with every page of `db` listed."""
    from .app import ReviewApp
    from .coverage_screen import CoverageScreen
    from .labeler import Settings

    with Store(db) as store:
        entries = []
        for page in reviewed_pages(store):
            ref = WorksheetRef(Path(page.prediction.path))
            entries.append(Entry(ref, page.prediction.sha256, page.prediction, page.review))

    async def run() -> float:
        app = ReviewApp([], Settings(db=db), image_mode="none")
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            app.collection.entries, app.ontology = entries, ontology
            shown = asyncio.Event()
            started = time.perf_counter()
            await pilot.press("C")
            while not isinstance(app.screen, CoverageScreen) or not app.screen.items:
                await asyncio.sleep(0.001)
            app.call_after_refresh(shown.set)
            await shown.wait()
            return time.perf_counter() - started

    return asyncio.run(run())
