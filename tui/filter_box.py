"""The list's filter box: Esc leaves it, cleared, so the box never traps the keyboard."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBox(Input):
    """Typed text filters the list (every letter is text, q too: ctrl+c quits from here)."""

    BINDINGS = [Binding("escape", "leave", "Clear the filter", show=False)]

    class Left(Message):
        """The box was left with Esc, cleared and hidden: the list takes the keys again."""

    def action_leave(self) -> None:
        self.value = ""  # posts Input.Changed: the list shows every page again
        self.display = False
        self.post_message(self.Left())
