"""The Stage protocol and the ordered pipeline. Read the whole release flow here, on one screen."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from release.context import Context
from release.stages import charts, images, notes, plan


class Stage(Protocol):
    """A stage is a module with a NAME, a skip check that gives a reason, and a run that says what it did."""

    NAME: str

    def skip(self, ctx: Context) -> str | None: ...

    def run(self, ctx: Context) -> str: ...


PIPELINE: tuple[Stage, ...] = (
    plan,  # decide the version from commits since the last release tag; write it to the State
    images,  # build and push container images (version tag last), digests into the State
    charts,  # bump Chart.yaml and values in memory, package reproducibly, publish; digests into the State
    notes,  # render the release notes for that version into a file the later stages attach
)


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
        started = time.monotonic()
        reason = stage.skip(ctx)
        summary = reason if reason is not None else stage.run(ctx)
        ctx.state.save(ctx.state_path)
        result = Result(stage.NAME, reason is not None, summary, time.monotonic() - started)
        results.append(result)
        if report:
            report(result)
    return results
