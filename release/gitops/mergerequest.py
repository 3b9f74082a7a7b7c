"""Promote through a merge request (GitLab) or pull request (GitHub): a release branch in the infra repository,
and the request that merges it."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from release.adapters import forge as forge_api
from release.adapters.effects import Preview
from release.adapters.retry import backoff
from release.config import EnvironmentConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.forges import releases as forgerelease
from release.gitops.clone import ATTEMPTS, BACKOFF_SECONDS, InfraClone
from release.gitops.edits import message, plan_edits
from release.gitops.environments import Outcome, record
from release.yaml import edit as yamledit

Say = Callable[[str], None]


def release_branch(env: EnvironmentConfig, version: str) -> str:
    return f"release/{env.name}/{version}"


def write_mr(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    say: Say,
) -> Outcome:
    """Merge-request mode: the commit on `release/<env>/<version>`, then one open merge/pull request for it.

    The commit is always made on the target branch's tip. When the release branch already exists with the same
    tree, nothing is pushed; otherwise it is replaced with `--force-with-lease` (that branch only, and only if
    it is still where we saw it), so the merge request always shows a single commit on the current target tip.
    The target branch itself is never pushed to."""
    branch, target = release_branch(env, version), clone.where.branch
    would = (
        f"{fields['action']} {version} to {env.name}: a merge request from {branch} into {target} of {clone.where.url}"
    )
    return ctx.effects.infra_write(
        lambda: _push_and_open(ctx, env, clone, updates, values, version=version, fields=fields, say=say),
        lambda: changes(env, clone, updates, values, version, say, would),
    )


def changes(
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    version: str,
    say: Say,
    would: str,
) -> Preview[Outcome]:
    """What promoting would change, without writing: the diff (or "already at", said as a real run says it)."""
    edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
    if not edits:
        say(f"{env.name} is already at {version} ({clone.label} at {clone.head()[:12]}); nothing to commit")
        return Preview(Outcome(env.name, env.repo, version, None))
    diff = "".join(e.diff() for e in edits)
    return Preview(Outcome(env.name, env.repo, version, None, diff), would, diff)


def _push_and_open(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    say: Say,
) -> Outcome:
    forge = resolve_forge(ctx, env, clone.where.url)  # config and token errors come first
    branch, target = release_branch(env, version), clone.where.branch
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {version} ({clone.label} at {head[:12]}); nothing to commit")
            return Outcome(env.name, env.repo, version, None)
        clone.write(edits)
        again = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if again:
            raise yamledit.EditVerificationError(f"{again[0].file} still changes on a second pass")
        text = message(
            env.message,
            env=env.name,
            app=env.app or ctx.root.name,
            version=version,
            pipeline_url=ctx.ci.pipeline_url or "",
            notes=notes_summary(ctx, version) if fields.get("action") == "deploy" else "",
            files=[e.file for e in edits],
            **fields,
        )
        commit = clone.commit(text)
        remote = clone.fetch_branch(branch)
        if remote is not None and clone.tree(remote) == clone.tree(commit):
            say(f"{env.name}: {branch} already holds these changes ({remote[:12]}); nothing pushed")
            commit = remote
            break
        problem = clone.push_branch(branch, remote)
        if problem is None:
            say(
                f"{env.name}: {fields['action']} {version}: commit {commit[:12]} pushed to {branch} "
                f"of {clone.where.url}"
            )
            break
        if attempt == ATTEMPTS:
            raise ReleaseError(
                f"could not push {branch} for {env.name}: it kept moving ({ATTEMPTS} attempts, last: {problem})",
                "rerun the job: a rerun writes only what is missing",
            )
        delay = backoff(attempt, BACKOFF_SECONDS)
        say(f"{branch} moved while promoting {env.name} ({problem}); redoing on the target tip in {delay:.1f}s")
        time.sleep(delay)
    description = _description(ctx, env, version, [e.file for e in edits], fields.get("source") or "", target)
    url = _open_mr(env, forge, branch, target, text.splitlines()[0], description, say)
    record(ctx, env, commit, version, branch=branch, merge_request=url)
    return Outcome(env.name, env.repo, version, commit, url=url)


def _open_mr(
    env: EnvironmentConfig, forge: forge_api.Forge, branch: str, target: str, title: str, description: str, say: Say
) -> str:
    """The one open merge/pull request from `branch` into `target`, opened or brought up to date; its URL."""
    found = forge.find_open_mr(branch, target)
    if found is None:
        mr = forge.create_mr(branch, target, title, description)
        say(f"{env.name}: opened {forge.noun} {mr.url}")
    elif (found.title, found.description) != (title, description):
        mr = forge.update_mr(found.number, title, description)
        say(f"{env.name}: updated {forge.noun} {mr.url}")
    else:
        mr = found
        say(f"{env.name}: {forge.noun} {mr.url} is up to date")
    return mr.url


def release_notes(ctx: Context, version: str) -> str | None:
    """The release notes of the plan that releases `version` here, or None (another version, or no plan)."""
    from release.source import notes as repo_notes
    from release.source import plans as planning

    try:
        plans = planning.make_plans(ctx)
    except ReleaseError:
        return None
    plan = next((p for p in plans if p.next_version is not None and str(p.next_version) == version), None)
    return repo_notes.for_plan(ctx, plan).rstrip("\n") if plan is not None else None


def notes_summary(ctx: Context, version: str, limit: int = 20) -> str:
    """The notes without their heading, at most `limit` lines: what a commit message can carry."""
    notes = release_notes(ctx, version)
    if not notes:
        return ""
    lines = [line for line in notes.splitlines()[1:] if line.strip()]
    more = len(lines) - limit
    return "\n".join(lines[:limit]) + (f"\n… and {more} more lines" if more > 0 else "")


def _description(ctx: Context, env: EnvironmentConfig, version: str, files: list[str], source: str, target: str) -> str:
    """The release notes of the plan that releases `version`, then a short summary (or the summary alone)."""
    summary = f"Deploys {env.app or ctx.root.name} {version} to {env.name} ({target}).\n\nFiles:\n" + "".join(
        f"- `{f}`\n" for f in files
    )
    if source:
        summary += f"\nSource commit: {source}\n"
    notes = release_notes(ctx, version)
    return notes + "\n\n---\n\n" + summary if notes else summary


_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")  # git@host:group/repo.git


def _repo_location(url: str) -> tuple[str, str] | None:
    """(host, path without .git) of a remote URL; None for a local path or file://."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("http", "https", "ssh", "git") and parsed.hostname:
        return parsed.hostname, parsed.path.strip("/").removesuffix(".git")
    match = _SCP.match(url) if "://" not in url else None
    if match:
        return match["host"], match["path"].strip("/").removesuffix(".git")
    return None


