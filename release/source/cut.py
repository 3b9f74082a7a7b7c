"""`release cut`: changelog commit + annotated tag on a laptop, pushed only when asked.

Every check runs before the first write, so a failed check leaves no commit and no tag.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from release.context import Context
from release.errors import ReleaseError
from release.notes import changelog
from release.source import guards
from release.source import notes as repo_notes
from release.source import plans as planning
from release.versioning.plan import Plan


@dataclass(frozen=True)
class Cut:
    plan: Plan
    notes: str
    changelog_path: Path | None
    changelog_text: str | None  # None: the changelog needs no change


def prepare(ctx: Context) -> tuple[list[Cut], list[Plan]]:
    """What a cut would do: the releases to make, and the plans with nothing to do."""
    guards.require_clean(ctx)
    plans = planning.make_plans(ctx)
    guards.require_release_branch(ctx)
    cuts, idle = [], []
    for plan in plans:
        if plan.head_tagged or not plan.releasable:
            idle.append(plan)
            continue
        text = repo_notes.for_plan(ctx, plan)
        path, new = _changelog(ctx, plan, text)
        cuts.append(Cut(plan, text, path, new))
    return cuts, idle


def _changelog(ctx: Context, plan: Plan, section: str) -> tuple[Path | None, str | None]:
    name = ctx.config.changelog_path
    if not name:
        return None, None
    component = next((c for c in ctx.config.components if c.name == plan.component), None)
    path = ctx.root / (component.home if component else "") / name
    return path, changelog.insert(_read(path), section, str(plan.next_version))


def _read(path: Path) -> str | None:
    """The file's exact text (no newline translation: CRLF stays CRLF), None when there is none."""
    if not path.exists():
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{path} is not UTF-8 text ({exc.reason})", "save it as UTF-8") from None


def diff(cut: Cut, root: Path) -> str:
    if cut.changelog_path is None or cut.changelog_text is None:
        return ""
    old = _read(cut.changelog_path) or ""
    rel = str(cut.changelog_path.relative_to(root))
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), cut.changelog_text.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
        )
    )


def apply(ctx: Context, cuts: list[Cut], push: bool, say: Callable[[str], None]) -> None:
    """Commit the changelogs, tag, and push when asked: all or nothing. A refused push undoes the commit and the
    tags made here, so that nothing unpublished is left behind to confuse a rerun (or a `git pull`)."""
    changed = [c for c in cuts if c.changelog_path is not None and c.changelog_text is not None]
    if push:
        push_target(ctx)  # checked before anything is written
    before = ctx.git.head() or ""
    originals = {c.changelog_path: _read(c.changelog_path) for c in changed if c.changelog_path is not None}
    tags: list[str] = []
    done: list[str] = []  # said once everything worked: an undone cut made nothing to speak of
    try:
        _commit_and_tag(ctx, cuts, changed, tags, done.append)
        if push:
            branch = push_target(ctx)
            ctx.git.push(REMOTE, [f"HEAD:refs/heads/{branch}"] + [f"refs/tags/{tag}" for tag in tags])
            done.append(f"pushed {branch} and {', '.join(tags)} to {REMOTE}")
    except ReleaseError as exc:
        _undo(ctx, before, tags, originals)
        if not push:
            raise
        raise _refused(ctx, exc, before) from None
    for line in done:
        say(line)


def _commit_and_tag(
    ctx: Context, cuts: list[Cut], changed: list[Cut], tags: list[str], say: Callable[[str], None]
) -> None:
    for cut in changed:
        assert cut.changelog_path is not None and cut.changelog_text is not None
        cut.changelog_path.parent.mkdir(parents=True, exist_ok=True)
        cut.changelog_path.write_bytes(cut.changelog_text.encode("utf-8"))
    versions = ", ".join(_label(c.plan) for c in cuts)
    if changed:
        paths = [str(c.changelog_path.relative_to(ctx.root)) for c in changed if c.changelog_path]
        sha = ctx.git.commit_files(paths, f"chore(release): {versions}\n")
        say(f"committed {', '.join(paths)} as {sha[:7]}")
    head = ctx.git.head() or ""
    for cut in cuts:
        assert cut.plan.tag is not None
        ctx.git.tag_annotated(cut.plan.tag, f"{_label(cut.plan)}\n\n{cut.notes}", head)
        tags.append(cut.plan.tag)
        say(f"tagged {head[:7]} as {cut.plan.tag}")


def _undo(ctx: Context, before: str, tags: list[str], originals: dict[Path, str | None]) -> None:
    """Back to the moment before the cut: its tags deleted, the branch and the changelogs as they were."""
    for tag in tags:
        ctx.git.delete_tag(tag)
    if ctx.git.head() != before:
        ctx.git.reset_soft(before, [str(path.relative_to(ctx.root)) for path in originals])
    for path, text in originals.items():
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(text.encode("utf-8"))


def _refused(ctx: Context, exc: ReleaseError, before: str) -> ReleaseError:
    """Why the push failed, once the cut is undone: origin moved meanwhile (a colleague pushed), or the reason."""
    branch = ctx.branch() or ""
    try:
        remote_head = ctx.git.remote_branch_head(REMOTE, branch)
        moved = remote_head is not None and not ctx.git.is_ancestor(remote_head, before)
    except ReleaseError:
        moved = False  # origin cannot be read now: say what the push said
    undone = "the release commit and tag made here were undone"
    if moved:
        return ReleaseError(
            f"origin moved: pull, then rerun ({REMOTE}/{branch} got new commits meanwhile; nothing was published, "
            f"{undone})",
            "git pull --rebase, then release cut --push",
        )
    return ReleaseError(
        f"{exc.message}; nothing was published, {undone}",
        f"{exc.hint + ', ' if exc.hint else ''}then rerun release cut --push",
    )


REMOTE = "origin"


def push_target(ctx: Context) -> str:
    """The branch to push to; fails when it cannot be known or there is nowhere to push."""
    branch = ctx.branch()
    if branch is None:
        raise ReleaseError("cannot push from a detached HEAD without knowing the branch", "pass --branch NAME")
    if ctx.git.remote_url(REMOTE) is None:
        raise ReleaseError(f"no git remote named {REMOTE!r} to push to", "add one: git remote add origin URL")
    remote_head = ctx.git.remote_branch_head(REMOTE, branch)
    if remote_head is not None and not ctx.git.is_ancestor(remote_head, "HEAD"):
        raise ReleaseError(
            f"{REMOTE}/{branch} has commits this clone does not have; the release would miss them",
            "pull them first (git pull --rebase), then rerun release cut --push",
        )
    return branch


def push_release(ctx: Context, tags: list[str], say: Callable[[str], None]) -> None:
    """Push the branch and the tags atomically. Safe to rerun: refs the remote already has are no-ops."""
    branch = push_target(ctx)
    refspecs = [f"HEAD:refs/heads/{branch}"] + [f"refs/tags/{tag}" for tag in tags]
    try:
        ctx.git.push(REMOTE, refspecs)
    except ReleaseError as exc:
        raise ReleaseError(
            exc.message,
            f"{exc.hint + '; ' if exc.hint else ''}the release commit and tag are made here: once the remote "
            f"accepts them, rerun release cut --push (or git push --atomic {REMOTE} {' '.join(refspecs)})",
        ) from None
    say(f"pushed {branch} and {', '.join(tags)} to {REMOTE}")


def _label(plan: Plan) -> str:
    return f"{plan.component} {plan.next_version}" if plan.component else str(plan.next_version)
