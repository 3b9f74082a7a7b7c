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

import base64
import dataclasses
import gzip
import hashlib
import re
import shlex
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from release import helmindex, secrets, tls
from release.adapters.git import Git, GitError
from release.errors import ReleaseError
from release.retry import backoff

if TYPE_CHECKING:
    from release.context import Context
    from release.stages.charts import ChartJob

Say = Callable[[str], None]

ATTEMPTS = 5
BACKOFF_SECONDS = 0.25  # first retry after ~0.25 s, then doubling, each jittered ±50%
DEFAULT_NAME = "release"
DEFAULT_EMAIL = "release@localhost"
INDEX = "index.yaml"

# Why a push can be refused because another push got there first: the branch moved ("fetch first",
# "non-fast-forward"), or both pushes reached the server at once and the ref lock or its old-value check
# failed ("cannot lock ref", "failed to update ref", "incorrect old value"). Anything else (a hook, a
# protected branch, no rights) is not a race and is not retried.
_RACE = re.compile(r"fetch first|non-fast-forward|cannot lock ref|failed to update ref|incorrect old value|stale info")
_MISSING_BRANCH = "couldn't find remote ref"


@dataclass(frozen=True)
class BranchTarget:
    """`git+URL#BRANCH[:DIR]`, parsed."""

    url: str
    branch: str
    directory: str = ""  # POSIX path inside the branch; "" is its top

    @classmethod
    def parse(cls, target: str, root: Path) -> BranchTarget:
        hint = "write it as git+URL#BRANCH or git+URL#BRANCH:DIR, e.g. git+https://github.com/org/charts#gh-pages"
        if not target.startswith("git+") or "#" not in target:
            raise ReleaseError(f"publish target {target!r} is not git+URL#BRANCH[:DIR]", hint)
        url, _, fragment = target.removeprefix("git+").rpartition("#")
        branch, _, directory = fragment.partition(":")  # ':' cannot appear in a branch name
        if not url or not branch:
            raise ReleaseError(f"publish target {target!r} needs a repository URL and a branch", hint)
        if not _valid_branch(branch):
            raise ReleaseError(f"publish target {target!r}: {branch!r} is not a valid branch name", hint)
        parts = PurePosixPath(directory).parts if directory else ()
        if directory.startswith("/") or any(p in ("..", ".git") for p in parts):
            raise ReleaseError(
                f"publish target {target!r}: DIR must be a folder inside the branch, got {directory!r}", hint
            )
        if "://" not in url:  # a local path, relative to the project
            url = str((root / url).resolve())
        return cls(url, branch, "/".join(p for p in parts if p != "."))

    def path(self, name: str) -> str:
        return f"{self.directory}/{name}" if self.directory else name


def _valid_branch(name: str) -> bool:
    # git check-ref-format's rules that matter here; git itself refuses the rest when we fetch or push.
    return bool(
        re.fullmatch(r"[^\x00-\x20\x7f~^:?*\[\\]+", name)
        and not name.startswith(("-", "/"))
        and not name.endswith((".", "/", ".lock"))
        and ".." not in name
        and "//" not in name
        and "@{" not in name
        and name != "@"
    )


@dataclass(frozen=True)
class _Git(Git):
    """Git in the temporary clone, with an environment of our making (credentials, identity)."""

    env: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = False  # an Authorization header is configured for the remote

    def _exec(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", "-c", "core.quotepath=off", "-c", "color.ui=false", "-c", "http.sslVerify=true", *args],
            cwd=self.cwd,
            input=input.encode() if input is not None else None,
            capture_output=True,
            env=dict(self.env if env is None else env),
            check=False,
        )


def publish_git_branch(ctx: Context, job: ChartJob, target: str, say: Say) -> None:
    """Add `job`'s archive and index entry to the branch named by `target`, commit, push; idempotent."""
    where = BranchTarget.parse(target, ctx.root)
    ref = f"{target}/{job.filename}"
    with tempfile.TemporaryDirectory(prefix="release-chart-branch-") as tmp:
        env = _git_env(ctx.env, where.url)
        git = _Git(Path(tmp), env, authenticated=any(v.startswith("Authorization:") for v in env.values()))
        git.run("init", "-q")
        git.run("remote", "add", "origin", where.url)
        git = dataclasses.replace(git, env={**git.env, **_identity(ctx.env, git)})
        for attempt in range(1, ATTEMPTS + 1):
            _sync(git, where)
            digest, changed = _apply(git, where, job, say)
            if not changed:
                job.published[ref] = f"sha256:{digest}"
                say(f"skipped: already published {ref} (sha256:{digest[:12]})")
                return
            git.run("commit", "-q", "--no-verify", "-F", "-", input=_message(job, digest))
            problem = _push(git, where)
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


