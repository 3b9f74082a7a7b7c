"""kill -9 `release run` at every stage boundary and in the middle of every push, then rerun it.

The pipeline runs as users run it (`.venv/bin/release run`, a process group of its own) against the services of
tests/test_faults.py: the registry, the origin and the infra repo, each behind fault proxies, with two automatic
environments (dev, then prod). Two ways to die:

- at a stage boundary: RELEASE_TEST_CRASH_AT=<stage>:<before|after>, a hook in release/pipeline.py that kills the
  process with SIGKILL there (after the stage's State is saved and its line printed);
- in the middle of a push: the proxy stalls one request after a few bytes of its body, the test kills the process
  group once the stall is under way, then the proxy either cuts the held-back request (the push never lands) or
  lets it go on (the push lands after its client died).

After each kill, what the remotes and the State hold is consistent (nothing half-published, the State claims
nothing the remotes lack); the rerun, without a hook or a fault, completes; and then the registry has each image tag
once, all on the State's digest, the chart version once, origin one release tag (and no claim left), the infra repo
exactly one commit per environment. `pytest -s` prints the kills survived.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.faultproxy import Rule
from tests.services import Podman, Registry
from tests.test_faults import (
    CHART,
    IMAGE,
    RECEIVE,
    TOKEN,
    UPLOADS,
    USER,
    VERSION,
    Chain,
    World,
    assert_consistent,
    assert_published,
    build_world,
    engine,  # noqa: F401 - fixture: this module's own Podman, trusting the registry's proxy
    registry_chain,  # noqa: F401 - fixture
    unique_name,
)

RELEASE = str(Path(sys.executable).with_name("release"))
ENVIRONMENTS = ("dev", "prod")
STAGES = ("plan", "test", "images", "charts", "publish", "notes", "promote")
SURVIVED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    started = time.monotonic()
    yield
    if SURVIVED:
        print(f"\nkills survived: {len(SURVIVED)} ({time.monotonic() - started:.0f} s)")
        for point in SURVIVED:
            print(f"  {point}")


@pytest.fixture
def world(repo: Repo, tmp_path: Path, request: pytest.FixtureRequest, registry: Registry, registry_chain: Chain):  # type: ignore[no-untyped-def]  # noqa: F811
    name = "crash-" + unique_name(request)
    with build_world(repo, tmp_path, name, registry, registry_chain, ENVIRONMENTS) as built:
        yield built


@dataclass
class Pipeline:
    """`release run` in a process group of its own, its output in files."""

    world: World
    env: dict[str, str]
    logs: Path
    runs: int = 0

    def start(self, crash_at: str | None = None) -> subprocess.Popen[bytes]:
        self.runs += 1
        env = {**os.environ, **self.env}
        if crash_at:
            env["RELEASE_TEST_CRASH_AT"] = crash_at
        with (
            (self.logs / f"run-{self.runs}.out").open("wb") as out,
            (self.logs / f"run-{self.runs}.err").open("wb") as err,
        ):
            return subprocess.Popen(
                [RELEASE, "run"],
                cwd=self.world.repo.path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def err(self) -> str:
        return (self.logs / f"run-{self.runs}.err").read_text(errors="replace")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: git and other children too
        proc.wait(30)

    def rerun(self) -> None:
        proc = self.start()
        assert proc.wait(180) == 0, self.err()
        assert "Traceback" not in self.err()


@pytest.fixture
def pipeline(world: World, engine: Podman, registry: Registry, tmp_path: Path) -> Pipeline:  # noqa: F811
    env = {
        "DOCKER_HOST": engine.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
        "RELEASE_GIT_USER": USER,
        "RELEASE_GIT_TOKEN": TOKEN,
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    return Pipeline(world, env, logs)


def stage_lines(err: str) -> list[str]:
    return [line.split("]")[0][1:] for line in err.splitlines() if line.startswith("[")]


BOUNDARIES = [f"{stage}:{when}" for stage in STAGES for when in ("before", "after")]


@pytest.mark.parametrize("point", BOUNDARIES)
def test_kill_at_a_stage_boundary(world: World, pipeline: Pipeline, point: str) -> None:
    stage, when = point.split(":")
    proc = pipeline.start(crash_at=point)
    assert proc.wait(180) == -signal.SIGKILL, pipeline.err()
    done = stage_lines(pipeline.err())
    index = STAGES.index(stage)
    assert done == list(STAGES[: index + 1 if when == "after" else index]), pipeline.err()  # it died right there
    assert_consistent(world)
    pipeline.rerun()
    assert_published(world)
    SURVIVED.append(f"boundary {point}")


@dataclass(frozen=True)
class Push:
    where: str  # registry, origin or infra
    rule: Rule  # a stall long enough to be killed in


def stall(method: str, path: str, skip: int = 0) -> Rule:
    return Rule.stall(120, 10, body=True, method=method, path=path, skip=skip)


PUSHES = {
    # Podman's push of the image: a layer's upload, then the version tag's manifest (the last push of the stage)
    "image-layer": Push("registry", stall("PATCH", IMAGE)),
    "image-version-tag": Push("registry", stall("PUT", IMAGE[:-1] + VERSION)),
    # our OCI push of the chart: its config blob, then its manifest
    "chart-blob": Push("registry", stall("PUT", UPLOADS)),
    "chart-manifest": Push("registry", stall("PUT", CHART + "manifests/")),
    # origin: the claim on the release tag (before the images stage publishes), then the tag itself
    "claim": Push("origin", stall("POST", RECEIVE)),
    "release-tag": Push("origin", stall("POST", RECEIVE, skip=1)),
    # the infra repo: dev's commit, then prod's
    "promote-dev": Push("infra", stall("POST", RECEIVE)),
    "promote-prod": Push("infra", stall("POST", RECEIVE, skip=1)),
}


@pytest.mark.parametrize("then", ["cut", "lands"])
@pytest.mark.parametrize("push", list(PUSHES))
def test_kill_in_the_middle_of_a_push(world: World, pipeline: Pipeline, push: str, then: str) -> None:
    where = PUSHES[push]
    proxy = world.proxies[where.where].http
    proxy.add(dataclasses.replace(where.rule))
    proc = pipeline.start()
    try:
        assert proxy.stalled.wait(120), pipeline.err()
    finally:
        pipeline.kill(proc)
    # the held-back request is cut, or goes on to the service without its client
    proxy.release(reset=then == "cut")
    for proxies in world.proxies.values():
        assert proxies.http.wait_idle() and proxies.tcp.wait_idle()
    assert proxy.injected == {"stall request": 1}
    world.clear()
    assert_consistent(world)
    pipeline.rerun()
    assert_published(world)
    SURVIVED.append(f"mid-push {push} ({then})")
