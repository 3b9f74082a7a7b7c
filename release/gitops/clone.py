"""An environment's infra repository: a cheap clone of one branch (shallow for a promote, blobless with history
for status and rollback); fetches and pushes retried on network errors, never forced."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from release.adapters import gitclone
from release.adapters.git import GitError, retry_network, transient
from release.adapters.gitclone import BranchTarget
from release.config import EnvironmentConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops.edits import FileEdit

ATTEMPTS = 6


BACKOFF_SECONDS = 0.2  # first retry after ~0.2 s, then doubling, each jittered ±50%


PROTECTED_HINT = (
    "the branch refuses direct pushes (protected, or a hook): set `mode: merge-request` for this environment"
)


class CloneGit(gitclone.CloneGit):
    """The chart-branch publisher's git, with fetches, ls-remotes and pushes retried on network and server errors."""

    def call(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return retry_network(args, lambda: gitclone.CloneGit.call(self, *args, input=input, env=env))


class InfraClone:
    """A throwaway clone of one branch of an environment's infra repository."""

    def __init__(self, ctx: Context, env: EnvironmentConfig, tmp: Path, *, history: bool) -> None:
        url = repo_url(ctx, env)
        git_env = gitclone.auth_env(ctx.env, url)
        self.git = CloneGit(tmp, git_env, authenticated=any(v.startswith("Authorization:") for v in git_env.values()))
        self.git.run("init", "-q")
        self.git.run("remote", "add", "origin", url)
        self.git = dataclasses.replace(self.git, env={**self.git.env, **gitclone.identity(ctx.env, self.git)})
        self.history = history
        self.where = BranchTarget(url, env.branch or self._default_branch(url))
        # Sparse: the work tree holds only the files promotes touch (an infra repo has thousands); with a blobless
        # fetch, only their contents are downloaded. Every environment's files, so `after:` checks can read them.
        files = sorted({u.file for e in ctx.config.environments for u in e.updates})
        self.git.run("config", "core.sparseCheckout", "true")
        info = tmp / ".git" / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "sparse-checkout").write_text("".join(f"/{f}\n" for f in files), encoding="utf-8")

    def _default_branch(self, url: str) -> str:
        proc = self.git.call("ls-remote", "--symref", "origin", "HEAD")
        if proc.returncode != 0:
            raise gitclone.fetch_error(self.git, BranchTarget(url, "HEAD"), proc)
        out = proc.stdout.decode("utf-8", errors="replace")
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line.split("\t")[0].removeprefix("ref: refs/heads/")
        raise ReleaseError(f"{url} has no default branch to promote to", "set `branch:` for this environment")

    @property
    def label(self) -> str:
        return f"{self.where.url} ({self.where.branch})"

    def sync(self) -> None:
        """The work tree at the remote branch's tip."""
        branch, remote_ref = self.where.branch, f"refs/remotes/origin/{self.where.branch}"
        # blobless either way: history (status, rollback) without contents, or just the tip
        depth = ["--filter=blob:none"] if self.history else ["--depth", "1", "--filter=blob:none"]
        proc = self.git.call("fetch", "-q", "--no-tags", *depth, "origin", f"+refs/heads/{branch}:{remote_ref}")
        if proc.returncode != 0:
            if gitclone.MISSING_BRANCH in proc.stderr.decode("utf-8", errors="replace"):
                raise ReleaseError(f"{self.where.url} has no branch {branch}", "create it, or fix `branch:`")
            raise gitclone.fetch_error(self.git, self.where, proc)
        self.git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        self.git.run("reset", "-q", "--hard", remote_ref)
        self.git.run("clean", "-q", "-d", "-f", "-x")

    def read(self, file: str) -> str | None:
        path = gitclone.inside(self.git.cwd, file)
        if not path.is_file():
            return None
        return _decode(path.read_bytes(), file)

    def read_at(self, commit: str, file: str) -> str | None:
        proc = self.git.call("show", f"{commit}:{file}")
        return _decode(proc.stdout, file) if proc.returncode == 0 else None

    def write(self, edits: Sequence[FileEdit]) -> None:
        for edit in edits:
            # bytes, not text mode: CRLF files stay CRLF.
            gitclone.inside(self.git.cwd, edit.file).write_bytes(edit.new.encode("utf-8"))
        self.git.run("add", "--", *(e.file for e in edits))

    def commit(self, text: str) -> str:
        self.git.run("commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", "-", input=text)
        return self.head()

    def head(self) -> str:
        return self.git.run("rev-parse", "HEAD").strip()

    def push(self) -> str | None:
        try:
            return gitclone.push_head(self.git, self.where)
        except GitError as exc:
            if transient(exc.message):  # not a refusal: the network or the server failed, three times
                reason = exc.message.split(" was refused: ", 1)[-1]
                raise ReleaseError(
                    f"git push to {self.where.branch} in {self.where.url} failed: {reason}",
                    "the network or the git server failed; rerun the job: a rerun writes only what is missing",
                ) from None
            raise ReleaseError(exc.message, PROTECTED_HINT) from None

    def fetch_branch(self, branch: str) -> str | None:
        """The tip of another branch of the remote (fetched, shallow), or None when it does not exist."""
        ref = f"refs/remotes/origin/{branch}"
        proc = self.git.call("fetch", "-q", "--no-tags", "--depth", "1", "origin", f"+refs/heads/{branch}:{ref}")
        if proc.returncode != 0:
            if gitclone.MISSING_BRANCH in proc.stderr.decode("utf-8", errors="replace"):
                return None
            raise gitclone.fetch_error(self.git, BranchTarget(self.where.url, branch), proc)
        return self.git.run("rev-parse", ref).strip()

    def delete_branch(self, branch: str, expect: str) -> str | None:
        """Delete `branch` of the remote (a release branch we made, never the target) if it is still at `expect`.

        None when it is gone; otherwise why the remote refused (protected, moved meanwhile)."""
        if branch == self.where.branch:
            raise AssertionError(f"refusing to delete the target branch {branch}")
        lease = f"--force-with-lease=refs/heads/{branch}:{expect}"
        proc = self.git.call("push", "--porcelain", lease, "origin", f":refs/heads/{branch}")
        return None if proc.returncode == 0 else gitclone.push_refusal(proc)

    def tree(self, commit: str) -> str:
        return self.git.run("rev-parse", f"{commit}^{{tree}}").strip()

    def push_branch(self, branch: str, expect: str | None) -> str | None:
        """Push HEAD to `branch` (a release branch, never the target) only if it is still at `expect` (None: absent).

        None when it landed; the reason when someone else moved the branch meanwhile."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expect or ''}"
        proc = self.git.call("push", "--porcelain", lease, "origin", f"HEAD:refs/heads/{branch}")
        if proc.returncode == 0:
            return None
        reason = gitclone.push_refusal(proc)
        if gitclone.RACE.search(reason):
            return reason
        raise ReleaseError(
            f"git push to {branch} in {self.where.url} was refused: {reason}",
            "check your push rights on release/* branches of the infra repository",
        )

    def last_change(self, file: str) -> tuple[str, str] | None:
        out = self.git.run("log", "-1", "--format=%H%x00%cI", "--", file).strip()
        if not out:
            return None
        sha, _, when = out.partition("\0")
        return sha, when

    def history_of(self, file: str) -> list[str]:
        return self.git.run("log", "--format=%H", "--", file).split()

    def trailer(self, commit: str, key: str) -> str | None:
        out = self.git.run("log", "-1", f"--format=%(trailers:key={key},valueonly)", commit).strip()
        return out.splitlines()[0].strip() if out else None


def repo_url(ctx: Context, env: EnvironmentConfig) -> str:
    """The environment's infra repository as git reaches it: a URL, or a local path made absolute."""
    return env.repo if "://" in env.repo else str((ctx.root / env.repo).resolve())


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseError(f"{file} is not UTF-8 text", "save it as UTF-8") from None


@contextmanager
def open_clone(ctx: Context, env: EnvironmentConfig, *, history: bool = False) -> Iterator[InfraClone]:
    with tempfile.TemporaryDirectory(prefix=f"release-promote-{env.name}-") as tmp:
        clone = InfraClone(ctx, env, Path(tmp), history=history)
        clone.sync()
        yield clone
