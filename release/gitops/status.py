"""`release status`: what each environment's files hold, read back from its infra repository."""

from __future__ import annotations

from typing import Any

from release.context import Context
from release.gitops.clone import open_clone
from release.gitops.edits import current_value


def status(ctx: Context) -> list[dict[str, Any]]:
    """For every environment: the version its first file holds, and the commit that last changed that file."""
    out = []
    for env in ctx.config.environments:
        first = env.updates[0]
        with open_clone(ctx, env, history=True) as clone:
            text = clone.read(first.file)
            version = current_value(first, text) if text is not None else None
            change = clone.last_change(first.file)
        out.append(
            {
                "env": env.name,
                "repo": env.repo,
                "branch": clone.where.branch,
                "file": first.file,
                "version": version,
                "commit": change[0] if change else None,
                "date": change[1] if change else None,
            }
        )
    return out
