"""GitLab merge requests and GitHub pull requests over their REST APIs: find, list, create, update, comment, close.

Thin: no decisions. A `Forge` names the API base, the project and the auth header; every call is one request
and returns `MergeRequest` (the number, the web URL) or raises a one-line ReleaseError that never shows the token.
`Forge.send` is that request for other endpoints too (release objects: `release.forges.objects`).

- GitLab (Merge requests API): GET /projects/:id/merge_requests?source_branch=&target_branch=&state=&per_page=,
  POST /projects/:id/merge_requests (remove_source_branch), PUT /projects/:id/merge_requests/:iid (title,
  description, remove_source_branch, state_event=close); notes: POST /projects/:id/merge_requests/:iid/notes;
  `PRIVATE-TOKEN` or `JOB-TOKEN`.
- GitHub (REST API pulls): GET /repos/:owner/:repo/pulls?head=owner:branch&base=&state=&per_page=,
  POST /repos/:owner/:repo/pulls, PATCH /repos/:owner/:repo/pulls/:number (title, body, state=closed);
  comments: POST /repos/:owner/:repo/issues/:number/comments; `Authorization: Bearer`. GitHub has no
  per-pull-request "delete the branch on merge": that is the repository's `delete_branch_on_merge` setting.
- GitHub (REST deployments): GET /repos/:owner/:repo/deployments?environment=&ref=, POST .../deployments
  {ref, environment, description, auto_merge, required_contexts, production_environment}, POST
  .../deployments/:id/statuses {state, environment, environment_url, log_url, description}. A write the token may
  not make (HTTP 403) is answered as None, for the caller to decide.
- Commit statuses (what a GitOps agent posts on the infra commit it applied): GitLab GET
  /projects/:id/repository/commits/:sha/statuses?per_page=100 (the latest status of each name), GitHub GET
  /repos/:owner/:repo/commits/:sha/status (the combined status: the latest of each context). A commit the forge
  does not know (yet) is None: GitLab 404 "Commit Not Found", GitHub 422 "No commit found".
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from release.adapters import http
from release.errors import ReleaseError

Kind = Literal["gitlab", "github"]
State = Literal["open", "closed", "merged"]  # closed: closed without being merged
_GITLAB_STATES: dict[str, State] = {"opened": "open", "locked": "open", "merged": "merged", "closed": "closed"}


@dataclass(frozen=True)
class MergeRequest:
    number: int  # GitLab's iid, GitHub's number
    url: str  # the web page
    title: str = ""
    description: str = ""
    source: str = ""  # the source (head) branch
    state: State = "open"
    remove_source_branch: bool | None = None  # GitLab's force_remove_source_branch; None on GitHub
    same_repository: bool = True  # GitHub: the head branch is in the base repository (not a fork)


@dataclass(frozen=True)
class Forge:
    kind: Kind
    api: str  # e.g. https://gitlab.example.com/api/v4, https://api.github.com
    project: str  # GitLab: ID or full path; GitHub: owner/repo
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # the auth header; never printed
    token_name: str = ""  # the variable the token came from, for messages
    setting: str = "`api:` for this environment"  # where users set `api`, for hints

    @property
    def noun(self) -> str:
        return "merge request" if self.kind == "gitlab" else "pull request"

    def _base(self) -> str:
        return f"{self.project_api}/merge_requests" if self.kind == "gitlab" else f"{self.project_api}/pulls"

    @property
    def project_api(self) -> str:
        """The project's REST root: GitLab /projects/:id, GitHub /repos/:owner/:repo."""
        if self.kind == "gitlab":
            return f"{self.api.rstrip('/')}/projects/{urllib.parse.quote(self.project, safe='')}"
        return f"{self.api.rstrip('/')}/repos/{self.project}"

    def send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        access: str | None = None,
        expect: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One request: (status, JSON body or None) when it succeeded or answered a status in `expect`.

        Anything else is a one-line ReleaseError naming the token's variable, never its value. `access` is what
        the token must be allowed to do, for the hint (default: open this forge's merge/pull requests).
        """
        hint = f"check {self.setting} ({self.api})"
        with http.session(retries=2, backoff=0.2) as s:
            s.headers.update(self.headers)
            s.headers["Accept"] = "application/vnd.github+json" if self.kind == "github" else "application/json"
            response = http.send(s, method, url, what=f"{self.kind} API at {self.api}", hint=hint, timeout=30, **kwargs)
        status = response.status_code
        if status in expect:
            return status, _json(response)
        if status in (401, 403):
            token = self.token_name or "no token"
            raise ReleaseError(
                f"{self.kind} ({self.api}) rejected the token ({token}) while trying to {what}: HTTP {status}",
                f"check that {token} is set, current, and may {access or f'open {self.noun}s in {self.project}'}",
            )
        if status == 404:
            raise ReleaseError(
                f"{self.kind} ({self.api}) has no project {self.project!r} (HTTP 404 while trying to {what})",
                "check `project:` (GitLab: ID or group/name; GitHub: owner/repo) and the token's access to it",
            )
        if not response.ok:
            raise self.refused(what, status, _json(response))
        if status == 204 or not response.content:
            return status, None
        data = _json(response, missing=_NOT_JSON)
        if data is _NOT_JSON:
            raise ReleaseError(f"{self.kind} ({self.api}) answered {what} with something that is not JSON", hint)
        return status, data

    def refused(self, what: str, status: int, data: Any, hint: str | None = None) -> ReleaseError:
        """The error for an answer we cannot use: the status and the forge's own message, shortened."""
        return ReleaseError(
            f"{self.kind} ({self.api}) refused to {what}: HTTP {status} {_said(data)}".rstrip(),
            hint or f"check the {self.noun} in {self.project}",
        )

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        return self.send(method, url, what, **kwargs)[1]

    def _mr(self, data: Any) -> MergeRequest:
        if not isinstance(data, dict):
            raise ReleaseError(f"{self.kind} ({self.api}) answered with an unexpected {self.noun}", "check `api:`")
        if self.kind == "gitlab":
            state = _GITLAB_STATES.get(str(data.get("state")), "closed")
            return MergeRequest(
                int(data["iid"]),
                str(data.get("web_url") or ""),
                data.get("title") or "",
                data.get("description") or "",
                str(data.get("source_branch") or ""),
                state,
                bool(data.get("force_remove_source_branch")),
            )
        head = data.get("head") or {}
        repo = head.get("repo") or {}
        gh_state: State = "open" if data.get("state") == "open" else "merged" if data.get("merged_at") else "closed"
        return MergeRequest(
            int(data["number"]),
            str(data.get("html_url") or ""),
            data.get("title") or "",
            data.get("body") or "",
            str(head.get("ref") or ""),
            gh_state,
            None,
            str(repo.get("full_name") or "").lower() == self.project.lower(),
        )

    def _list(self, what: str, params: dict[str, str]) -> list[MergeRequest]:
        data = self._call("GET", self._base(), what, params={**params, "per_page": "100"})
        if not isinstance(data, list):
            raise ReleaseError(f"{self.kind} ({self.api}) answered the list with something else", "check `api:`")
        return [self._mr(item) for item in data]

    def find_mrs(self, source: str, target: str) -> list[MergeRequest]:
        """Every merge/pull request from `source` into `target`, open, closed or merged, newest first."""
        what = f"list the {self.noun}s of {source}"
        if self.kind == "gitlab":
            return self._list(what, {"source_branch": source, "target_branch": target, "state": "all"})
        owner = self.project.split("/")[0]
        return self._list(what, {"head": f"{owner}:{source}", "base": target, "state": "all"})

    def find_open_mr(self, source: str, target: str) -> MergeRequest | None:
        what = f"list the open {self.noun}s of {source}"
        if self.kind == "gitlab":
            found = self._list(what, {"source_branch": source, "target_branch": target, "state": "opened"})
        else:
            owner = self.project.split("/")[0]
            found = self._list(what, {"head": f"{owner}:{source}", "base": target, "state": "open"})
        return found[0] if found else None

    def open_mrs(self, target: str | None = None) -> list[MergeRequest]:
        """The open merge/pull requests (into `target` when given), newest first, at most 100."""
        what = f"list the open {self.noun}s of {self.project}"
        if self.kind == "gitlab":
            return self._list(what, {"state": "opened", **({"target_branch": target} if target else {})})
        return self._list(what, {"state": "open", **({"base": target} if target else {})})

    def create_mr(
        self, source: str, target: str, title: str, description: str, *, remove_source_branch: bool = False
    ) -> MergeRequest:
        """Open one; `remove_source_branch` (GitLab only) deletes the source branch when it is merged."""
        what = f"open a {self.noun} from {source} to {target}"
        body: dict[str, Any]
        if self.kind == "gitlab":
            body = {"source_branch": source, "target_branch": target, "title": title, "description": description}
            if remove_source_branch:
                body["remove_source_branch"] = True
        else:
            body = {"head": source, "base": target, "title": title, "body": description}
        return self._mr(self._call("POST", self._base(), what, json=body))

    def update_mr(
        self, number: int, title: str, description: str, *, remove_source_branch: bool | None = None
    ) -> MergeRequest:
        what = f"update {self.noun} {number}"
        body: dict[str, Any] = {"title": title, "description" if self.kind == "gitlab" else "body": description}
        if self.kind == "gitlab" and remove_source_branch is not None:
            body["remove_source_branch"] = remove_source_branch
        method = "PUT" if self.kind == "gitlab" else "PATCH"
        return self._mr(self._call(method, f"{self._base()}/{number}", what, json=body))

    def comment(self, number: int, text: str) -> None:
        """Add a comment (GitLab: a note) to merge/pull request `number`."""
        what = f"comment on {self.noun} {number}"
        if self.kind == "gitlab":
            self._call("POST", f"{self._base()}/{number}/notes", what, json={"body": text})
        else:
            self._call("POST", f"{self.project_api}/issues/{number}/comments", what, json={"body": text})

    def close_mr(self, number: int) -> MergeRequest:
        """Close merge/pull request `number` without merging it."""
        what = f"close {self.noun} {number}"
        if self.kind == "gitlab":
            return self._mr(self._call("PUT", f"{self._base()}/{number}", what, json={"state_event": "close"}))
        return self._mr(self._call("PATCH", f"{self._base()}/{number}", what, json={"state": "closed"}))


@dataclass(frozen=True)
class Deployment:
    id: int
    ref: str
    environment: str
    sha: str = ""


def _deployment(data: Any) -> Deployment:
    if not isinstance(data, dict) or "id" not in data:
        raise ReleaseError("github answered with an unexpected deployment", "check the API URL")
    return Deployment(
        int(data["id"]), str(data.get("ref") or ""), str(data.get("environment") or ""), str(data.get("sha") or "")
    )


def deployments(forge: Forge, *, environment: str) -> list[Deployment]:
    """GitHub's deployments to `environment`, newest first (the first page)."""
    what = f"list the deployments to {environment}"
    _, data = forge.send("GET", f"{forge.project_api}/deployments", what, params={"environment": environment})
    return [_deployment(item) for item in data or []]


def create_deployment(forge: Forge, *, ref: str, environment: str, description: str) -> Deployment | None:
    """A new GitHub deployment of `ref` to `environment`; None when the token may not (HTTP 403)."""
    body = {
        "ref": ref,
        "environment": environment,
        "description": description,
        "auto_merge": False,  # a tag is deployed as it is: never merge the default branch into it
        "required_contexts": [],  # the release already ran its checks: do not wait for commit statuses
    }
    status, data = forge.send(
        "POST", f"{forge.project_api}/deployments", f"create a deployment to {environment}", json=body, expect=(403,)
    )
    return None if status == 403 else _deployment(data)


def create_deployment_status(
    forge: Forge, deployment: Deployment, *, state: str, environment_url: str | None, log_url: str | None
) -> bool:
    """A status on `deployment` (GitHub shows the latest on the environment); False when the token may not (403)."""
    body: dict[str, Any] = {"state": state, "environment": deployment.environment, "auto_inactive": True}
    if environment_url:
        body["environment_url"] = environment_url
    if log_url:
        body["log_url"] = log_url
    url = f"{forge.project_api}/deployments/{deployment.id}/statuses"
    status, _ = forge.send("POST", url, f"set the status of deployment {deployment.id}", json=body, expect=(403,))
    return status != 403


@dataclass(frozen=True)
class CommitStatus:
    name: str  # GitLab's name, GitHub's context
    state: str  # as the forge says it: GitLab pending|running|success|failed|canceled|skipped, GitHub
    description: str = ""  # error|failure|pending|success
    url: str = ""


READ_STATUSES = "read its commit statuses (GitLab: the read_api scope; GitHub: commit statuses: read)"


def commit_statuses(forge: Forge, sha: str) -> list[CommitStatus] | None:
    """The latest status of each name on commit `sha`; None when the forge does not know that commit."""
    what = f"read the commit statuses of {sha[:12]}"
    if forge.kind == "gitlab":
        url = f"{forge.project_api}/repository/commits/{sha}/statuses"
        status, data = forge.send("GET", url, what, access=READ_STATUSES, expect=(404,), params={"per_page": "100"})
        if status == 404:
            if "commit" in _said(data).lower():
                return None
            raise forge.refused(what, status, data, "check `project:` and the token's access to it")
        items = data if isinstance(data, list) else []
        return [_status(item, "name", "status") for item in items if isinstance(item, dict)]
    url = f"{forge.project_api}/commits/{sha}/status"
    status, data = forge.send("GET", url, what, access=READ_STATUSES, expect=(404, 422), params={"per_page": "100"})
    if status == 422:
        return None
    if status == 404:
        raise forge.refused(what, status, data, "check `project:` (owner/repo) and the token's access to it")
    listed = data.get("statuses") if isinstance(data, dict) else None
    return [_status(item, "context", "state") for item in listed or [] if isinstance(item, dict)]


def _status(item: dict[str, Any], name: str, state: str) -> CommitStatus:
    return CommitStatus(
        str(item.get(name) or ""),
        str(item.get(state) or ""),
        str(item.get("description") or ""),
        str(item.get("target_url") or ""),
    )


_NOT_JSON = object()


def _json(response: requests.Response, missing: Any = None) -> Any:
    try:
        return response.json()
    except ValueError:
        return missing


def _said(data: Any) -> str:
    """The forge's own error message (GitLab `message`/`error`, GitHub `message` and `errors`), shortened."""
    if not isinstance(data, dict):
        return ""
    message = data.get("message") or data.get("error") or ""
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        message = f"{message}: {errors[0].get('message') or errors[0].get('code') or ''}".strip(": ")
    return f"({str(message)[:200]})" if message else ""
