"""Real Helm (v4, through helm-python-sdk) accepts what `release chart --publish` pushes."""

from __future__ import annotations

from tests import helm_oracle
from tests.charts.test_publish import chart_repo

MANIFEST = ["application/vnd.oci.image.manifest.v1+json"]


def publish(repo, release, registry, name: str) -> bytes:
    chart_repo(repo, registry, name=name, values='    values: {image.tag: "{version}"}\n')
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 0, result.err
    return (repo.path / f".release/charts/{name}-1.0.1.tgz").read_bytes()


def test_helm_pulls_loads_and_renders_our_chart(repo, release, registry, tmp_path):
    ours = publish(repo, release, registry, "helm-pull")
    with helm_oracle.registry_client(credentials_file=tmp_path / "creds.json") as client:
        helm_oracle.login(client, registry.host, registry.user, registry.password)
        pulled = helm_oracle.pull(
            client, f"oci://{registry.host}/charts/helm-pull", tmp_path / "pulled", version="1.0.1"
        )
    assert pulled.read_bytes() == ours
    loaded = helm_oracle.load(pulled)
    assert (loaded.metadata["name"], loaded.metadata["version"], loaded.metadata["appVersion"]) == (
        "helm-pull",
        "1.0.1",
        "1.0.1",
    )
    rendered = helm_oracle.render(pulled)
    deployment = next(text for path, text in rendered.items() if path.endswith("deployment.yaml"))
    assert 'image: "registry.example.com/team/app:1.0.1"' in deployment
    assert helm_oracle.lint_errors(helm_oracle.lint(pulled)) == []


def test_our_manifest_is_the_one_helm_push_writes(repo, release, registry, tmp_path):
    ours = publish(repo, release, registry, "helm-compare")
    archive = tmp_path / "helm-compare-1.0.1.tgz"
    archive.write_bytes(ours)
    with helm_oracle.registry_client(credentials_file=tmp_path / "creds.json") as client:
        helm_oracle.login(client, registry.host, registry.user, registry.password)
        helm_oracle.push(client, archive, f"oci://{registry.host}/helm-pushed")
    mine = registry.get("/v2/charts/helm-compare/manifests/1.0.1", accept=MANIFEST).json()
    theirs = registry.get("/v2/helm-pushed/helm-compare/manifests/1.0.1", accept=MANIFEST).json()
    assert mine["config"] == theirs["config"]  # same Chart.yaml JSON, byte for byte
    assert mine["layers"] == theirs["layers"]
    assert mine.get("mediaType") == theirs.get("mediaType")
    # helm stamps `created` with the time of the push; we use the commit time so a rerun is identical
    created = "org.opencontainers.image.created"
    assert {k: v for k, v in mine["annotations"].items() if k != created} == {
        k: v for k, v in theirs["annotations"].items() if k != created
    }
    assert set(mine["annotations"]) == set(theirs["annotations"])
