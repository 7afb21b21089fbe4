"""Add a term: fuzzy, ontology-aware completion limited to one dimension (tab switches it)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from mlx_edugraph.labels.ontology import Ontology, search_names
from mlx_edugraph.prediction import DIMENSIONS


class TermPicker(ModalScreen[tuple[str, str] | None]):
    """Returns (dimension, term), or None when dismissed."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("tab", "next_dimension", "Dimension", priority=True),
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
    ]

    def __init__(self, ontology: Ontology | None, dimension: str, exclude: set[str]) -> None:
        super().__init__()
        self.ontology = ontology
        self.dimension = dimension
        self.exclude = exclude
        self.stored: dict[str, set[str]] = {}
        """Without an ontology: the terms the store already holds, offered after the typed one."""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("", id="picker-title")
            yield Input(placeholder="type to search, e.g. intmul", id="picker-input")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        settings = getattr(self.app, "settings", None)
        if self.ontology is None and settings is not None and settings.db.is_file():
            from mlx_edugraph.store.sqlite_store import Store

            with Store(settings.db) as store:
                self.stored = store.terms()
        self._refresh()

    def action_next_dimension(self) -> None:
        self.dimension = DIMENSIONS[(DIMENSIONS.index(self.dimension) + 1) % len(DIMENSIONS)]
        self._refresh()

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    @on(Input.Changed)
    def _typed(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        title = f"Add a term to {self.dimension} (tab: other dimension, esc: cancel)"
        self.query_one("#picker-title", Label).update(title)
        query = self.query_one(Input).value
        options = self.query_one(OptionList)
        options.clear_options()
        if self.ontology is None:
            typed = query.strip()
            if typed:
                options.add_option(Option(f"{typed} (unverified)", id=typed))
            for name in search_names(query, self.stored.get(self.dimension, ()), limit=12):
                if name not in self.exclude and name != typed:
                    options.add_option(Option(f"{name} (in the store)", id=name))
        else:
            for name in self.ontology.search(query, self.dimension, limit=12):
                if name not in self.exclude:
                    options.add_option(Option(name, id=name))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self._pick(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option.id)

    def _pick(self, term: str | None) -> None:
        if term:
            self.dismiss((self.dimension, term))
