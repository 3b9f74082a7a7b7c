"""Classic Helm repositories with an upload API: ChartMuseum and GitLab's Helm package registry.

Targets (charts[].publish in release.yaml):

    chartmuseum+https://HOST[/PREFIX]        ChartMuseum; PREFIX is its --context-path, the API is {base}/api/charts
    gitlab+https://HOST/PROJECT_ID/CHANNEL   GitLab; PROJECT_ID numeric (42) or the URL-encoded path (group%2Fproject)

Plain `http://` only for loopback hosts and those named in RELEASE_INSECURE_REGISTRIES.

Each publish returns (ref, digest): the ref is the target followed by
`/<name>:<version>` (chartmuseum+https://charts.example.com/demo:1.0.1, gitlab+https://gitlab.example.com/42/stable/
demo:1.0.1) and the digest is `sha256:<hex>` of the .tgz, which is what both servers report as a chart's digest.

Neither server refuses to overwrite on its own terms (ChartMuseum can run with --allow-overwrite, GitLab keeps
duplicate versions), so we look first: same digest → skip, other content → error, absent → upload.

API references:
  ChartMuseum README "API": GET /api/charts/<name>/<version> (a chart version, with `digest`), POST /api/charts
  (the .tgz as the raw body → 201, 409 when it exists), GET /charts/<file>.tgz.
  GitLab "Helm API" (doc/api/packages/helm.md): GET projects/:id/packages/helm/:channel/index.yaml,
  GET projects/:id/packages/helm/:channel/charts/:file_name.tgz, POST projects/:id/packages/helm/api/:channel/charts
  (multipart field `chart`). Auth (doc/user/packages/helm_repository): HTTP Basic with a personal access token or
  deploy token and its user name, or `gitlab-ci-token:$CI_JOB_TOKEN` in CI.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
import yaml

from release.adapters import http, tls
from release.adapters.credentials import PROTECTED_HINT, Credentials, missing
from release.errors import ReleaseError

Say = Callable[[str], None]

JOB_TOKEN_USER = "gitlab-ci-token"
TIMEOUT = 30.0
UPLOAD_TIMEOUT = 300.0
# GitLab's Gitlab::Regex.helm_channel_regex
CHANNEL = re.compile(r"(?:[a-zA-Z0-9][._-]?){1,255}(?<![._-])")
HINT_HELM_CREDENTIALS = "set RELEASE_HELM_USER and RELEASE_HELM_PASSWORD"


# --- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartMuseumTarget:
    scheme: str  # http or https
    host: str  # host[:port]
    prefix: str  # "" or "/context/path"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}{self.prefix}"

    def ref(self, name: str, version: str) -> str:
        return f"chartmuseum+{self.base}/{name}:{version}"


@dataclass(frozen=True)
class GitLabTarget:
    scheme: str
    host: str
    project: str  # "42" or "group%2Fproject", as it goes into the URL
    channel: str

    @property
    def api(self) -> str:
        """The Helm API root of this project: {api}/{channel}/index.yaml, {api}/api/{channel}/charts."""
        return f"{self.scheme}://{self.host}/api/v4/projects/{self.project}/packages/helm"

    def ref(self, name: str, version: str) -> str:
        return f"gitlab+{self.scheme}://{self.host}/{self.project}/{self.channel}/{name}:{version}"


def _split(target: str, kind: str, env: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """kind+scheme://host/path → (scheme, host, path), refusing userinfo, queries, and plain HTTP to a host that is
    neither loopback nor named in RELEASE_INSECURE_REGISTRIES."""
    url = urlsplit(target.removeprefix(f"{kind}+"))
    if url.scheme not in ("http", "https") or not url.netloc or not target.startswith(f"{kind}+"):
        raise ReleaseError(f"publish target {target!r} is not {kind}+https://HOST/...", "check charts[].publish")
    if "@" in url.netloc:
        raise ReleaseError(
            f"publish target {target!r} carries credentials",
            "never put secrets in release.yaml: use RELEASE_HELM_USER/RELEASE_HELM_PASSWORD or the CI token",
        )
    if url.query or url.fragment:
        raise ReleaseError(f"publish target {target!r} has a query or fragment", "remove it")
    if url.scheme == "http" and not tls.plain_http_allowed(url.netloc, env):
        raise ReleaseError(
            f"publish target {target!r} uses plain HTTP to a host that is not loopback",
            f"use {kind}+https://, or allow plain HTTP to it with {tls.INSECURE}={url.netloc}",
        )
    return url.scheme, url.netloc, url.path


def parse_chartmuseum(target: str, env: Mapping[str, str] | None = None) -> ChartMuseumTarget:
    scheme, host, path = _split(target, "chartmuseum", env)
    prefix = "/" + path.strip("/") if path.strip("/") else ""
    return ChartMuseumTarget(scheme, host, prefix)


def parse_gitlab(target: str, env: Mapping[str, str] | None = None) -> GitLabTarget:
    scheme, host, path = _split(target, "gitlab", env)
    parts = [p for p in path.split("/") if p]
    if len(parts) != 2:
        raise ReleaseError(
            f"publish target {target!r} is not gitlab+https://HOST/PROJECT_ID/CHANNEL",
            "name the project by its numeric ID (42) or its URL-encoded path (group%2Fproject), then the channel",
        )
    project, channel = parts
    project = re.sub("%2f", "%2F", project)
    if not (project.isdigit() or re.fullmatch(r"[\w.-]+(?:%2F[\w.-]+)+", project)):
        raise ReleaseError(
            f"publish target {target!r}: {project!r} is not a GitLab project ID",
            "use the numeric ID (42) or the URL-encoded path (group%2Fproject)",
        )
    if not CHANNEL.fullmatch(channel):
        raise ReleaseError(
            f"publish target {target!r}: {channel!r} is not a valid Helm channel",
            "letters and digits, optionally separated by single '.', '-' or '_' (like stable)",
        )
    return GitLabTarget(scheme, host, project, channel)


# --- credentials ---------------------------------------------------------------------------------


def chartmuseum_credentials(env: Mapping[str, str]) -> Credentials | None:
    """RELEASE_HELM_USER/RELEASE_HELM_PASSWORD, or none (a ChartMuseum without auth)."""
    user, password = env.get("RELEASE_HELM_USER"), env.get("RELEASE_HELM_PASSWORD")
    empty = missing(env, "RELEASE_HELM_USER", "RELEASE_HELM_PASSWORD")
    if empty is not None:  # meant, but not there: a protected variable on an unprotected branch, most often
        raise ReleaseError(empty, PROTECTED_HINT)
    if bool(user) != bool(password):
        raise ReleaseError("only one of RELEASE_HELM_USER and RELEASE_HELM_PASSWORD is set", "set both, or neither")
    return Credentials(user, password, "RELEASE_HELM_USER/PASSWORD") if user and password else None


def gitlab_credentials(env: Mapping[str, str], host: str) -> Credentials | None:
    """The first of: RELEASE_HELM_USER + RELEASE_HELM_PASSWORD (a deploy token or access token, named explicitly),
    the CI job token (only towards the GitLab the job runs on), RELEASE_HELM_USER + GITLAB_TOKEN."""
    user, password = env.get("RELEASE_HELM_USER"), env.get("RELEASE_HELM_PASSWORD")
    if user and password:
        return Credentials(user, password, "RELEASE_HELM_USER/PASSWORD")
    if password:
        raise ReleaseError("RELEASE_HELM_PASSWORD is set without RELEASE_HELM_USER", "set the user name too")
    job_token = env.get("CI_JOB_TOKEN")
    server = env.get("CI_SERVER_HOST")
    hostname = urlsplit(f"//{host}").hostname or host
    # A job token is only good on its own GitLab; never hand it to another host.
    if job_token and (not server or server.lower() == hostname.lower()):
        return Credentials(JOB_TOKEN_USER, job_token, "CI_JOB_TOKEN")
    token = env.get("GITLAB_TOKEN")
    if token:
        if not user:
            raise ReleaseError(
                "GITLAB_TOKEN is set but RELEASE_HELM_USER is not",
                "set RELEASE_HELM_USER to the token's GitLab user name",
            )
        return Credentials(user, token, "RELEASE_HELM_USER/GITLAB_TOKEN")
    empty = missing(env, "RELEASE_HELM_USER", "RELEASE_HELM_PASSWORD") or missing(env, None, "GITLAB_TOKEN")
    if empty is not None:
        raise ReleaseError(empty, PROTECTED_HINT)
    return None


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class _Client:
    what: str  # "ChartMuseum host:port", for messages
    origin: str  # scheme://host[:port]: credentials go to this origin only
    credentials: Credentials | None
    hint: str  # where credentials come from
    session: requests.Session

    def request(
        self, method: str, url: str, doing: str, expect: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """Send; answers in `expect` come back as they are, other non-2xx answers become one-line errors."""
        auth = None
        if self.credentials and _origin(url) == self.origin:
            auth = (self.credentials.username, self.credentials.password)
        kwargs.setdefault("timeout", TIMEOUT)
        response = http.send(
            self.session,
            method,
            url,
            what=self.what,
            hint="check the publish target's host and the network",
            auth=auth,
            **kwargs,
        )
        if response.status_code in expect or response.ok:
            return response
        if response.status_code in (401, 403):
            if self.credentials is None:
                raise ReleaseError(f"{self.what} needs credentials ({response.status_code})", self.hint)
            raise ReleaseError(
                f"{self.what} rejected the credentials from {self.credentials.source} while {doing} "
                f"({response.status_code})",
                "check the user, the token or password, and its rights on the repository",
            )
        detail = _detail(response)
        raise ReleaseError(
            f"{self.what} answered {response.status_code} {response.reason} while {doing}{detail}",
            "check the publish target; if it is right, retry later",
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _detail(response: requests.Response) -> str:
    """A server's own short reason ({"error": ...} or {"message": ...}), if it gave one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    text = body.get("error") or body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    text = " ".join(text.split())
    return f": {text[:117]}..." if len(text) > 120 else f": {text}"


