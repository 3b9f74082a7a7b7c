"""Test: run the project's test commands; a failure stops the pipeline before anything is published."""

from __future__ import annotations

from release.context import Context
from release.source import plans as planning
from release.source.testcommands import run_all

NAME = "test"


def skip(ctx: Context) -> str | None:
    if not ctx.config.tests:
        return "no tests configured (tests: in release.yaml)"
    if not any(p.releasable for p in planning.make_plans(ctx)):
        return "nothing to release"
    if ctx.options.dry_run:
        return f"dry run: would run {', '.join(t.name for t in ctx.config.tests)}"
    return None


def run(ctx: Context) -> str:
    return run_all(ctx)
