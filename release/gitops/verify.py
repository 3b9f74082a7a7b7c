"""Close the loop: is a promoted release deployed and healthy? Asked of what the GitOps agent reports, never of the
cluster (CI holds no cluster credentials).

- Commit statuses: Flux's notification-controller (a Provider of type gitlab/github + an Alert) or Argo CD
  notifications post one on the infra commit they applied; read with the forge token (GITLAB_TOKEN read_api,
  GITHUB_TOKEN commit statuses: read).
- Argo CD: each application's synced revision, sync, health and last operation, with a read-only project-role
  token (ARGOCD_AUTH_TOKEN, or the variable `verify.argocd.token` names).

The release is the environment's record (gitops/record.py) at the branch head: its commit and every descendant
whose files still hold its values count (the agent reconciles the head, which may be a later commit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from release import secrets
from release.adapters import forge as forge_api
from release.adapters.argocd import ArgoCD
from release.config import EnvironmentConfig, VerifyConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops import mergerequest
from release.gitops import record as records
from release.gitops.clone import InfraClone, open_clone, repo_url
from release.gitops.edits import values_at
from release.gitops.environments import environment
from release.gitops.observe import UNKNOWN, Observation, combine, from_application, from_statuses

LIMIT = 20  # holding commits looked at, newest first
Say = Callable[[str], None]


@dataclass(frozen=True)
class Agents:
    """Where the agent's reports are read: the infra repo's forge (commit statuses), Argo CD."""

    forge: forge_api.Forge | None
    argocd: ArgoCD | None


def settings(env: EnvironmentConfig) -> VerifyConfig:
    if env.verify is None:
        raise ReleaseError(
            f"environment {env.name} has no verify: block, so nothing says when it is deployed",
            "add verify: {commit_status: [...]} or verify: {argocd: {...}} to it in release.yaml (README: Verify)",
        )
    return env.verify


def agents(ctx: Context, env: EnvironmentConfig) -> Agents:
    """The clients `verify:` asks for, with their tokens (registered for masking); a missing token is an error."""
    verify = settings(env)
    forge = mergerequest.resolve_forge(ctx, env, repo_url(ctx, env), reading=True) if verify.reads_statuses else None
    argocd = None
    if verify.argocd is not None:
        variable = verify.argocd.token
        token = ctx.env.get(variable)
        if not token:
            raise ReleaseError(
                f"environment {env.name}: verify.argocd needs a token, and {variable} is not set",
                f"set {variable} to a read-only project-role token (argocd proj role create-token PROJECT ROLE)",
            )
        secrets.register(token)
        argocd = ArgoCD(verify.argocd.server, {"Authorization": f"Bearer {token}"}, variable)
    return Agents(forge, argocd)


def preflight(ctx: Context, name: str) -> None:
    """Before a promote with --wait: the tokens are there and every Argo CD application can be read."""
    env = environment(ctx, name)
    found = agents(ctx, env)
    verify = settings(env)
    if found.argocd is not None and verify.argocd is not None:
        for app in verify.argocd.applications:
            found.argocd.application(app, project=verify.argocd.project)


def _values(clone: InfraClone, env: EnvironmentConfig, commit: str) -> list[dict[str, str | None]] | None:
    try:
        return [values_at(u, clone.read_at(commit, u.file)) for u in env.updates]
    except ReleaseError:  # unreadable there: it does not hold the release
        return None


def holding(clone: InfraClone, env: EnvironmentConfig, version: str, record: records.Record | None = None) -> list[str]:
    """The commits of the branch that hold `version` for `env`, newest first: its record commit (`record`, when the
    caller has read it already) and the descendants up to HEAD, before any commit that changed the values it
    wrote. [] when the branch does not hold it (not promoted, not merged yet, or a later version since). Needs a
    clone with history."""
    record = record or records.latest(clone, env)
    if record is None or record.version != version:
        return []
    commits = [*clone.descendants(record.commit), record.commit]
    written = _values(clone, env, record.commit)
    for touched in reversed(clone.descendants(record.commit, records.files_of(env))):  # oldest first
        if _values(clone, env, touched) != written:
            gone = {touched, *clone.descendants(touched)}
            commits = [c for c in commits if c not in gone]
            break
    return commits[:LIMIT]


def observe(
    ctx: Context,
    env: EnvironmentConfig,
    version: str,
    clone: InfraClone,
    found: Agents,
    *,
    refresh: bool = False,
    record: records.Record | None = None,
) -> Observation:
    """One look: what the agent says about `version` in `env` now."""
    verify = settings(env)
    commits = holding(clone, env, version, record)
    if not commits:
        return _not_there(ctx, env, version, clone)
    parts = []
    if found.forge is not None:
        forge = found.forge
        parts.append(
            from_statuses(verify.commit_status or (), commits, lambda sha: forge_api.commit_statuses(forge, sha))
        )
    if found.argocd is not None and verify.argocd is not None:
        for name in verify.argocd.applications:
            app = found.argocd.application(name, project=verify.argocd.project, refresh=refresh)
            parts.append(from_application(app, commits))
    return combine(parts)


def _not_there(ctx: Context, env: EnvironmentConfig, version: str, clone: InfraClone) -> Observation:
    """Why the branch does not hold the version: a merge request not merged yet (or closed), or not promoted."""
    branch = clone.where.branch
    if env.mode == "merge-request":
        forge = mergerequest.resolve_forge(ctx, env, clone.where.url)
        found = forge.find_mrs(mergerequest.release_branch(env, version), branch)
        if found and found[0].state == "closed":
            return Observation("failed", f"the {forge.noun} {found[0].url} was closed without merging")
        if found and found[0].state == "open":
            return Observation("pending", f"waits for the merge of {found[0].url}")
    return Observation("pending", f"{branch} of {env.repo} does not hold {version}")


def wait(
    ctx: Context,
    name: str,
    version: str,
    *,
    say: Say,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Look every `interval` seconds until the agent confirms `version` (healthy for `healthy_for` seconds): the
    line to print. A failure, Degraded health or the timeout is a ReleaseError; Ctrl-C or SIGTERM stop the wait
    and leave the infra repo as promoted."""
    env = environment(ctx, name)
    found = agents(ctx, env)
    start = clock()
    try:
        with open_clone(ctx, env, history=True, worktree=False) as clone:
            return _loop(ctx, env, version, clone, found, say, clock, sleep, start)
    except BaseException as exc:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, the CLI's SIGTERM
            say(f"{env.name}: stopped waiting after {clock() - start:.0f} s; {version} stays promoted")
        raise


