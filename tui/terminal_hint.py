"""Say once when the terminal draws no pictures: the page is then half-blocks, a blur of small
print, and the user may not know that another terminal would show it sharp."""

from __future__ import annotations

from .halfblocks import HalfBlockImage
from .preview import image_widget_class

HINT = "No sharp pictures here; iTerm2, WezTerm, Ghostty, Kitty draw them · o: open"
"""One line: the terminals that draw real pictures (Kitty graphics or Sixel), and the way out."""


def terminal_hint(mode: str) -> str | None:
    """The hint when the image mode was left to the terminal and it fell back to half-blocks
    (tmux, macOS Terminal.app); None when it draws pictures or the user chose the mode."""
    if mode == "auto" and image_widget_class(mode) is HalfBlockImage:
        return HINT
    return None
