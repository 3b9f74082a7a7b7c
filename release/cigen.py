"""`release ci generate`: per-component CI jobs for monorepos. (Being written; see issue #6.)"""

from __future__ import annotations

from collections.abc import Callable

from release.context import Context
from release.errors import ReleaseError


def main(
    ctx: Context, fmt: str | None, output: str | None, *, say: Callable[[str], None], echo: Callable[[str], None]
) -> None:
    raise ReleaseError("release ci generate is not written yet", "see issue #6")
