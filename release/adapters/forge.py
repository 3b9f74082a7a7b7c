"""GitLab merge requests and GitHub pull requests over their REST APIs: find the open one, create, update.

Thin: no decisions. A `Forge` names the API base, the project and the auth header; every call is one request
and returns `MergeRequest` (the number, the web URL) or raises a one-line ReleaseError that never shows the token.
`Forge.send` is that request for other endpoints too (release objects: `release.forges.objects`).

- GitLab (Merge requests API): GET /projects/:id/merge_requests?source_branch=&target_branch=&state=opened,
  POST /projects/:id/merge_requests, PUT /projects/:id/merge_requests/:iid; `PRIVATE-TOKEN` or `JOB-TOKEN`.
- GitHub (REST API pulls): GET /repos/:owner/:repo/pulls?head=owner:branch&base=&state=open,
  POST /repos/:owner/:repo/pulls, PATCH /repos/:owner/:repo/pulls/:number; `Authorization: Bearer`.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from release.adapters import http
from release.errors import ReleaseError

Kind = Literal["gitlab", "github"]


@dataclass(frozen=True)
class MergeRequest:
    number: int  # GitLab's iid, GitHub's number
    url: str  # the web page
    title: str = ""
    description: str = ""


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
            return MergeRequest(
                int(data["iid"]), str(data.get("web_url") or ""), data.get("title") or "", data.get("description") or ""
            )
        return MergeRequest(
            int(data["number"]), str(data.get("html_url") or ""), data.get("title") or "", data.get("body") or ""
        )

    def find_open_mr(self, source: str, target: str) -> MergeRequest | None:
        what = f"list the open {self.noun}s of {source}"
        if self.kind == "gitlab":
            params = {"source_branch": source, "target_branch": target, "state": "opened"}
        else:
            owner = self.project.split("/")[0]
            params = {"head": f"{owner}:{source}", "base": target, "state": "open"}
        data = self._call("GET", self._base(), what, params=params)
        if not isinstance(data, list):
            raise ReleaseError(f"{self.kind} ({self.api}) answered the list with something else", "check `api:`")
        return self._mr(data[0]) if data else None

    def create_mr(self, source: str, target: str, title: str, description: str) -> MergeRequest:
        what = f"open a {self.noun} from {source} to {target}"
        if self.kind == "gitlab":
            body = {"source_branch": source, "target_branch": target, "title": title, "description": description}
        else:
            body = {"head": source, "base": target, "title": title, "body": description}
        return self._mr(self._call("POST", self._base(), what, json=body))

    def update_mr(self, number: int, title: str, description: str) -> MergeRequest:
        what = f"update {self.noun} {number}"
        key = "description" if self.kind == "gitlab" else "body"
        method = "PUT" if self.kind == "gitlab" else "PATCH"
        return self._mr(self._call(method, f"{self._base()}/{number}", what, json={"title": title, key: description}))


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
