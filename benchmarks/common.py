"""What the benchmarks share: the loopback registry and Podman with the environment release needs, and timers."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import Podman, Registry


@contextmanager
def engine_and_registry(root: Path) -> Iterator[tuple[Registry, Podman, dict[str, str]]]:
    """The CNCF registry and Podman's API on loopback, and the environment `release` pushes to them with."""
    with (
        Registry.start(root / "registry") as registry,
        Podman.start(root / "podman", insecure_registries=[registry.host]) as podman,
    ):
        env = {
            **os.environ,
            "DOCKER_HOST": podman.base_url,
            "RELEASE_REGISTRY_USER": registry.user,
            "RELEASE_REGISTRY_PASSWORD": registry.password,
        }
        yield registry, podman, env


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def startup(release_bin: str, reps: int = 3) -> float:
    """The median time of `release --version`: interpreter and CLI start-up, included in every run of release."""
    times = sorted(
        timed(lambda: subprocess.run([release_bin, "--version"], check=True, capture_output=True)) for _ in range(reps)
    )
    return times[len(times) // 2]
