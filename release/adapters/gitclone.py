"""git in a throwaway clone of another repository (an infra repo, a chart branch): credentials as an
extraHeader in GIT_CONFIG_* variables (never in a URL or argv), an identity, fetch, and never-forced pushes."""

from __future__ import annotations

import base64
import re
import shlex
import subprocess
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from release import secrets
from release.adapters import tls
from release.adapters.credentials import PROTECTED_HINT
from release.adapters.git import Git, GitError
from release.errors import ReleaseError

DEFAULT_NAME = "release"


DEFAULT_EMAIL = "release@localhost"


# Why a push can be refused because another push got there first: the branch moved ("fetch first",
# "non-fast-forward"), or both pushes reached the server at once and the ref lock or its old-value check
# failed ("cannot lock ref", "failed to update ref", "incorrect old value"). Anything else (a hook, a
# protected branch, no rights) is not a race and is not retried.
RACE = re.compile(r"fetch first|non-fast-forward|cannot lock ref|failed to update ref|incorrect old value|stale info")


MISSING_BRANCH = "couldn't find remote ref"


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
class CloneGit(Git):
    """Git in the temporary clone, with an environment of our making (credentials, identity)."""

    env: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = False  # an Authorization header is configured for the remote
    unset: str | None = None  # why no token although one was meant (credentials.missing), for messages

    def call(
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


def auth_env(env: Mapping[str, str], url: str) -> dict[str, str]:
    out = {
        key: value
        for key, value in env.items()
        # The project's own git plumbing must not leak into the temporary repository, nor the token into git.
        if key not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
        and key not in ("RELEASE_GIT_USER", "RELEASE_GIT_TOKEN")
        and key != "GIT_SSL_NO_VERIFY"  # certificates are always verified (release/adapters/tls.py)
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


def identity(env: Mapping[str, str], git: Git) -> dict[str, str]:
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


def sync_branch(git: CloneGit, where: BranchTarget) -> None:
    """Make the work tree the remote branch's tip, or an empty orphan branch when it has none."""
    remote_ref = f"refs/remotes/origin/{where.branch}"
    proc = git.call("fetch", "-q", "--depth", "1", "--no-tags", "origin", f"+refs/heads/{where.branch}:{remote_ref}")
    err = proc.stderr.decode("utf-8", errors="replace")
    exists = proc.returncode == 0
    if not exists and MISSING_BRANCH not in err:
        raise fetch_error(git, where, proc)
    git.run("symbolic-ref", "HEAD", f"refs/heads/{where.branch}")
    if exists:
        git.run("reset", "-q", "--hard", remote_ref)
    else:
        git.run("update-ref", "-d", f"refs/heads/{where.branch}")
        git.run("read-tree", "--empty")
    git.run("clean", "-q", "-d", "-f", "-x")


def fetch_error(git: CloneGit, where: BranchTarget, proc: subprocess.CompletedProcess[bytes]) -> GitError:
    """Why a fetch (or ls-remote) from `where` failed, in one line: credentials, or the repository itself."""
    err = proc.stderr.decode("utf-8", errors="replace")
    untrusted = tls.git_certificate_error(err, where.url, git.env)
    if untrusted is not None:
        return GitError(untrusted.message, untrusted.hint)
    first = next((line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), err.strip())
    if re.search(r"could not read Username|Authentication failed|returned error: 40[13]", err):
        given = git.authenticated
        if git.unset and not given:
            return GitError(f"{git.unset}, and {where.url} asks for credentials ({first})", PROTECTED_HINT)
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


def inside(root: Path, rel: str) -> Path:
    """root/rel, refusing a path that a symbolic link in the branch would lead outside the clone."""
    path = root / rel
    probe = path.parent
    while probe != root and not probe.exists() and not probe.is_symlink():
        probe = probe.parent
    if not probe.resolve().is_relative_to(root.resolve()):
        raise ReleaseError(f"{rel}: a symbolic link in the branch leads outside it", "replace the link with a folder")
    return path


def push_head(git: CloneGit, where: BranchTarget) -> str | None:
    """Push HEAD to the branch (never forced); None when it landed, the reason when another push won the race."""
    proc = git.call("push", "--porcelain", "origin", f"HEAD:refs/heads/{where.branch}")
    if proc.returncode == 0:
        return None
    reason = push_refusal(proc)
    if RACE.search(reason):
        return reason
    err = proc.stderr.decode("utf-8", errors="replace")
    said = [line.removeprefix("remote:").strip() for line in err.splitlines() if line.startswith("remote:")]
    said = [line for line in said if line][:3]
    raise GitError(
        f"git push to {where.branch} in {where.url} was refused: {reason}"
        + (f"; the server said: {' / '.join(said)}" if said else ""),
        "check your push rights on that branch (a protected branch or a hook refuses direct pushes)",
    )


def push_refusal(proc: subprocess.CompletedProcess[bytes]) -> str:
    """Why `git push --porcelain` failed, in git's words: the refused ref's reason, else git's first error line."""
    out = proc.stdout.decode("utf-8", errors="replace")
    err = proc.stderr.decode("utf-8", errors="replace")
    refused = next((line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")), None)
    return refused or next(
        (line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), err.strip() or "git push failed"
    )
