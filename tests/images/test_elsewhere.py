"""Images built by another job (`build: elsewhere`, or a job without an engine: RELEASE_ENGINE=none).

The other job is played by Podman's API building a FROM scratch image and pushing it to the real registry, as a
kaniko or buildah job would; release never talks to an engine (DOCKER_HOST points nowhere) and must wait for the
tag, check its revision label and record the digest the registry serves.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from release.adapters.credentials import Credentials
from release.adapters.registry import Registry as RegistryClient
from release.config import ImageConfig
from release.errors import ReleaseError
from release.images import elsewhere
from release.naming.imageref import Repository
from tests.conftest import Repo
from tests.images.test_publish import manifest, tags_of
from tests.services import scratch_context

REVISION = "org.opencontainers.image.revision"
NO_ENGINE = "unix:///nonexistent/docker.sock"


def app(repo: Repo, registry: Any, name: str, extra: str = "    build: elsewhere\n    wait: 30\n") -> str:
    repository = f"{registry.host}/elsewhere/{name}"
    scratch_context(repo.path / "image", {"hello.txt": f"hello from {name}\n"})
    repo.write("release.yaml", f"images:\n  - name: {name}\n    repository: {repository}\n    context: image\n{extra}")
    repo.git("add", "-A")
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("fix: second")
    return repository


def other_job_pushes(podman: Any, registry: Any, repo: Repo, ref: str, revision: str) -> None:
    """What a kaniko job does: build the context with the revision label, push one tag to the registry."""
    client = podman.docker_client()
    try:
        client.images.build(path=str(repo.path / "image"), tag=ref, labels={REVISION: revision}, rm=True)
        name, tag = ref.rsplit(":", 1)
        for line in client.images.push(name, tag, auth_config=registry.auth_config, stream=True, decode=True):
            assert "error" not in line, line
    finally:
        client.close()


@pytest.fixture
def env(registry: Any) -> dict[str, str]:
    return {
        "DOCKER_HOST": NO_ENGINE,  # release must not need an engine for these images
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
    }


def state(repo: Repo) -> dict[str, Any]:
    return dict(json.loads((repo.path / ".release/state.json").read_text()))


def test_waits_for_the_tag_another_job_pushes_and_records_its_digest(repo, release, registry, podman, env):
    repository = app(repo, registry, "waited")
    pusher = threading.Timer(3, other_job_pushes, (podman, registry, repo, f"{repository}:1.0.1", repo.head()))
    started = time.monotonic()
    pusher.start()
    try:
        result = release(repo, "build", "--push", env=env)
    finally:
        pusher.join()
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 3  # it waited for the push rather than failing or building
    digest = manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"]
    assert f"{repository}@{digest}" in result.out
    assert f"waiting up to 30s for {repository}:1.0.1, built by another job (build: elsewhere)" in result.err
    (image,) = state(repo)["images"]
    assert image == {
        "name": "waited",
        "repository": repository,
        "tags": ["1.0.1"],
        "refs": [f"{repository}:1.0.1"],
        "digest": digest,
        "revision": repo.head(),
    }
    assert tags_of(registry, repository) == ["1.0.1"]  # release pushed nothing of its own


def test_engine_none_waits_for_every_image_and_the_stage_records_it(repo, release, registry, podman, env):
    """RELEASE_ENGINE=none (the GitLab component's `engine: none`): images without `build: elsewhere` are waited for
    too, through the images stage of `release run`."""
    repository = app(repo, registry, "no-engine", extra="")
    other_job_pushes(podman, registry, repo, f"{repository}:1.0.1", repo.head())
    assert release(repo, "run", "--only", "plan", env=env).code == 0
    result = release(repo, "run", "--only", "images", env={**env, "RELEASE_ENGINE": "none"})
    assert result.code == 0, result.err
    assert "built by another job (RELEASE_ENGINE=none)" in result.err
    digest = manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"]
    assert state(repo)["images"][0]["digest"] == digest


def test_missing_after_the_wait_is_one_line_and_publishes_nothing(repo, release, registry, env):
    repository = app(repo, registry, "missing", extra="    build: elsewhere\n    wait: 2\n")
    started = time.monotonic()
    result = release(repo, "run", env=env)
    assert result.code == 1
    assert 2 <= time.monotonic() - started < 30
    errors = [line for line in result.err.splitlines() if "error:" in line]
    assert len(errors) == 1, result.err
    assert errors[0].startswith(
        f"release: error: image missing: {repository}:1.0.1 is not in the registry after waiting 2s "
        "(build: elsewhere); nothing was published"
    ), result.err
    assert "or raise images[].wait" in result.err
    assert tags_of(registry, repository) == []
    assert repo.git("tag", "-l") == "v1.0.0"  # no release tag


def test_an_image_from_another_commit_is_refused(repo, release, registry, podman, env):
    repository = app(repo, registry, "stale")
    previous = repo.git("rev-parse", "HEAD~1")
    other_job_pushes(podman, registry, repo, f"{repository}:1.0.1", previous)
    result = release(repo, "run", env=env)
    assert result.code == 1
    assert (
        f"release: error: image stale: {repository}:1.0.1 was built from commit {previous[:12]}, "
        f"not {repo.head()[:12]} (build: elsewhere); nothing was published"
    ) in result.err
    assert repo.git("tag", "-l") == "v1.0.0"
    assert not (repo.path / ".release/state.json").exists() or not state(repo).get("images")


def test_build_without_push_says_the_image_is_another_jobs(repo, release, registry, env):
    app(repo, registry, "local")
    result = release(repo, "build", env=env)
    assert result.code == 0, result.err
    assert "skipped local: built by another job (build: elsewhere); --push waits for it" in result.err


def test_dry_run_says_it_would_wait(repo, release, registry, env):
    repository = app(repo, registry, "dry")
    result = release(repo, "build", "--push", "--dry-run", env=env)
    assert result.code == 0, result.err
    assert f"would wait for {repository}:1.0.1 (built by another job) and check its revision" in result.out + result.err
    assert tags_of(registry, repository) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    build: kaniko\n", "'images[0].build' is 'kaniko'; it must be one of release | elsewhere"),
        ("    build: elsewhere\n    wait: 0\n", "'images[0].wait': 0 is not a number of seconds above 0"),
    ],
)
def test_wrong_build_settings_are_config_errors(repo, release, registry, env, extra, message):
    app(repo, registry, "bad", extra=extra)
    result = release(repo, "build", "--push", env=env)
    assert result.code == 1
    assert message in result.err


def test_the_wait_is_bounded_and_says_where_it_is_every_few_seconds(registry):
    """The polling loop against the real registry (the tag never comes), on a clock that moves 2 s per poll."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    repo = Repository.parse(f"{registry.host}/elsewhere/never")
    client = RegistryClient(repo, Credentials(registry.user, registry.password))
    image = ImageConfig(name="never", repository=repo.name, build="elsewhere", wait=21)
    lines: list[str] = []
    with pytest.raises(ReleaseError) as err:
        elsewhere.wait_for(image, client, f"{repo.name}:1.0.0", "1.0.0", "a" * 40, lines.append,
                           clock=lambda: now[0], sleep=sleep)  # fmt: skip
    assert "is not in the registry after waiting 21s" in err.value.message
    assert now[0] - 100.0 >= 21 and sum(slept) <= 21.5  # bounded: it stops once the wait is over
    assert lines[0] == f"waiting up to 21s for {repo.name}:1.0.0, built by another job (build: elsewhere)"
    assert [line.split(": ")[1] for line in lines[1:]] == ["6s of 21s", "12s of 21s", "18s of 21s"]
