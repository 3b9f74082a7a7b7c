"""Images: build and push container images, tags by convention, digests recorded in the State."""

from __future__ import annotations

from release.context import Context
from release.images.publish import publish, releases
from release.source import claims

NAME = "images"


def skip(ctx: Context) -> str | None:
    if not ctx.config.images:
        return "no images configured"
    return None if releases(ctx) else "nothing to release"


def run(ctx: Context) -> str:
    claims.claim(ctx)  # before the registry is read: another commit's pipeline may be publishing this version
    jobs = publish(ctx, push=True, force=False, say=ctx.say)
    done = [
        f"{j.repo.name}@{j.done_digest}"
        if j.done_digest
        else f"would {'wait for' if j.elsewhere else 'build'} {j.repo.name}"
        for j in jobs
    ]
    return ", ".join(done) or "nothing to release"