def _already_there(
    client: _Client, ref: str, theirs: str, url: str | None, archive: bytes, say: Say
) -> tuple[str, str]:
    """The version exists: the same chart is a skip (returning their digest), other content is an error."""
    ours = hashlib.sha256(archive).hexdigest()
    theirs = theirs.removeprefix("sha256:").lower()
    same = theirs == ours
    if not same and url:
        published = _download(client, url)
        if published is not None and _same_tar(published, archive):
            same, theirs = True, hashlib.sha256(published).hexdigest()
    if same:
        say(f"skipped: already published {ref} (sha256:{theirs})")
        return ref, f"sha256:{theirs}"
    raise ReleaseError(
        f"{ref} is already published with other content (digest sha256:{theirs[:12] or '?'}, ours sha256:{ours[:12]}); "
        "a released chart version is never overwritten",
        "bump the chart version, or delete that version from the repository yourself",
    )


def _download(client: _Client, url: str) -> bytes | None:
    response = client.request("GET", url, "downloading the published chart", expect=(404,))
    return response.content if response.status_code == 200 else None


def _same_tar(published: bytes, archive: bytes) -> bool:
    """Same files, other gzip bytes: another zlib build (zlib-ng) compresses the same tar differently."""
    try:
        return gzip.decompress(published) == gzip.decompress(archive)
    except (OSError, EOFError):
        return False


