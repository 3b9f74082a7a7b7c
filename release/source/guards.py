"""What must hold before anything is published: this branch releases, and the working tree is the commit.

Release branches (`branches:` in release.yaml, names or globs as semantic-release's option; by default the
default branch, the prerelease branches of versioning.prerelease_branches and maintenance branches 1.x / 1.2.x):
anywhere else, or on a detached HEAD whose branch nothing tells, a run plans only. A HEAD that already carries its
release tag (a tag pipeline, a rerun after `release cut`) was released on purpose and passes.

A dirty tree (changed tracked files, and untracked files that are not ignored, as goreleaser counts them: an image
is built from the working tree, so a stray file would be in it) is refused unless --allow-dirty. What release itself
writes (the State's folder, .release/, the dotenv report) does not count."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from release.context import Context
from release.errors import ReleaseError
from release.source.plans import make_plans
from release.versioning.plan import MAINTENANCE

OWN = (".release",)  # release's own folder: the State, notes, chart archives
SHOWN = 3


def release_branches(ctx: Context) -> tuple[str, ...]:
    """The branches (names or globs) that release here; `N.x` stands for the maintenance branches."""
    if ctx.config.branches is not None:
        return ctx.config.branches
    known = ctx.ci.default_branch or ctx.git.remote_default_branch()
    defaults = (known,) if known else ("main", "master")
    return (*defaults, *ctx.config.versioning.prerelease_branches, "N.x")


def releases_from(ctx: Context, branch: str) -> bool:
    if ctx.config.branches is not None:
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in ctx.config.branches)
    return branch in release_branches(ctx) or MAINTENANCE.match(branch) is not None


def branch_refusal(ctx: Context) -> str | None:
    """Why this run may not publish from here (it plans only), or None when it may (or has nothing to publish)."""
    if not any(p.releasable and not p.head_tagged for p in make_plans(ctx)):
        return None
    branch = ctx.branch()
    if branch is None:
        return (
            "cannot tell which branch this is (detached HEAD; no --branch, CI_COMMIT_BRANCH, CI_COMMIT_REF_NAME, "
            "GITHUB_HEAD_REF or GITHUB_REF_NAME), so it does not release"
        )
    if releases_from(ctx, branch):
        return None
    return f"branch {branch} does not release (release branches: {', '.join(release_branches(ctx))})"


def require_release_branch(ctx: Context) -> None:
    reason = branch_refusal(ctx)
    if reason is not None:
        raise ReleaseError(
            reason,
            "release from a release branch, pass --branch NAME for a detached HEAD, or list this branch under "
            "branches: in release.yaml",
        )


def require_clean(ctx: Context, also_ours: Sequence[str] = ()) -> None:
    """Refuse a working tree that differs from HEAD (unless --allow-dirty), naming a few of its files."""
    if ctx.options.allow_dirty:
        return
    state = ctx.state_path.parent
    ours = [*OWN, str(state.relative_to(ctx.root)) if state.is_relative_to(ctx.root) else "", *also_ours]
    # release's own outputs are untracked files in its folders; a tracked file there (a notes template) still counts
    dirty = [path for code, path in ctx.git.dirty_files(untracked=True) if code != "??" or not _is_ours(path, ours)]
    if not dirty:
        return
    shown = ", ".join(dirty[:SHOWN]) + (f" and {len(dirty) - SHOWN} more" if len(dirty) > SHOWN else "")
    raise ReleaseError(
        f"the working tree has uncommitted changes: {shown}; a release publishes what commit "
        f"{(ctx.git.head() or '')[:12]} holds",
        "commit or stash them (or add untracked files to .gitignore), or pass --allow-dirty",
    )


def _is_ours(path: str, ours: Sequence[str]) -> bool:
    path = path.rstrip("/")
    return any(own and (path == own.rstrip("/") or path.startswith(own.rstrip("/") + "/")) for own in ours)
