"""Test: run the project's test commands; a failure stops the pipeline before anything is published.

A rerun of a commit already released does not run them again when the release that made its tag ran them (the
tag's Release-Tests trailer, or this State); a tag made by `release cut` or by hand is tested in its pipeline."""

from __future__ import annotations

from release.context import Context
from release.source import plans as planning
from release.source.tag import tested_by_release
from release.source.testcommands import run_all

NAME = "test"


def skip(ctx: Context) -> str | None:
    if not ctx.config.tests:
        return "no tests configured (tests: in release.yaml)"
    plans = [p for p in planning.make_plans(ctx) if p.releasable]
    if not plans:
        return "nothing to release"
    if tested_by_release(ctx, plans):
        tags = ", ".join(str(p.tag) for p in plans)
        return f"tests passed for this commit in the release that tagged it ({tags}); not rerun"
    return ctx.effects.tests_skipped([t.name for t in ctx.config.tests])


def run(ctx: Context) -> str:
    summary = run_all(ctx)
    ctx.state.tested = ctx.git.head()
    return summary
