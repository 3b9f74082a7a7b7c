"""Promote: write the released version into the infra repo of each automatic environment (or those asked for).

The GitOps agent (Argo CD, Flux) deploys from that commit; CI never holds cluster credentials.
An environment whose `after:` environment does not hold the version yet is skipped with that reason.
"""

from __future__ import annotations

from release.context import Context
from release.gitops.targets import targets, version

NAME = "promote"


def skip(ctx: Context) -> str | None:
    if not ctx.config.environments:
        return "no environments configured"
    if not targets(ctx):
        return "no environment is automatic (automatic: true), and none was named with --environment"
    if version(ctx) is None:
        return "nothing to release"
    return None


def run(ctx: Context) -> str:
    from release.gitops import environments, promote  # git plumbing and jinja2: only when promoting

    ver = version(ctx)
    assert ver is not None  # skip() said so
    done = []
    for name in targets(ctx):
        try:
            outcome = promote.promote(ctx, name, str(ver), dry_run=ctx.options.dry_run, say=ctx.say)
        except environments.NotYet as exc:  # only this: every other error stops the run
            ctx.say(f"{name}: skipped: {exc.message}")
            done.append(f"{name} waits for {environments.environment(ctx, name).after}")
            continue
        if ctx.options.dry_run:
            ctx.say(outcome.diff.rstrip("\n") or f"{name}: no change")
            done.append(f"{name} (dry run)")
        elif outcome.url:
            done.append(f"{name} {outcome.url}")
        elif outcome.commit:
            done.append(f"{name} {outcome.commit[:12]}")
        else:
            done.append(f"{name} already at {ver}")
    return ", ".join(done)
