"""Release objects on GitLab (Releases API) and GitHub (REST "releases"): create, or bring an existing one up to date.

Thin: no decisions about what goes into a release, only how each forge stores it. Every request goes through
`Forge.send` (one-line errors that name the token's variable, never its value).

- GitLab (doc/api/releases/index.md, releases/links.md): GET /projects/:id/releases/:tag_name (404: absent),
  POST /projects/:id/releases {tag_name, name, description, ref, assets: {links: [{name, url, link_type}]}}
  (409 "Release already exists"), PUT /projects/:id/releases/:tag_name {name, description}; links of an existing
  release: GET/POST .../releases/:tag_name/assets/links, PUT .../assets/links/:link_id. Links are matched by name
  (GitLab keeps names and URLs unique within a release); links we did not make are never touched.
- GitHub: GET /repos/:owner/:repo/releases/tags/:tag (404: absent), POST /repos/:owner/:repo/releases
  {tag_name, target_commitish, name, body, prerelease} (422 `already_exists`), PATCH .../releases/:release_id.
  GitHub releases have no link assets: the links become a trailing "Artifacts" section of the body.

A rerun compares before writing: nothing changed means no write call at all.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from release.adapters.effects import Effects, Live
from release.adapters.forge import Forge
from release.errors import ReleaseError

LinkKind = Literal["image", "package", "other"]
Action = Literal["created", "updated", "unchanged"]

_LinkWrite = tuple[str, str, str, dict[str, str]]  # method, URL, what (for errors), body
ARTIFACTS_HEADING = "### Artifacts"
_LABELS: dict[str, str] = {"image": "Container image", "package": "Package", "other": "Link"}


@dataclass(frozen=True)
class Link:
    name: str
    url: str
    kind: LinkKind = "other"  # GitLab's link_type


@dataclass(frozen=True)
class ReleaseObject:
    url: str  # the release's web page ("" when a dry run would create it)
    action: Action  # in a dry run: what a real run would do


def upsert(
    forge: Forge,
    *,
    tag: str,
    name: str,
    notes: str,
    links: Sequence[Link],
    sha: str,
    prerelease: bool,
    effects: Effects | None = None,
) -> ReleaseObject:
    """The release of `tag` with this name, notes and links: created, updated, or left alone when it already is.

    `sha` is where the forge creates the tag if it does not exist yet. Reads go to the forge; every write goes
    through `effects` (a dry run's records it and gets a placeholder answer).
    """
    writes = effects or Live()
    if forge.kind == "gitlab":
        return _GitLab(forge, tag, writes).upsert(name, notes, links, sha)
    return _GitHub(forge, tag, writes).upsert(name, github_body(notes, links), sha, prerelease)


def github_body(notes: str, links: Sequence[Link]) -> str:
    """The notes, then one line per link under ARTIFACTS_HEADING (GitHub releases cannot hold links)."""
    body = notes.strip()
    if not links:
        return body
    lines = "\n".join(f"- {_LABELS[link.kind]}: [{link.name}]({link.url})" for link in links)
    return f"{body}\n\n{ARTIFACTS_HEADING}\n\n{lines}".lstrip()


def _same_text(a: Any, b: str) -> bool:
    """Equal up to line endings and surrounding blank space: the web editors save CRLF and trim."""
    return str(a or "").replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _not_made_yet() -> dict[str, Any] | None:
    """What a dry run's create call answers: a release with nothing in it yet (no URL)."""
    return {}


def _dict(data: Any, forge: Forge, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ReleaseError(f"{forge.kind} ({forge.api}) answered {what} with something unexpected", "check the API URL")
    return data


class _GitLab:
    def __init__(self, forge: Forge, tag: str, effects: Effects) -> None:
        self.forge, self.tag, self.effects = forge, tag, effects
        self.base = f"{forge.project_api}/releases"
        self.one = f"{self.base}/{urllib.parse.quote(tag, safe='')}"
        self.access = f"create releases in {forge.project}"

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> tuple[int, Any]:
        return self.forge.send(method, url, what, access=self.access, **kwargs)

    def upsert(self, name: str, notes: str, links: Sequence[Link], sha: str) -> ReleaseObject:
        status, found = self._send("GET", self.one, f"read release {self.tag}", expect=(404,))
        if status == 404:
            what = f"create release {self.tag} in {self.forge.kind} project {self.forge.project}"
            made = self.effects.forge_write(what, lambda: self._create(name, notes, links, sha), _not_made_yet())
            if made is not None:
                return ReleaseObject(self._url(made), "created")
            found = self._send("GET", self.one, f"read release {self.tag}")[1]  # made meanwhile by another job
        release = _dict(found, self.forge, f"release {self.tag}")
        renamed = release.get("name") != name or not _same_text(release.get("description"), notes)
        link_writes = self._link_writes(release, links)
        if not (renamed or link_writes):
            return ReleaseObject(self._url(release), "unchanged")
        what = f"update {self._url(release) or f'release {self.tag}'}"
        updated = self.effects.forge_write(
            what, lambda: self._update(release, name, notes, renamed, link_writes), release
        )
        return ReleaseObject(self._url(updated), "updated")

    def _update(
        self, release: dict[str, Any], name: str, notes: str, renamed: bool, link_writes: list[_LinkWrite]
    ) -> dict[str, Any]:
        if renamed:
            body = {"name": name, "description": notes}
            release = _dict(self._send("PUT", self.one, f"update release {self.tag}", json=body)[1], self.forge, "")
        for method, url, what, link in link_writes:
            self._send(method, url, what, json=link)
        return release

    def _create(self, name: str, notes: str, links: Sequence[Link], sha: str) -> dict[str, Any] | None:
        """The new release, or None when GitLab says it exists already (409)."""
        body = {
            "tag_name": self.tag,
            "name": name,
            "description": notes,
            "ref": sha,  # used only when the tag does not exist yet
            "assets": {"links": [{"name": ln.name, "url": ln.url, "link_type": ln.kind} for ln in links]},
        }
        status, data = self._send("POST", self.base, f"create release {self.tag}", json=body, expect=(409,))
        return None if status == 409 else _dict(data, self.forge, f"release {self.tag}")

    def _existing_links(self, release: dict[str, Any]) -> list[dict[str, Any]]:
        embedded = (release.get("assets") or {}).get("links")
        if isinstance(embedded, list):
            return [ln for ln in embedded if isinstance(ln, dict)]
        data = self._send("GET", f"{self.one}/assets/links", f"list the links of release {self.tag}")[1]
        return [ln for ln in data if isinstance(ln, dict)] if isinstance(data, list) else []

    def _link_writes(self, release: dict[str, Any], links: Sequence[Link]) -> list[_LinkWrite]:
        """The calls that add missing links and fix ours that changed (same name); none when all are there."""
        existing = self._existing_links(release)
        by_name = {str(ln.get("name")): ln for ln in existing}
        urls = {str(ln.get("url")) for ln in existing}
        writes: list[_LinkWrite] = []
        for link in links:
            have = by_name.get(link.name)
            if have is None and link.url in urls:
                continue  # someone linked the same artifact under another name: GitLab refuses a second one
            if have is not None and (have.get("url"), have.get("link_type")) == (link.url, link.kind):
                continue
            body = {"name": link.name, "url": link.url, "link_type": link.kind}
            if have is None:
                writes.append(("POST", f"{self.one}/assets/links", f"add link {link.name} to release {self.tag}", body))
            else:
                url = f"{self.one}/assets/links/{have.get('id')}"
                writes.append(("PUT", url, f"update link {link.name} of release {self.tag}", body))
        return writes

    def _url(self, release: dict[str, Any]) -> str:
        return str((release.get("_links") or {}).get("self") or "")


class _GitHub:
    def __init__(self, forge: Forge, tag: str, effects: Effects) -> None:
        self.forge, self.tag, self.effects = forge, tag, effects
        self.base = f"{forge.project_api}/releases"
        self.access = f"create releases in {forge.project} (contents: write)"

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> tuple[int, Any]:
        return self.forge.send(method, url, what, access=self.access, **kwargs)

    def _get(self) -> dict[str, Any] | None:
        url = f"{self.base}/tags/{urllib.parse.quote(self.tag, safe='')}"
        status, data = self._send("GET", url, f"read release {self.tag}", expect=(404,))
        return None if status == 404 else _dict(data, self.forge, f"release {self.tag}")

    def upsert(self, name: str, body: str, sha: str, prerelease: bool) -> ReleaseObject:
        found = self._get()
        if found is None:
            what = f"create release {self.tag} in {self.forge.kind} project {self.forge.project}"
            made = self.effects.forge_write(what, lambda: self._create(name, body, sha, prerelease), _not_made_yet())
            if made is not None:
                return ReleaseObject(str(made.get("html_url") or ""), "created")
            found = self._get()  # made meanwhile by another job
            if found is None:
                raise ReleaseError(
                    f"github ({self.forge.api}) says release {self.tag} exists but does not show it",
                    "a draft release may hold the tag: publish or delete it",
                )
        wanted = {"name": name, "body": body, "prerelease": prerelease}
        same = (
            found.get("name") == name
            and _same_text(found.get("body"), body)
            and bool(found.get("prerelease")) == prerelease
        )
        if same:
            return ReleaseObject(str(found.get("html_url") or ""), "unchanged")
        url = f"{self.base}/{found.get('id')}"
        update = f"update {found.get('html_url') or f'release {self.tag}'}"
        found = self.effects.forge_write(
            update,
            lambda: _dict(self._send("PATCH", url, f"update release {self.tag}", json=wanted)[1], self.forge, ""),
            found,
        )
        return ReleaseObject(str(found.get("html_url") or ""), "updated")

    def _create(self, name: str, body: str, sha: str, prerelease: bool) -> dict[str, Any] | None:
        """The new release, or None when GitHub says the tag has one already (422 already_exists)."""
        data = {"tag_name": self.tag, "target_commitish": sha, "name": name, "body": body, "prerelease": prerelease}
        what = f"create release {self.tag}"
        status, made = self._send("POST", self.base, what, json=data, expect=(422,))
        if status != 422:
            return _dict(made, self.forge, f"release {self.tag}")
        errors = made.get("errors") if isinstance(made, dict) else None
        if isinstance(errors, list) and any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors):
            return None
        raise self.forge.refused(what, status, made, "check the tag and target commit of the release")