# --- ChartMuseum ---------------------------------------------------------------------------------


def check_access(target: str, env: Mapping[str, str]) -> None:
    """One read of a ChartMuseum or GitLab Helm target with the credentials a publish would use: reachable, and
    they let us in (the preflight of `release run`). Nothing is written."""
    if target.startswith("chartmuseum+"):
        museum = parse_chartmuseum(target, env)
        client = _Client(
            f"ChartMuseum {museum.host}",
            _origin(museum.base),
            chartmuseum_credentials(env),
            HINT_HELM_CREDENTIALS,
            http.session(),
        )
        client.request("GET", f"{museum.base}/index.yaml", "reading its index.yaml", expect=(404,))
        return
    where = parse_gitlab(target, env)
    client = _Client(
        f"GitLab {where.host} (project {where.project})",
        _origin(where.api),
        gitlab_credentials(env, where.host),
        "in GitLab CI the job token is used (CI_JOB_TOKEN); elsewhere set RELEASE_HELM_USER and "
        "RELEASE_HELM_PASSWORD (a deploy token) or GITLAB_TOKEN",
        http.session(),
    )
    _gitlab_entries(client, where, "")


def publish_chartmuseum(
    target: str, job_name: str, version: str, archive: bytes, env: Mapping[str, str], say: Say
) -> tuple[str, str]:
    """Upload a chart archive to ChartMuseum unless that version is there already; returns (ref, digest)."""
    where = parse_chartmuseum(target, env)
    client = _Client(
        f"ChartMuseum {where.host}",
        _origin(where.base),
        chartmuseum_credentials(env),
        HINT_HELM_CREDENTIALS,
        http.session(),
    )
    ref = where.ref(job_name, version)
    existing = _chartmuseum_version(client, where, job_name, version)
    if existing is not None:
        theirs, download = existing
        return _already_there(client, ref, theirs, download, archive, say)
    response = client.request(
        "POST",
        f"{where.base}/api/charts",
        f"uploading {job_name} {version}",
        expect=(409,),
        data=archive,
        headers={"Content-Type": "application/octet-stream"},
        timeout=UPLOAD_TIMEOUT,
    )
    if response.status_code == 409:  # uploaded meanwhile, or by our own retried POST: look again
        existing = _chartmuseum_version(client, where, job_name, version)
        if existing is None:
            raise ReleaseError(f"ChartMuseum {where.host} says {ref} exists, but does not show it", "retry later")
        theirs, download = existing
        return _already_there(client, ref, theirs, download, archive, say)
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    say(f"published {ref}@{digest}")
    return ref, digest


