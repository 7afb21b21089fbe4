"""The coverage screen: the ontology's trees with the pages at and below each term; choosing a
term shows only its pages in the list. The app feeds it new counts as labeling and review go on."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from mlx_edugraph.evaluation.coverage import Coverage, Node, coverage, walk
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.page_states import Entry, collection_pages

HINT = "enter: show these pages in the list · space: open/close · esc: back · q: quit"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def count(entries: list[Entry], ontology: Ontology | None) -> Coverage:
    """The pages at and below each term. Counting 100,000 pages allocates as many small objects
    beside as many live entries; the collector's full passes would take several times the work
    itself, so it waits."""
    with _collector_paused():
        return coverage(collection_pages(entries), ontology)


def node_label(node: Node) -> Text:
    """A term with the pages at or below it and at it; terms no page has are dimmed."""
    if not node.below:
        return Text(f"{node.term}  none", style="dim")
    text = Text(node.term)
    text.append(f"  {node.below}", style="bold")
    text.append(f" ({node.at} at this term)", style="dim")
    return text


class CoverageScreen(ModalScreen[tuple[str, str] | None]):
    """Area, Scope and Ability trees with counts; dismissed with the chosen (dimension, term)."""

    BINDINGS = [
        Binding("escape,C", "dismiss(None)", "Back"),
        Binding("q", "app.quit", "Quit"),  # a modal screen hides the app's bindings
    ]

    def __init__(self, coverage: Coverage) -> None:
        super().__init__()
        self.terms_tree: Tree[tuple[str, str]] = Tree("Coverage", id="coverage-tree")
        self.terms_tree.show_root = False
        self.terms_tree.auto_expand = False
        self.counts_line = Static("", id="coverage-summary")
        self.items: dict[tuple[str, str], list[TreeNode]] = {}
        self._tops: dict[str, TreeNode] = {}
        self.coverage = coverage

    def compose(self) -> ComposeResult:
        with Vertical(id="coverage"):
            yield self.counts_line
            yield self.terms_tree
            yield Static(HINT, id="coverage-hint")

    def on_mount(self) -> None:
        self._build()
        self.terms_tree.focus()

    def _build(self) -> None:
        coverage = self.coverage
        self._paint_summary()
        if not coverage.trees:
            self.terms_tree.root.add_leaf("No ontology at hand: no trees (labels are unverified).")
            return
        for dimension in DIMENSIONS:
            top = self.terms_tree.root.add(Text(dimension, style="bold"), expand=True)
            self._tops[dimension] = top
            for node in coverage.trees[dimension]:
                self._add(top, dimension, node, depth=0)

    def _add(self, parent: TreeNode, dimension: str, node: Node, depth: int) -> None:
        expand = bool(node.below) and depth < 3
        if node.children:
            item = parent.add(node_label(node), data=(dimension, node.term), expand=expand)
            for child in node.children:
                self._add(item, dimension, child, depth + 1)
        else:
            item = parent.add_leaf(node_label(node), data=(dimension, node.term))
        self.items.setdefault((dimension, node.term), []).append(item)

    def _paint_summary(self) -> None:
        c = self.coverage
        self.counts_line.update(
            f"{c.pages} page(s) with results: {c.reviewed} reviewed, {c.flagged} flagged, "
            f"{c.unreviewed} not reviewed" + (f"; {c.gone} file(s) gone" if c.gone else "")
        )

    def update_counts(self, coverage: Coverage) -> None:
        """New counts in place: the open branches and the cursor stay where they are."""
        self.coverage = coverage
        self._paint_summary()
        for dimension in coverage.trees:
            for _, node in walk(coverage.trees[dimension]):
                for item in self.items.get((dimension, node.term), ()):
                    item.set_label(node_label(node))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data is not None:
            self.dismiss(event.node.data)
