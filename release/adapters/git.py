"""git through its command line: bulk reads (one for-each-ref, one log per range), plain writes.

No decisions here: callers decide what to read and what to write.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.adapters.retry import backoff
from release.errors import ReleaseError
from release.versioning.commits import Commit
from release.versioning.tags import TagRef

# NUL separates fields (and, with -z, records): the one byte a commit message cannot contain.
_LOG_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%B")
_LOG_FORMAT = "%x00".join(_LOG_FIELDS)
_BASE = ["git", "-c", "core.quotepath=off", "-c", "log.showSignature=false", "-c", "color.ui=false"]


class GitError(ReleaseError):
    stdout: str = ""


# The network or the server failed, not the request: worth another attempt. Safe for pushes too: once the refs
# have landed, pushing them again is "up to date".
_TRANSIENT = re.compile(
    r"returned error: (?:429|5\d\d)|HTTP (?:429|5\d\d)|Connection reset|Recv failure|Send failure|Empty reply"
    r"|remote end hung up unexpectedly|early EOF|unexpected disconnect|timed out|Failed to connect",
    re.IGNORECASE,
)
_REFUSED = re.compile(r"Connection refused|Couldn't connect to server", re.IGNORECASE)  # curl's words for it
NETWORK_COMMANDS = frozenset({"fetch", "ls-remote", "push", "pull", "clone"})
NETWORK_ATTEMPTS = 3


def transient(stderr: str | bytes) -> bool:
    """True when git failed on the network or on a server error (5xx, 429, a reset or a timeout). A refused
    connection is final (as a name that does not resolve): asking again gets the same answer."""
    text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
    if _REFUSED.search(text) and "timed out" not in text.lower():
        return False
    return _TRANSIENT.search(text) is not None


def retry_network(
    args: Sequence[str], call: Callable[[], subprocess.CompletedProcess[bytes]], base: float = 1.0
) -> subprocess.CompletedProcess[bytes]:
    """Run `call`; a fetch, ls-remote or push that failed transiently runs again (3 attempts, jittered backoff)."""
    proc = call()
    if not args or args[0] not in NETWORK_COMMANDS:
        return proc
    for attempt in range(1, NETWORK_ATTEMPTS):
        if proc.returncode == 0 or not transient(proc.stderr):
            return proc
        time.sleep(backoff(attempt, base))
        proc = call()
    return proc


@dataclass(frozen=True)
class Git:
    cwd: Path

    def call(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return retry_network(args, lambda: self._exec_once(*args, input=input, env=env))

    def _exec_once(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**(os.environ if env is None else env), "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        # stdout goes to an unlinked temporary file, not a pipe: git writes a big `git log` in small chunks, and
        # reading ~25 MB (100k commits) from a pipe costs ~25k poll/read wake-ups, about 0.3 s; a file is one read.
        with tempfile.TemporaryFile() as out:
            proc = subprocess.run(
                [*_BASE, *args],
                cwd=self.cwd,
                input=input.encode() if input is not None else None,
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
                check=False,
            )
            out.seek(0)
            proc.stdout = out.read()
        return proc

    def run(
        self, *args: str, input: str | None = None, check: bool = True, env: Mapping[str, str] | None = None
    ) -> str:
        proc = self.call(*args, input=input, env=env)
        out = proc.stdout.decode("utf-8", errors="replace")
        if check and proc.returncode != 0:
            err = proc.stderr.decode("utf-8", errors="replace").strip()
            first = next((line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), None)
            error = GitError(f"git {args[0]} failed: {(first or err or 'exit ' + str(proc.returncode)).strip()}")
            error.stdout = out
            raise error
        return out

    # --- reads -----------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Git:
        """The repository containing `path`, at its top level."""
        if not path.is_dir():
            raise ReleaseError(f"{path} is not a directory", "run release inside your project's clone")
        try:
            top = Git(path).run("rev-parse", "--show-toplevel").strip()
        except GitError:
            raise ReleaseError(
                f"not a git repository: {path.resolve()}", "run release inside your project's clone (or pass -C DIR)"
            ) from None
        return cls(Path(top))

    def head(self) -> str | None:
        """HEAD's commit, or None in a repository with no commit yet."""
        out = self.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
        return out or None

    def resolve(self, ref: str) -> str:
        out = self.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).strip()
        if not out:
            raise ReleaseError(f"unknown revision {ref!r}", "give a tag, branch or commit sha that exists here")
        return out

    def branch(self) -> str | None:
        """The checked-out branch; None on a detached HEAD (every CI job)."""
        out = self.run("symbolic-ref", "--short", "-q", "HEAD", check=False).strip()
        return out or None

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def shallow_boundary(self) -> set[str]:
        """The commits where a shallow clone's history stops (.git/shallow); empty for a complete history."""
        path = Path(self.run("rev-parse", "--git-path", "shallow").strip())
        path = path if path.is_absolute() else self.cwd / path
        return set(path.read_text(encoding="ascii").split()) if path.is_file() else set()

    def tags(
        self, merged_into: str | None = None, points_at: str | None = None, names: list[str] | None = None
    ) -> list[TagRef]:
        """All tags (or those reachable from / pointing at a commit, or only `names`) in one call, peeled."""
        args = ["for-each-ref", "--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)"]
        if merged_into:
            args.append(f"--merged={merged_into}")
        if points_at:
            args.append(f"--points-at={points_at}")
        patterns = [f"refs/tags/{name}" for name in names] if names is not None else ["refs/tags"]
        if not patterns:
            return []
        refs = []
        for line in self.run(*args, *patterns).splitlines():
            name, obj, peeled = ([*line.split("\t"), "", ""])[:3]
            refs.append(TagRef(name, peeled or obj))
        return refs

    def log(self, rev_range: str, paths: tuple[str, ...] = (), no_merges: bool = True) -> list[Commit]:
        """Commits in `rev_range`, newest first, in one `git log`."""
        args = ["log", "-z", f"--format={_LOG_FORMAT}", "--encoding=UTF-8"]
        if no_merges:
            args.append("--no-merges")
        out = self.run(*args, rev_range, "--", *paths)
        fields = out.split("\0")
        width = len(_LOG_FIELDS)
        if len(fields) % width == 1 and not fields[-1]:
            fields.pop()  # the terminator after the last record
        if len(fields) % width:
            raise ValueError(f"git log gave {len(fields)} fields, not a multiple of {width}")
        return [
            Commit(sha, tuple(parents.split()), author, email, date, message)
            for sha, parents, author, email, date, message in zip(*[iter(fields)] * width, strict=True)
        ]

    def remote_url(self, remote: str = "origin") -> str | None:
        out = self.run("remote", "get-url", remote, check=False).strip()
        return out or None

    def dirty_files(self, untracked: bool = False) -> list[tuple[str, str]]:
        """(status, path) of tracked files with changes, staged or not, and with `untracked` the files git does not
        know and does not ignore (status "??", each file of an untracked folder)."""
        out = self.run("status", "--porcelain", "-z", f"--untracked-files={'all' if untracked else 'no'}")
        entries = iter(out.split("\0"))
        files = []
        for entry in entries:
            if len(entry) > 3:
                files.append((entry[:2], entry[3:]))
                if entry[0] in "RC":
                    next(entries, None)  # a rename's or copy's source path follows
        return files

    def remote_default_branch(self, remote: str = "origin") -> str | None:
        """The branch `remote`'s HEAD names, as this clone recorded it (refs/remotes/REMOTE/HEAD); no network."""
        out = self.run("symbolic-ref", "-q", "--short", f"refs/remotes/{remote}/HEAD", check=False).strip()
        return out.removeprefix(f"{remote}/") or None

    def remote_branch_head(self, remote: str, branch: str) -> str | None:
        """Fetch `branch` from `remote` and return its commit, or None when the remote has no such branch."""
        out = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}").strip()
        if not out:
            return None
        sha = out.split()[0]
        self.run("fetch", "-q", "--no-tags", remote, f"refs/heads/{branch}")
        return sha

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.call("merge-base", "--is-ancestor", ancestor, descendant).returncode == 0

    def commit_time(self, ref: str = "HEAD") -> int:
        return int(self.run("log", "-1", "--format=%ct", ref).strip())

    # --- writes ----------------------------------------------------------------------------------

    def commit_files(self, paths: list[str], message: str) -> str:
        self.run("add", "--", *paths)
        self.run("commit", "-q", "-F", "-", "--", *paths, input=message)
        return self.run("rev-parse", "HEAD").strip()

    def tag_annotated(self, name: str, message: str, commit: str, env: Mapping[str, str] | None = None) -> None:
        # verbatim: the default cleanup would strip every markdown heading ("# ...") from the notes.
        self.run("tag", "-a", "--cleanup=verbatim", name, "-F", "-", commit, input=message, env=env)

    def remote_tag(self, remote: str, tag: str, env: Mapping[str, str] | None = None) -> str | None:
        """The commit `tag` points at on `remote` (annotated tags peeled), or None when it has no such tag."""
        out = self.run("ls-remote", "--tags", remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}", env=env)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref] = sha
        return refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")

    def remote_tags(self, remote: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every tag on `remote` and the commit it names (annotated tags peeled), in one ls-remote."""
        refs: dict[str, str] = {}
        for line in self.run("ls-remote", "--tags", remote, env=env).splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                refs[name[:-3]] = sha
            else:
                refs.setdefault(name, sha)
        return refs

    def fetch(self, remote: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        """`git fetch -q [args] remote`: options and refspecs as given."""
        options = [a for a in args if a.startswith("-")]
        refspecs = [a for a in args if not a.startswith("-")]
        self.run("fetch", "-q", *options, remote, *refspecs, env=env)

    def remote_ref(self, remote: str, ref: str, env: Mapping[str, str] | None = None) -> str | None:
        """The object `ref` names on `remote`, or None (no such ref, or the remote could not be asked)."""
        out = self.run("ls-remote", remote, ref, env=env, check=False)
        return next((line.split("\t")[0] for line in out.splitlines() if line.endswith(f"\t{ref}")), None)

    def compare_and_swap(
        self, remote: str, ref: str, *, expect: str, new: str, env: Mapping[str, str] | None = None
    ) -> str | None:
        """Set `ref` on `remote` to `new` ("" deletes it) only while it is `expect` ("" = absent).

        None when done, else git's first line saying why not."""
        refspec = f"{new}:{ref}" if new else f":{ref}"
        proc = self.call("push", "--porcelain", f"--force-with-lease={ref}:{expect}", remote, refspec, env=env)
        if proc.returncode == 0:
            return None
        err = proc.stderr.decode("utf-8", errors="replace")
        return next((line.strip() for line in err.splitlines() if line.strip()), "?")

    def fetch_objects(self, remote: str, ref: str, env: Mapping[str, str] | None = None) -> None:
        """Bring `ref`'s objects here without writing any ref (not even FETCH_HEAD); a failure is left to the caller
        to notice (the objects are then missing)."""
        self.call("fetch", "-q", "--no-tags", "--no-write-fetch-head", remote, ref, env=env)

    def commit_text(self, sha: str) -> str:
        """The raw commit object (headers, then the message), or "" when it is not here."""
        return self.run("cat-file", "commit", sha, check=False)

    def file_at(self, commit: str, path: str) -> str | None:
        """A file's text as `commit` holds it (`path` from the repository's top), or None when it has none."""
        proc = self.call("show", f"{commit}:{path}")
        return proc.stdout.decode("utf-8", errors="replace") if proc.returncode == 0 else None

    def local_tag(self, tag: str) -> str | None:
        """The commit a local tag points at, or None."""
        out = self.run("rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}", check=False).strip()
        return out or None

    def push(self, remote: str, refspecs: list[str], env: Mapping[str, str] | None = None) -> None:
        """Push all refspecs or none (`--atomic`), so a branch never lands without its tag."""
        try:
            self.run("push", "--atomic", "--porcelain", remote, *refspecs, env=env)
        except GitError as exc:
            raise self._rejection(exc, remote, refspecs) from None

    def _rejection(self, exc: GitError, remote: str, refspecs: list[str]) -> GitError:
        # The reason a ref was refused is in the porcelain stdout ("!\t<ref>\t[rejected] (fetch first)"),
        # while stderr only says the atomic push failed.
        rejected = [line.split("\t") for line in exc.stdout.splitlines() if line.startswith("!")]
        reasons = [f"{parts[1].split(':')[-1]} {parts[2]}" for parts in rejected if len(parts) >= 3]
        primary = next((r for r in reasons if "atomic push failed" not in r), None)
        if primary is None:
            return exc
        if "fetch first" in primary or "non-fast-forward" in primary:
            hint = f"{remote} has commits this clone does not: pull (git pull --rebase), then rerun"
        elif "already exists" in primary:
            hint = "that tag already exists on the remote with other content: fetch tags and check it"
        else:
            hint = "check your push rights on that ref (a protected branch refuses direct pushes)"
        return GitError(f"git push to {remote} was rejected: {primary}", hint)
