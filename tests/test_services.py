"""Smoke tests for the real-services harness (tests/services.py): the registry's auth, and podman's Docker API
building and pushing images into it, read back over the registry's HTTP API."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.services import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    Podman,
    Registry,
    ServiceError,
    busybox_context,
    require_binary,
    scratch_context,
    unix_http_get,
)

PUSH_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def push(client: Any, repository: str, tag: str, auth_config: dict[str, str] | None) -> tuple[str | None, list[str]]:
    """Push with the docker SDK: (digest podman reported, errors). The SDK does not raise on a failed push:
    errors arrive as {"error": ...} items in the stream."""
    digest, errors = None, []
    for item in client.images.push(repository, tag=tag, auth_config=auth_config, stream=True, decode=True):
        if "error" in item:
            errors.append(item["error"])
        elif match := PUSH_DIGEST.search(item.get("status", "")):
            digest = match.group(1)
    return digest, errors


def test_registry_requires_the_password(registry: Registry) -> None:
    assert registry.host.startswith("127.0.0.1:")
    anonymous = requests.get(f"{registry.url}/v2/", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert requests.get(f"{registry.url}/v2/", auth=registry.auth, timeout=5).status_code == 200
    assert requests.get(f"{registry.url}/v2/", auth=(registry.user, "wrong"), timeout=5).status_code == 401
    assert requests.get(f"{registry.url}/v2/", auth=("nobody", registry.password), timeout=5).status_code == 401
    assert registry.get("/v2/").status_code == 200


def test_podman_serves_the_docker_api_from_its_own_storage(podman: Podman, docker_client: Any) -> None:
    assert unix_http_get(podman.socket_path, "/_ping") == (200, b"OK")
    assert docker_client.ping()
    assert podman.env["DOCKER_HOST"] == podman.base_url
    info = docker_client.info()
    assert info["Driver"] == "vfs"
    assert info["DockerRootDir"].startswith(str(podman.root))


def test_build_push_and_read_back_a_scratch_image(registry: Registry, docker_client: Any, tmp_path: Path) -> None:
    context = scratch_context(tmp_path / "ctx", {"hello.txt": "hello\n"}, labels={"org.example.demo": "yes"})
    repository = f"{registry.host}/demo/app"
    image, _ = docker_client.images.build(path=str(context), tag=f"{repository}:1.0.0", rm=True)
    assert image.labels["org.example.demo"] == "yes"

    # Without credentials, or with the wrong ones, the push fails (inside the stream, not as an exception).
    for auth in (None, {"username": registry.user, "password": "wrong"}):
        digest, errors = push(docker_client, repository, "1.0.0", auth)
        assert digest is None
        assert errors and "unauthorized" in errors[0], errors

    digest, errors = push(docker_client, repository, "1.0.0", registry.auth_config)
    assert errors == []
    assert digest is not None

    head = registry.manifest("demo/app", "1.0.0", accept=[OCI_MANIFEST, DOCKER_MANIFEST], method="HEAD")
    assert head.status_code == 200
    got = registry.manifest("demo/app", "1.0.0", accept=[OCI_MANIFEST, DOCKER_MANIFEST])
    assert got.status_code == 200
    assert got.headers["Content-Type"] in (OCI_MANIFEST, DOCKER_MANIFEST)
    assert got.headers["Docker-Content-Digest"] == head.headers["Docker-Content-Digest"] == digest
    assert "sha256:" + hashlib.sha256(got.content).hexdigest() == digest
    assert registry.manifest("demo/app", digest).status_code == 200  # by digest as well as by tag

    manifest = got.json()
    assert manifest["config"]["digest"] == image.id  # the image id is its config's digest
    config_blob = registry.blob("demo/app", manifest["config"]["digest"])
    assert config_blob.status_code == 200
    assert json.loads(config_blob.content)["config"]["Labels"]["org.example.demo"] == "yes"
    assert len(manifest["layers"]) == 1

    tags = registry.get("/v2/demo/app/tags/list").json()
    assert tags == {"name": "demo/app", "tags": ["1.0.0"]}
    assert requests.get(f"{registry.url}/v2/demo/app/tags/list", timeout=5).status_code == 401


def test_a_busybox_run_step_builds(docker_client: Any, tmp_path: Path) -> None:
    # Builds only: release never runs containers, and attaching to one through Podman's API can hang
    # when another podman instance shares the host's runtime state.
    context = busybox_context(tmp_path / "ctx", script="/bin/busybox mkdir -p /out && echo built > /out/marker")
    image, logs = docker_client.images.build(path=str(context), tag="localhost/services-smoke/busybox:1", rm=True)
    assert any("RUN" in entry.get("stream", "") for entry in logs)
    assert len(image.attrs["RootFS"]["Layers"]) == 2  # the COPY of busybox, and what the RUN step wrote


def test_a_missing_binary_says_how_to_install_it() -> None:
    with pytest.raises(ServiceError, match=r"no-such-registry not found .*install-services\.sh"):
        require_binary("no-such-registry", "docker-registry", ["/nonexistent/no-such-registry"])
