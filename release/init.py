"""`release init`: a starter release.yaml from what the repo holds. (Being written; see issue #6.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from release.errors import ReleaseError


def main(root: Path, *, force: bool, to_stdout: bool, say: Callable[[str], None], echo: Callable[[str], None]) -> None:
    raise ReleaseError("release init is not written yet", "see issue #6")
