"""Publish: tag the released commit and push the tag, last, after images and charts are out.

A run that fails before this leaves no tag, so its rerun plans the same version and finishes the job."""

from __future__ import annotations

from release.context import Context
from release.source.origin import remote
from release.source.tag import publish_tag, releases

NAME = "publish"


def skip(ctx: Context) -> str | None:
    return None if releases(ctx) else "nothing to release"


def run(ctx: Context) -> str:
    head = ctx.git.head() or ""
    where = remote(ctx)
    done = []
    for plan in releases(ctx):
        done.append(publish_tag(ctx, plan, head, where))
    ctx.state.released = True
    return "; ".join(done)
