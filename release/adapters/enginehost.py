"""Where the container engine is: the settings Docker and Podman users already have → the endpoints to try.

Pure apart from reading small files (a docker context's meta.json, config.json) and checking that paths exist.

Order, as Docker and Podman read them (the first one set decides; only the defaults are a list):
1. `DOCKER_HOST` (unix://, tcp://), with Docker's TLS variables for tcp://: `DOCKER_TLS_VERIFY` (any
   non-empty value), `DOCKER_CERT_PATH` (ca.pem, cert.pem, key.pem), else `$DOCKER_TLS_CERTDIR/client` (where
   GitLab's docker:dind service writes the client side), else `~/.docker`. Port 2376 is Docker's TLS port: TLS
   there even without `DOCKER_TLS_VERIFY`. The engine's certificate is always verified.
2. `CONTAINER_HOST` (Podman remote: unix://, tcp://; ssh:// is refused with the command that forwards it).
3. `DOCKER_CONTEXT`, else `currentContext` in `$DOCKER_CONFIG/config.json` (what `docker context use` writes):
   the context's endpoint from `contexts/meta/<sha256(name)>/meta.json`, its TLS files from `contexts/tls/…`.
4. The default Docker socket, then Podman's sockets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from release.errors import ReleaseError

TLS_PORT = 2376  # Docker's convention: 2375 plain, 2376 TLS
CERT_HINT = "set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem (GitLab's dind: /certs/client)"


@dataclass(frozen=True)
class TLSFiles:
    """Client side of an engine's TLS: the CA that signed the engine's certificate, our certificate and key."""

    ca: Path | None  # None: the system's CAs
    cert: Path | None  # None (with key None): no client certificate
    key: Path | None
    origin: str  # the setting the directory came from, e.g. "DOCKER_CERT_PATH=/certs/client"


@dataclass(frozen=True)
class Endpoint:
    url: str  # unix:///path, tcp://host:port, ssh://user@host[:port][/socket]
    origin: str  # the setting it came from, e.g. "DOCKER_HOST=tcp://docker:2376", "the default Docker socket"
    tls: TLSFiles | None = None

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    def describe(self) -> str:
        """E.g. `DOCKER_HOST=tcp://docker:2376 with TLS (DOCKER_CERT_PATH=/certs/client)`."""
        return f"{self.origin} with TLS ({self.tls.origin})" if self.tls else self.origin


def resolve(env: Mapping[str, str]) -> list[Endpoint]:
    """The endpoints to try, in order; a setting that cannot work (a missing cert dir or file) raises here."""
    if env.get("DOCKER_HOST"):
        return [_from_host(env["DOCKER_HOST"], "DOCKER_HOST", env)]
    if env.get("CONTAINER_HOST"):
        return [_from_host(env["CONTAINER_HOST"], "CONTAINER_HOST", env)]
    context = env.get("DOCKER_CONTEXT")
    origin = f"DOCKER_CONTEXT={context}"
    if not context:
        context, origin = _current_context(env)
    if context and context != "default":
        return [_from_context(context, origin, env)]
    return defaults(env)


def defaults(env: Mapping[str, str]) -> list[Endpoint]:
    found = [Endpoint("unix:///var/run/docker.sock", "the default Docker socket")]
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        found.append(Endpoint(f"unix://{runtime}/podman/podman.sock", "Podman's rootless socket"))
    found.append(Endpoint("unix:///run/podman/podman.sock", "Podman's rootful socket"))
    return found


def docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def _from_host(url: str, name: str, env: Mapping[str, str], origin: str = "") -> Endpoint:
    origin = origin or f"{name}={url}"
    parts = urlsplit(url)
    if parts.scheme not in ("unix", "tcp", "ssh", "http", "https"):
        raise ReleaseError(
            f"{origin}: unsupported scheme {parts.scheme or '(none)'!r}",
            "use unix:///path/to.sock or tcp://host:port",
        )
    if parts.scheme == "ssh":
        return Endpoint(url, origin)  # refused when connecting, with the command that forwards the socket
    if parts.scheme in ("tcp", "https") and name == "DOCKER_HOST" and _wants_tls(parts.scheme, parts.port, env):
        return Endpoint(url, origin, tls=_env_tls_files(env))
    return Endpoint(url, origin)


def _wants_tls(scheme: str, port: int | None, env: Mapping[str, str]) -> bool:
    return bool(env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_TLS")) or scheme == "https" or port == TLS_PORT


def _env_tls_files(env: Mapping[str, str]) -> TLSFiles:
    if env.get("DOCKER_CERT_PATH"):
        directory, origin = Path(env["DOCKER_CERT_PATH"]), f"DOCKER_CERT_PATH={env['DOCKER_CERT_PATH']}"
    elif env.get("DOCKER_TLS_CERTDIR"):
        directory = Path(env["DOCKER_TLS_CERTDIR"]) / "client"
        origin = f"DOCKER_TLS_CERTDIR={env['DOCKER_TLS_CERTDIR']}, so {directory}"
    else:
        return tls_files(docker_config_dir(env), f"{docker_config_dir(env)}, as DOCKER_CERT_PATH is unset", False)
    return tls_files(directory, origin, True)


def tls_files(directory: Path, origin: str, explicit: bool) -> TLSFiles:
    """ca.pem, cert.pem, key.pem in `directory`. Named explicitly: the directory and ca.pem must exist. A
    certificate without its key (or the reverse) is an error either way."""
    if explicit and not directory.is_dir():
        raise ReleaseError(
            f"{origin}: no such directory",
            f"{CERT_HINT}; GitLab's docker executor shares it with the dind service only when the runner's "
            'config.toml mounts it (volumes = ["/certs/client"])',
        )
    ca, cert, key = (directory / name for name in ("ca.pem", "cert.pem", "key.pem"))
    if explicit and not ca.is_file():
        raise ReleaseError(f"{origin}: {ca} is missing (the CA that signed the engine's certificate)", CERT_HINT)
    if cert.is_file() != key.is_file():
        missing = key if cert.is_file() else cert
        raise ReleaseError(f"{origin}: {missing} is missing (client certificate and key come in pairs)", CERT_HINT)
    return TLSFiles(
        ca if ca.is_file() else None,
        cert if cert.is_file() else None,
        key if key.is_file() else None,
        origin,
    )


def _current_context(env: Mapping[str, str]) -> tuple[str | None, str]:
    config = docker_config_dir(env) / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return None, ""
    name = data.get("currentContext") if isinstance(data, dict) else None
    return (name, f"currentContext {name} in {config}") if isinstance(name, str) and name else (None, "")


def context_dir(env: Mapping[str, str], kind: str, name: str) -> Path:
    """Where docker keeps a context's `meta` or `tls`: named by the sha256 of the context's name."""
    return docker_config_dir(env) / "contexts" / kind / hashlib.sha256(name.encode()).hexdigest()


def _from_context(name: str, origin: str, env: Mapping[str, str]) -> Endpoint:
    meta = context_dir(env, "meta", name) / "meta.json"
    try:
        data = json.loads(meta.read_text())
        host = data["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ReleaseError(
            f"{origin}: no docker context {name!r} ({meta} is missing or has no docker endpoint)",
            "list contexts with `docker context ls`, or unset DOCKER_CONTEXT / run `docker context use default`",
        ) from None
    if not isinstance(host, str) or not host:
        raise ReleaseError(f"{origin}: context {name!r} has no docker host", "set it with `docker context update`")
    endpoint = _from_host(host, "context", {}, f"{origin} (host {host})")
    tls_dir = context_dir(env, "tls", name) / "docker"
    if tls_dir.is_dir():
        return Endpoint(endpoint.url, endpoint.origin, tls=tls_files(tls_dir, f"context TLS files in {tls_dir}", False))
    return endpoint
