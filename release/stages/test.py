"""Test: run the project's test commands; a failure stops the pipeline before anything is published.

A rerun of a commit that is already released (its release tag is on it, or this State says the release went out)
does not run them again: the release that tagged it ran them before the tag was pushed."""

from __future__ import annotations

from release.context import Context
from release.source import plans as planning
from release.source.testcommands import run_all

NAME = "test"


def skip(ctx: Context) -> str | None:
    if not ctx.config.tests:
        return "no tests configured (tests: in release.yaml)"
    plans = [p for p in planning.make_plans(ctx) if p.releasable]
    if not plans:
        return "nothing to release"
    released = ctx.state.released and ctx.state.sha is not None and ctx.state.sha == ctx.git.head()
    if released or all(p.head_tagged for p in plans):
        tags = ", ".join(str(p.tag) for p in plans)
        return f"tests passed for this commit in the release that tagged it ({tags}); not rerun"
    return ctx.effects.tests_skipped([t.name for t in ctx.config.tests])


def run(ctx: Context) -> str:
    return run_all(ctx)
