"""Environments: which to promote, which version, and whether one must wait for another (`after:`)."""

from __future__ import annotations

from dataclasses import dataclass

import semver

from release.config import EnvironmentConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops.clone import open_clone
from release.gitops.edits import mismatches
from release.gitops.resolve import released


@dataclass(frozen=True)
class Outcome:
    env: str
    repo: str
    version: str
    commit: str | None  # None: nothing was committed (already there, or a dry run)
    diff: str = ""
    url: str | None = None  # merge-request mode: the merge/pull request's web page


def environment(ctx: Context, name: str) -> EnvironmentConfig:
    for env in ctx.config.environments:
        if env.name == name:
            return env
    known = ", ".join(e.name for e in ctx.config.environments)
    raise ReleaseError(
        f"unknown environment {name!r}",
        f"known environments: {known}" if known else "add it under `environments:` in release.yaml",
    )


def resolve_version(ctx: Context, given: str | None) -> semver.Version:
    text = given or ctx.state.version
    if text is None:
        from release.source import plans as planning

        plans = planning.make_plans(ctx)
        found = next((p.next_version for p in plans if p.next_version is not None), None)
        if found is None:
            raise ReleaseError("there is no version to promote (nothing to release)", "pass --version VERSION")
        return found
    try:
        return semver.Version.parse(text.removeprefix("v"))
    except ValueError:
        raise ReleaseError(f"{text!r} is not a semantic version", "pass --version x.y.z") from None


class NotYet(ReleaseError):
    """The environment's `after:` environment does not hold the version yet: `release run` skips it."""


def waiting_for(ctx: Context, env: EnvironmentConfig, ver: semver.Version) -> str | None:
    """Why `env` cannot take `ver` yet (its `after:` environment does not hold it), or None."""
    if env.after_env is None:
        return None
    before = environment(ctx, env.after_env)
    with open_clone(ctx, before) as clone:
        problems = mismatches(before.updates, clone.read, released(ctx, ver).values)
    if not problems:
        return None
    return f"{env.name} is promoted after {before.name}, and {before.name} is not at {ver} yet ({problems[0]})"


def record(ctx: Context, env: EnvironmentConfig, commit: str, version: str, **more: str) -> None:
    entry = {"env": env.name, "repo": env.repo, "commit": commit, "version": version, **more}
    if env.url:
        entry["url"] = env.url  # GitLab's environment url (the dotenv report), GitHub's deployment environment_url
    ctx.state.promotions = [p for p in ctx.state.promotions if p.get("env") != env.name] + [entry]


class Held(ReleaseError):
    """The environment was rolled back and is held: an automatic promote (`release run`) skips it."""
