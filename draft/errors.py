"""Errors a user can meet, each with a message written for that user.

Every error carries one sentence saying what went wrong and, where there is one,
a `hint` saying what to do next. The CLI prints both and exits non-zero; the
language server turns them into a single message. Tracebacks are for bugs.
"""

from __future__ import annotations

import reprlib


class DraftError(Exception):
    """A problem the user can fix; `str()` is the sentence to show them."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


_QUOTED = reprlib.Repr()
_QUOTED.maxstring = _QUOTED.maxother = 80
_QUOTED.maxlist = _QUOTED.maxdict = _QUOTED.maxtuple = 4
_QUOTED.maxlevel = 2


def quoted(value: object) -> str:
    """`repr(value)`, bounded: a message quoting a value (a hostile one too) stays one line."""
    try:
        text = _QUOTED.repr(value)
    except ValueError:  # an integer too long to convert
        return f"<{type(value).__name__}>"
    return text if len(text) <= 100 else text[:99] + "…"


class ConfigError(DraftError):
    """draft.toml is missing, unreadable, or lacks the environment asked for."""


class PackError(DraftError):
    """A pack is unknown or malformed."""


class DetectionError(DraftError):
    """No pack matches the app's files."""
