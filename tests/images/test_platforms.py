"""`images[].platforms`: one build per platform through Podman's Docker API, each pushed by digest, one OCI image
index under every tag. Read back with skopeo (the oracle: it is not our code), and pulled by Podman itself."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.services import scratch_context
from tests.skopeo import authfile_for, skopeo

PLATFORMS = ["linux/amd64", "linux/arm64"]


@pytest.fixture
def authfile(tmp_path: Path, registry) -> Path:
    return authfile_for(registry, tmp_path)


def raw(authfile: Path, ref: str) -> dict:
    return json.loads(skopeo(authfile, "inspect", "--raw", f"docker://{ref}"))


def multi_repo(repo: Repo, registry, name: str, platforms: list[str] = PLATFORMS, dockerfile: str | None = None) -> str:
    repository = f"{registry.host}/test/{name}"
    scratch_context(repo.path, {"hello.txt": f"hello from {name}\n", "etc/app.conf": "answer = 42\n"})
    if dockerfile is not None:
        repo.write("Dockerfile", dockerfile)
    listed = ", ".join(platforms)
    repo.write("release.yaml", f"images:\n  - name: {name}\n    repository: {repository}\n    platforms: [{listed}]\n")
    repo.git("add", "-A")
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("fix: second")
    return repository


def state(repo: Repo) -> dict:
    return json.loads((repo.path / ".release/state.json").read_text())


def test_two_platforms_one_index_under_every_tag(repo, release, registry, engine_env, authfile, podman):
    repository = multi_repo(repo, registry, "multi-push")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    index = raw(authfile, f"{repository}:1.0.1")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    by_platform = {f"{m['platform']['os']}/{m['platform']['architecture']}": m for m in index["manifests"]}
    assert sorted(by_platform) == sorted(PLATFORMS)
    index_digest = json.loads(skopeo(authfile, "inspect", f"docker://{repository}:1.0.1"))["Digest"]
    short = repo.head()[:7]
    tags = json.loads(skopeo(authfile, "list-tags", f"docker://{repository}"))["Tags"]
    assert sorted(tags) == sorted(["1.0.1", "1.0", "1", f"sha-{short}"])
    for tag in tags:  # every tag is the same index
        assert raw(authfile, f"{repository}:{tag}") == index
    for platform, entry in by_platform.items():
        manifest = raw(authfile, f"{repository}@{entry['digest']}")
        assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        config = json.loads(
            skopeo(authfile, "inspect", "--config", "--raw", f"docker://{repository}@{entry['digest']}")
        )
        # Podman's cache would have handed back the amd64 image for the identical arm64 build
        assert f"{config['os']}/{config['architecture']}" == platform
        assert config["config"]["Labels"]["org.opencontainers.image.revision"] == repo.head()
    configs = {p: raw(authfile, f"{repository}@{e['digest']}")["config"]["digest"] for p, e in by_platform.items()}
    assert len(set(configs.values())) == 2
    recorded = state(repo)["images"][0]
    assert recorded["digest"] == index_digest
    assert {p["platform"]: p["digest"] for p in recorded["platforms"]} == {
        p: e["digest"] for p, e in by_platform.items()
    }
    assert result.out.strip() == f"{repository}@{index_digest}"
    # the version tag went last: the registry's access log has every tag's PUT, 1.0.1 after the others
    log = (registry.root / "registry.log").read_text()
    puts = re.findall(r'"PUT /v2/test/multi-push/manifests/([^ "]+) ', log)
    assert puts[-1] == "1.0.1" and set(puts[-4:]) == set(tags), puts
    # Podman itself pulls the arm64 image back (it checks every layer against the config's diff_ids)
    pulled = podman.cli(
        "pull",
        "--tls-verify=false",
        "--authfile",
        str(authfile),
        "--platform",
        "linux/arm64",
        f"{repository}:1.0.1",
    )
    image_id = pulled.stdout.strip().splitlines()[-1]
    inspected = json.loads(podman.cli("image", "inspect", image_id).stdout)[0]
    assert inspected["Architecture"] == "arm64"


def test_rerun_compares_the_index_and_needs_no_engine(repo, release, registry, engine_env, authfile):
    repository = multi_repo(repo, registry, "multi-rerun")
    assert release(repo, "build", "--push", env=engine_env).code == 0
    before = raw(authfile, f"{repository}:1.0.1")
    result = release(repo, "build", "--push", env={**engine_env, "DOCKER_HOST": "unix:///nonexistent/engine.sock"})
    assert result.code == 0, result.err
    assert f"skipped: already published {repository}:1.0.1" in result.err
    assert raw(authfile, f"{repository}:1.0.1") == before
    assert sorted(p["platform"] for p in state(repo)["images"][0]["platforms"]) == sorted(PLATFORMS)


def test_other_platforms_for_a_released_version_are_refused(repo, release, registry, engine_env, authfile):
    repository = multi_repo(repo, registry, "multi-changed")
    assert release(repo, "build", "--push", env=engine_env).code == 0
    before = raw(authfile, f"{repository}:1.0.1")
    config = (repo.path / "release.yaml").read_text().replace("linux/arm64]", "linux/arm64, linux/s390x]")
    (repo.path / "release.yaml").write_text(config)
    result = release(repo, "build", "--push", "--allow-dirty", env=engine_env)
    assert_one_line_error(result, "already published from this commit with linux/amd64, linux/arm64", "--force")
    assert raw(authfile, f"{repository}:1.0.1") == before


def _elf(machine: int, code: bytes) -> bytes:
    """A static ELF64 executable of one segment: the smallest program the kernel runs."""
    entry = 0x400000 + 64 + 56
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    total = 64 + 56 + len(code)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, total, total, 0x1000)
    return header + program + code


def test_a_platform_needing_emulation_fails_in_one_line(repo, release, registry, engine_env, authfile):
    # each platform runs its own architecture's program in a RUN step, as a Debian base image's shell would
    amd64 = _elf(62, b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05")  # exit(0)
    arm64 = _elf(183, struct.pack("<III", 0xD2800000, 0xD2800BA8, 0xD4000001))  # exit(0)
    for arch, program in (("amd64", amd64), ("arm64", arm64)):
        (repo.path / f"hello-{arch}").write_bytes(program)
        (repo.path / f"hello-{arch}").chmod(0o755)
    dockerfile = 'FROM scratch\nARG TARGETARCH\nCOPY hello-${TARGETARCH} /hello\nRUN ["/hello"]\n'
    repository = multi_repo(repo, registry, "multi-emulation", dockerfile=dockerfile)
    result = release(repo, "build", "--push", env=engine_env)
    last = result.err.strip().splitlines()[-1]
    assert result.code == 1, result.err
    assert last.startswith("release: error: image multi-emulation: platform linux/arm64 needs emulation"), last
    assert "qemu-user-static" in last
    assert (
        subprocess.run(
            ["skopeo", "list-tags", "--tls-verify=false", "--authfile", str(authfile), f"docker://{repository}"],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    )  # nothing pushed: the repository does not exist
    assert not (repo.path / ".release/state.json").exists() or not state(repo).get("images")


def test_platforms_without_push_build_each_locally(repo, release, registry, engine_env, podman):
    repository = multi_repo(repo, registry, "multi-local")
    result = release(repo, "build", env=engine_env)
    assert result.code == 0, result.err
    listed = podman.cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    for platform in PLATFORMS:
        tag = f"{repository}:1.0.1-{platform.replace('/', '-')}"
        assert tag in listed
        inspected = json.loads(podman.cli("image", "inspect", tag).stdout)[0]
        assert f"{inspected['Os']}/{inspected['Architecture']}" == platform


@pytest.mark.parametrize("bad", ["linux", "linux/arm64/v8/x", "Linux/AMD64", "linux/amd64, linux/amd64"])
def test_bad_platform_is_a_config_error(repo, release, registry, engine_env, bad):
    repository = f"{registry.host}/test/multi-bad"
    scratch_context(repo.path)
    repo.write("release.yaml", f"images:\n  - name: bad\n    repository: {repository}\n    platforms: [{bad}]\n")
    repo.git("add", "-A")
    repo.commit("feat: first")
    result = release(repo, "build", "--push", env=engine_env)
    assert_one_line_error(result, "platforms")
