"""The starter chart `release init --chart` copies into an application repository that has a Dockerfile and no chart.

It ships inside the package (release/ci/starter, package data), in Helm's starter layout: every `<CHARTNAME>` is the
chart's name, as `helm create NAME --starter DIR` replaces it (the repository's top-level charts/starter links here).
A Deployment, a Service, an optional Ingress; values.yaml's image.repository/tag/digest and release.version/commit
are what `release init` wires to `{image.NAME.*}`, `{version}` and `{sha}`.
"""

from __future__ import annotations

import re
from pathlib import Path

from release.errors import ReleaseError

STARTER = Path(__file__).parent / "starter"
PLACEHOLDER = "<CHARTNAME>"


def chart_name(text: str) -> str:
    """A Helm chart name from an image name: lowercase letters, digits and single dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name or "app"


def files() -> list[Path]:
    """The starter's files, relative to it, sorted: the same repository always gets the same bytes."""
    found = sorted(p.relative_to(STARTER) for p in STARTER.rglob("*") if p.is_file())
    if not found:  # a broken install (package data left out): a bug, not the user's to fix
        raise RuntimeError(f"the starter chart is missing from the installed package ({STARTER})")
    return found


def target(top: Path, name: str) -> Path:
    """Where the chart goes (charts/NAME); an error, before anything is written, when that folder is taken."""
    where = top / "charts" / name
    if where.exists():
        raise ReleaseError(
            f"charts/{name} already exists",
            "move it away, or run `release init` without --chart to wire the chart you have",
        )
    return where


def copy(where: Path, name: str) -> list[Path]:
    """Write the starter into `where` with its name filled in; returns the files written."""
    written = []
    for relative in files():
        text = (STARTER / relative).read_text(encoding="utf-8")
        path = where / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace(PLACEHOLDER, name), encoding="utf-8")
        written.append(path)
    return written
