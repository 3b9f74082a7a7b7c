"""One local fake of the forge and chart-repository HTTP APIs we call. No forge runs here (DESIGN.md).

`Forge` is a ThreadingHTTPServer on 127.0.0.1:<random port>. Each API is a small class with its state and a
`routes()` list of (method, path regex, handler); Forge tries the routes in order, records every request
(method, raw path, query, headers, body) and answers 404 for paths no API claims. Implemented, following the docs:

- ChartMuseum (README "API"): GET /api/charts/<name>/<version> (404 when absent), POST /api/charts with the .tgz
  as raw body or as multipart field `chart` (201 {"saved": true}; 409 when the version exists), GET /charts/<file>,
  GET /index.yaml; optional context path before each (--context-path). Basic auth when `require_auth`.
- GitLab Helm packages (doc/api/packages/helm.md): GET /api/v4/projects/:id/packages/helm/:channel/index.yaml,
  GET .../helm/:channel/charts/:file_name.tgz, POST .../helm/api/:channel/charts (multipart `chart`, 201).
  Basic auth only: a user's token from `users`, or `gitlab-ci-token` with `job_token`. `:id` is a project ID or
  the URL-encoded full path. Duplicate versions are kept, and the index shows each version's latest upload, as
  GitLab does (IndexPresenter: apiVersion v1, entries.<name>[] with created, digest, urls charts/<file>).

- GitLab Merge requests (doc/api/merge_requests.md): GET /api/v4/projects/:id/merge_requests (filters
  source_branch, target_branch, state opened|closed|merged|all; the first page only, per_page default 20),
  POST (source_branch, target_branch, title required, description, remove_source_branch; 409 "Another open
  merge request already exists for this source branch: !<iid>"), PUT .../:iid (title, description,
  target_branch, remove_source_branch, state_event close|reopen). An MR's JSON has `force_remove_source_branch`
  (what remove_source_branch set). Notes (doc/api/notes.md): POST .../merge_requests/:iid/notes (body
  required), kept in `merge_requests.notes`: (project ID, iid) → list. Auth: `PRIVATE-TOKEN` (a token in
  `gitlab_tokens`); 401 otherwise, `JOB-TOKEN` too: the merge requests API is not among those a CI job token may
  call (doc/ci/jobs/ci_job_token.md). Projects: `merge_requests.projects`.
- GitHub Pull requests (REST "pulls"): GET /repos/:owner/:repo/pulls (state open|closed|all, head `owner:branch`,
  base; the first page only, per_page default 30), POST (title, head, base required, body; 422 "A pull request
  already exists for owner:branch."), PATCH .../pulls/:number (title, body, base, state). A pull's JSON has
  `merged_at` (null unless merged) and `head.repo.full_name`. Issue comments (REST "issues/comments", a pull
  request is an issue): POST /repos/:owner/:repo/issues/:number/comments (body required), kept in
  `pulls.comments`: (owner/repo, number) → list. Auth: `Authorization: Bearer|token <a github_tokens entry>`;
  401 {"message": "Bad credentials"} otherwise. Repositories: `pulls.repos`.

- GitLab Releases (doc/api/releases/index.md, releases/links.md): GET /api/v4/projects/:id/releases/:tag_name
  (404 "404 Not Found" when absent), POST /api/v4/projects/:id/releases (tag_name required; name, description,
  ref, assets.links[{name, url, link_type}]; 409 "Release already exists"; 422 when the tag does not exist and no
  ref is given, else the tag is created at ref), PUT .../releases/:tag_name (name, description). Links:
  GET/POST .../releases/:tag_name/assets/links, PUT/DELETE .../assets/links/:link_id; link_type other|runbook|
  image|package; names and URLs unique within a release (400 "has already been taken"). A release's JSON has
  `assets.links` and `_links.self` (its web page). Auth and projects as for merge requests
  (`gitlab_releases.projects`, default {"42": "team/app"}); `gitlab_releases.releases`: project ID → tag → release.
- GitHub Releases (REST "releases"): GET /repos/:owner/:repo/releases/tags/:tag (404 when absent),
  POST /repos/:owner/:repo/releases (tag_name required; target_commitish, name, body, draft, prerelease;
  422 {"errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]} when the tag has a
  release), PATCH .../releases/:release_id. Auth as for pulls; `github_releases.repos` (default {"team/app"}),
  `github_releases.releases`: owner/repo → list. Draft releases are not found by tag, as on GitHub.
- GitHub Deployments (REST "deployments", "deployments/statuses"): POST /repos/:owner/:repo/deployments (ref
  required: a branch, tag or SHA the repository has (`github_deployments.refs`: ref → sha), else 422 "No ref found
  for: REF"; task "deploy", environment "production", description, payload, auto_merge (default true),
  required_contexts (default: every status context of the ref; when omitted and a context in
  `github_deployments.failing_contexts` is not successful, 409 "Conflict: Commit status checks failed for REF."),
  transient_environment, production_environment); 201 with the deployment {id, sha, ref, task, environment,
  description, statuses_url, ...}. GET .../deployments (filters sha, ref, task, environment; newest first).
  POST .../deployments/:id/statuses (state error|failure|inactive|in_progress|queued|pending|success required,
  log_url, environment_url, description, environment, auto_inactive; 404 for an unknown deployment), GET the same
  path lists them newest first. Auth as for pulls; a token in `github_deployments.read_only_tokens` reads but gets
  403 "Resource not accessible by integration" on writes, as a GITHUB_TOKEN without `deployments: write` does.

- GitLab Commit statuses (doc/api/commits.md "List the statuses of a commit", "Set the pipeline status of a
  commit"): GET /api/v4/projects/:id/repository/commits/:sha/statuses (filters ref, name, all: without
  `all=true` only the latest status of each name; newest first; 404 {"message": "404 Commit Not Found"} for a
  commit the project lacks when `gitlab_statuses.commits` lists them), POST /api/v4/projects/:id/statuses/:sha
  (state pending|running|success|failed|canceled|skipped required, name (default "default"), ref, target_url,
  description; 400 for another state). A status's JSON: id, sha, ref, status, name, target_url, description,
  created_at, started_at, finished_at, allow_failure, author. What Flux's notification-controller posts (its
  gitlab Provider): name `<kind>/<name>/<provider uid prefix>`, success on a good reconcile, failed on an error.
  Auth as for merge requests; a token in `gitlab_statuses.no_read_tokens` authenticates but gets 403
  {"error": "insufficient_scope"} (a token without read_api). Projects: `merge_requests.projects`.
- GitHub Commit statuses (REST "commits/statuses"): POST /repos/:owner/:repo/statuses/:sha (state
  error|failure|pending|success required, target_url, description, context (default "default"); 422 otherwise),
  GET /repos/:owner/:repo/commits/:ref/status: the combined status {state, statuses (the latest of each context),
  sha, total_count, repository, commit_url, url}; state is failure if any context is error or failure, pending if
  there are none or one is pending, success otherwise. 422 "No commit found for SHA: <ref>" for a commit outside
  `github_statuses.commits` when that set is given. Auth as for pulls (`github_statuses.no_read_tokens`: 403
  "Resource not accessible by integration"); repositories: `pulls.repos`.
- Argo CD (server API, swagger `ApplicationService_Get`): GET /api/v1/applications/:name (query refresh=normal|hard,
  project, appNamespace) answers the `Application` JSON {metadata, spec, status: {sync: {status Synced|OutOfSync|
  Unknown, revision}, health: {status Healthy|Progressing|Degraded|Suspended|Missing|Unknown, message},
  operationState: {phase Running|Succeeded|Failed|Error|Terminating, message, syncResult: {revision}},
  reconciledAt}}. Auth: `Authorization: Bearer <a argocd.tokens entry>`, else 401 {"error": "no session
  information", "code": 16}. An application that does not exist, or that a token in `argocd.denied_tokens` may not
  get, is 403 {"error": "permission denied", "code": 7} (CVE-2022-41354: Argo CD does not tell them apart) unless
  `project` is given: then a missing one is 404 {"code": 5, "message": "applications.argoproj.io \"x\" not found"}.
  `argocd.set(name, ...)` changes an application as the controller would, at any time during a test.

To add an API: write a class like
`GitLabHelm` taking the Forge, give it `routes()` and `reset()`, and list it in `Forge.__init__` before
`ChartMuseum` (whose context-path routes are the catch-all). `inject()` makes a route fail on purpose.

Plain Python, no pytest: the fixtures are in tests/fixtures_forge.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import tarfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

DEFAULT_USER = "helm-user"
DEFAULT_PASSWORD = "helm-password-4e1f"
DEFAULT_JOB_TOKEN = "job-token-9c2d"
DEFAULT_GITLAB_TOKEN = "glpat-fake-7b3a91"
DEFAULT_GITHUB_TOKEN = "ghp_fake5d1e0c77"
DEFAULT_ARGOCD_TOKEN = "argocd-fake-eyJ0b2tlbiI6IjEifQ"
JOB_TOKEN_USER = "gitlab-ci-token"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, percent-encoding kept, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        value = self.header("Authorization") or ""
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password

    @property
    def user(self) -> str | None:
        """The Basic auth user name, if any."""
        auth = self.basic_auth
        return auth[0] if auth else None

    def json(self) -> Any:
        return json.loads(self.body)

    def files(self) -> dict[str, tuple[str | None, bytes]]:
        """multipart/form-data parts: field name → (file name, content)."""
        content_type = self.header("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            return {}
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + self.body
        )
        parts: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                parts[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        return parts


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, **headers: str) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json", dict(headers))


Handler = Callable[[Request, "re.Match[str]"], Response]
Route = tuple[str, "re.Pattern[str]", Handler]


class API(Protocol):
    """One fake API: its routes, tried in order, and a reset to its empty state."""

    def routes(self) -> list[Route]: ...

    def reset(self) -> None: ...


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    response: Response
    times: int


@dataclass(frozen=True)
class Chart:
    """An uploaded chart archive and what its Chart.yaml says."""

    archive: bytes
    metadata: dict[str, Any]
    created: str

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tgz"

    @classmethod
    def load(cls, archive: bytes) -> Chart:
        """Read <name>/Chart.yaml from a .tgz, as both servers do; ValueError when it is not a chart."""
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                member = next((m for m in tar.getmembers() if re.fullmatch(r"[^/]+/Chart\.yaml", m.name)), None)
                extracted = tar.extractfile(member) if member else None
                if extracted is None:
                    raise ValueError("no Chart.yaml in the archive")
                metadata = yaml.safe_load(extracted.read())
        except (tarfile.TarError, OSError, EOFError, yaml.YAMLError) as exc:
            raise ValueError(f"not a chart archive: {exc}") from None
        if not isinstance(metadata, dict) or not metadata.get("name") or not metadata.get("version"):
            raise ValueError("Chart.yaml has no name or version")
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return cls(archive, {k: v for k, v in metadata.items() if k != "dependencies"}, created)

    def entry(self, url: str) -> dict[str, Any]:
        """A Helm index entry (repo.ChartVersion): the metadata plus urls, created, digest."""
        return {**self.metadata, "urls": [url], "created": self.created, "digest": self.digest}


class Forge:
    """The fake server and its state; `users` maps a Basic user name to the password or token it accepts."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.errors: list[str] = []  # tracebacks from handlers: a bug in the fake, not in the code under test
        self.injected: list[Injected] = []
        self.users: dict[str, str] = {}
        self.job_token = DEFAULT_JOB_TOKEN
        self.gitlab_tokens: set[str] = set()
        self.github_tokens: set[str] = set()
        self.gitlab_helm = GitLabHelm(self)
        self.merge_requests = GitLabMergeRequests(self)
        self.pulls = GitHubPulls(self)
        self.gitlab_releases = GitLabReleases(self)
        self.github_releases = GitHubReleases(self)
        self.github_deployments = GitHubDeployments(self)
        self.gitlab_statuses = GitLabStatuses(self)
        self.github_statuses = GitHubStatuses(self)
        self.argocd = ArgoCD(self)
        self.chartmuseum = ChartMuseum(self)
        self.apis: list[API] = [
            self.gitlab_helm,
            self.merge_requests,
            self.pulls,
            self.gitlab_releases,
            self.github_releases,
            self.github_deployments,
            self.gitlab_statuses,
            self.github_statuses,
            self.argocd,
            self.chartmuseum,
        ]  # ChartMuseum last: its context path matches wide
        self.reset()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(cls) -> Iterator[Forge]:
        forge = cls()
        forge._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(forge))
        forge._server.daemon_threads = True
        forge._thread = threading.Thread(target=forge._server.serve_forever, name="fake-forge", daemon=True)
        forge._thread.start()
        try:
            yield forge
        finally:
            forge._server.shutdown()
            forge._server.server_close()
            forge._thread.join(timeout=10)

    def reset(self) -> None:
        """Forget requests, uploads and injected failures; restore the default users."""
        with self.lock:
            self.requests.clear()
            self.errors.clear()
            self.injected.clear()
            self.users = {DEFAULT_USER: DEFAULT_PASSWORD}
            self.job_token = DEFAULT_JOB_TOKEN
            self.gitlab_tokens = {DEFAULT_GITLAB_TOKEN}
            self.github_tokens = {DEFAULT_GITHUB_TOKEN}
            for api in self.apis:
                api.reset()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def user(self) -> str:
        return DEFAULT_USER

    @property
    def password(self) -> str:
        return DEFAULT_PASSWORD

    # --- for tests ---------------------------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Recorded requests, optionally only one method and paths matching a regex (re.search)."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or re.search(path, r.path))
            ]

    def inject(self, method: str, path: str, status: int, body: Any = None, times: int = 1) -> None:
        """Answer the next `times` requests matching (method, path regex) with `status` instead of the API."""
        response = json_response(status, body if body is not None else {"message": f"{status} injected"})
        with self.lock:
            self.injected.append(Injected(method, re.compile(path), response, times))

    def basic_user(self, request: Request) -> str | None:
        """The user a request authenticates as with Basic auth against `users` and the job token, or None."""
        auth = request.basic_auth
        if auth is None:
            return None
        user, secret = auth
        if user == JOB_TOKEN_USER:
            return user if secret == self.job_token else None
        return user if self.users.get(user) == secret else None

    # --- dispatch ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append(request)
            for injected in self.injected:
                if injected.times > 0 and injected.method == request.method and injected.pattern.search(request.path):
                    injected.times -= 1
                    return injected.response
            allowed = []
            for api in self.apis:
                for method, pattern, handler in api.routes():
                    match = pattern.fullmatch(request.path)
                    if match is None:
                        continue
                    if method != request.method:
                        allowed.append(method)
                        continue
                    try:
                        return handler(request, match)
                    except Exception:
                        self.errors.append(traceback.format_exc())
                        return json_response(500, {"message": "500 fake forge bug (see forge.errors)"})
            if allowed:
                return json_response(405, {"message": "405 Method Not Allowed"}, Allow=", ".join(sorted(allowed)))
            return json_response(404, {"message": "404 Not Found"})


