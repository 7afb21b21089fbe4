"""Ask where to export the review's labels (the format follows the file's suffix), export, and
say how it went."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.store.sqlite_store import Store


def reviewed_exporter(
    store: Store, fingerprint: str | None, ontology: Ontology | None
) -> Callable[[Path], int]:
    """Export the reviewed pages (and the model's labels where none) to a path, in the format
    its suffix names; returns the count of pages."""
    from mlx_edugraph.labelstudio.export import export_label_studio
    from mlx_edugraph.store.export_reviewed import export_reviewed, format_for, reviewed_pages

    def export(path: Path) -> int:
        pages = list(reviewed_pages(store, fingerprint))
        if format_for(path) == "labelstudio":
            return export_label_studio(pages, path, ontology).count
        return export_reviewed(pages, path)

    return export


class ExportScreen(ModalScreen[None]):
    """Asks for a path, then calls `export` with it (which returns the count of pages)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default: Path, export: Callable[[Path], int]) -> None:
        super().__init__()
        self.default = default
        self.export = export

    def compose(self) -> ComposeResult:
        with Vertical(id="export"):
            yield Label("Export labels to (.jsonl, .csv, or .json for Label Studio):")
            yield Input(str(self.default), id="export-path")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(None)
        if not value:
            return
        path = Path(value).expanduser()
        try:
            count = self.export(path)
        except (OSError, ValueError) as exc:
            self.app.notify(f"export failed: {exc}; any earlier file is intact", severity="error")
            return
        self.app.notify(f"exported {count} page(s) to {path}", timeout=5)
