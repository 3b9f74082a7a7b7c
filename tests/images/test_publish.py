"""`release build --push` against a real CNCF registry (htpasswd) and Podman's Docker API, both on loopback.

Everything is checked through the registry's own HTTP API: the tags, the manifest digest, the labels.
"""

from __future__ import annotations

import json
import re

from tests.conftest import Repo
from tests.services import busybox_context, scratch_context

MANIFEST_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]


def app_repo(repo: Repo, registry, name: str, tags: str | None = None, context: str = "scratch") -> str:
    """A released app (v1.0.0) with one fix on top, an image in release.yaml; returns the repository."""
    repository = f"{registry.host}/test/{name}"
    if context == "scratch":
        scratch_context(repo.path, {"hello.txt": f"hello from {name}\n"})
    else:
        busybox_context(repo.path, script=context)
    config = f"images:\n  - name: {name}\n    repository: {repository}\n"
    if tags:
        config += f"    tags: {tags}\n"
    repo.write("release.yaml", config)
    repo.git("add", "-A")
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("fix: second")
    return repository


def tags_of(registry, repository: str) -> list[str]:
    path = repository.split("/", 1)[1]
    response = registry.get(f"/v2/{path}/tags/list")
    return sorted(response.json().get("tags") or []) if response.status_code == 200 else []


def manifest(registry, repository: str, tag: str):
    path = repository.split("/", 1)[1]
    return registry.get(f"/v2/{path}/manifests/{tag}", accept=MANIFEST_TYPES)


def labels(registry, repository: str, tag: str) -> dict[str, str]:
    path = repository.split("/", 1)[1]
    config_digest = manifest(registry, repository, tag).json()["config"]["digest"]
    return registry.get(f"/v2/{path}/blobs/{config_digest}").json()["config"]["Labels"]


def state(repo: Repo) -> dict:
    return json.loads((repo.path / ".release/state.json").read_text())


def test_build_push_records_digest_and_every_tag(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-push")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    short = repo.head()[:7]
    assert tags_of(registry, repository) == sorted(["1.0.1", "1.0", "1", f"sha-{short}"])
    digests = {
        t: manifest(registry, repository, t).headers["Docker-Content-Digest"] for t in tags_of(registry, repository)
    }
    assert len(set(digests.values())) == 1
    digest = digests["1.0.1"]
    assert result.out.strip() == f"{repository}@{digest}"
    recorded = state(repo)
    assert (recorded["version"], recorded["tag"], recorded["sha"]) == ("1.0.1", "v1.0.1", repo.head())
    image = recorded["images"][0]
    assert (image["name"], image["digest"], image["revision"]) == ("app-push", digest, repo.head())
    assert sorted(image["refs"]) == sorted(f"{repository}:{t}" for t in digests)
    got = labels(registry, repository, "1.0.1")
    assert got["org.opencontainers.image.revision"] == repo.head()
    assert got["org.opencontainers.image.version"] == "1.0.1"
    assert got["org.opencontainers.image.title"] == "app-push"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["org.opencontainers.image.created"])
    # progress is streamed, a line per step and per layer
    assert "STEP" in result.err.upper() and "pushing" in result.err
    # pushed alone (not by `release run`), the version is still tagged: never published untagged
    assert repo.git("tag", "--points-at", "HEAD") == "v1.0.1"
    assert "tagged" in result.err and "v1.0.1" in result.err