def _git_env(env: Mapping[str, str], url: str) -> dict[str, str]:
    out = {
        key: value
        for key, value in env.items()
        # The project's own git plumbing must not leak into the temporary repository, nor the token into git.
        if key not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
        and key not in ("RELEASE_GIT_USER", "RELEASE_GIT_TOKEN")
        and key != "GIT_SSL_NO_VERIFY"  # certificates are always verified (release/tls.py)
    }
    out.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    tls.require_secure(url, "git repository " + re.sub(r"//[^/@]*@", "//", url), env)
    out.update(tls.git_env(env))  # RELEASE_CA_BUNDLE → GIT_SSL_CAINFO
    token = env.get("RELEASE_GIT_TOKEN")
    parsed = urllib.parse.urlsplit(url)
    key = env.get("RELEASE_GIT_SSH_KEY")
    ssh = parsed.scheme in ("ssh", "git+ssh") or ("://" not in url and re.match(r"^[^/]+@[^/:]+:", url) is not None)
    if key and ssh and not env.get("GIT_SSH_COMMAND"):
        # A key file for this clone only; BatchMode so a passphrase prompt fails instead of hanging CI.
        out["GIT_SSH_COMMAND"] = f"ssh -i {shlex.quote(key)} -o IdentitiesOnly=yes -o BatchMode=yes"
    if token and parsed.scheme in ("http", "https"):
        user = env.get("RELEASE_GIT_USER") or "x-access-token"
        basic = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
        secrets.register(token)
        secrets.register(basic)
        count = int(out.get("GIT_CONFIG_COUNT") or 0)
        # Scoped to the target's scheme and host, so a redirect elsewhere does not carry it.
        out[f"GIT_CONFIG_KEY_{count}"] = f"http.{parsed.scheme}://{parsed.netloc}/.extraHeader"
        out[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {basic}"
        out["GIT_CONFIG_COUNT"] = str(count + 1)
    return out


def _identity(env: Mapping[str, str], git: _Git) -> dict[str, str]:
    """The environment's GIT_AUTHOR_* / GIT_COMMITTER_*, then who triggered the CI pipeline (GitLab's
    GITLAB_USER_NAME/EMAIL, GitHub's actor and its noreply address), then git's user.name/email, then a default."""
    name, email = _ci_identity(env)
    name = name or git.run("config", "--get", "user.name", check=False).strip()
    email = email or git.run("config", "--get", "user.email", check=False).strip()
    out = {}
    for role in ("AUTHOR", "COMMITTER"):
        out[f"GIT_{role}_NAME"] = env.get(f"GIT_{role}_NAME") or name or DEFAULT_NAME
        out[f"GIT_{role}_EMAIL"] = env.get(f"GIT_{role}_EMAIL") or email or DEFAULT_EMAIL
    return out


def _ci_identity(env: Mapping[str, str]) -> tuple[str, str]:
    if env.get("GITLAB_USER_NAME") or env.get("GITLAB_USER_EMAIL"):
        return env.get("GITLAB_USER_NAME", ""), env.get("GITLAB_USER_EMAIL", "")
    actor = env.get("GITHUB_ACTOR", "")
    if actor:
        actor_id = env.get("GITHUB_ACTOR_ID", "")
        noreply = f"{actor_id}+{actor}@users.noreply.github.com" if actor_id else f"{actor}@users.noreply.github.com"
        return actor, noreply
    return "", ""


def _sync(git: _Git, where: BranchTarget) -> None:
    """Make the work tree the remote branch's tip, or an empty orphan branch when it has none."""
    remote_ref = f"refs/remotes/origin/{where.branch}"
    proc = git._exec("fetch", "-q", "--depth", "1", "--no-tags", "origin", f"+refs/heads/{where.branch}:{remote_ref}")
    err = proc.stderr.decode("utf-8", errors="replace")
    exists = proc.returncode == 0
    if not exists and _MISSING_BRANCH not in err:
        raise fetch_error(git, where, proc)
    git.run("symbolic-ref", "HEAD", f"refs/heads/{where.branch}")
    if exists:
        git.run("reset", "-q", "--hard", remote_ref)
    else:
        git.run("update-ref", "-d", f"refs/heads/{where.branch}")
        git.run("read-tree", "--empty")
    git.run("clean", "-q", "-d", "-f", "-x")


def fetch_error(git: _Git, where: BranchTarget, proc: subprocess.CompletedProcess[bytes]) -> GitError:
    """Why a fetch (or ls-remote) from `where` failed, in one line: credentials, or the repository itself."""
    err = proc.stderr.decode("utf-8", errors="replace")
    untrusted = tls.git_certificate_error(err, where.url, git.env)
    if untrusted is not None:
        return GitError(untrusted.message, untrusted.hint)
    first = next((line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), err.strip())
    if re.search(r"could not read Username|Authentication failed|returned error: 40[13]", err):
        given = git.authenticated
        return GitError(
            f"{where.url} " + ("refused the credentials" if given else "asks for credentials") + f" ({first})",
            "set RELEASE_GIT_USER and RELEASE_GIT_TOKEN to an account that can push to "
            + where.branch
            + (" (check they are current)" if given else ""),
        )
    return GitError(
        f"cannot fetch {where.branch} from {where.url}: {first or 'git exit ' + str(proc.returncode)}",
        "check the URL, and that the repository exists and is reachable from here",
    )


def _apply(git: _Git, where: BranchTarget, job: ChartJob, say: Say) -> tuple[str, bool]:
    """Write the archive and merge the index in the work tree; return the archive's digest and whether anything
    changed."""
    archive_rel, index_rel = where.path(job.filename), where.path(INDEX)
    archive_path, index_path = _inside(git.cwd, archive_rel), _inside(git.cwd, index_rel)
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
    changed = git._exec("diff", "--cached", "--quiet").returncode != 0
    return digest, changed


def _inside(root: Path, rel: str) -> Path:
    """root/rel, refusing a path that a symbolic link in the branch would lead outside the clone."""
    path = root / rel
    probe = path.parent
    while probe != root and not probe.exists() and not probe.is_symlink():
        probe = probe.parent
    if not probe.resolve().is_relative_to(root.resolve()):
        raise ReleaseError(f"{rel}: a symbolic link in the branch leads outside it", "replace the link with a folder")
    return path


def _same_tar(ours: bytes, theirs: bytes) -> bool:
    try:
        return gzip.decompress(ours) == gzip.decompress(theirs)
    except (OSError, EOFError):
        return False


def _message(job: ChartJob, digest: str) -> str:
    # [skip ci]: GitHub and GitLab start no pipeline for this commit (a Pages branch has nothing to build).
    return f"chore(charts): publish {job.meta.name} {job.meta.version}\n\n{job.filename} sha256:{digest}\n\n[skip ci]\n"


def _push(git: _Git, where: BranchTarget) -> str | None:
    """Push HEAD to the branch (never forced); None when it landed, the reason when another push won the race."""
    proc = git._exec("push", "--porcelain", "origin", f"HEAD:refs/heads/{where.branch}")
    if proc.returncode == 0:
        return None
    out = proc.stdout.decode("utf-8", errors="replace")
    err = proc.stderr.decode("utf-8", errors="replace")
    refused = next((line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")), None)
    reason = refused or next(
        (line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), err.strip() or "git push failed"
    )
    if _RACE.search(reason):
        return reason
    said = [line.removeprefix("remote:").strip() for line in err.splitlines() if line.startswith("remote:")]
    said = [line for line in said if line][:3]
    raise GitError(
        f"git push to {where.branch} in {where.url} was refused: {reason}"
        + (f"; the server said: {' / '.join(said)}" if said else ""),
        "check your push rights on that branch (a protected branch or a hook refuses direct pushes)",
    )
