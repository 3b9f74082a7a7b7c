"""A chart's SLSA provenance attached in its OCI registry (subject: the chart's manifest digest), read back with
skopeo through the `sha256-<hex>` fallback tag (the loopback CNCF registry has no referrers API)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.charts.test_publish import chart_repo
from tests.faultproxy import FaultProxy, Rule
from tests.skopeo import authfile_for, raw_or_none


def skopeo_raw(registry, ref: str, tmp_path: Path) -> dict | None:
    return raw_or_none(authfile_for(registry, tmp_path), ref)


def test_chart_provenance_is_attached_to_its_oci_digest(repo, release, registry, tmp_path):
    chart_repo(repo, registry, name="demo-prov", extra="    provenance: true\n")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 0, result.err
    digest = registry.manifest("charts/demo-prov", "1.0.1").headers["Docker-Content-Digest"]
    index = skopeo_raw(registry, f"{registry.host}/charts/demo-prov:{digest.replace(':', '-')}", tmp_path)
    assert index is not None
    (entry,) = index["manifests"]
    assert entry["artifactType"] == "application/vnd.in-toto+json"
    assert entry["annotations"]["in-toto.io/predicate-type"] == "https://slsa.dev/provenance/v1"
    artifact = skopeo_raw(registry, f"{registry.host}/charts/demo-prov@{entry['digest']}", tmp_path)
    assert artifact is not None and artifact["subject"]["digest"] == digest
    statement = registry.blob("charts/demo-prov", artifact["layers"][0]["digest"]).json()
    assert statement["subject"] == [
        {"name": f"{registry.host}/charts/demo-prov", "digest": {"sha256": digest.split(":")[1]}}
    ]
    parameters = statement["predicate"]["buildDefinition"]["externalParameters"]
    assert parameters["source"]["digest"] == {"gitCommit": repo.head()}
    assert (parameters["chart"], parameters["version"]) == ("charts/demo-prov", "1.0.1")
    archive = (repo.path / ".release/charts/demo-prov-1.0.1.tgz").read_bytes()
    assert parameters["archiveSha256"] == hashlib.sha256(archive).hexdigest()
    (chart,) = json.loads((repo.path / ".release/state.json").read_text())["charts"]
    assert chart["attached"][0]["digest"] == entry["digest"]
    again = release(repo, "chart", "--publish", env=env)
    assert again.code == 0, again.err
    assert "found the provenance" in again.err
    assert skopeo_raw(registry, f"{registry.host}/charts/demo-prov:{digest.replace(':', '-')}", tmp_path) == index


def test_refused_chart_provenance_is_attached_by_the_rerun(repo, release, registry, tmp_path):
    with FaultProxy("127.0.0.1", registry.port) as proxy:
        proxy.add(Rule.fail(400, method="PUT", path="/manifests/sha256:", times=None))  # the artifact, by digest
        publish = f'    publish: ["oci://{proxy.host}/charts"]\n    provenance: true\n'
        chart_repo(repo, None, name="demo-refused", extra=publish)
        env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
        result = release(repo, "chart", "--publish", env=env)
        assert result.code == 1
        last = result.err.strip().splitlines()[-1]
        assert last.startswith("release: error: could not attach application/vnd.in-toto+json"), last
        digest = registry.manifest("charts/demo-refused", "1.0.1").headers["Docker-Content-Digest"]
        fallback = f"{registry.host}/charts/demo-refused:{digest.replace(':', '-')}"
        assert skopeo_raw(registry, fallback, tmp_path) is None
        proxy.clear()
        rerun = release(repo, "chart", "--publish", env=env)
        assert rerun.code == 0, rerun.err
        assert "attached the provenance" in rerun.err
        index = skopeo_raw(registry, fallback, tmp_path)
        assert index is not None and len(index["manifests"]) == 1