def _chartmuseum_version(
    client: _Client, where: ChartMuseumTarget, name: str, version: str
) -> tuple[str, str | None] | None:
    """(digest, download URL) of a published chart version, or None."""
    url = f"{where.base}/api/charts/{quote(name, safe='')}/{quote(version, safe='')}"
    response = client.request("GET", url, f"looking up {name} {version}", expect=(404,))
    if response.status_code == 404:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ReleaseError(
            f"ChartMuseum {where.host} answered {url} with something that is not a chart version",
            "check that the target is a ChartMuseum and that PREFIX is its --context-path",
        )
    urls = body.get("urls") or []
    download = urljoin(where.base + "/", str(urls[0])) if urls else None
    return str(body.get("digest") or ""), download


# --- GitLab --------------------------------------------------------------------------------------


def publish_gitlab(
    target: str, job_name: str, version: str, archive: bytes, env: Mapping[str, str], say: Say
) -> tuple[str, str]:
    """Upload a chart archive to a GitLab project's Helm channel unless that version is there; returns (ref, digest).

    GitLab accepts duplicate versions, so the check is ours. It indexes an upload asynchronously: a rerun within
    seconds of an upload may upload the same bytes again, which is harmless.
    """
    where = parse_gitlab(target, env)
    client = _Client(
        f"GitLab {where.host} (project {where.project})",
        _origin(where.api),
        gitlab_credentials(env, where.host),
        "in GitLab CI the job token is used (CI_JOB_TOKEN); elsewhere set RELEASE_HELM_USER and "
        "RELEASE_HELM_PASSWORD (a deploy token) or GITLAB_TOKEN",
        http.session(),
    )
    ref = where.ref(job_name, version)
    entries = _gitlab_entries(client, where, job_name)
    matches = [e for e in entries if str(e.get("version")) == version]
    if matches:
        ours = hashlib.sha256(archive).hexdigest()
        same = next((e for e in matches if str(e.get("digest") or "").removeprefix("sha256:") == ours), None)
        chosen = same or matches[0]
        urls = chosen.get("urls") or []
        download = urljoin(f"{where.api}/{where.channel}/", str(urls[0])) if urls else None
        return _already_there(client, ref, str(chosen.get("digest") or ""), download, archive, say)
    client.request(
        "POST",
        f"{where.api}/api/{where.channel}/charts",
        f"uploading {job_name} {version}",
        files={"chart": (f"{job_name}-{version}.tgz", archive, "application/octet-stream")},
        timeout=UPLOAD_TIMEOUT,
    )
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    say(f"published {ref}@{digest}")
    return ref, digest


def _gitlab_entries(client: _Client, where: GitLabTarget, name: str) -> list[dict[str, Any]]:
    """The channel index's entries for one chart name (every version GitLab lists)."""
    url = f"{where.api}/{where.channel}/index.yaml"
    response = client.request("GET", url, "reading the channel's index.yaml", expect=(404,))
    if response.status_code == 404:
        raise ReleaseError(
            f"GitLab {where.host} has no project {where.project} (404), or its package registry is off, "
            "or the token cannot see it",
            "check the project ID in the publish target and the token's access",
        )
    try:
        index = yaml.safe_load(response.content)
    except yaml.YAMLError:
        index = None
    if not isinstance(index, dict):
        raise ReleaseError(f"GitLab {where.host} answered {url} with something that is not a Helm index", "retry later")
    found = (index.get("entries") or {}).get(name) or []
    return [e for e in found if isinstance(e, dict)]
