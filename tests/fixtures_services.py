"""pytest fixtures for the real services in tests/services.py (load with `pytest_plugins` in conftest.py).

Session-scoped: one registry and one podman service for the whole run, each with its state in a session temp dir,
both stopped (process groups killed) at the end of the session. Tests keep apart by using distinct repository
names (e.g. the test's name) rather than by restarting services.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.services import Podman, Registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """CNCF Distribution on 127.0.0.1:<random port> with htpasswd auth (registry.user / registry.password)."""
    with Registry.start(tmp_path_factory.mktemp("registry")) as service:
        yield service


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Podman]:
    """Podman's Docker-compatible API on a unix socket; trusts the session registry as plain HTTP."""
    with Podman.start(tmp_path_factory.mktemp("podman"), insecure_registries=[registry.host]) as service:
        yield service


@pytest.fixture(scope="session")
def docker_client(podman: Podman) -> Iterator[Any]:
    """A docker SDK client (docker.DockerClient) talking to the session podman service."""
    client = podman.docker_client()
    try:
        yield client
    finally:
        client.close()
