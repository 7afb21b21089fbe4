"""`g`: the pages related to the one on screen, and those after and before it on a learning
path (related_search.py finds them off the UI thread); choosing one moves the list to it."""

from __future__ import annotations

from pathlib import Path

from textual import work

from mlx_edugraph.store.competence_index import Match

from .lifetime import while_shown
from .messages import RelatedFound
from .related_screen import RelatedRow, RelatedScreen
from .related_search import find_related
from .worksheet_list import entry_key


class RelatedPages:
    """Mixed into the review app: the related and next pages of the page on screen."""

    @work(thread=True, exclusive=True, group="related", exit_on_error=False, name="find related")
    def _find_related(self, key: str, page: tuple[str, int]) -> None:
        self.post_message(find_related(self.settings.db, key, page, self.ontology))

    @while_shown
    def on_related_found(self, message: RelatedFound) -> None:
        if message.problem:
            self.notify(message.problem, title="Related pages", severity="warning", timeout=10)
            return
        listed = self.collection.keys_of()
        lists = {
            title: [RelatedRow(_name(m), m.score, m.why, listed.get((m.key, m.page))) for m in ms]
            for title, ms in message.lists.items()
        }
        shown = self.by_key.get(message.key)
        title = f"Pages related to {shown.ref.path.name if shown else 'this one'}"
        self.push_screen(RelatedScreen(title, lists), self._go_to)

    def action_related(self) -> None:
        entry = self.current
        if entry is None or not entry.sha256:
            self.notify("no page on screen", title="Related pages", timeout=5)
            return
        self._find_related(entry_key(entry), (entry.sha256, entry.ref.page))


def _name(match: Match) -> str:
    """The file's name (and page), as the list shows it: a full path fills an 80-column row."""
    name = Path(match.path).name
    return f"{name} p{match.page}" if match.page else name
