"""Which environments a `release run` promotes, and the version it promotes to them (no git, no jinja2)."""

from __future__ import annotations

import semver

from release.context import Context
from release.errors import ReleaseError


def targets(ctx: Context) -> list[str]:
    """--environment names, else the environments marked `automatic: true`, in release.yaml order."""
    if ctx.options.environments:
        return list(ctx.options.environments)
    return [e.name for e in ctx.config.environments if e.automatic]


def version(ctx: Context) -> semver.Version | None:
    """The version this run released: the repo's, or the one component's (monorepo, `--component`)."""
    text = ctx.state.version
    if text is None:
        released = [c for c in ctx.state.components if c.get("version")]
        if len(released) > 1:
            raise ReleaseError(
                f"{len(released)} components were released; environments take one version",
                "run one pipeline per component (release run --component NAME, see release ci generate)",
            )
        text = released[0]["version"] if released else None
    return semver.Version.parse(text) if text else None
