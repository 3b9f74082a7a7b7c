"""Where we run: GitLab CI, GitHub Actions or a laptop, read from the environment only."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Provider = Literal["gitlab", "github", "local"]


@dataclass(frozen=True)
class CIInfo:
    provider: Provider
    branch: str | None  # None for tag pipelines and when it cannot be known
    tag: str | None
    project_url: str | None  # web URL of the project, for links in notes
    pipeline_url: str | None
    merge_request: bool = False  # a merge/pull request pipeline: plan only, publish nothing
    default_branch: str | None = None  # the project's default branch, when the CI says


def detect(env: Mapping[str, str]) -> CIInfo:
    if env.get("GITLAB_CI") or env.get("CI_SERVER_URL"):
        tag = env.get("CI_COMMIT_TAG") or None
        branch = (
            env.get("CI_COMMIT_BRANCH")
            or env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
            or (None if tag else env.get("CI_COMMIT_REF_NAME"))
            or None
        )
        return CIInfo(
            "gitlab",
            branch,
            tag,
            env.get("CI_PROJECT_URL") or None,
            env.get("CI_PIPELINE_URL") or None,
            merge_request=bool(env.get("CI_MERGE_REQUEST_IID")),
            default_branch=env.get("CI_DEFAULT_BRANCH") or None,
        )
    if env.get("GITHUB_ACTIONS"):
        is_tag = env.get("GITHUB_REF_TYPE") == "tag" or env.get("GITHUB_REF", "").startswith("refs/tags/")
        tag = env.get("GITHUB_REF_NAME") if is_tag else None
        branch = env.get("GITHUB_HEAD_REF") or (None if is_tag else env.get("GITHUB_REF_NAME")) or None
        server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
        project = f"{server.rstrip('/')}/{repo}" if server and repo else None
        run = f"{project}/actions/runs/{env['GITHUB_RUN_ID']}" if project and env.get("GITHUB_RUN_ID") else None
        pull = env.get("GITHUB_EVENT_NAME", "") in ("pull_request", "pull_request_target")
        return CIInfo("github", branch, tag, project, run, merge_request=pull, default_branch=_github_default(env))
    # Outside the two big CIs, honour the variables anyway: users set them to replay a CI job locally.
    branch = env.get("CI_COMMIT_REF_NAME") or env.get("GITHUB_REF_NAME") or None
    return CIInfo("local", branch, None, None, None)


def _github_default(env: Mapping[str, str]) -> str | None:
    """The repository's default branch from the workflow's event payload (GITHUB_EVENT_PATH), when it says."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return None
    repository = event.get("repository") if isinstance(event, dict) else None
    branch = repository.get("default_branch") if isinstance(repository, dict) else None
    return branch if isinstance(branch, str) and branch else None


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!/).+)$")


def web_url(remote: str | None) -> str | None:
    """The https URL of a git remote, credentials stripped: for links only, never for pushing."""
    if not remote:
        return None
    remote = remote.strip()
    match = re.match(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)$", remote)
    if not match:
        match = _SCP_LIKE.match(remote)
    if not match:
        return None
    path = match["path"].strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"https://{match['host']}/{path}"


def shallow_hint(provider: Provider) -> str:
    """The exact fix for a shallow clone, in the words of the CI it runs on."""
    if provider == "gitlab":
        return "set GIT_DEPTH: 0 in the job's variables, or run: git fetch --unshallow --tags origin"
    if provider == "github":
        return "set fetch-depth: 0 on actions/checkout, or run: git fetch --unshallow --tags origin"
    return "fetch the history and tags: git fetch --unshallow --tags origin"


def forge_of(url: str | None, env: Mapping[str, str]) -> Literal["gitlab", "github"] | None:
    if not url:
        return None
    host = url.split("/")[2].lower() if "//" in url else ""
    for var, kind in (("CI_SERVER_URL", "gitlab"), ("GITHUB_SERVER_URL", "github")):
        value = env.get(var, "")
        if value and value.split("/")[2:3] == [host]:
            return "gitlab" if kind == "gitlab" else "github"
    if host == "github.com" or host.startswith("github."):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    return None
