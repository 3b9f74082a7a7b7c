"""The release tag: made on the released commit and pushed to origin, never moved or overwritten.

A tag that already names this commit (a tag pipeline, a rerun) is done; one naming another commit means another
pipeline released this version first: that is an error, never an overwrite."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Mapping

from release.adapters import gitclone
from release.adapters.git import GitError, transient
from release.context import Context
from release.errors import ReleaseError
from release.source import notes as repo_notes
from release.source import plans as planning
from release.versioning.plan import Plan

REMOTE = "origin"


def releases(ctx: Context) -> list[Plan]:
    return [p for p in planning.make_plans(ctx) if p.releasable and p.tag]


def remote(ctx: Context) -> tuple[str, Mapping[str, str] | None] | None:
    """Where tags go and the git environment that authenticates there; None without an origin remote.

    With RELEASE_GIT_TOKEN and an https origin the token goes in a header scoped to that host (never in a URL or
    argv); otherwise git's own credentials apply (actions/checkout's header, a credential helper, ssh keys)."""
    url = ctx.git.remote_url(REMOTE)
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if ctx.env.get("RELEASE_GIT_TOKEN") and parts.scheme in ("http", "https"):
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        bare = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        return bare, gitclone.auth_env(ctx.env, bare)
    return REMOTE, None


def publish_tag(ctx: Context, plan: Plan, head: str, where: tuple[str, Mapping[str, str] | None] | None) -> str:
    tag = str(plan.tag)
    local = ctx.git.local_tag(tag)
    if local is not None and local != head:
        raise ReleaseError(
            f"tag {tag} already exists here on commit {local[:12]}, not on this commit {head[:12]}",
            "another release took this version: fetch the tags (git fetch --tags) and rerun to plan the next one",
        )
    on_remote = _taken(ctx, plan, head, where) if where else None
    if on_remote == head:
        return f"{tag} already published"
    what = f"tag {head[:12]} as {tag}" + (f" and push it to {REMOTE}" if where else "")
    return ctx.effects.push_tag(what, lambda: _tag_and_push(ctx, plan, head, where, local))


def _tag_and_push(
    ctx: Context, plan: Plan, head: str, where: tuple[str, Mapping[str, str] | None] | None, local: str | None
) -> str:
    tag = str(plan.tag)
    if local is None:
        label = f"{plan.component} {plan.next_version}" if plan.component else str(plan.next_version)
        # the tagger: the environment's, CI's or git's identity, else a default (CI runners often have none)
        tagger = {**os.environ, **gitclone.identity(ctx.env, ctx.git)}
        ctx.git.tag_annotated(tag, f"{label}\n\n{repo_notes.for_plan(ctx, plan)}", head, env=tagger)
        ctx.say(f"tagged {head[:12]} as {tag}")
    if where is None:
        return f"tagged {tag} here (no {REMOTE} remote to push it to)"
    try:
        ctx.git.push(where[0], [f"refs/tags/{tag}"], where[1])
    except ReleaseError as exc:
        with contextlib.suppress(GitError):
            _taken(ctx, plan, head, where)  # another pipeline's tag landed between the check and the push
        network = transient(exc.message)  # three attempts failed on the network or the server, not a refusal
        message = f"could not push {tag} to {REMOTE}: {exc.message.removeprefix('git push failed: ')}"
        token = "" if network else "; in CI set RELEASE_GIT_TOKEN to a token that may push tags"
        raise ReleaseError(
            message if network else exc.message,
            (exc.hint + "; " if exc.hint else "") + "the tag is made here and a rerun pushes it" + token,
        ) from None
    ctx.say(f"pushed {tag} to {REMOTE}")
    return f"pushed {tag}"


def _taken(ctx: Context, plan: Plan, head: str, where: tuple[str, Mapping[str, str] | None]) -> str | None:
    """The commit the tag names on origin, or None; an error when that is another commit: never overwritten."""
    tag = str(plan.tag)
    on_remote = ctx.git.remote_tag(where[0], tag, where[1])
    if on_remote is not None and on_remote != head:
        raise ReleaseError(
            f"tag {tag} already exists on {REMOTE} on commit {on_remote[:12]}: another pipeline released "
            f"{plan.next_version} first",
            "nothing was overwritten; rerun the pipeline on the latest commit to release the next version",
        )
    return on_remote
