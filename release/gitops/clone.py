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
from release.adapters.credentials import missing
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

    def __init__(
        self, ctx: Context, env: EnvironmentConfig, tmp: Path, *, history: bool, worktree: bool = True
    ) -> None:
        url = repo_url(ctx, env)
        git_env = gitclone.auth_env(ctx.env, url)
        self.git = CloneGit(
            tmp,
            git_env,
            authenticated=any(v.startswith("Authorization:") for v in git_env.values()),
            unset=missing(ctx.env, "RELEASE_GIT_USER", "RELEASE_GIT_TOKEN"),
        )
        self.git.run("init", "-q")
        self.git.run("remote", "add", "origin", url)
        self.git = dataclasses.replace(self.git, env={**self.git.env, **gitclone.identity(ctx.env, self.git)})
        self.history = history
        self.worktree = worktree  # False: HEAD only, nothing checked out (`status` reads blobs by id)
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
        if not self.worktree:
            self.git.run("update-ref", f"refs/heads/{branch}", remote_ref)
            return
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

    def log(self, files: Sequence[str], *, names: bool = False, since: str | None = None, grep: str = "") -> str:
        """`git log` of HEAD (after `since`) touching `files`, or, with `grep`, the commits whose message holds it
        (any files): records separated by \x1e, fields by \x1f: sha, committer date, trailers (+ NUL-separated
        file names with `names`)."""
        args = ["log", "-z", "--format=%x1e%H%x1f%cI%x1f%(trailers:only,unfold)"]
        if names:
            args.append("--name-only")
        if grep:
            args += ["-F", f"--grep={grep}"]
        args.append(f"{since}..HEAD" if since else "HEAD")
        return self.git.run(*args, "--", *files) if files else self.git.run(*args)

    def shallow(self) -> set[str]:
        """The commits where the fetched history stops (empty for a full history)."""
        path = self.git.cwd / ".git" / "shallow"
        return set(path.read_text(encoding="ascii").split()) if path.is_file() else set()

    def deepen(self, by: int | None) -> None:
        """Fetch `by` more commits of history (None: all of it), without blobs."""
        depth = [f"--deepen={by}"] if by else ["--unshallow"]
        remote_ref = f"refs/remotes/origin/{self.where.branch}"
        refspec = f"+refs/heads/{self.where.branch}:{remote_ref}"
        proc = self.git.call("fetch", "-q", "--no-tags", "--filter=blob:none", *depth, "origin", refspec)
        if proc.returncode != 0:
            raise gitclone.fetch_error(self.git, self.where, proc)

    def changed(self, commits: Sequence[str], files: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """For each commit, the files (of `files`) that differ between it and HEAD: (file, blob then, blob now),
        an all-zero blob for a file that is missing on that side. Trees only: no file contents are fetched."""
        head = self.head()
        # a line "C P" reads as commit C with parent P, diffed from P to C, under a line naming C: so "R HEAD"
        # names R, and each entry's first blob is HEAD's
        text = "".join(f"{c} {head}\n" for c in commits)
        out = self.git.run("diff-tree", "--stdin", "-r", "-z", "--no-abbrev", "--", *files, input=text)
        found: dict[str, list[tuple[str, str, str]]] = {}
        current = ""
        tokens = iter(out.split("\0"))
        for token in tokens:
            if token.startswith(":"):
                _, _, now, then, _ = token[1:].split(" ")
                found.setdefault(current, []).append((next(tokens), then, now))
            elif token.strip():
                current = token.strip()
        return found

    def blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """The contents of these blobs, fetched in one request first: a blobless clone lacks them, and git would
        otherwise fetch them one request each (what it does itself, batched: `fetch --stdin` of the ids)."""
        wanted = "".join(f"{oid}\n" for oid in sorted(set(oids)))
        if not wanted:
            return {}
        args = ("-c", "fetch.negotiationAlgorithm=noop", "fetch", "-q", "--no-tags", "--no-write-fetch-head")
        proc = self.git.call(*args, "--filter=blob:none", "--stdin", "origin", input=wanted)
        if proc.returncode != 0:
            raise gitclone.fetch_error(self.git, self.where, proc)
        return _batch(self.git.call("cat-file", "--batch", input=wanted).stdout)

    def parent(self, commit: str) -> str | None:
        """The commit's first parent; None for the first commit (or where a shallow history stops)."""
        out = self.git.run("rev-parse", "--verify", "-q", f"{commit}^1", check=False).strip()
        return out or None

    def commit_empty(self, text: str) -> str:
        """A commit that changes no file: its message is all it says (`release unhold`)."""
        self.git.run("commit", "-q", "--no-verify", "--allow-empty", "--cleanup=verbatim", "-F", "-", input=text)
        return self.head()

    def descendants(self, commit: str, files: Sequence[str] = ()) -> list[str]:
        """The commits between `commit` (excluded) and HEAD that descend from it, newest first; with `files`,
        only those that touch them. Needs the history (history=True)."""
        out = self.git.run("rev-list", "--ancestry-path", f"{commit}..HEAD", *(["--", *files] if files else []))
        return out.split()

    def trailer(self, commit: str, key: str) -> str | None:
        out = self.git.run("log", "-1", f"--format=%(trailers:key={key},valueonly)", commit).strip()
        return out.splitlines()[0].strip() if out else None


def repo_url(ctx: Context, env: EnvironmentConfig) -> str:
    """The environment's infra repository as git reaches it: a URL, or a local path made absolute."""
    return env.repo if "://" in env.repo else str((ctx.root / env.repo).resolve())


def _batch(out: bytes) -> dict[str, bytes]:
    """`git cat-file --batch` output: `<oid> <type> <size>\n<contents>\n` per object (`<oid> missing\n` if none)."""
    found: dict[str, bytes] = {}
    at = 0
    while at < len(out):
        end = out.index(b"\n", at)
        header = out[at:end].decode("ascii").split(" ")
        at = end + 1
        if len(header) == 3:
            size = int(header[2])
            found[header[0]] = out[at : at + size]
            at += size + 1
    return found


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseError(f"{file} is not UTF-8 text", "save it as UTF-8") from None


@contextmanager
def open_clone(
    ctx: Context, env: EnvironmentConfig, *, history: bool = False, worktree: bool = True
) -> Iterator[InfraClone]:
    with tempfile.TemporaryDirectory(prefix=f"release-promote-{env.name}-") as tmp:
        clone = InfraClone(ctx, env, Path(tmp), history=history, worktree=worktree)
        clone.sync()
        yield clone
