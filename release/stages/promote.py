"""Promote: write the released version into the infra repo of each automatic environment (or those asked for).

The GitOps agent (Argo CD, Flux) deploys from that commit; CI never holds cluster credentials.
An environment whose `after:` environment does not hold the version yet is skipped with that reason, and so is an
environment held by a rollback (until a person promotes a newer version, or runs `release unhold ENV`).
"""

from __future__ import annotations

import functools

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
    from release.gitops import environments  # git plumbing and jinja2: only when promoting

    ver = version(ctx)
    assert ver is not None  # skip() said so
    done = []
    for name in targets(ctx):
        try:
            done.append(ctx.effects.outcome(functools.partial(_one, ctx, name, str(ver))))  # dry run: "would …"
        except environments.NotYet as exc:  # only these two: every other error stops the run
            ctx.say(f"{name}: skipped: {exc.message}")
            done.append(f"{name} waits for {environments.environment(ctx, name).after_env}")
        except environments.Held as exc:
            ctx.say(f"{name}: skipped: {exc.message}")
            done.append(f"{name} held")
    return ", ".join(done)


def _one(ctx: Context, name: str, ver: str) -> str:
    from release.gitops import environments, promote, verify

    outcome = promote.promote(ctx, name, ver, say=ctx.say, automatic=True)
    settings = environments.environment(ctx, name).verify
    if settings is not None and settings.wait:  # verify: {wait: true}: the agent confirms before the next step
        wait = functools.partial(verify.wait, ctx, name, ver, say=ctx.say)
        ctx.say(ctx.effects.wait_deployed(f"wait for {name} to run {ver}", wait))
    if outcome.url:
        return f"{name} {outcome.url}"
    if outcome.commit:
        return f"{name} {outcome.commit[:12]}"
    return f"{name} already at {ver}"
