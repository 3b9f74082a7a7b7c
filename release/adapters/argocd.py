"""Argo CD's API, read only: `GET /api/v1/applications/{name}` (with `?refresh=normal` when asked), as a
project-role token (`Authorization: Bearer`) may. Thin: it says what the application's status holds.

Argo CD answers 403 "permission denied" both for an application the token may not get and for one that does not
exist (CVE-2022-41354), unless the `project` is given: then a missing application is 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from release.adapters import http
from release.errors import ReleaseError


@dataclass(frozen=True)
class Application:
    """What `status` says: the revision synced, sync (Synced|OutOfSync|Unknown), health (Healthy|Progressing|
    Degraded|Suspended|Missing|Unknown) and the last operation (Running|Succeeded|Failed|Error|Terminating)."""

    name: str
    revision: str
    sync: str
    health: str
    health_message: str = ""
    phase: str = ""
    operation_message: str = ""
    operation_revision: str = ""


@dataclass(frozen=True)
class ArgoCD:
    server: str  # e.g. https://argocd.example.com
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    token_name: str = "ARGOCD_AUTH_TOKEN"

    def application(self, name: str, *, project: str | None = None, refresh: bool = False) -> Application:
        params = {k: v for k, v in (("refresh", "normal" if refresh else None), ("project", project)) if v}
        url = f"{self.server.rstrip('/')}/api/v1/applications/{name}"
        where = f"Argo CD ({self.server})"
        with http.session(retries=2, backoff=0.2) as s:
            s.headers.update(self.headers)
            s.headers["Accept"] = "application/json"
            hint = "check verify.argocd.server"
            response = http.send(s, "GET", url, what=where, hint=hint, timeout=30, params=params)
        status = response.status_code
        data = _json(response)
        if status == 401:
            raise ReleaseError(
                f"{where} rejected the token ({self.token_name}) while reading application {name}: HTTP 401",
                f"check that {self.token_name} is set and current (argocd proj role create-token PROJECT ROLE)",
            )
        if status == 403:
            unsure = "" if project else ", or it does not exist (Argo CD does not tell them apart without `project:`)"
            raise ReleaseError(
                f"{where} denied reading application {name} (HTTP 403 permission denied): the token's role may not"
                f" get it{unsure}",
                "check the name in verify.argocd.applications and the role's policy (applications, get, PROJECT/*)",
            )
        if status == 404:
            raise ReleaseError(f"{where} has no application {name} (HTTP 404)", "check verify.argocd.applications")
        if not response.ok or not isinstance(data, dict):
            said = data.get("message") if isinstance(data, dict) else ""
            raise ReleaseError(
                f"{where} answered HTTP {status} for application {name} {f'({said})' if said else ''}".rstrip(),
                "check verify.argocd.server",
            )
        return parse(name, data)


def parse(name: str, data: dict[str, Any]) -> Application:
    """The fields of an `Application` JSON that say what runs."""
    status = data.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    operation = status.get("operationState") or {}
    result = operation.get("syncResult") or {}
    return Application(
        name=name,
        revision=str(sync.get("revision") or ""),
        sync=str(sync.get("status") or "Unknown"),
        health=str(health.get("status") or "Unknown"),
        health_message=str(health.get("message") or ""),
        phase=str(operation.get("phase") or ""),
        operation_message=str(operation.get("message") or ""),
        operation_revision=str(result.get("revision") or ""),
    )


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
