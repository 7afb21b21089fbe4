"""When the app may draw: results from threads can arrive before a widget has its parts, or
while the app closes, when Textual removes each widget's children before the widget itself."""

from __future__ import annotations

import functools
from collections.abc import Callable

from textual.app import App
from textual.message import Message
from textual.widget import Widget


def live(widget: Widget) -> bool:
    """Composed, mounted and not closing: every child it composed is still there.

    Textual marks a widget mounted only once its composed children are, and removes them only
    after the widget's own message loop stopped running.
    """
    return widget.is_mounted and widget.is_running


def while_shown(handler: Callable) -> Callable:
    """For the app's handlers of messages from the threads: once the app stops running (it
    is closing), its widgets are going and there is nothing to update or start."""

    @functools.wraps(handler)
    def guarded(self: App, message: Message) -> None:
        if self.is_running:
            handler(self, message)

    return guarded
