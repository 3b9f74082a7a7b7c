"""Insert a release's section into CHANGELOG.md, keeping every hand-written byte around it."""

from __future__ import annotations

import re

MARKER = "<!-- release: new versions are inserted below this line -->"
TITLE = "# Changelog"


def has_version(text: str, version: str) -> bool:
    return re.search(rf"^##\s+\[?{re.escape(version)}\]?(?=[\s(]|$)", text, re.MULTILINE) is not None


def insert(existing: str | None, section: str, version: str) -> str | None:
    """The new CHANGELOG text, or None when it already has a section for `version` (a rerun)."""
    if not existing:  # no file, or an empty one
        return f"{TITLE}\n\n{MARKER}\n\n{section.rstrip()}\n"
    if has_version(existing, version):
        return None
    newline = "\r\n" if "\r\n" in existing else "\n"
    block = section.rstrip().replace("\n", newline) + newline
    if MARKER in existing:
        head, _, tail = existing.partition(MARKER)
        rest = tail.lstrip("\r\n")
        return f"{head}{MARKER}{newline}{newline}{block}" + (f"{newline}{rest}" if rest else "")
    # Keep a Changelog files open with `## [Unreleased]`: new versions go below it, above the last release.
    first_release = re.search(r"^## (?!\[?unreleased\b)", existing, re.MULTILINE | re.IGNORECASE)
    if first_release:
        at = first_release.start()
        return f"{existing[:at]}{MARKER}{newline}{newline}{block}{newline}{existing[at:]}"
    body = existing if existing.endswith(("\n", "\r")) or not existing else existing + newline
    return f"{body}{newline}{MARKER}{newline}{newline}{block}"
