"""Notes: render the release notes for the planned version into a file later stages attach."""

from __future__ import annotations

from pathlib import Path

from release.context import Context
from release.source.notes import write_files

NAME = "notes"


def skip(ctx: Context) -> str | None:
    return None


def run(ctx: Context) -> str:
    """Write each release's notes file; after a publish (`release run`), also the forge's release object."""
    written: list[Path] = []

    def write() -> str:
        written.extend(write_files(ctx))
        return "wrote " + ", ".join(str(p.relative_to(ctx.root)) for p in written)

    summary = ctx.effects.outcome(write)  # in a dry run: "would write …"
    if not written:
        return "nothing to release"
    if not ctx.effects.tag_published(ctx.state.released):
        return f"{summary}; no release object: the tag is not published (publish stage)"
    from release.forges import releases as forgerelease  # requests: only when a release object is made

    reason = forgerelease.skip(ctx)
    done = reason if reason is not None else forgerelease.publish(ctx, ctx.say)
    return f"{summary}; release object: {done}"
