"""A history complete enough to answer: what a shallow clone or a checkout without tags lacks comes from origin.

plan, notes, cut and run read the commits since the last release and every tag. In a shallow clone (CI's default:
GitHub's checkout fetches one commit, GitLab 20 or 50) or a clone without tags those answers are silently wrong (one
commit in the notes, "no release tag yet" next to a tagged HEAD). So an answer is computed by `answer`, which:

- in a shallow clone, asks origin for its tags (one ls-remote) and fetches those whose commits are here;
- computes the answer, noting every range it read that runs into the point where the clone's history stops;
- while one did, deepens HEAD's history from origin (50, 200, 1000 commits, then all of it) and computes again.

So a clone fetches only the history back to the release it builds on (podinfo at 6.14.1, depth 1: 122 commits and
10 tags in 0.1 s; `release plan` takes 0.49 s where `git fetch --unshallow --tags` then plan takes 0.87 s;
benchmarks/bench_shallow.py). Tags whose commits
stay out of reach are known from the ls-remote, so the next version is still numbered after every tag origin has.
In CI, a clone with its whole history but not every tag fetches the missing tags. Either says so in one line.
When origin cannot help, a truncated history is an error naming the command that completes it: never an answer
computed from part of the history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from release.adapters.git import GitError
from release.ciinfo import shallow_hint
from release.context import Context
from release.errors import ReleaseError
from release.source.origin import REMOTE, remote
from release.versioning.commits import Commit
from release.versioning.tags import TagRef

T = TypeVar("T")
Where = tuple[str, Mapping[str, str] | None]
STEPS: tuple[int | None, ...] = (50, 200, 1000, None)  # commits to deepen by; None: the rest of the history
COMMAND = f"git fetch --unshallow --tags {REMOTE}"


class Truncated(Exception):
    """A range read for an answer runs into the point where a shallow clone's history stops (internal signal)."""


def answer(ctx: Context, compute: Callable[[], T]) -> T:
    """`compute()`, from a history deep enough for it: deepened from origin while a range it read was cut short."""
    _prepare(ctx)
    for step in STEPS:
        try:
            return _reported(ctx, compute())
        except Truncated:
            _deepen(ctx, step)
            ctx.cache.pop("plans", None)  # planned from the shorter history: plan again
    try:
        return _reported(ctx, compute())
    except Truncated:
        raise ReleaseError(f"{_what(ctx)} and {REMOTE} did not send the rest", shallow_hint(ctx.ci.provider)) from None


def check(ctx: Context, commits: Iterable[Commit]) -> None:
    """Raise Truncated when `commits` (a range just read) reach the point where the clone's history stops."""
    boundary = _boundary(ctx)
    if boundary and any(c.sha in boundary for c in commits):
        raise Truncated


def remote_only_tags(ctx: Context) -> list[TagRef]:
    """Tags origin has whose commits are not in this shallow clone: unreachable from HEAD, but they count when the
    next version is numbered (a prerelease after every rc, never a version tagged elsewhere)."""
    _prepare(ctx)
    extra: list[TagRef] = ctx.cache.get("remote-only-tags", [])
    return extra


def fetch_named_tag(ctx: Context, ref: str | None) -> None:
    """A tag named on the command line (`notes --from TAG`) that only origin has, in a shallow clone: fetch it."""
    if ref is None:
        return
    _prepare(ctx)
    name = ref.removeprefix("refs/tags/")
    only_there: list[TagRef] = ctx.cache.get("remote-only-tags", [])
    where = remote(ctx)
    if where is None or name not in {t.name for t in only_there}:
        return
    _network(ctx, lambda: ctx.git.fetch(where[0], "--no-tags", f"refs/tags/{name}:refs/tags/{name}", env=where[1]))
    ctx.cache["remote-only-tags"] = [t for t in only_there if t.name != name]
    ctx.cache["history"]["tags"] += 1


def _prepare(ctx: Context) -> None:
    """Once per Context: a shallow clone learns origin's tags; in CI a full clone fetches the tags it lacks."""
    if "history" in ctx.cache:
        return
    ctx.cache["history"] = {"commits": 0, "tags": 0, "seconds": 0.0, "deepened": False}
    shallow = bool(_boundary(ctx)) and ctx.git.head() is not None
    if not shallow and ctx.ci.provider == "local":
        return
    where = remote(ctx)
    if shallow:
        if where is None:
            hint = shallow_hint(ctx.ci.provider)
            raise ReleaseError(f"{_what(ctx)} and there is no {REMOTE} remote to fetch the rest from", hint)
        theirs = _network(ctx, lambda: ctx.git.remote_tags(where[0], where[1]))
        ctx.cache["remote-tags"] = theirs
        _fetch_present_tags(ctx, where)
    elif where is not None:
        _fetch_missing_tags(ctx, where)


