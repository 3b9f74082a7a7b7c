"""What the image tests share: the environment `release` builds with Podman and pushes to the loopback registry."""

from __future__ import annotations

import pytest


@pytest.fixture
def engine_env(podman, registry):  # type: ignore[no-untyped-def]
    return {
        "DOCKER_HOST": podman.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
    }
