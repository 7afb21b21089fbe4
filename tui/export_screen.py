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
