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
    return ctx.effects.tests_skipped([t.name for t in ctx.config.tests])


def run(ctx: Context) -> str:
    return run_all(ctx)
