"""The project's own test commands (`tests:` in release.yaml), run in order through the shell adapter."""

from __future__ import annotations

import time

from release.adapters import shell
from release.context import Context
from release.errors import ReleaseError


def run_all(ctx: Context) -> str:
    """Every configured command in order; the first failure is an error naming it (nothing is published)."""
    done = []
    for test in ctx.config.tests:
        ctx.say(f"test {test.name}: {test.run}")
        started = time.monotonic()
        try:
            code = shell.run(test.run, ctx.root, ctx.env, timeout=test.timeout)
        except shell.TimedOut:
            raise ReleaseError(
                f"test {test.name!r} did not finish within {test.timeout} s: {test.run}",
                "make it faster or raise tests[].timeout in release.yaml; nothing was published",
            ) from None
        if code != 0:
            raise ReleaseError(
                f"test {test.name!r} failed (exit {code}): {test.run}",
                "fix the failure and rerun; nothing was published",
            )
        done.append(test.name)
        ctx.say(f"test {test.name}: passed in {time.monotonic() - started:.1f}s")
    return "passed: " + ", ".join(done)
