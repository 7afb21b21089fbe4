"""The one exception the converter raises for problems a user can act on."""

from __future__ import annotations


class ConvertError(Exception):
    """A conversion that cannot start or finish; the message says what was found and what to do."""
