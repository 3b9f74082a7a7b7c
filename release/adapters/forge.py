"""GitLab merge requests and GitHub pull requests over their REST APIs: find the open one, create, update.

Thin: no decisions. A `Forge` names the API base, the project and the auth header; every call is one request
and returns `MergeRequest` (the number, the web URL) or raises a one-line ReleaseError that never shows the token.

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

    @property
    def noun(self) -> str:
        return "merge request" if self.kind == "gitlab" else "pull request"

    def _base(self) -> str:
        if self.kind == "gitlab":
            return f"{self.api.rstrip('/')}/projects/{urllib.parse.quote(self.project, safe='')}/merge_requests"
        return f"{self.api.rstrip('/')}/repos/{self.project}/pulls"

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        hint = f"check `api:` for this environment ({self.api})"
        with http.session(retries=2, backoff=0.2) as s:
            s.headers.update(self.headers)
            s.headers["Accept"] = "application/vnd.github+json" if self.kind == "github" else "application/json"
            response = http.send(s, method, url, what=f"{self.kind} API at {self.api}", hint=hint, timeout=30, **kwargs)
        if response.status_code in (401, 403):
            token = self.token_name or "no token"
            raise ReleaseError(
                f"{self.kind} ({self.api}) rejected the token ({token}) while trying to {what}: "
                f"HTTP {response.status_code}",
                f"check that {token} is set, current, and may open {self.noun}s in {self.project}",
            )
        if response.status_code == 404:
            raise ReleaseError(
                f"{self.kind} ({self.api}) has no project {self.project!r} (HTTP 404 while trying to {what})",
                "check `project:` (GitLab: ID or group/name; GitHub: owner/repo) and the token's access to it",
            )
        if not response.ok:
            raise ReleaseError(
                f"{self.kind} ({self.api}) refused to {what}: HTTP {response.status_code} {_said(response)}".rstrip(),
                f"check the {self.noun} in {self.project}",
            )
        try:
            return response.json()
        except ValueError:
            raise ReleaseError(
                f"{self.kind} ({self.api}) answered {what} with something that is not JSON", hint
            ) from None

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


def _said(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or ""
        return f"({str(message)[:200]})" if message else ""
    return ""
