"""Promote through a merge request (GitLab) or pull request (GitHub): a release branch in the infra repository,
and the request that merges it.

The merge request cleans up after itself: GitLab removes the source branch when it is merged
(`remove_source_branch`; on GitHub that is the repository's "Automatically delete head branches" setting), and a
newer release of the same environment closes the older open one (with a last comment naming its replacement) and
deletes its branch, only when the branch's tip is the commit we made. A merge request someone closed without
merging is never reopened or recreated by a rerun of the same version."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from release.adapters import forge as forge_api
from release.adapters.credentials import PROTECTED_HINT, missing
from release.adapters.effects import Preview
from release.adapters.retry import backoff
from release.config import EnvironmentConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.forges import releases as forgerelease
from release.gitops.clone import ATTEMPTS, BACKOFF_SECONDS, InfraClone, repo_url
from release.gitops.edits import FileEdit, message, plan_edits
from release.gitops.environments import Outcome, environment, record
from release.yaml import edit as yamledit

Say = Callable[[str], None]


def release_branch(env: EnvironmentConfig, version: str) -> str:
    return f"release/{env.name}/{version}"


def branch_version(env: EnvironmentConfig, branch: str) -> str | None:
    """The version a release branch of `env` carries (`release/<env>/<version>`), or None for any other branch."""
    version = branch.removeprefix(f"release/{env.name}/")
    return version if version != branch and version and "/" not in version else None


@dataclass(frozen=True)
class Pending:
    """An open merge/pull request of ours waiting to promote a version to an environment."""

    env: str
    version: str
    url: str
    number: int
    branch: str


def pending(ctx: Context, env: EnvironmentConfig | str) -> Pending | None:
    """Our open merge/pull request for `env` (the newest, from a `release/<env>/<version>` branch), or None.

    Only environments in merge-request mode are asked (a push-mode environment has no forge to ask); forge and
    token errors are ReleaseErrors, as for a promote."""
    env = environment(ctx, env) if isinstance(env, str) else env
    if env.mode != "merge-request":
        return None
    forge = resolve_forge(ctx, env, repo_url(ctx, env))
    for mr in forge.open_mrs(env.branch):
        version = branch_version(env, mr.source)
        if version is not None and mr.same_repository:
            return Pending(env.name, version, mr.url, mr.number, mr.source)
    return None


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


def apply_edits(
    env: EnvironmentConfig, clone: InfraClone, updates: Sequence[UpdateConfig], values: Mapping[str, str]
) -> list[FileEdit]:
    """The edits that change something, written into the clone; [] when the files already hold the values.

    A second pass over the written files must change nothing: the values are where they should be."""
    edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
    if edits:
        clone.write(edits)
        again = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if again:
            raise yamledit.EditVerificationError(f"{again[0].file} still changes on a second pass")
    return edits


def commit_message(
    ctx: Context, env: EnvironmentConfig, version: str, fields: dict[str, str], edits: Sequence[FileEdit]
) -> str:
    """The infra commit's message (the environment's `message:` template) with its trailers."""
    return message(
        env.message,
        env=env.name,
        app=env.app or ctx.root.name,
        version=version,
        pipeline_url=ctx.ci.pipeline_url or "",
        notes=notes_summary(ctx, version) if fields.get("action") == "deploy" else "",
        files=[e.file for e in edits],
        **fields,
    )


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
    pushed = _push(ctx, env, clone, forge, updates, values, version=version, fields=fields, say=say)
    if pushed is None:
        return Outcome(env.name, env.repo, version, None)
    commit, text, files = pushed
    description = _description(ctx, env, version, files, fields.get("source") or "", target)
    mr = _open_mr(env, forge, branch, target, text.splitlines()[0], description, say)
    _close_older(env, forge, clone, mr, f"{fields['action']} {version}", say)
    record(ctx, env, commit, version, branch=branch, merge_request=mr.url)
    return Outcome(env.name, env.repo, version, commit, url=mr.url)


def _push(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    forge: forge_api.Forge,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    say: Say,
) -> tuple[str, str, list[str]] | None:
    """The release branch holds the commit: (commit, message, files); None when the target is already there."""
    branch = release_branch(env, version)
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = apply_edits(env, clone, updates, values)
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {version} ({clone.label} at {head[:12]}); nothing to commit")
            return None
        text = commit_message(ctx, env, version, fields, edits)
        commit = clone.commit(text)
        remote = clone.fetch_branch(branch)
        _refuse_closed(env, forge, branch, clone.where.branch, version, remote)
        if remote is not None and clone.tree(remote) == clone.tree(commit):
            say(f"{env.name}: {branch} already holds these changes ({remote[:12]}); nothing pushed")
            return remote, text, [e.file for e in edits]
        problem = clone.push_branch(branch, remote)
        if problem is None:
            say(
                f"{env.name}: {fields['action']} {version}: commit {commit[:12]} pushed to {branch} "
                f"of {clone.where.url}"
            )
            return commit, text, [e.file for e in edits]
        if attempt == ATTEMPTS:
            raise ReleaseError(
                f"could not push {branch} for {env.name}: it kept moving ({ATTEMPTS} attempts, last: {problem})",
                "rerun the job: a rerun writes only what is missing",
            )
        delay = backoff(attempt, BACKOFF_SECONDS)
        say(f"{branch} moved while promoting {env.name} ({problem}); redoing on the target tip in {delay:.1f}s")
        time.sleep(delay)
    raise AssertionError("unreachable")


def _refuse_closed(
    env: EnvironmentConfig, forge: forge_api.Forge, branch: str, target: str, version: str, remote: str | None
) -> None:
    """A rerun never reopens or recreates a merge request someone closed without merging it.

    Closed by someone: its branch is still there (when a newer release closes one, it deletes the branch too)."""
    if remote is None:
        return
    found = forge.find_mrs(branch, target)
    if found and found[0].state == "closed":
        raise ReleaseError(
            f"{env.name}: the {forge.noun} for {version} ({found[0].url}) was closed by someone without merging; "
            "not reopening it",
            f"reopen it and run `release promote {env.name} --version {version}`, or release a newer version",
        )


def _open_mr(
    env: EnvironmentConfig, forge: forge_api.Forge, branch: str, target: str, title: str, description: str, say: Say
) -> forge_api.MergeRequest:
    """The one open merge/pull request from `branch` into `target`, opened or brought up to date.

    GitLab: the source branch is removed when it is merged (set on one we find, too)."""
    found = forge.find_open_mr(branch, target)
    if found is None:
        mr = forge.create_mr(branch, target, title, description, remove_source_branch=True)
        say(f"{env.name}: opened {forge.noun} {mr.url}")
    elif (found.title, found.description) != (title, description) or found.remove_source_branch is False:
        mr = forge.update_mr(found.number, title, description, remove_source_branch=True)
        say(f"{env.name}: updated {forge.noun} {mr.url}")
    else:
        mr = found
        say(f"{env.name}: {forge.noun} {mr.url} is up to date")
    return mr


def _close_older(
    env: EnvironmentConfig, forge: forge_api.Forge, clone: InfraClone, mr: forge_api.MergeRequest, what: str, say: Say
) -> None:
    """Close our other open merge requests of this environment (`mr` replaces them), with a last comment, and
    delete their branches. A branch whose tip is not the release commit we made is left alone, and so is its MR."""
    for old in forge.open_mrs(clone.where.branch):
        version = branch_version(env, old.source)
        if version is None or old.number == mr.number or not old.same_repository:
            continue
        tip = clone.fetch_branch(old.source)
        if tip is not None and clone.trailer(tip, "Release-Version") != version:
            say(f"{env.name}: left {forge.noun} {old.url} open: {old.source} holds commits release did not make")
            continue
        forge.comment(
            old.number,
            f"Replaced by {mr.url} ({what} to {env.name}): closed by `release`, and its branch `{old.source}` deleted.",
        )
        forge.close_mr(old.number)
        say(f"{env.name}: closed {forge.noun} {old.url} ({version}): replaced by {mr.url}")
        if tip is None:
            continue
        problem = clone.delete_branch(old.source, tip)
        if problem is not None:
            say(f"{env.name}: could not delete {old.source} ({problem}); delete it by hand")


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


def resolve_forge(ctx: Context, env: EnvironmentConfig, url: str, *, reading: bool = False) -> forge_api.Forge:
    """Which forge API opens the merge request (or, `reading`, has the commit statuses of the infra repo), for
    which project, with which token (decisions live here)."""
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
            f"environment {env.name}: cannot tell which forge hosts {url} for "
            f"{'its commit statuses' if reading else 'merge-request mode'}",
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
    token = forgerelease.token_headers(kind, e, job_token=False)  # registered for masking
    if token is None:
        raise _no_token(env, kind, e, reading=reading)
    name, headers = token
    return forge_api.Forge(kind, api, project, headers, name)


def _no_token(
    env: EnvironmentConfig, kind: forge_api.Kind, e: Mapping[str, str], *, reading: bool = False
) -> ReleaseError:
    """Merge-request mode without a token that may open one: which variable is missing, empty, or not enough."""
    variable = "GITLAB_TOKEN" if kind == "gitlab" else "GITHUB_TOKEN"
    empty = missing(e, None, variable)
    if reading:  # verify: commit statuses are read, never written
        rights = "a project access token with the read_api scope" if kind == "gitlab" else "statuses: read"
        why = f", and {empty}" if empty is not None else ""
        name = "GitLab" if kind == "gitlab" else "GitHub"
        return ReleaseError(
            f"environment {env.name}: verify (commit statuses) needs a {name} token{why}", f"set {variable} ({rights})"
        )
    if kind == "gitlab":
        hint = f"set {variable} (a project or personal access token with the api scope) in the CI/CD variables"
        if empty is None and e.get("CI_JOB_TOKEN"):
            return ReleaseError(
                f"environment {env.name}: merge requests need {variable}; CI_JOB_TOKEN is all there is, and "
                "GitLab's merge requests API does not accept it",
                hint,
            )
    else:
        hint = f"set {variable} (with pull-requests: write and contents: write)"
    if empty is not None:
        return ReleaseError(f"environment {env.name}: merge requests need {variable}, and {empty}", PROTECTED_HINT)
    name = "GitLab" if kind == "gitlab" else "GitHub"
    return ReleaseError(f"environment {env.name}: merge-request mode needs a {name} token", hint)