def _loop(
    ctx: Context,
    env: EnvironmentConfig,
    version: str,
    clone: InfraClone,
    found: Agents,
    say: Say,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    start: float,
) -> str:
    verify = settings(env)
    healthy_since: float | None = None
    first = True
    while True:
        if not first:
            clone.sync()  # later commits: the agent may report on a descendant
        seen = observe(ctx, env, version, clone, found, refresh=first)
        first = False
        now = clock()
        elapsed = now - start
        if seen.state == "failed":
            raise ReleaseError(
                f"{env.name}: {version} failed: {seen.detail}",
                f"the infra repo stays as promoted; fix it there or roll back: release rollback {env.name}",
            )
        if seen.state == "healthy":
            healthy_since = now if healthy_since is None else healthy_since
            if now - healthy_since >= verify.healthy_for:
                return f"{env.name}: {version} deployed and healthy ({seen.source}, {elapsed:.0f} s)"
        else:
            healthy_since = None
        if elapsed >= verify.timeout:
            raise ReleaseError(
                f"{env.name}: {version} not confirmed in {verify.timeout} s (last: {seen.state}: {seen.detail})",
                "check the agent (Flux Alert + Provider, Argo CD notifications or application) and verify: in "
                "release.yaml; the infra repo stays as promoted",
            )
        say(f"{env.name}: waiting for {version}: {seen.state}: {seen.detail} ({elapsed:.0f} s)")
        sleep(max(0.0, min(verify.interval, verify.timeout - elapsed)))


def unconfirmed(ctx: Context, env: EnvironmentConfig, version: str) -> str | None:
    """`after: {env: ENV, verified: true}`: why ENV's agent has not confirmed `version` (one look), or None."""
    found = agents(ctx, env)
    with open_clone(ctx, env, history=True, worktree=False) as clone:
        seen = observe(ctx, env, version, clone, found)
    return None if seen.state == "healthy" else f"{seen.state}: {seen.detail}"


def observed(ctx: Context, clone: InfraClone, env: EnvironmentConfig, record: records.Record | None) -> Observation:
    """`release status`: what the agent says about the recorded version (unknown when it cannot tell)."""
    if env.verify is None:
        return UNKNOWN
    if record is None or record.version is None:
        return Observation("unknown", "no version recorded")
    try:
        return observe(ctx, env, record.version, clone, agents(ctx, env), record=record)
    except ReleaseError as exc:  # a token, a forge: the rest of status still holds
        return Observation("unknown", f"cannot tell: {exc.message}")
