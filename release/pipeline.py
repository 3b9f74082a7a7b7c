"""The Stage protocol and the ordered pipeline. Read the whole release flow here, on one screen."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from release.context import Context
from release.stages import charts, images, notes, plan, promote, publish, test


class Stage(Protocol):
    """A stage is a module with a NAME, a skip check that gives a reason, and a run that says what it did."""

    NAME: str

    def skip(self, ctx: Context) -> str | None: ...

    def run(self, ctx: Context) -> str: ...


PIPELINE: tuple[Stage, ...] = (
    plan,  # decide the version from commits since the last release tag; write it to the State
    test,  # run the project's test commands: a failure stops everything before anything is published
    images,  # build and push container images (version tag last), digests into the State
    charts,  # bump Chart.yaml and values in memory, package reproducibly, publish; digests into the State
    publish,  # tag the commit and push the tag, last: a run that failed earlier leaves no tag behind
    notes,  # the release notes file, and the GitLab/GitHub release object with links to images and charts
    promote,  # commit the version to each automatic environment's infra repo (or open a merge request)
)
NAMES = tuple(stage.NAME for stage in PIPELINE)


@dataclass(frozen=True)
class Result:
    stage: str
    skipped: bool
    summary: str
    seconds: float


def run(
    ctx: Context, stages: Sequence[Stage] = PIPELINE, report: Callable[[Result], None] | None = None
) -> list[Result]:
    """Run stages in order; the State is saved after each, so a failure keeps what was done before it."""
    results = []
    for stage in stages:
        _crash_at(f"{stage.NAME}:before")  # test hook
        started = time.monotonic()
        reason = stage.skip(ctx)
        summary = reason if reason is not None else stage.run(ctx)
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))
        result = Result(stage.NAME, reason is not None, summary, time.monotonic() - started)
        results.append(result)
        if report:
            report(result)
        _crash_at(f"{stage.NAME}:after")  # test hook
    return results


def _crash_at(point: str) -> None:
    """Test hook (tests/test_crash_resume.py): RELEASE_TEST_CRASH_AT=<stage>:<before|after> is a kill -9 there."""
    if os.environ.get("RELEASE_TEST_CRASH_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
