"""Duplicate sheets marked in the list (the store's sheet signatures) and "more like this"
(`m`, the store's page vectors), both searched off the UI thread (similar_search.py)."""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from .lifetime import while_shown
from .messages import DuplicatesFound, SimilarFound
from .similar_screen import SimilarRow, SimilarScreen
from .similar_search import find_duplicates, find_similar
from .worksheet_list import entry_key


class SimilarPages:
    """Mixed into the review app: marking duplicate sheets and showing a page's neighbours."""

    @work(thread=True, exclusive=True, group="similar", exit_on_error=False, name="find similar")
    def _find_similar(self, key: str, page: tuple[str, int], fingerprint: str | None) -> None:
        self.post_message(find_similar(self.settings.db, key, page, fingerprint))

    @work(
        thread=True, exclusive=True, group="duplicates", exit_on_error=False, name="mark duplicates"
    )
    def _find_duplicates(self, pages: dict[tuple[str, int], str]) -> None:
        worker = get_current_worker()
        found = find_duplicates(self.settings.db, pages, lambda: worker.is_cancelled)
        if found is not None:
            self.post_message(found)

    def _mark_duplicates(self) -> None:
        pages = self.collection.paths()
        if pages:
            self._find_duplicates(pages)

    @while_shown
    def on_duplicates_found(self, message: DuplicatesFound) -> None:
        for entry in self.collection.mark_duplicates(message.pages):
            self._refresh_entry(entry)

    @while_shown
    def on_similar_found(self, message: SimilarFound) -> None:
        if message.problem:
            self.notify(message.problem, title="Similar pages", severity="warning", timeout=10)
            return
        if not message.neighbours:
            self.notify("no other page has a vector yet", title="Similar pages", timeout=5)
            return
        listed = self.collection.keys_of()
        rows = [
            SimilarRow(message.names[n.page], n.similarity, listed.get(n.page))
            for n in message.neighbours
        ]
        shown = self.by_key.get(message.key)
        title = f"Pages most like {shown.ref.path.name if shown else 'this one'}"
        self.push_screen(SimilarScreen(title, rows), self._go_to)

    def action_similar(self) -> None:
        entry = self.current
        if entry is None or not entry.sha256:
            self.notify("no page on screen", title="Similar pages", timeout=5)
            return
        self._find_similar(entry_key(entry), (entry.sha256, entry.ref.page), self.fingerprint)
