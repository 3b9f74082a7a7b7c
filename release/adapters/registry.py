"""The OCI distribution API, read side: does a tag exist, what is its digest, which labels does it carry.

Auth follows the registry's challenge: Basic (Distribution with htpasswd) or a Bearer token from the
realm it names (Harbor, GitLab, Docker Hub). HTTPS, verified; a loopback registry or one named in
RELEASE_INSECURE_REGISTRIES is tried over HTTPS first and spoken to in plain HTTP when it does not speak TLS
(release/adapters/tls.py decides).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

import requests

from release.adapters import http, tls
from release.adapters.credentials import PROTECTED_HINT, Credentials
from release.adapters.tls import is_loopback as is_loopback  # re-exported: callers import it from here
from release.errors import ReleaseError
from release.naming.imageref import Repository

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[2:]
UPLOAD_ATTEMPTS = 2  # a blob upload whose session was lost starts over once


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: dict[str, Any]
    size: int = 0  # bytes of the manifest, for a descriptor naming it (a referrer's subject)


@dataclass
class Registry:
    repo: Repository
    credentials: Credentials | None = None
    insecure: bool = False  # plain HTTP for a non-loopback host: only on explicit opt-in
    timeout: float = 30.0
    session: requests.Session = field(default_factory=http.session)
    missing: str | None = None  # why no credentials although some were meant (credentials.registry_missing)
    _auth: str | None = None
    _scope: str = "pull"
    _scheme: str | None = None  # decided on first use (one probe for a host that may use plain HTTP)

    @property
    def base(self) -> str:
        if self._scheme is None:
            self._scheme = tls.registry_scheme(self.repo.api_host, opted_in=self.insecure)
        return f"{self._scheme}://{self.repo.api_host}/v2/{self.repo.path}"

    # --- reads -----------------------------------------------------------------------------------

    def manifest(self, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, or None when the registry does not have it."""
        response = self._request("GET", f"{self.base}/manifests/{reference}", accept=", ".join(MANIFEST_TYPES))
        if response.status_code == 404:
            return None
        self._check(response, f"reading {self.repo.path}:{reference}")
        digest = response.headers.get("Docker-Content-Digest") or ""
        body = response.json()
        media_type = body.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0]
        return Manifest(digest, media_type, body, len(response.content))

    def image_config(self, reference: str) -> tuple[Manifest, dict[str, Any]] | None:
        """The image manifest and its config (labels under config.Labels); an index resolves to linux/amd64."""
        manifest = self.manifest(reference)
        if manifest is None:
            return None
        image = manifest
        if manifest.media_type in INDEX_TYPES:
            entries = manifest.body.get("manifests", [])
            chosen = next(
                (m for m in entries if m.get("platform", {}).get("architecture") == "amd64"),
                entries[0] if entries else None,
            )
            if chosen is None:
                return None
            inner = self.manifest(chosen["digest"])
            if inner is None:
                return None
            image = inner
        config_digest = image.body.get("config", {}).get("digest")
        if not config_digest:
            return manifest, {}
        response = self._request("GET", f"{self.base}/blobs/{config_digest}")
        self._check(response, f"reading the config of {self.repo.path}:{reference}")
        return manifest, json.loads(response.content)

    def tags(self) -> list[str]:
        """Every tag of the repository (following the Link pagination); [] when it does not exist."""
        found: list[str] = []
        url: str | None = f"{self.base}/tags/list?n=1000"
        while url:
            response = self._request("GET", url)
            if response.status_code == 404:
                return found
            self._check(response, f"listing tags of {self.repo.path}")
            found.extend(response.json().get("tags") or [])
            link = re.search(r"<([^>]+)>;\s*rel=\"?next", response.headers.get("Link", ""))
            url = urljoin(self.base + "/", link[1]) if link else None
        return found

    def blob(self, digest: str) -> bytes:
        response = self._request("GET", f"{self.base}/blobs/{digest}")
        self._check(response, f"reading blob {digest[:19]}")
        return response.content

    def labels(self, reference: str) -> tuple[str, dict[str, str]] | None:
        """(manifest digest, labels) of a tag, or None when it does not exist."""
        found = self.image_config(reference)
        if found is None:
            return None
        manifest, config = found
        labels = (config.get("config") or {}).get("Labels") or {}
        return manifest.digest, dict(labels)

    @property
    def plain_http(self) -> bool:
        """True when this registry is spoken to in plain HTTP (a loopback or opted-in host without TLS)."""
        return self.base.startswith("http://")

    def referrers(self, digest: str) -> list[dict[str, Any]] | None:
        """The referrers API (OCI distribution 1.1): descriptors of the artifacts whose subject is `digest`, or None
        when the registry has no such API (404: CNCF Distribution 2.x, GHCR, Docker Hub)."""
        response = self._request("GET", f"{self.base}/referrers/{digest}", accept=INDEX_TYPES[0])
        if response.status_code in (404, 405):
            return None
        self._check(response, f"listing the referrers of {self.repo.path}@{digest[:19]}")
        content_type = response.headers.get("Content-Type", "").split(";")[0]
        if content_type != INDEX_TYPES[0]:
            return None  # an answer that is not an index (a proxy's page): no referrers API
        return list(response.json().get("manifests") or [])

    def check_access(self) -> None:
        """Fail early, before a build, when the registry is unreachable or refuses our credentials."""
        response = self._request("GET", f"{self.base}/tags/list")
        if response.status_code == 404:
            return  # a repository that does not exist yet
        self._check(response, f"listing tags of {self.repo.path}")

    # --- writes (content-addressed, so every call is safe to repeat) -------------------------------

    def has_blob(self, digest: str) -> bool:
        response = self._request("HEAD", f"{self.base}/blobs/{digest}", scope="pull,push")
        if response.status_code == 404:
            return False
        self._check(response, f"checking blob {digest[:19]}")
        return True

    def upload_blob(self, data: bytes) -> str:
        """Upload `data` unless the registry has it already; returns its digest.

        A connection that breaks during the PUT ends the upload session: the retried PUT finds it unknown (404),
        although the blob may have landed. Then the blob is looked for, and the upload started over once."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.has_blob(digest):
            return digest
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            done = self._upload(data, digest)
            if done.status_code != 404 or attempt == UPLOAD_ATTEMPTS:
                break
            if self.has_blob(digest):
                return digest
        self._check(done, f"uploading blob {digest[:19]}")
        return digest

    def _upload(self, data: bytes, digest: str) -> requests.Response:
        """One monolithic upload: POST for a session, PUT the bytes to it."""
        start = self._request("POST", f"{self.base}/blobs/uploads/", scope="pull,push")
        self._check(start, "starting a blob upload")
        location = start.headers.get("Location", "")
        if not location:
            raise ReleaseError(f"registry {self.repo.host} gave no upload location", "check the registry")
        url = urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + urlencode({"digest": digest})
        return self._request("PUT", url, body=data, content_type="application/octet-stream", scope="pull,push")

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        response = self._request(
            "PUT", f"{self.base}/manifests/{reference}", body=body, content_type=media_type, scope="pull,push"
        )
        self._check(response, f"writing {self.repo.path}:{reference}")
        return response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()

    # --- plumbing --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        accept: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        scope: str = "pull",
    ) -> requests.Response:
        headers = {"Accept": accept} if accept else {}
        if content_type:
            headers["Content-Type"] = content_type
        if scope != "pull" and self._scope == "pull":
            self._auth = None  # a pull-only token cannot push: ask again with the wider scope
        response = self._send(method, url, headers, body)
        if response.status_code == 401 and "WWW-Authenticate" in response.headers:
            self._authenticate(response.headers["WWW-Authenticate"], scope)
            response = self._send(method, url, headers, body)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> requests.Response:
        if self._auth:
            headers = {**headers, "Authorization": self._auth}
        return http.send(
            self.session,
            method,
            url,
            what=f"registry {self.repo.host}",
            hint="check the repository host and network",
            headers=headers,
            data=body,
            timeout=self.timeout,
        )

    def _authenticate(self, challenge: str, scope: str = "pull") -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self.credentials is None:
                raise self._no_credentials()
            self._auth = _basic(self.credentials)
            self._scope = "pull,push"  # Basic auth is not scoped
            return
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.pop("realm", None)
        if scheme.lower() != "bearer" or not realm:
            raise ReleaseError(f"registry {self.repo.host} asks for unsupported auth {scheme!r}", "use Basic or Bearer")
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        query["scope"] = f"repository:{self.repo.path}:{scope}"
        headers = {"Authorization": _basic(self.credentials)} if self.credentials else {}
        response = http.send(
            self.session,
            "GET",
            realm,
            what=f"the token service of {self.repo.host}",
            hint="check the registry's auth",
            params=query,
            headers=headers,
            timeout=self.timeout,
        )
        if response.status_code in (401, 403):
            raise self._rejected(response.status_code)
        self._check(response, "getting a registry token")
        data = response.json()
        token = data.get("token") or data.get("access_token")
        if not token:
            raise ReleaseError(f"registry {self.repo.host} gave no token", "check the registry's auth setup")
        self._auth = f"Bearer {token}"
        self._scope = scope

    def _check(self, response: requests.Response, doing: str) -> None:
        if response.ok:
            return
        if response.status_code in (401, 403):
            raise self._rejected(response.status_code) if self.credentials else self._no_credentials()
        raise ReleaseError(
            f"registry {self.repo.host} answered {response.status_code} {response.reason} while {doing}",
            "retry later; if it persists, check the registry",
        )

    def _rejected(self, status: int) -> ReleaseError:
        source = self.credentials.source if self.credentials else "no credentials"
        return ReleaseError(
            f"registry {self.repo.host} rejected the credentials from {source} for {self.repo.path} ({status})",
            "check the user, the password or token, and its push rights",
        )

    def _no_credentials(self) -> ReleaseError:
        if self.missing:
            return ReleaseError(
                f"{self.missing}, and registry {self.repo.host} needs credentials for {self.repo.path}",
                PROTECTED_HINT,
            )
        return ReleaseError(
            f"registry {self.repo.host} needs credentials for {self.repo.path}",
            "docker login, DOCKER_AUTH_CONFIG, or RELEASE_REGISTRY_USER and RELEASE_REGISTRY_PASSWORD",
        )


def _basic(credentials: Credentials | None) -> str:
    assert credentials is not None
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
