"""Registry credentials: RELEASE_REGISTRY_USER/PASSWORD, then DOCKER_AUTH_CONFIG, then the docker config file.

Nothing here is ever put on a command line; credential helpers get the host on stdin, as docker does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release import secrets
from release.errors import ReleaseError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        secrets.register(self.password)


def _host_keys(host: str) -> list[str]:
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]


def _from_auths(auths: Any, host: str, source: str) -> Credentials | None:
    if not isinstance(auths, dict):
        return None
    for key in _host_keys(host):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except ValueError:
                raise ReleaseError(
                    f"the 'auth' entry for {host} in {source} is not base64 user:password", "log in again"
                ) from None
            return Credentials(user, password, source)
        if entry.get("username") and entry.get("password"):
            return Credentials(entry["username"], entry["password"], source)
    return None


def _helper(name: str, host: str, env: Mapping[str, str]) -> Credentials | None:
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, "get"], input=host.encode(), capture_output=True, timeout=30, env=dict(env), check=False
        )
    except FileNotFoundError:
        raise ReleaseError(
            f"the docker config asks for the credential helper {program}, which is not installed",
            "install it, or set RELEASE_REGISTRY_USER and RELEASE_REGISTRY_PASSWORD",
        ) from None
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout or b"{}")
    if data.get("Username") and data.get("Secret"):
        return Credentials(data["Username"], data["Secret"], program)
    return None


def for_registry(host: str, env: Mapping[str, str]) -> Credentials | None:
    user, password = env.get("RELEASE_REGISTRY_USER"), env.get("RELEASE_REGISTRY_PASSWORD")
    if user and password:
        return Credentials(user, password, "RELEASE_REGISTRY_USER/PASSWORD")
    if env.get("DOCKER_AUTH_CONFIG"):
        try:
            data = json.loads(env["DOCKER_AUTH_CONFIG"])
        except ValueError:
            raise ReleaseError("DOCKER_AUTH_CONFIG is not valid JSON", "set it to a docker config.json") from None
        found = _from_auths(data.get("auths") if isinstance(data, dict) else None, host, "DOCKER_AUTH_CONFIG")
        if found:
            return found
    config_dir = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME", str(Path.home())), ".docker")
    path = Path(config_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"cannot read {path}: {exc}", "fix or remove the docker config file") from None
    if not isinstance(data, dict):
        return None
    helpers = data.get("credHelpers") or {}
    for key in _host_keys(host):
        if isinstance(helpers, dict) and key in helpers:
            return _helper(str(helpers[key]), key, env)
    found = _from_auths(data.get("auths"), host, str(path))
    if found:
        return found
    if data.get("credsStore"):
        return _helper(str(data["credsStore"]), host, env)
    return None


PROTECTED = "a protected variable on an unprotected branch?"
PROTECTED_HINT = (
    "GitLab passes protected variables only to jobs on protected branches and tags: protect the branch, or "
    "unprotect the variable; elsewhere give the variable its value"
)


def missing(env: Mapping[str, str], user: str | None, secret: str) -> str | None:
    """Why a credential pair is not usable although someone meant to give it, in words naming the variable:
    "RELEASE_REGISTRY_PASSWORD is set but empty (a protected variable on an unprotected branch?)". None when both
    variables are absent (nothing was meant) or both hold a value."""
    for name in (secret, user):
        if name is not None and name in env and not env[name].strip():
            return f"{name} is set but empty ({PROTECTED})"
    if user is not None and env.get(user) and secret not in env:
        return f"{secret} is not set, but {user} is ({PROTECTED})"
    if user is not None and env.get(secret) and user not in env:
        return f"{user} is not set, but {secret} is"
    return None


def registry_missing(env: Mapping[str, str]) -> str | None:
    """missing() for what registries are given: RELEASE_REGISTRY_USER/PASSWORD, then DOCKER_AUTH_CONFIG."""
    return missing(env, "RELEASE_REGISTRY_USER", "RELEASE_REGISTRY_PASSWORD") or missing(
        env, None, "DOCKER_AUTH_CONFIG"
    )
