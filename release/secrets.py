"""Secrets we hold are registered here, and everything we print passes through `mask`."""

from __future__ import annotations

_known: set[str] = set()
MASK = "****"


def register(value: str | None) -> None:
    # Very short values would mask ordinary words; nobody uses a 3-character token.
    if value and len(value) >= 4:
        _known.add(value)


def mask(text: str) -> str:
    for value in sorted(_known, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