def _handler_for(forge: Forge) -> type[BaseHTTPRequestHandler]:
    class ForgeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            request = Request(self.command, url.path, parse_qs(url.query), dict(self.headers.items()), body)
            response = forge.handle(request)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ForgeHandler


# --- ChartMuseum ---------------------------------------------------------------------------------

# An optional --context-path: segments of which none is `api` followed by more path (so /api/v4/... stays GitLab's).
CONTEXT = r"(?P<ctx>(?:/(?!api/)[^/]+)*?)"


class ChartMuseum:
    """ChartMuseum's chart repository and chart manipulation API; one repository per context path."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.charts: dict[str, dict[tuple[str, str], Chart]] = {}
        self.require_auth = True
        self.allow_overwrite = False

    def reset(self) -> None:
        self.charts = {}
        self.require_auth = True
        self.allow_overwrite = False

    def stored(self, context: str = "") -> dict[tuple[str, str], Chart]:
        """(name, version) → Chart held under a context path ("" for the root)."""
        return self.charts.setdefault(context, {})

    def put(self, archive: bytes, context: str = "") -> Chart:
        """Store a chart directly, as if someone had uploaded it before."""
        chart = Chart.load(archive)
        self.stored(context)[(chart.name, chart.version)] = chart
        return chart

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(rf"{CONTEXT}/api/charts/(?P<name>[^/]+)/(?P<version>[^/]+)"), self.get_version),
            ("POST", re.compile(rf"{CONTEXT}/api/charts"), self.upload),
            ("GET", re.compile(rf"{CONTEXT}/charts/(?P<file>[^/]+\.tgz)"), self.download),
            ("GET", re.compile(rf"{CONTEXT}/index\.yaml"), self.index),
        ]

    def _unauthorized(self, request: Request) -> Response | None:
        if not self.require_auth or self.forge.basic_user(request) is not None:
            return None
        return json_response(401, {"error": "unauthorized"}, **{"WWW-Authenticate": 'Basic realm="ChartMuseum"'})

    def get_version(self, request: Request, match: re.Match[str]) -> Response:
        if denied := self._unauthorized(request):
            return denied
        name, version = unquote(match["name"]), unquote(match["version"])
        chart = self.stored(match["ctx"]).get((name, version))
        if chart is None:
            return json_response(404, {"error": f"no chart version found for {name}-{version}"})
        return json_response(200, chart.entry(f"charts/{chart.filename}"))

    def upload(self, request: Request, match: re.Match[str]) -> Response:
        if denied := self._unauthorized(request):
            return denied
        files = request.files()
        archive = files["chart"][1] if "chart" in files else request.body
        try:
            chart = Chart.load(archive)
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        charts = self.stored(match["ctx"])
        force = "force" in request.query
        if (chart.name, chart.version) in charts and not (self.allow_overwrite or force):
            return json_response(409, {"error": "file already exists"})
        charts[(chart.name, chart.version)] = chart
        return json_response(201, {"saved": True})

    def download(self, request: Request, match: re.Match[str]) -> Response:
        if denied := self._unauthorized(request):
            return denied
        wanted = unquote(match["file"])
        chart = next((c for c in self.stored(match["ctx"]).values() if c.filename == wanted), None)
        if chart is None:
            return json_response(404, {"error": "object not found"})
        return Response(200, chart.archive, "application/x-tar")

    def index(self, request: Request, match: re.Match[str]) -> Response:
        if denied := self._unauthorized(request):
            return denied
        entries: dict[str, list[dict[str, Any]]] = {}
        for chart in self.stored(match["ctx"]).values():
            entries.setdefault(chart.name, []).append(chart.entry(f"charts/{chart.filename}"))
        generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = yaml.safe_dump({"apiVersion": "v1", "entries": entries, "generated": generated}, sort_keys=False)
        return Response(200, body.encode(), "application/x-yaml")


# --- GitLab: Helm charts in the package registry ---------------------------------------------------

PROJECT = r"/api/v4/projects/(?P<id>[^/]+)"
CHANNEL = re.compile(r"(?:[a-zA-Z0-9][._-]?){1,255}(?<![._-])")  # Gitlab::Regex.helm_channel_regex


class GitLabHelm:
    """GitLab's Helm API for a few projects (`projects`: ID → full path)."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.projects: dict[str, str] = {}
        self.uploads: dict[tuple[str, str], list[Chart]] = {}  # (project ID, channel) → uploads, oldest first

    def reset(self) -> None:
        self.projects = {"42": "team/app"}
        self.uploads = {}

    def charts(self, project: str = "42", channel: str = "stable") -> list[Chart]:
        return self.uploads.setdefault((project, channel), [])

    def put(self, archive: bytes, project: str = "42", channel: str = "stable") -> Chart:
        """Store a chart directly, as if someone had uploaded it before."""
        chart = Chart.load(archive)
        self.charts(project, channel).append(chart)
        return chart

    def latest(self, project: str, channel: str) -> dict[tuple[str, str], Chart]:
        """Each (name, version)'s most recent upload: all the index and downloads show."""
        return {(c.name, c.version): c for c in self.charts(project, channel)}

    def routes(self) -> list[Route]:
        helm = rf"{PROJECT}/packages/helm"
        return [
            ("POST", re.compile(rf"{helm}/api/(?P<channel>[^/]+)/charts"), self.upload),
            ("GET", re.compile(rf"{helm}/(?P<channel>[^/]+)/index\.yaml"), self.index),
            ("GET", re.compile(rf"{helm}/(?P<channel>[^/]+)/charts/(?P<file>[^/]+)\.tgz"), self.download),
        ]

    def _project(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        """(project ID, None), or (None, the error response): 401 without valid Basic auth, 404 unknown, 400 channel."""
        if self.forge.basic_user(request) is None:
            return None, json_response(401, {"message": "401 Unauthorized"})
        raw = unquote(match["id"])
        project = raw if raw in self.projects else next((k for k, v in self.projects.items() if v == raw), None)
        if project is None:
            return None, json_response(404, {"message": "404 Project Not Found"})
        if not CHANNEL.fullmatch(match["channel"]):
            return None, json_response(400, {"error": "channel is invalid"})
        return project, None

    def upload(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            assert error is not None
            return error
        files = request.files()
        if "chart" not in files:
            return json_response(400, {"error": "chart is missing"})
        try:
            chart = Chart.load(files["chart"][1])
        except ValueError:
            # GitLab accepts the file and fails later in its extraction worker; the package never shows up
            return json_response(201, {"message": "201 Created"})
        self.charts(project, match["channel"]).append(chart)
        return json_response(201, {"message": "201 Created"})

    def index(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            assert error is not None
            return error
        entries: dict[str, list[dict[str, Any]]] = {}
        for chart in self.latest(project, match["channel"]).values():
            entries.setdefault(chart.name, []).append(chart.entry(f"charts/{chart.filename}"))
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        index = {
            "apiVersion": "v1",
            "entries": entries,
            "generated": now,
            "serverInfo": {"contextPath": f"/api/v4/projects/{match['id']}/packages/helm"},
        }
        return Response(200, ("---\n" + yaml.safe_dump(index, sort_keys=False)).encode(), "text/yaml")

    def download(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            assert error is not None
            return error
        wanted = unquote(match["file"]) + ".tgz"
        found = [c for c in self.latest(project, match["channel"]).values() if c.filename == wanted]
        if not found:
            return json_response(404, {"message": "404 Package Not Found"})
        return Response(200, found[-1].archive, "application/octet-stream")


# --- GitLab: merge requests ------------------------------------------------------------------------


class GitLabMergeRequests:
    """GitLab's Merge requests API for a few projects (`projects`: ID → full path); `mrs`: project ID → list."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.projects: dict[str, str] = {}
        self.mrs: dict[str, list[dict[str, Any]]] = {}
        self.notes: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.projects = {"7": "team/infra"}
        self.mrs = {}
        self.notes = {}

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(rf"{PROJECT}/merge_requests"), self.list),
            ("POST", re.compile(rf"{PROJECT}/merge_requests"), self.create),
            ("PUT", re.compile(rf"{PROJECT}/merge_requests/(?P<iid>\d+)"), self.update),
            ("POST", re.compile(rf"{PROJECT}/merge_requests/(?P<iid>\d+)/notes"), self.create_note),
        ]

    def _project(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        private = request.header("PRIVATE-TOKEN")  # a job token may not call the merge requests API (ci_job_token.md)
        if not (private and private in self.forge.gitlab_tokens):
            return None, json_response(401, {"message": "401 Unauthorized"})
        raw = unquote(match["id"])
        project = raw if raw in self.projects else next((k for k, v in self.projects.items() if v == raw), None)
        if project is None:
            return None, json_response(404, {"message": "404 Project Not Found"})
        return project, None

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        if (request.header("Content-Type") or "").startswith("application/json"):
            data = request.json()
            return data if isinstance(data, dict) else {}
        return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

    def list(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        q = {k: v[0] for k, v in request.query.items()}
        state = q.get("state", "all")
        out = [
            mr
            for mr in reversed(self.mrs.get(project, []))  # newest first, as GitLab orders by created_at desc
            if (state == "all" or mr["state"] == state)
            and all(mr[key] == q[key] for key in ("source_branch", "target_branch") if key in q)
        ]
        return json_response(200, out[: int(q.get("per_page", 20))])  # one page: 20 by default, at most 100

    def create(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        data = self._params(request)
        missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
        if missing:
            return json_response(400, {"error": f"{missing[0]} is missing"})
        mrs = self.mrs.setdefault(project, [])
        for mr in mrs:
            if mr["state"] == "opened" and (mr["source_branch"], mr["target_branch"]) == (
                data["source_branch"],
                data["target_branch"],
            ):
                return json_response(
                    409,
                    {"message": [f"Another open merge request already exists for this source branch: !{mr['iid']}"]},
                )
        iid = len(mrs) + 1
        mr = {
            "id": 1000 + iid,
            "iid": iid,
            "project_id": int(project),
            "title": data["title"],
            "description": data.get("description") or "",
            "state": "opened",
            "source_branch": data["source_branch"],
            "target_branch": data["target_branch"],
            "force_remove_source_branch": _true(data.get("remove_source_branch")),
            "web_url": f"{self.forge.url}/{self.projects[project]}/-/merge_requests/{iid}",
        }
        mrs.append(mr)
        return json_response(201, mr)

    def update(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        mr = next((m for m in self.mrs.get(project, []) if m["iid"] == int(match["iid"])), None)
        if mr is None:
            return json_response(404, {"message": "404 Not found"})
        data = self._params(request)
        for key in ("title", "description", "target_branch"):
            if key in data:
                mr[key] = data[key]
        if "remove_source_branch" in data:
            mr["force_remove_source_branch"] = _true(data["remove_source_branch"])
        if data.get("state_event") in ("close", "reopen") and mr["state"] in ("opened", "closed"):
            mr["state"] = "closed" if data["state_event"] == "close" else "opened"
        return json_response(200, mr)

    def create_note(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        iid = int(match["iid"])
        if not any(m["iid"] == iid for m in self.mrs.get(project, [])):
            return json_response(404, {"message": "404 Not found"})
        body = self._params(request).get("body")
        if not body:
            return json_response(400, {"error": "body is missing"})
        notes = self.notes.setdefault((project, iid), [])
        note = {
            "id": 300 + sum(len(v) for v in self.notes.values()) + 1,
            "body": body,
            "noteable_type": "MergeRequest",
            "noteable_iid": iid,
            "created_at": _now(),
            "system": False,
        }
        notes.append(note)
        return json_response(201, note)


def _true(value: Any) -> bool:
    """A GitLab boolean parameter: JSON true, or "true" in a form body."""
    return value is True or str(value).lower() == "true"


# --- GitHub: pull requests --------------------------------------------------------------------------


class GitHubPulls:
    """GitHub's pulls endpoints for a few repositories (`repos`: owner/repo); `prs`: owner/repo → list."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.repos: set[str] = set()
        self.prs: dict[str, list[dict[str, Any]]] = {}
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.repos = {"team/infra"}
        self.prs = {}
        self.comments = {}

    def routes(self) -> list[Route]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls"
        return [
            ("GET", re.compile(repo), self.list),
            ("POST", re.compile(repo), self.create),
            ("PATCH", re.compile(rf"{repo}/(?P<number>\d+)"), self.update),
            (
                "POST",
                re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<number>\d+)/comments"),
                self.comment,
            ),
        ]

    def _repo(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.forge.github_tokens:
            return None, json_response(401, {"message": "Bad credentials", "status": "401"})
        name = f"{match['owner']}/{match['repo']}"
        if name not in self.repos:
            return None, json_response(404, {"message": "Not Found", "status": "404"})
        return name, None

    def list(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        q = {k: v[0] for k, v in request.query.items()}
        state = q.get("state", "open")
        out = [
            pr
            for pr in reversed(self.prs.get(repo, []))
            if (state == "all" or pr["state"] == state)
            and ("head" not in q or pr["head"]["label"] == q["head"])
            and ("base" not in q or pr["base"]["ref"] == q["base"])
        ]
        return json_response(200, out[: int(q.get("per_page", 30))])  # one page: 30 by default, at most 100

    def create(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        data = request.json()
        missing = [k for k in ("title", "head", "base") if not data.get(k)]
        if missing:
            return json_response(422, {"message": "Validation Failed", "errors": [{"field": missing[0]}]})
        owner = match["owner"]
        head = data["head"] if ":" in data["head"] else f"{owner}:{data['head']}"
        prs = self.prs.setdefault(repo, [])
        if any(p["state"] == "open" and p["head"]["label"] == head and p["base"]["ref"] == data["base"] for p in prs):
            return json_response(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {head}.",
                        }
                    ],
                },
            )
        number = len(prs) + 1
        pr = {
            "number": number,
            "state": "open",
            "title": data["title"],
            "body": data.get("body"),
            "head": {
                "label": head,
                "ref": head.split(":", 1)[1],
                "repo": {"full_name": f"{head.split(':', 1)[0]}/{match['repo']}"},
            },
            "base": {"ref": data["base"]},
            "merged_at": None,
            "html_url": f"https://github.example/{repo}/pull/{number}",
            "url": f"{self.forge.url}/repos/{repo}/pulls/{number}",
        }
        prs.append(pr)
        return json_response(201, pr)

    def update(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        pr = next((p for p in self.prs.get(repo, []) if p["number"] == int(match["number"])), None)
        if pr is None:
            return json_response(404, {"message": "Not Found"})
        data = request.json()
        for key in ("title", "body", "state"):
            if key in data:
                pr[key] = data[key]
        if "base" in data:
            pr["base"] = {"ref": data["base"]}
        return json_response(200, pr)

    def comment(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        number = int(match["number"])
        if not any(p["number"] == number for p in self.prs.get(repo, [])):
            return json_response(404, {"message": "Not Found", "status": "404"})
        body = request.json().get("body")
        if not body:
            return json_response(422, {"message": "Validation Failed", "errors": [{"field": "body"}]})
        comments = self.comments.setdefault((repo, number), [])
        comment_id = 9000 + sum(len(v) for v in self.comments.values()) + 1
        comment = {
            "id": comment_id,
            "body": body,
            "html_url": f"https://github.example/{repo}/pull/{number}#issuecomment-{comment_id}",
            "created_at": _now(),
        }
        comments.append(comment)
        return json_response(201, comment)


# --- GitLab: releases ------------------------------------------------------------------------------

LINK_TYPES = ("other", "runbook", "image", "package")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GitLabReleases:
    """GitLab's Releases and Release links APIs for a few projects (`projects`: ID → full path)."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.projects: dict[str, str] = {}
        self.releases: dict[str, dict[str, dict[str, Any]]] = {}  # project ID → tag → release
        self.tags: dict[str, dict[str, str]] = {}  # project ID → tag → ref it was created at
        self.next_link_id = 1

    def reset(self) -> None:
        self.projects = {"42": "team/app"}
        self.releases = {}
        self.tags = {}
        self.next_link_id = 1

    def routes(self) -> list[Route]:
        one = rf"{PROJECT}/releases/(?P<tag>[^/]+)"
        links = rf"{one}/assets/links"
        return [
            ("GET", re.compile(rf"{PROJECT}/releases"), self.list),
            ("POST", re.compile(rf"{PROJECT}/releases"), self.create),
            ("GET", re.compile(one), self.get),
            ("PUT", re.compile(one), self.update),
            ("GET", re.compile(links), self.list_links),
            ("POST", re.compile(links), self.create_link),
            ("PUT", re.compile(rf"{links}/(?P<link>\d+)"), self.update_link),
            ("DELETE", re.compile(rf"{links}/(?P<link>\d+)"), self.delete_link),
        ]

    def put(self, project: str, tag: str, **fields: Any) -> dict[str, Any]:
        """Store a release directly, as if someone had made it in the web UI."""
        release = self._new(project, {"tag_name": tag, **fields})
        self.releases.setdefault(project, {})[tag] = release
        return release

    def _new(self, project: str, data: dict[str, Any]) -> dict[str, Any]:
        tag = str(data["tag_name"])
        release = {
            "tag_name": tag,
            "name": data.get("name") or tag,  # GitLab names a release after its tag by default
            "description": data.get("description") or "",
            "created_at": _now(),
            "released_at": _now(),
            "commit": {"id": self.tags.get(project, {}).get(tag) or data.get("ref") or ""},
            "upcoming_release": False,
            "assets": {"count": 0, "sources": [], "links": []},
            "_links": {"self": f"{self.forge.url}/{self.projects[project]}/-/releases/{tag}"},
        }
        for link in (data.get("assets") or {}).get("links") or []:
            self._add_link(release, link)
        return release

    def _project(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        private, job = request.header("PRIVATE-TOKEN"), request.header("JOB-TOKEN")
        if not ((private and private in self.forge.gitlab_tokens) or (job and job == self.forge.job_token)):
            return None, json_response(401, {"message": "401 Unauthorized"})
        raw = unquote(match["id"])
        project = raw if raw in self.projects else next((k for k, v in self.projects.items() if v == raw), None)
        if project is None:
            return None, json_response(404, {"message": "404 Project Not Found"})
        return project, None

    def _release(self, request: Request, match: re.Match[str]) -> tuple[dict[str, Any] | None, Response | None]:
        project, error = self._project(request, match)
        if project is None:
            return None, error
        release = self.releases.get(project, {}).get(unquote(match["tag"]))
        if release is None:
            return None, json_response(404, {"message": "404 Not Found"})
        return release, None

    def _link_problem(self, release: dict[str, Any], link: dict[str, Any], skip: int | None = None) -> str | None:
        if not link.get("name") or not link.get("url"):
            return "name is missing" if not link.get("name") else "url is missing"
        if not re.match(r"^(https?|ftp)://", str(link["url"])):
            return "url is blocked: Only allowed schemes are http, https, ftp"
        if link.get("link_type", "other") not in LINK_TYPES:
            return "link_type does not have a valid value"
        for other in release["assets"]["links"]:
            if other["id"] == skip:
                continue
            if other["name"] == link["name"]:
                return "name has already been taken"
            if other["url"] == link["url"]:
                return "url has already been taken"
        return None

    def _add_link(self, release: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        link = {
            "id": self.next_link_id,
            "name": data["name"],
            "url": data["url"],
            "direct_asset_url": data["url"],
            "link_type": data.get("link_type") or "other",
        }
        self.next_link_id += 1
        release["assets"]["links"].append(link)
        release["assets"]["count"] = len(release["assets"]["links"])
        return link

    def list(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        return json_response(200, list(reversed(self.releases.get(project, {}).values())))

    def get(self, request: Request, match: re.Match[str]) -> Response:
        release, error = self._release(request, match)
        return json_response(200, release) if release is not None else error or json_response(500, {})

    def create(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        data = GitLabMergeRequests._params(request)
        tag = data.get("tag_name")
        if not tag:
            return json_response(400, {"error": "tag_name is missing"})
        if tag in self.releases.get(project, {}):
            return json_response(409, {"message": "Release already exists"})
        tags = self.tags.setdefault(project, {})
        if tag not in tags:
            if not data.get("ref"):
                return json_response(422, {"message": "Ref is not specified"})
            tags[tag] = str(data["ref"])
        release = self._new(project, {**data, "assets": {}})
        for link in (data.get("assets") or {}).get("links") or []:
            problem = self._link_problem(release, link)
            if problem:
                return json_response(400, {"message": {"links": [problem]}})
            self._add_link(release, link)
        self.releases.setdefault(project, {})[tag] = release
        return json_response(201, release)

    def update(self, request: Request, match: re.Match[str]) -> Response:
        release, error = self._release(request, match)
        if release is None:
            return error or json_response(500, {})
        data = GitLabMergeRequests._params(request)
        for key in ("name", "description", "released_at"):
            if key in data:
                release[key] = data[key]
        return json_response(200, release)

    def list_links(self, request: Request, match: re.Match[str]) -> Response:
        release, error = self._release(request, match)
        if release is None:
            return error or json_response(500, {})
        return json_response(200, list(reversed(release["assets"]["links"])))

    def create_link(self, request: Request, match: re.Match[str]) -> Response:
        release, error = self._release(request, match)
        if release is None:
            return error or json_response(500, {})
        data = GitLabMergeRequests._params(request)
        problem = self._link_problem(release, data)
        if problem:
            return json_response(400, {"message": {problem.split()[0]: [problem.split(" ", 1)[1]]}})
        return json_response(201, self._add_link(release, data))

    def _link(self, request: Request, match: re.Match[str]) -> tuple[Any, Any, Response | None]:
        release, error = self._release(request, match)
        if release is None:
            return None, None, error
        link = next((ln for ln in release["assets"]["links"] if ln["id"] == int(match["link"])), None)
        if link is None:
            return None, None, json_response(404, {"message": "404 Not found"})
        return release, link, None

    def update_link(self, request: Request, match: re.Match[str]) -> Response:
        release, link, error = self._link(request, match)
        if link is None:
            return error or json_response(500, {})
        data = {**link, **GitLabMergeRequests._params(request)}
        problem = self._link_problem(release, data, skip=link["id"])
        if problem:
            return json_response(400, {"message": {problem.split()[0]: [problem.split(" ", 1)[1]]}})
        for key in ("name", "url", "link_type"):
            link[key] = data[key]
        link["direct_asset_url"] = link["url"]
        return json_response(200, link)

    def delete_link(self, request: Request, match: re.Match[str]) -> Response:
        release, link, error = self._link(request, match)
        if link is None:
            return error or json_response(500, {})
        release["assets"]["links"].remove(link)
        release["assets"]["count"] = len(release["assets"]["links"])
        return json_response(200, link)


# --- GitHub: releases ------------------------------------------------------------------------------


class GitHubReleases:
    """GitHub's releases endpoints for a few repositories (`repos`: owner/repo); `releases`: owner/repo → list."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.repos: set[str] = set()
        self.releases: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.repos = {"team/app"}
        self.releases = {}

    def routes(self) -> list[Route]:
        base = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases"
        return [
            ("GET", re.compile(base), self.list),
            ("POST", re.compile(base), self.create),
            ("GET", re.compile(rf"{base}/tags/(?P<tag>[^/]+)"), self.by_tag),
            ("GET", re.compile(rf"{base}/(?P<id>\d+)"), self.get),
            ("PATCH", re.compile(rf"{base}/(?P<id>\d+)"), self.update),
        ]

    def _repo(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.forge.github_tokens:
            return None, json_response(401, {"message": "Bad credentials", "status": "401"})
        name = f"{match['owner']}/{match['repo']}"
        if name not in self.repos:
            return None, json_response(404, {"message": "Not Found", "status": "404"})
        return name, None

    def _one(self, repo: str, release_id: int) -> dict[str, Any] | None:
        return next((r for r in self.releases.get(repo, []) if r["id"] == release_id), None)

    def list(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        return json_response(200, list(reversed(self.releases.get(repo, []))))

    def by_tag(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        tag = unquote(match["tag"])
        found = next((r for r in self.releases.get(repo, []) if r["tag_name"] == tag and not r["draft"]), None)
        if found is None:
            return json_response(404, {"message": "Not Found", "status": "404"})
        return json_response(200, found)

    def get(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        found = self._one(repo, int(match["id"]))
        return json_response(200, found) if found else json_response(404, {"message": "Not Found", "status": "404"})

    def create(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        data = request.json()
        if not data.get("tag_name"):
            return json_response(422, {"message": "Validation Failed", "errors": [{"field": "tag_name"}]})
        releases = self.releases.setdefault(repo, [])
        if any(r["tag_name"] == data["tag_name"] and not r["draft"] for r in releases):
            return json_response(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                    "status": "422",
                },
            )
        release_id = 5000 + sum(len(v) for v in self.releases.values()) + 1
        release = {
            "id": release_id,
            "tag_name": data["tag_name"],
            "target_commitish": data.get("target_commitish") or "main",
            "name": data.get("name"),
            "body": data.get("body"),
            "draft": bool(data.get("draft")),
            "prerelease": bool(data.get("prerelease")),
            "created_at": _now(),
            "html_url": f"https://github.example/{repo}/releases/tag/{data['tag_name']}",
            "url": f"{self.forge.url}/repos/{repo}/releases/{release_id}",
            "assets": [],
        }
        releases.append(release)
        return json_response(201, release)

    def update(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        release = self._one(repo, int(match["id"]))
        if release is None:
            return json_response(404, {"message": "Not Found", "status": "404"})
        data = request.json()
        for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if key in data:
                release[key] = data[key]
        if "tag_name" in data:
            release["html_url"] = f"https://github.example/{repo}/releases/tag/{data['tag_name']}"
        return json_response(200, release)


DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


class GitHubDeployments:
    """GitHub's deployments and deployment statuses for `repos`; `deployments`: owner/repo → list (oldest first)."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.repos: set[str] = set()
        self.refs: dict[str, str] = {}  # the refs the repositories have: branch, tag or SHA → commit
        self.failing_contexts: set[str] = set()  # status contexts of every ref that are not successful
        self.read_only_tokens: set[str] = set()
        self.deployments: dict[str, list[dict[str, Any]]] = {}
        self.statuses: dict[int, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.repos = {"team/app"}
        self.refs = {}
        self.failing_contexts = set()
        self.read_only_tokens = set()
        self.deployments = {}
        self.statuses = {}

    def routes(self) -> list[Route]:
        base = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/deployments"
        return [
            ("GET", re.compile(base), self.list),
            ("POST", re.compile(base), self.create),
            ("GET", re.compile(rf"{base}/(?P<id>\d+)/statuses"), self.list_statuses),
            ("POST", re.compile(rf"{base}/(?P<id>\d+)/statuses"), self.create_status),
        ]

    def _repo(self, request: Request, match: re.Match[str], write: bool) -> tuple[str | None, Response | None]:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.forge.github_tokens | self.read_only_tokens:
            return None, json_response(401, {"message": "Bad credentials", "status": "401"})
        name = f"{match['owner']}/{match['repo']}"
        if name not in self.repos:
            return None, json_response(404, {"message": "Not Found", "status": "404"})
        if write and token in self.read_only_tokens:
            return None, json_response(403, {"message": "Resource not accessible by integration", "status": "403"})
        return name, None

    def list(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match, write=False)
        if repo is None:
            return error or json_response(500, {})
        wanted = {k: v[0] for k, v in request.query.items() if k in ("sha", "ref", "task", "environment")}
        found = [d for d in self.deployments.get(repo, []) if all(d[k] == v for k, v in wanted.items())]
        return json_response(200, list(reversed(found)))

    def create(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match, write=True)
        if repo is None:
            return error or json_response(500, {})
        data = request.json()
        ref = data.get("ref")
        if not ref:
            return json_response(422, {"message": 'Invalid request.\n\n"ref" wasn\'t supplied.', "status": "422"})
        if ref not in self.refs:
            return json_response(422, {"message": f"No ref found for: {ref}", "status": "422"})
        if data.get("required_contexts") is None and self.failing_contexts:
            return json_response(
                409,
                {
                    "message": f"Conflict: Commit status checks failed for {ref}.",
                    "errors": [{"contexts": [{"context": c, "state": "failure"} for c in sorted(self.failing_contexts)],
                                "resource": "Deployment", "field": "required_contexts", "code": "invalid"}],
                    "status": "409",
                },
            )  # fmt: skip
        deployment_id = 7000 + sum(len(v) for v in self.deployments.values()) + 1
        url = f"{self.forge.url}/repos/{repo}/deployments/{deployment_id}"
        deployment = {
            "id": deployment_id,
            "url": url,
            "sha": self.refs[ref],
            "ref": ref,
            "task": data.get("task") or "deploy",
            "payload": data.get("payload") or {},
            "environment": data.get("environment") or "production",
            "description": data.get("description"),
            "auto_merge": data.get("auto_merge", True),
            "required_contexts": data.get("required_contexts"),
            "transient_environment": bool(data.get("transient_environment", False)),
            "production_environment": bool(data.get("production_environment", False)),
            "statuses_url": f"{url}/statuses",
            "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.deployments.setdefault(repo, []).append(deployment)
        return json_response(201, deployment)

    def _deployment(self, repo: str, match: re.Match[str]) -> dict[str, Any] | None:
        return next((d for d in self.deployments.get(repo, []) if d["id"] == int(match["id"])), None)

    def list_statuses(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match, write=False)
        if repo is None:
            return error or json_response(500, {})
        if self._deployment(repo, match) is None:
            return json_response(404, {"message": "Not Found", "status": "404"})
        return json_response(200, list(reversed(self.statuses.get(int(match["id"]), []))))

    def create_status(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match, write=True)
        if repo is None:
            return error or json_response(500, {})
        deployment = self._deployment(repo, match)
        if deployment is None:
            return json_response(404, {"message": "Not Found", "status": "404"})
        data = request.json()
        if data.get("state") not in DEPLOYMENT_STATES:
            return json_response(422, {"message": "Validation Failed", "errors": [{"field": "state"}], "status": "422"})
        statuses = self.statuses.setdefault(deployment["id"], [])
        status = {
            "id": 9000 + len(statuses) + 1,
            "state": data["state"],
            "description": data.get("description") or "",
            "environment": data.get("environment") or deployment["environment"],
            "environment_url": data.get("environment_url") or "",
            "log_url": data.get("log_url") or "",
            "deployment_url": deployment["url"],
        }
        statuses.append(status)
        return json_response(201, status)


# --- GitLab and GitHub: commit statuses (what a GitOps agent posts) ---------------------------------

GITLAB_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")
GITHUB_STATES = ("error", "failure", "pending", "success")


class GitLabStatuses:
    """GitLab's commit statuses of the projects in `merge_requests.projects`; `statuses`: (project, sha) → list."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.commits: set[str] | None = None  # None: every sha exists
        self.no_read_tokens: set[str] = set()

    def reset(self) -> None:
        self.statuses = {}
        self.commits = None
        self.no_read_tokens = set()

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(rf"{PROJECT}/repository/commits/(?P<sha>[^/]+)/statuses"), self.list),
            ("POST", re.compile(rf"{PROJECT}/statuses/(?P<sha>[0-9a-f]+)"), self.create),
        ]

    def _project(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        private = request.header("PRIVATE-TOKEN")
        if private and private in self.no_read_tokens:
            return None, json_response(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api read_api",
                },
            )
        return self.forge.merge_requests._project(request, match)

    def post(self, sha: str, state: str, name: str = "default", description: str = "", project: str = "7") -> None:
        """A status as an agent posts it (the same as POST .../statuses/:sha)."""
        with self.forge.lock:
            self._add(project, sha, {"state": state, "name": name, "description": description})

    def _add(self, project: str, sha: str, data: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        status = {
            "id": 5000 + sum(len(v) for v in self.statuses.values()) + 1,
            "sha": sha,
            "ref": data.get("ref"),
            "status": data["state"],
            "name": data.get("name") or data.get("context") or "default",
            "target_url": data.get("target_url"),
            "description": data.get("description"),
            "created_at": now,
            "started_at": now if data["state"] != "pending" else None,
            "finished_at": now if data["state"] in ("success", "failed", "canceled", "skipped") else None,
            "allow_failure": False,
            "coverage": None,
            "author": {"id": 1, "username": "flux", "name": "Flux", "state": "active"},
        }
        self.statuses.setdefault((project, sha), []).append(status)
        return status

    def list(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self._project(request, match)
        if project is None:
            return error or json_response(500, {})
        sha = unquote(match["sha"])
        if self.commits is not None and sha not in self.commits:
            return json_response(404, {"message": "404 Commit Not Found"})
        q = {k: v[0] for k, v in request.query.items()}
        found = list(reversed(self.statuses.get((project, sha), [])))  # newest first
        if q.get("all", "false") != "true":
            latest: dict[str, dict[str, Any]] = {}
            for status in found:
                latest.setdefault(status["name"], status)
            found = list(latest.values())
        found = [s for s in found if all(s[k] == q[k] for k in ("ref", "name") if k in q)]
        return json_response(200, found[: int(q.get("per_page", 20))])

    def create(self, request: Request, match: re.Match[str]) -> Response:
        project, error = self.forge.merge_requests._project(request, match)
        if project is None:
            return error or json_response(500, {})
        data = self.forge.merge_requests._params(request)
        if data.get("state") not in GITLAB_STATES:
            return json_response(400, {"error": "state does not have a valid value"})
        return json_response(201, self._add(project, match["sha"], data))


class GitHubStatuses:
    """GitHub's commit statuses of the repositories in `pulls.repos`; `statuses`: (owner/repo, sha) → list."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.commits: set[str] | None = None
        self.no_read_tokens: set[str] = set()

    def reset(self) -> None:
        self.statuses = {}
        self.commits = None
        self.no_read_tokens = set()

    def routes(self) -> list[Route]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        return [
            ("POST", re.compile(rf"{repo}/statuses/(?P<sha>[0-9a-f]+)"), self.create),
            ("GET", re.compile(rf"{repo}/commits/(?P<ref>[^/]+)/status"), self.combined),
        ]

    def _repo(self, request: Request, match: re.Match[str]) -> tuple[str | None, Response | None]:
        token = (request.header("Authorization") or "").partition(" ")[2]
        if token in self.no_read_tokens:
            return None, json_response(403, {"message": "Resource not accessible by integration", "status": "403"})
        return self.forge.pulls._repo(request, match)

    def post(
        self, sha: str, state: str, context: str = "default", description: str = "", repo: str = "team/infra"
    ) -> None:
        with self.forge.lock:
            self._add(repo, sha, {"state": state, "context": context, "description": description})

    def _add(self, repo: str, sha: str, data: dict[str, Any]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {
            "id": 8000 + sum(len(v) for v in self.statuses.values()) + 1,
            "state": data["state"],
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "context": data.get("context") or "default",
            "created_at": now,
            "updated_at": now,
        }
        self.statuses.setdefault((repo, sha), []).append(status)
        return status

    def create(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        data = request.json()
        if data.get("state") not in GITHUB_STATES:
            return json_response(422, {"message": "Validation Failed", "errors": [{"field": "state"}], "status": "422"})
        return json_response(201, self._add(repo, match["sha"], data))

    def combined(self, request: Request, match: re.Match[str]) -> Response:
        repo, error = self._repo(request, match)
        if repo is None:
            return error or json_response(500, {})
        sha = unquote(match["ref"])
        if self.commits is not None and sha not in self.commits:
            return json_response(422, {"message": f"No commit found for SHA: {sha}", "status": "422"})
        latest: dict[str, dict[str, Any]] = {}
        for status in reversed(self.statuses.get((repo, sha), [])):
            latest.setdefault(status["context"], status)
        states = [s["state"] for s in latest.values()]
        if any(s in ("error", "failure") for s in states):
            state = "failure"
        elif not states or "pending" in states:
            state = "pending"
        else:
            state = "success"
        url = f"{self.forge.url}/repos/{repo}"
        return json_response(
            200,
            {
                "state": state,
                "statuses": list(latest.values()),
                "sha": sha,
                "total_count": len(latest),
                "repository": {"full_name": repo},
                "commit_url": f"{url}/commits/{sha}",
                "url": f"{url}/commits/{sha}/status",
            },
        )


# --- Argo CD: the Application API --------------------------------------------------------------------


class ArgoCD:
    """Argo CD's `GET /api/v1/applications/:name`; `apps`: name → Application JSON (change it with `set`)."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.apps: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.denied_tokens: set[str] = set()

    def reset(self) -> None:
        self.apps = {}
        self.tokens = {DEFAULT_ARGOCD_TOKEN}
        self.denied_tokens = set()

    def routes(self) -> list[Route]:
        return [("GET", re.compile(r"/api/v1/applications/(?P<name>[^/]+)"), self.get)]

    def set(
        self,
        name: str,
        *,
        revision: str,
        sync: str = "Synced",
        health: str = "Healthy",
        phase: str = "Succeeded",
        message: str = "successfully synced (all tasks run)",
        health_message: str = "",
        project: str = "default",
    ) -> None:
        """The application as the controller leaves it after a sync of `revision`."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        source = {"repoURL": "https://git.example.com/team/infra.git", "path": f"apps/{name}", "targetRevision": "main"}
        app = {
            "metadata": {"name": name, "namespace": "argocd", "uid": "4f1c2a9e-0000-4000-8000-000000000001"},
            "spec": {"project": project, "source": source, "destination": {"server": "https://kubernetes.default.svc",
                                                                           "namespace": name}},
            "status": {
                "sync": {"status": sync, "revision": revision, "comparedTo": {"source": source}},
                "health": {"status": health, **({"message": health_message} if health_message else {})},
                "operationState": {
                    "operation": {"sync": {"revision": revision}},
                    "phase": phase,
                    "message": message,
                    "syncResult": {"revision": revision, "source": source},
                    "startedAt": now,
                    **({"finishedAt": now} if phase != "Running" else {}),
                },
                "reconciledAt": now,
                "sourceType": "Kustomize",
            },
        }  # fmt: skip
        with self.forge.lock:
            self.apps[name] = app

    def get(self, request: Request, match: re.Match[str]) -> Response:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens | self.denied_tokens:
            return json_response(
                401, {"error": "no session information", "code": 16, "message": "no session information"}
            )
        name = unquote(match["name"])
        project = (request.query.get("project") or [None])[0]
        app = self.apps.get(name)
        denied = {"error": "permission denied", "code": 7, "message": "permission denied"}
        if token in self.denied_tokens:
            return json_response(403, denied)
        if app is None or (project is not None and app["spec"]["project"] != project):
            if project is None:
                return json_response(403, denied)
            text = f'applications.argoproj.io "{name}" not found'
            return json_response(404, {"error": text, "code": 5, "message": text})
        return json_response(200, app)


def recompress(archive: bytes, level: int = 1) -> bytes:
    """The same tar in other gzip bytes, as another zlib build would write it."""
    return gzip.compress(gzip.decompress(archive), compresslevel=level, mtime=0)