def test_rerun_skips_without_building_or_uploading(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-rerun")
    assert release(repo, "build", "--push", env=engine_env).code == 0
    blobs = sorted(p.name for p in registry.storage.rglob("*") if p.parent.name == "blobs" or "sha256" in str(p))
    # no engine at all: a rerun that needed to build or push would fail
    rerun_env = {**engine_env, "DOCKER_HOST": "unix:///nonexistent/engine.sock"}
    result = release(repo, "build", "--push", env=rerun_env)
    assert result.code == 0, result.err
    assert f"skipped: already published {repository}:1.0.1" in result.err
    assert (
        sorted(p.name for p in registry.storage.rglob("*") if p.parent.name == "blobs" or "sha256" in str(p)) == blobs
    )
    assert (
        state(repo)["images"][0]["digest"] == manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"]
    )


def test_a_published_version_from_another_commit_is_never_overwritten(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-immutable")
    assert release(repo, "build", "--push", env=engine_env).code == 0
    first = manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"]
    repo.git("commit", "-q", "--amend", "-m", "fix: second, reworded")  # same version, another commit
    repo.git("tag", "-d", "v1.0.1")  # as in another clone, which the first push's tag did not reach
    (repo.path / "hello.txt").write_text("changed\n")
    repo.git("commit", "-q", "-am", "chore: change the content")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "already published" in result.err and "never overwritten" in result.err and "--force" in result.err
    assert manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"] == first
    forced = release(repo, "build", "--push", "--force", env=engine_env)
    assert forced.code == 0, forced.err
    assert manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"] != first


def test_prerelease_pushes_no_floating_tags(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-rc")
    result = release(repo, "build", "--push", "--branch", "next", env=engine_env)
    assert result.code == 0, result.err
    assert tags_of(registry, repository) == sorted(["1.0.1-rc.1", f"sha-{repo.head()[:7]}"])


def test_run_steps_build_with_busybox(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-run", context="/bin/busybox echo built > /built.txt")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    assert "1.0.1" in tags_of(registry, repository)


def test_build_failure_shows_the_step_and_pushes_nothing(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-fails", context="echo about to fail; /bin/busybox false")
    before = (repo.path / ".release/state.json").exists()
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error: build of") and "RUN" in last
    assert "about to fail" in result.err  # the failing step's own output was shown
    assert tags_of(registry, repository) == []
    assert (repo.path / ".release/state.json").exists() == before


def test_one_bad_image_stops_all_before_anything_is_pushed(repo, release, registry, engine_env):
    good = app_repo(repo, registry, "app-good")
    busybox_context(repo.path / "bad", script="/bin/busybox false")
    bad = f"{registry.host}/test/app-bad"
    config = (repo.path / "release.yaml").read_text() + f"  - name: bad\n    repository: {bad}\n    context: bad\n"
    repo.commit("chore: second image", {"release.yaml": config})
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 1
    assert tags_of(registry, good) == [] and tags_of(registry, bad) == []


def test_missing_dockerfile(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-nodockerfile")
    repo.git("rm", "-q", "Dockerfile")
    repo.commit("chore: drop dockerfile")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "release: error: image app-nodockerfile: no Dockerfile in . "
        "(hint: add it, or point images[].dockerfile at the right file)"
    ]
    assert tags_of(registry, repository) == []


def test_wrong_registry_password_fails_before_building(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-badpw")
    env = {**engine_env, "RELEASE_REGISTRY_PASSWORD": "wrong-canary-pw", "DOCKER_HOST": "unix:///nonexistent.sock"}
    result = release(repo, "build", "--push", env=env)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "rejected the credentials" in result.err
    assert "wrong-canary-pw" not in result.err
    assert tags_of(registry, repository) == []
    assert not (repo.path / ".release/state.json").exists()


def test_unreachable_engine_names_what_was_tried(repo, release, registry, engine_env):
    app_repo(repo, registry, "app-noengine")
    result = release(repo, "build", "--push", env={**engine_env, "DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.code == 1
    tried = "tried DOCKER_HOST=unix:///nonexistent/docker.sock (no such socket /nonexistent/docker.sock)"
    assert f"no container engine answered; {tried}" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_unknown_tag_template_field_is_a_config_error(repo, release, registry, engine_env):
    app_repo(repo, registry, "app-badtag", tags='["{version}", "{nope}"]')
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 1
    assert re.match(r"release: error: .*release.yaml:\d+: 'images\[0\]\.tags'.*\{nope\}", result.err)


def test_dry_run_pushes_nothing(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-dry")
    result = release(repo, "build", "--push", "--dry-run", env=engine_env)
    assert result.code == 0, result.err
    assert f"would build app-dry and push {repository}:1.0.1" in result.err
    assert tags_of(registry, repository) == []


def test_build_without_push_builds_locally_only(repo, release, registry, engine_env, podman):
    repository = app_repo(repo, registry, "app-local")
    result = release(repo, "build", env=engine_env)
    assert result.code == 0, result.err
    assert tags_of(registry, repository) == []
    listed = podman.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert f"{repository}:1.0.1" in listed


def test_nothing_to_release_builds_nothing(repo, release, registry, engine_env):
    repository = app_repo(repo, registry, "app-idle")
    repo.commit("docs: only docs")
    repo.tag("v1.0.1")  # HEAD is... a tag pipeline would build; move HEAD past it with a docs commit
    repo.commit("docs: more docs")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0
    assert "nothing to release" in result.err
    assert tags_of(registry, repository) == []


def test_docker_auth_config_is_used(repo, release, registry, podman):
    import base64

    repository = app_repo(repo, registry, "app-authconfig")
    token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    env = {
        "DOCKER_HOST": podman.base_url,
        "DOCKER_AUTH_CONFIG": json.dumps({"auths": {registry.host: {"auth": token}}}),
    }
    result = release(repo, "build", "--push", env=env)
    assert result.code == 0, result.err
    assert "1.0.1" in tags_of(registry, repository)
