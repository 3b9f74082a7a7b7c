"""Errors a user can act on, and the exit codes every command uses.

0 done (including "nothing to release"), 1 expected failure with a one-line reason,
2 usage error (click's own), 3 bug. Only ReleaseError maps to 1: anything else is a bug
and must never be dressed up as a user error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BUG = 3


class ReleaseError(Exception):
    """An expected failure: what is wrong, and how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        """The one line shown to the user: line breaks from user text (a key, a commit footer) shown escaped."""
        text = f"{self.message} (hint: {self.hint})" if self.hint else self.message
        return text.translate(_LINE_BREAKS)


# Everything str.splitlines() splits on, written as a Python escape.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
