"""Charts: bump Chart.yaml and values in memory, package reproducibly, publish to OCI registries."""

from __future__ import annotations

from release.charts.build import ChartJob
from release.charts.publish import publish
from release.context import Context
from release.source import claims
from release.source import plans as planning

NAME = "charts"


def skip(ctx: Context) -> str | None:
    if not ctx.config.charts:
        return "no charts configured"
    return None if any(p.releasable for p in planning.make_plans(ctx)) else "nothing to release"


def run(ctx: Context) -> str:
    claims.claim(ctx)  # before the registry is read: another commit's pipeline may be publishing this version
    jobs: list[ChartJob] = []

    def done() -> str:
        jobs.extend(publish(ctx, say=ctx.say))
        return ", ".join(f"{j.meta.name} {j.meta.version}" for j in jobs)

    summary = ctx.effects.outcome(done)  # in a dry run: "would publish …"
    return summary if jobs else "nothing to release"
