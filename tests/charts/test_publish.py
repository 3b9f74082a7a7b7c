"""`release chart [--publish]` on real temp repos, against the real loopback registry.

What we push is read back over the registry's HTTP API: media types, annotations, the layer byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.conftest import Repo

CHART_YAML = """\
# Chart de démonstration — commentaires en français conservés
apiVersion: v2
name: {name}
description: A demo chart
type: application
version: 0.0.1  # bumped by release
appVersion: "0.0.1"
home: https://example.com/demo
sources:
  - https://git.example.com/team/demo
maintainers:
  - name: Team Demo
    email: team@example.com
"""

VALUES_YAML = """\
# Valeurs par défaut
image:
  repository: registry.example.com/team/app  # remplacé à la publication
  tag: "0.0.0"
  pullPolicy: IfNotPresent
redis:
  image:
    tag: "7.2"  # not ours: must not change
secret: <path:secret/data/app#password>
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def chart_repo(repo: Repo, registry=None, name: str = "demo", values: str | None = None, extra: str = "") -> None:
    publish = f'    publish: ["oci://{registry.host}/charts"]\n' if registry else ""
    config = f"charts:\n  - path: charts/{name}\n{values or ''}{publish}{extra}"
    repo.write(f"charts/{name}/Chart.yaml", CHART_YAML.format(name=name))
    repo.write(f"charts/{name}/values.yaml", VALUES_YAML)
    repo.write(f"charts/{name}/templates/deployment.yaml", DEPLOYMENT)
    repo.write("release.yaml", config)
    repo.git("add", "-A")
    repo.commit("feat: chart")
    repo.tag("v1.0.0")
    repo.commit("fix: something")


def archive_files(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_package_bumps_in_memory_and_leaves_files_untouched(repo, release):
    chart_repo(repo, values='    values: {image.tag: "{version}"}\n')
    before = {p: (repo.path / "charts/demo" / p).read_bytes() for p in ("Chart.yaml", "values.yaml")}
    result = release(repo, "chart")
    assert result.code == 0, result.err
    archive = (repo.path / ".release/charts/demo-1.0.1.tgz").read_bytes()
    assert result.out.strip() == f"demo-1.0.1.tgz sha256:{hashlib.sha256(archive).hexdigest()}"
    files = archive_files(archive)
    chart_yaml = files["demo/Chart.yaml"].decode()
    # only the values' bytes changed: the comment and the rest of the line are still there
    assert "version: 1.0.1  # bumped by release" in chart_yaml
    assert 'appVersion: "1.0.1"' in chart_yaml
    assert "commentaires en français conservés" in chart_yaml
    values = files["demo/values.yaml"].decode()
    assert values == VALUES_YAML.replace('tag: "0.0.0"', 'tag: "1.0.1"')
    assert {p: (repo.path / "charts/demo" / p).read_bytes() for p in before} == before


def test_package_is_reproducible(repo, release):
    chart_repo(repo)
    assert release(repo, "chart").code == 0
    first = (repo.path / ".release/charts/demo-1.0.1.tgz").read_bytes()
    (repo.path / "charts/demo/templates/deployment.yaml").touch()  # new mtime, same content
    assert release(repo, "chart").code == 0
    assert (repo.path / ".release/charts/demo-1.0.1.tgz").read_bytes() == first


def test_publish_to_oci_with_helm_media_types(repo, release, registry):
    chart_repo(repo, registry, name="demo-oci", values='    values: {image.tag: "{version}"}\n')
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 0, result.err
    archive = (repo.path / ".release/charts/demo-oci-1.0.1.tgz").read_bytes()
    response = registry.get(
        "/v2/charts/demo-oci/manifests/1.0.1", accept=["application/vnd.oci.image.manifest.v1+json"]
    )
    assert response.status_code == 200
    manifest = response.json()
    digest = response.headers["Docker-Content-Digest"]
    assert result.out.strip() == f"oci://{registry.host}/charts/demo-oci:1.0.1@{digest}"
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    assert registry.get(f"/v2/charts/demo-oci/blobs/{layer['digest']}").content == archive
    config = registry.get(f"/v2/charts/demo-oci/blobs/{manifest['config']['digest']}").json()
    assert (config["name"], config["version"], config["appVersion"]) == ("demo-oci", "1.0.1", "1.0.1")
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.title"] == "demo-oci"
    assert notes["org.opencontainers.image.version"] == "1.0.1"
    assert notes["org.opencontainers.image.source"] == "https://git.example.com/team/demo"
    assert notes["org.opencontainers.image.authors"] == "Team Demo (team@example.com)"
    state = json.loads((repo.path / ".release/state.json").read_text())
    (chart,) = state["charts"]
    assert chart["archive_sha256"] == hashlib.sha256(archive).hexdigest()
    assert chart["digests"] == {f"oci://{registry.host}/charts/demo-oci:1.0.1": digest}


def test_republish_is_a_noop_and_other_bytes_are_refused(repo, release, registry):
    chart_repo(repo, registry, name="demo-rerun")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    assert release(repo, "chart", "--publish", env=env).code == 0
    blobs = sorted(p.name for p in registry.storage.rglob("data"))
    again = release(repo, "chart", "--publish", env=env)
    assert again.code == 0, again.err
    assert "skipped: already published" in again.err
    assert sorted(p.name for p in registry.storage.rglob("data")) == blobs
    repo.write("charts/demo-rerun/templates/extra.yaml", "kind: ConfigMap\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--no-edit")  # same version, other content
    repo.git("tag", "-d", "v1.0.1")  # as in another clone, which the first publish's tag did not reach
    refused = release(repo, "chart", "--publish", env=env)
    assert refused.code == 1
    last = refused.err.strip().splitlines()[-1]
    assert last.startswith("release: error: ") and "never overwritten" in last


def test_values_can_use_the_images_digest_from_the_state(repo, release):
    chart_repo(
        repo,
        values='    values: {image.repository: "{image.app.repository}", image.digest: "{image.app.digest}"}\n'
        "    create: true\n",
    )
    state = {
        "images": [
            {
                "name": "app",
                "repository": "r.example/team/app",
                "digest": "sha256:" + "b" * 64,
                "tags": ["1.0.1"],
                "refs": [],
                "revision": repo.head(),
            }
        ]
    }
    repo.write(".release/state.json", json.dumps(state))
    result = release(repo, "chart")
    assert result.code == 0, result.err
    values = archive_files((repo.path / ".release/charts/demo-1.0.1.tgz").read_bytes())["demo/values.yaml"].decode()
    assert "repository: r.example/team/app  # remplacé à la publication" in values
    assert "digest: sha256:" + "b" * 64 in values or f'digest: "sha256:{"b" * 64}"' in values


def test_values_naming_an_image_not_in_the_state(repo, release):
    chart_repo(repo, values='    values: {image.digest: "{image.app.digest}"}\n')
    result = release(repo, "chart")
    assert result.code == 1
    assert "{image.app.digest}" in result.err and "release build --push" in result.err


def test_missing_values_path_is_an_error_unless_create(repo, release):
    chart_repo(repo, values='    values: {image.registry: "x"}\n')
    result = release(repo, "chart")
    assert result.code == 1
    assert "image.registry" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("chart_yaml", "expected"),
    [
        ("apiVersion: v2\nname: demo\nversion: [\n", "Chart.yaml"),
        ("apiVersion: v2\nversion: 0.1.0\n", "name"),
    ],
)
def test_malformed_chart_yaml(repo, release, chart_yaml, expected):
    chart_repo(repo)
    repo.write("charts/demo/Chart.yaml", chart_yaml)
    repo.git("commit", "-qam", "fix: break the chart")
    result = release(repo, "chart")
    assert result.code == 1
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_non_semver_chart_version(repo, release):
    chart_repo(repo, extra='    version: "v{major}"\n')
    result = release(repo, "chart")
    assert result.code == 1
    assert "v1" in result.err


