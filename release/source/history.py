"""A history complete enough to answer: what a shallow clone or a checkout without tags lacks comes from origin.

plan, notes, cut and run read the commits since the last release and every tag. In a shallow clone (CI's
default: GitHub's checkout fetches one commit, GitLab 20 or 50) or a clone without tags those answers are silently
wrong (one commit in the notes, "no release tag yet" next to a tagged HEAD). So once per run, before the first read:
a clone whose history of HEAD stops short fetches the rest of it and every tag from origin; in CI, tags origin has
and this clone lacks are fetched (a checkout brings only the tags on the history it fetched). Either says so in one
line. When origin cannot help, a truncated history is an error naming the command that completes it: never an
answer computed from part of the history."""

from __future__ import annotations

import time
from collections.abc import Mapping

from release.adapters.git import GitError
from release.ciinfo import shallow_hint
from release.context import Context
from release.errors import ReleaseError
from release.source.origin import REMOTE, remote

Where = tuple[str, Mapping[str, str] | None]


def complete(ctx: Context) -> None:
    """Make HEAD's history and the tags complete enough to plan from (once per Context), or fail in one line."""
    if ctx.cache.get("history-complete"):
        return
    truncated = ctx.git.truncated_at("HEAD") if ctx.git.head() else []
    if truncated or ctx.ci.provider != "local":
        where = remote(ctx)
        if truncated:
            _unshallow(ctx, where)
        elif where is not None:
            _fetch_missing_tags(ctx, where)
    ctx.cache["history-complete"] = True


def _unshallow(ctx: Context, where: Where | None) -> None:
    depth = len(ctx.git.run("rev-list", "HEAD").split())
    what = f"this is a shallow clone (HEAD's history stops after {depth} commit{'s' if depth != 1 else ''})"
    if where is None:
        raise ReleaseError(
            f"{what} and there is no {REMOTE} remote to fetch the rest from", shallow_hint(ctx.ci.provider)
        )
    started = time.monotonic()
    head = ctx.git.head() or "HEAD"
    try:
        # HEAD itself: a detached checkout (a pull request's merge commit) may sit on no branch origin advertises.
        ctx.git.fetch(where[0], "--unshallow", "--tags", head, env=where[1])
    except GitError as exc:
        if where[0] != REMOTE or ("unadvertised" not in exc.message and "not our ref" not in exc.message):
            raise ReleaseError(
                f"{what} and fetching the rest from {REMOTE} failed: {exc.message.removeprefix('git fetch failed: ')}",
                shallow_hint(ctx.ci.provider),
            ) from None
        ctx.git.fetch(where[0], "--unshallow", "--tags", env=where[1])  # a server that refuses a commit by its sha
    if ctx.git.truncated_at("HEAD"):
        raise ReleaseError(f"{what} and {REMOTE} did not send the rest", shallow_hint(ctx.ci.provider))
    seconds = time.monotonic() - started
    ctx.say(f"shallow clone: fetched HEAD's full history and the tags from {REMOTE} ({seconds:.1f}s)")


def _fetch_missing_tags(ctx: Context, where: Where) -> None:
    try:
        theirs = ctx.git.remote_tags(where[0], where[1])
    except GitError as exc:
        ctx.say(f"warning: could not list {REMOTE}'s tags ({exc.message}); planning from the tags in this clone")
        return
    ours = {ref.name for ref in ctx.git.tags()}
    missing = sorted(set(theirs) - ours)
    if not missing:
        return
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    try:
        ctx.git.fetch(where[0], "--tags", "--no-write-fetch-head", env=where[1])
    except GitError as exc:
        raise ReleaseError(
            f"this clone lacks {REMOTE}'s tags {shown}, and fetching them failed: {exc.message}",
            f"fetch them: git fetch --tags {REMOTE}",
        ) from None
    ctx.say(f"fetched {len(missing)} tag{'s' if len(missing) != 1 else ''} this clone lacked from {REMOTE}: {shown}")