def _deepen(ctx: Context, step: int | None) -> None:
    where = remote(ctx)
    assert where is not None  # _prepare failed without one
    head = ctx.git.head() or "HEAD"
    depth = f"--deepen={step}" if step else "--unshallow"
    before = len(ctx.git.run("rev-list", "HEAD").split())

    def fetch() -> None:
        try:
            # HEAD itself: a detached checkout (a pull request's merge commit) may sit on no branch origin advertises.
            ctx.git.fetch(where[0], "--no-tags", depth, head, env=where[1])
        except GitError as exc:
            if where[0] != REMOTE or ("unadvertised" not in exc.message and "not our ref" not in exc.message):
                raise
            ctx.git.fetch(where[0], "--no-tags", depth, env=where[1])  # a server that refuses a commit by its sha

    _network(ctx, fetch)
    ctx.cache.pop("shallow-boundary", None)
    _fetch_present_tags(ctx, where)
    done = ctx.cache["history"]
    done["commits"] += len(ctx.git.run("rev-list", "HEAD").split()) - before
    done["deepened"] = True


def _fetch_present_tags(ctx: Context, where: Where) -> None:
    """Fetch origin's tags whose commits are here now (only the tag objects travel); the rest are remote-only."""
    theirs: dict[str, str] = ctx.cache.get("remote-tags", {})
    ours = {ref.name for ref in ctx.git.tags()}
    here = set(ctx.git.run("rev-list", "HEAD").split())
    wanted = sorted(name for name, sha in theirs.items() if name not in ours and sha in here)
    if wanted:
        refspecs = "".join(f"refs/tags/{name}:refs/tags/{name}\n" for name in wanted)
        _network(
            ctx, lambda: ctx.git.run("fetch", "-q", "--no-tags", "--stdin", where[0], input=refspecs, env=where[1])
        )
        ctx.cache["history"]["tags"] += len(wanted)
    ours |= set(wanted)
    ctx.cache["remote-only-tags"] = [TagRef(name, sha) for name, sha in sorted(theirs.items()) if name not in ours]


def _fetch_missing_tags(ctx: Context, where: Where) -> None:
    try:
        theirs = ctx.git.remote_tags(where[0], where[1])
    except GitError as exc:
        ctx.say(f"warning: could not list {REMOTE}'s tags ({exc.message}); planning from the tags in this clone")
        return
    missing = sorted(set(theirs) - {ref.name for ref in ctx.git.tags()})
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


def _network(ctx: Context, call: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        return call()
    except GitError as exc:
        why = exc.message.removeprefix("git fetch failed: ").removeprefix("git ls-remote failed: ")
        raise ReleaseError(
            f"{_what(ctx)} and fetching the rest from {REMOTE} failed: {why}",
            shallow_hint(ctx.ci.provider),
        ) from None
    finally:
        ctx.cache["history"]["seconds"] += time.monotonic() - started


def _boundary(ctx: Context) -> set[str]:
    if "shallow-boundary" not in ctx.cache:
        ctx.cache["shallow-boundary"] = ctx.git.shallow_boundary()
    boundary: set[str] = ctx.cache["shallow-boundary"]
    return boundary


def _what(ctx: Context) -> str:
    depth = len(ctx.git.run("rev-list", "HEAD").split())
    return f"this is a shallow clone (HEAD's history stops after {depth} commit{'s' if depth != 1 else ''})"


def _reported(ctx: Context, result: T) -> T:
    """`result`, after one line saying what was fetched to compute it (once per run)."""
    done = ctx.cache["history"]
    if done.get("reported") or not (done["deepened"] or done["tags"]):
        return result
    done["reported"] = True
    commits = f"{done['commits']} commits of HEAD's history and " if done["deepened"] else ""
    ctx.say(f"shallow clone: fetched {commits}{done['tags']} tags from {REMOTE} ({done['seconds']:.1f}s)")
    return result
