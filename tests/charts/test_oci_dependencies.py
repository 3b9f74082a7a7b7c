"""Umbrella charts whose dependencies live in an authenticated OCI registry (the Harbor case)."""

from __future__ import annotations

import tarfile

import pytest
import semver

from release.charts import package as chartpkg
from release.charts.ranges import parse
from tests.charts.test_publish import chart_repo


def publish_dep(registry, tmp_path, version: str) -> None:
    """Push chart `dep` at `version` to oci://<registry>/deps with our own release tool's code path."""
    from release.adapters.credentials import Credentials
    from release.adapters.registry import Registry
    from release.charts import oci as chartoci
    from release.naming.imageref import Repository

    src = tmp_path / f"dep-{version}"
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: dep\nversion: {version}\n")
    (src / "templates/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dep\n")
    meta, archive = chartpkg.package(src, mtime=0)
    client = Registry(Repository.parse(f"{registry.host}/deps/dep"), Credentials(registry.user, registry.password))
    config = chartpkg.chart_json(meta)
    client.upload_blob(config)
    client.upload_blob(archive)
    body = chartoci.manifest(config, archive, chartoci.oci_annotations(meta.raw, "2026-01-01T00:00:00Z"))
    client.put_manifest(chartoci.oci_tag(version), body, chartoci.MANIFEST_MEDIA_TYPE)


def umbrella(repo, registry, constraint: str, lock: str | None = None) -> None:
    chart_repo(repo)
    chart_yaml = (repo.path / "charts/demo/Chart.yaml").read_text()
    chart_yaml += (
        f'dependencies:\n  - name: dep\n    version: "{constraint}"\n    repository: oci://{registry.host}/deps\n'
    )
    repo.write("charts/demo/Chart.yaml", chart_yaml)
    if lock:
        repo.write(
            "charts/demo/Chart.lock",
            f"dependencies:\n- name: dep\n  repository: oci://{registry.host}/deps\n  version: {lock}\n",
        )
    repo.git("add", "-A")
    repo.git("commit", "-qm", "fix: umbrella")


@pytest.fixture(scope="module")
def deps_published(registry, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deps")
    for version in ("0.1.0", "0.4.2", "1.0.0", "0.5.0-rc.1"):
        publish_dep(registry, tmp, version)


def members(path) -> list[str]:
    with tarfile.open(path, "r:gz") as tar:
        return [m.name for m in tar.getmembers()]


def creds(registry) -> dict[str, str]:
    return {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}


def test_a_range_resolves_to_the_newest_match_with_our_credentials(repo, release, registry, deps_published):
    umbrella(repo, registry, ">=0.0.0 <1.0.0")
    result = release(repo, "chart", env=creds(registry))
    assert result.code == 0, result.err
    assert "demo/charts/dep-0.4.2.tgz" in members(repo.path / ".release/charts/demo-1.0.1.tgz")
    assert not (repo.path / "charts/demo/charts").exists()  # fetched into a copy


def test_chart_lock_is_respected(repo, release, registry, deps_published):
    umbrella(repo, registry, ">=0.0.0 <1.0.0", lock="0.1.0")
    result = release(repo, "chart", env=creds(registry))
    assert result.code == 0, result.err
    assert "demo/charts/dep-0.1.0.tgz" in members(repo.path / ".release/charts/demo-1.0.1.tgz")


def test_no_matching_version_is_a_clear_error(repo, release, registry, deps_published):
    umbrella(repo, registry, ">=2.0.0")
    result = release(repo, "chart", env=creds(registry))
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "no version in oci://" in last and ">=2.0.0" in last and "1.0.0" in last


def test_without_credentials_the_registry_refusal_is_clear(repo, release, registry, deps_published):
    umbrella(repo, registry, "^0.4")
    result = release(repo, "chart")
    assert result.code == 1
    assert "needs credentials" in result.err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (">=0.0.0 <1.0.0", "0.9.0"),
        ("^1.2", "1.9.0"),
        ("~1.2.3", "1.2.9"),
        ("1.x", "1.9.0"),
        ("*", "2.0.0"),
        ("1.2 - 1.2.5", "1.2.3"),
        (">=1.2.6-0 <1.3", "1.2.9"),
        ("<1.0.0 || >=2.0.0", "2.0.0"),
    ],
)
def test_constraints_pick_like_helm(constraint, expected):
    versions = [
        semver.Version.parse(v)
        for v in ("0.1.0", "0.9.0", "1.2.3", "1.2.6-beta.1", "1.2.9", "1.9.0", "2.0.0", "2.1.0-rc.1")
    ]
    assert str(parse(constraint).best(versions)) == expected


def test_prereleases_match_only_ranges_that_name_one():
    beta = semver.Version.parse("1.2.6-beta.1")
    assert parse(">=1.2.6-0 <1.3").allows(beta)
    assert not parse(">=1.2.0 <1.3").allows(beta)
    assert not parse("*").allows(beta)
