"""Publish a chart to a classic Helm repository kept in a git branch (the chart-releaser / GitHub Pages flow).

Target: `git+URL#BRANCH[:DIR]`: URL is https://, http://, file:// or a local path (relative to the project);
DIR (default: the branch's top) holds `index.yaml` and the archives. One publish is one commit on BRANCH adding
`DIR/<name>-<version>.tgz` and its entry in `DIR/index.yaml`; a branch that does not exist yet starts as an
orphan holding just those two files.

- Only that branch's tip is fetched (`fetch --depth 1` of the one ref into an empty repository: what
  `clone --depth 1 --single-branch --branch` does, except that a missing branch is an answer, not an error).
- Never overwrite: an archive of that name with other bytes, or an index entry with another digest, is an
  error. The same bytes (a rerun) change nothing, and nothing is committed or pushed.
- Never force: when the push is refused because the branch moved (another publish landed first), fetch
  the new tip, reset onto it and redo the write and the index merge on what is there now, then push again,
  with jittered backoff, a bounded number of times. A merge of index.yaml by git could silently drop
  or duplicate entries; re-applying our one change to their index cannot.
- Credentials for http(s) come from RELEASE_GIT_USER / RELEASE_GIT_TOKEN and reach git as an
  `http.<url>.extraHeader` in GIT_CONFIG_COUNT/KEY/VALUE environment variables: never in the URL, never on a
  command line, never printed (registered with release.secrets).

The published ref recorded on the job is `<target>/<file name>` → `sha256:<hex of the archive in the branch>`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from release.adapters.retry import backoff
from release.charts import index as helmindex
from release.errors import ReleaseError

if TYPE_CHECKING:
    from release.charts.build import ChartJob
    from release.context import Context
from release.adapters.credentials import missing
from release.adapters.gitclone import BranchTarget, CloneGit, auth_env, identity, inside, push_head, sync_branch

Say = Callable[[str], None]


ATTEMPTS = 5


BACKOFF_SECONDS = 0.25  # first retry after ~0.25 s, then doubling, each jittered ±50%


INDEX = "index.yaml"


def publish_git_branch(ctx: Context, job: ChartJob, target: str, say: Say) -> None:
    """Add `job`'s archive and index entry to the branch named by `target`, commit, push; idempotent."""
    where = BranchTarget.parse(target, ctx.root)
    ref = f"{target}/{job.filename}"
    with tempfile.TemporaryDirectory(prefix="release-chart-branch-") as tmp:
        env = auth_env(ctx.env, where.url)
        git = CloneGit(
            Path(tmp),
            env,
            authenticated=any(v.startswith("Authorization:") for v in env.values()),
            unset=missing(ctx.env, "RELEASE_GIT_USER", "RELEASE_GIT_TOKEN"),
        )
        git.run("init", "-q")
        git.run("remote", "add", "origin", where.url)
        git = dataclasses.replace(git, env={**git.env, **identity(ctx.env, git)})
        for attempt in range(1, ATTEMPTS + 1):
            sync_branch(git, where)
            digest, changed = _apply(git, where, job, say)
            if not changed:
                job.published[ref] = f"sha256:{digest}"
                say(f"skipped: already published {ref} (sha256:{digest[:12]})")
                return
            git.run("commit", "-q", "--no-verify", "-F", "-", input=_message(job, digest))
            problem = push_head(git, where)
            if problem is None:
                job.published[ref] = f"sha256:{digest}"
                commit = git.run("rev-parse", "--short", "HEAD").strip()
                say(f"published {ref} (sha256:{digest[:12]}, commit {commit} on {where.branch})")
                return
            if attempt == ATTEMPTS:
                raise ReleaseError(
                    f"could not publish {ref}: {where.branch} kept moving ({ATTEMPTS} attempts, last: {problem})",
                    "rerun the job: a rerun adds only what is missing",
                )
            delay = backoff(attempt, BACKOFF_SECONDS)
            say(f"{where.branch} moved while publishing {job.filename} ({problem}); retrying in {delay:.1f}s")
            time.sleep(delay)


def _apply(git: CloneGit, where: BranchTarget, job: ChartJob, say: Say) -> tuple[str, bool]:
    """Write the archive and merge the index in the work tree; return the archive's digest and whether anything
    changed."""
    archive_rel, index_rel = where.path(job.filename), where.path(INDEX)
    archive_path, index_path = inside(git.cwd, archive_rel), inside(git.cwd, index_rel)
    digest = job.sha256
    if archive_path.exists() or archive_path.is_symlink():
        theirs = archive_path.read_bytes() if archive_path.is_file() and not archive_path.is_symlink() else None
        if theirs != job.archive:
            if theirs is None or not _same_tar(theirs, job.archive):
                raise ReleaseError(
                    f"{where.branch}:{archive_rel} in {where.url} already exists with other content; "
                    "a released chart version is never overwritten",
                    "bump the chart version, or remove that archive and its index entry from the branch yourself",
                )
            # Same files, other gzip bytes (another zlib build): what is published is what is there.
            digest = hashlib.sha256(theirs).hexdigest()
            say(f"{archive_rel}: same chart as ours, compressed differently; keeping the published archive")
    else:
        archive_path.parent.mkdir(parents=True, exist_ok=True)
        archive_path.write_bytes(job.archive)
    old = None
    if index_path.exists() or index_path.is_symlink():
        if not index_path.is_file() or index_path.is_symlink():
            raise ReleaseError(f"{where.branch}:{index_rel} is not a regular file", "make it one, or remove it")
        try:
            old = index_path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ReleaseError(
                f"{where.branch}:{index_rel} is not UTF-8 text", "fix or restore it; it is never overwritten"
            ) from None
    new = helmindex.merge(old, job.meta.raw, job.filename, digest, job.created, where=f"{where.branch}:{index_rel}")
    if new != old:
        index_path.write_bytes(new.encode("utf-8"))
    git.run("add", "--", archive_rel, index_rel)
    changed = git.call("diff", "--cached", "--quiet").returncode != 0
    return digest, changed


def _same_tar(ours: bytes, theirs: bytes) -> bool:
    try:
        return gzip.decompress(ours) == gzip.decompress(theirs)
    except (OSError, EOFError):
        return False


def _message(job: ChartJob, digest: str) -> str:
    # [skip ci]: GitHub and GitLab start no pipeline for this commit (a Pages branch has nothing to build).
    return f"chore(charts): publish {job.meta.name} {job.meta.version}\n\n{job.filename} sha256:{digest}\n\n[skip ci]\n"