def resolve_forge(ctx: Context, env: EnvironmentConfig, url: str) -> forge_api.Forge:
    """Which forge API opens the merge request, for which project, with which token (decisions live here)."""
    e = ctx.env
    where = _repo_location(url)
    host = where[0] if where else None
    kind: forge_api.Kind
    if env.forge is not None:
        kind = env.forge
    elif e.get("CI_SERVER_URL"):
        kind = "gitlab"
    elif e.get("GITHUB_API_URL") or host == "github.com":
        kind = "github"
    elif host is not None and "gitlab" in host:
        kind = "gitlab"
    else:
        raise ReleaseError(
            f"environment {env.name}: cannot tell which forge hosts {url} for merge-request mode",
            "set `forge: gitlab` or `forge: github` (and `api:`, `project:`) for this environment",
        )
    api = env.api or forgerelease.default_api(kind, e, host)
    if not api:
        raise ReleaseError(f"environment {env.name}: no {kind} API URL for {url}", "set `api:` for this environment")
    project = env.project or (where[1] if where else None)
    if not project:
        raise ReleaseError(
            f"environment {env.name}: cannot tell the {kind} project of {url}",
            "set `project:` (GitLab: ID or group/name; GitHub: owner/repo)",
        )
    if kind == "github" and project.count("/") != 1:
        raise ReleaseError(f"environment {env.name}: GitHub project {project!r} is not owner/repo", "fix `project:`")
    token = forgerelease.token_headers(kind, e)  # registered for masking
    if token is None and kind == "gitlab":
        raise ReleaseError(
            f"environment {env.name}: merge-request mode needs a GitLab token",
            "set GITLAB_TOKEN (a project or personal access token with the api scope)",
        )
    if token is None:
        raise ReleaseError(
            f"environment {env.name}: merge-request mode needs a GitHub token",
            "set GITHUB_TOKEN (with pull-requests: write and contents: write)",
        )
    name, headers = token
    return forge_api.Forge(kind, api, project, headers, name)