def test_go_template_values_file_is_refused_and_untouched(repo, release):
    chart_repo(repo, values='    values: {image.tag: "{version}"}\n')
    template = "{{ if .Values.x }}\nimage:\n  tag: 1\n{{ end }}\n"
    repo.write("charts/demo/values.yaml", template)
    repo.git("commit", "-qam", "fix: templated values")
    result = release(repo, "chart")
    assert result.code == 1
    assert "values.yaml" in result.err
    assert (repo.path / "charts/demo/values.yaml").read_text() == template


def test_registry_auth_failure_publishes_nothing(repo, release, registry):
    chart_repo(repo, registry, name="demo-auth")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": "not-the-password"}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 1
    assert "rejected the credentials" in result.err and "not-the-password" not in result.err
    assert registry.get("/v2/charts/demo-auth/tags/list").status_code == 404


def test_unsupported_publish_target_is_a_config_error(repo, release):
    chart_repo(repo, extra='    publish: ["s3://bucket/charts"]\n')
    result = release(repo, "chart")
    assert result.code == 1
    assert "release.yaml" in result.err and "s3://bucket/charts" in result.err


# --- published alone: the version is reserved and tagged as `release run` does -------------------------------


def with_origin(repo: Repo, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    return origin


def on_origin(origin: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=origin, check=True, capture_output=True, text=True).stdout.strip()


def test_a_chart_published_alone_is_tagged_so_the_next_commits_release_goes_on(repo, release, registry, tmp_path):
    chart_repo(repo, registry, name="demo-alone")
    origin = with_origin(repo, tmp_path)
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    alone = release(repo, "chart", "--publish", env=env)
    assert alone.code == 0, alone.err
    assert registry.manifest("charts/demo-alone", "1.0.1").status_code == 200
    assert on_origin(origin, "rev-parse", "v1.0.1^{commit}") == repo.head()  # tagged, and pushed
    assert "pushed v1.0.1" in alone.err
    assert on_origin(origin, "for-each-ref", "refs/release-claims") == ""  # the claim is dropped
    # Another change of the chart, released by the pipeline on the next commit: the next version, not 1.0.1 again.
    repo.commit("fix: probe", {"charts/demo-alone/templates/extra.yaml": "kind: ConfigMap\n"})
    repo.git("push", "-q", "origin", "main")
    run = release(repo, "run", env=env)
    assert run.code == 0, run.err
    assert "already published with other content" not in run.err
    assert run.out == "1.0.2\n"
    assert on_origin(origin, "rev-parse", "v1.0.2^{commit}") == repo.head()
    # Rerun alone on the released commit: everything is there, nothing moves.
    again = release(repo, "chart", "--publish", env=env)
    assert again.code == 0, again.err
    assert "skipped: already published" in again.err and "v1.0.2 already published" in again.err


def test_a_dry_run_publish_alone_tags_nothing(repo, release, registry):
    chart_repo(repo, registry, name="demo-alone-dry")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    result = release(repo, "chart", "--publish", "--dry-run", env=env)
    assert result.code == 0, result.err
    assert "would tag" in result.err
    assert repo.git("tag", "--points-at", "HEAD") == ""
    assert registry.manifest("charts/demo-alone-dry", "1.0.1").status_code == 404


def test_a_chart_that_fails_its_checks_alone_is_neither_published_nor_tagged(repo, release, registry):
    chart_repo(repo, registry, name="demo-alone-bad", values='    values: {image.digest: "{image.nope.digest}"}\n')
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 1
    assert repo.git("tag", "--points-at", "HEAD") == ""
