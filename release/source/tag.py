"""The release tag: made on the released commit and pushed to origin, never moved or overwritten.

A tag that already names this commit (a tag pipeline, a rerun) is done; one naming another commit means another
pipeline released this version first: that is an error, never an overwrite."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from release.adapters import gitclone
from release.adapters.git import GitError, transient
from release.context import Context
from release.errors import ReleaseError
from release.source import notes as repo_notes
from release.source import plans as planning
from release.source.origin import REMOTE
from release.versioning.plan import Plan


def releases(ctx: Context) -> list[Plan]:
    return [p for p in planning.make_plans(ctx) if p.releasable and p.tag]


TESTED_TRAILER = "Release-Tests"


def tested_by_release(ctx: Context, plans: list[Plan]) -> bool:
    """True when the test commands passed for HEAD in the release that made it: this State says so, or every
    plan's release tag is on HEAD and was made by a `release run` whose tests passed (its Release-Tests trailer;
    a tag made by `release cut` or by hand has none, so its tag pipeline still tests)."""
    head = ctx.git.head()
    if head is not None and ctx.state.tested == head:
        return True
    if not plans or not all(p.head_tagged and p.tag for p in plans):
        return False
    key = f"--format=%(contents:trailers:key={TESTED_TRAILER},valueonly)"
    return all(ctx.git.run("for-each-ref", key, f"refs/tags/{p.tag}").strip() == "passed" for p in plans)


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
        message = f"{label}\n\n{repo_notes.for_plan(ctx, plan)}"
        if ctx.state.tested == head:  # a rerun of this commit (the tag pipeline) need not test it again
            message = f"{message.rstrip()}\n\n{TESTED_TRAILER}: passed\n"
        # the tagger: the environment's, CI's or git's identity, else a default (CI runners often have none)
        tagger = {**os.environ, **gitclone.identity(ctx.env, ctx.git)}
        ctx.git.tag_annotated(tag, message, head, env=tagger)
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
