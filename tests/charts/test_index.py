"""index.yaml merging: nothing lost, nothing overwritten, newest first, and byte for byte what `helm repo index` writes.

Helm (helm-python-sdk's `repo_index_generate`, i.e. `helm repo index`) is the oracle for the format.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from release.charts import index as helmindex
from release.charts import package as chartpkg
from release.errors import ReleaseError
from tests import helm_oracle

CREATED = "2026-11-20T10:00:00Z"
LATER = "2026-11-21T10:00:00Z"
D1, D2, D3 = "a1" * 32, "b2" * 32, "c3" * 32


def meta(name: str = "demo", version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v2", "name": name, "version": version, "description": "Demo", **extra}


def entries(text: str, name: str = "demo") -> list[dict[str, Any]]:
    return list(yaml.safe_load(text)["entries"][name])


def test_new_index_has_helms_shape():
    text = helmindex.merge(None, meta(appVersion="1.0", type="application"), "demo-1.0.0.tgz", D1, CREATED)
    assert text == (
        "apiVersion: v1\n"
        "entries:\n"
        "  demo:\n"
        "  - apiVersion: v2\n"
        '    appVersion: "1.0"\n'
        '    created: "2026-11-20T10:00:00Z"\n'
        "    description: Demo\n"
        f"    digest: {D1}\n"
        "    name: demo\n"
        "    type: application\n"
        "    urls:\n"
        "    - demo-1.0.0.tgz\n"
        "    version: 1.0.0\n"
        'generated: "2026-11-20T10:00:00Z"\n'
    )


def test_versions_newest_first_by_semver_and_nothing_dropped():
    text = None
    for version, digest in [("1.0.0", D1), ("1.10.0", D2), ("1.2.0", D3), ("2.0.0-rc.1", D1), ("2.0.0", D2)]:
        text = helmindex.merge(text, meta(version=version), f"demo-{version}.tgz", digest, CREATED)
    assert text is not None
    assert [e["version"] for e in entries(text)] == ["2.0.0", "2.0.0-rc.1", "1.10.0", "1.2.0", "1.0.0"]


def test_unparseable_versions_go_last_and_are_kept():
    hand = (
        "apiVersion: v1\nentries:\n  demo:\n"
        "  - {name: demo, version: not-a-version, urls: [x.tgz], digest: " + D3 + "}\n"
        "  - {name: demo, version: 0.9.0, urls: [y.tgz]}\n"
    )
    text = helmindex.merge(hand, meta(version="1.0.0"), "demo-1.0.0.tgz", D1, CREATED)
    assert [e["version"] for e in entries(text)] == ["1.0.0", "0.9.0", "not-a-version"]


def test_same_version_same_digest_returns_the_text_unchanged():
    text = helmindex.merge(None, meta(), "demo-1.0.0.tgz", D1, CREATED)
    assert helmindex.merge(text, meta(), "demo-1.0.0.tgz", D1, LATER) is text


def test_same_version_other_digest_is_refused():
    text = helmindex.merge(None, meta(), "demo-1.0.0.tgz", D1, CREATED)
    with pytest.raises(ReleaseError, match="never overwritten"):
        helmindex.merge(text, meta(), "demo-1.0.0.tgz", D2, LATER)


def test_same_version_without_a_digest_is_refused():
    hand = "apiVersion: v1\nentries:\n  demo:\n  - {name: demo, version: 1.0.0, urls: [demo-1.0.0.tgz]}\n"
    with pytest.raises(ReleaseError, match="without a digest"):
        helmindex.merge(hand, meta(), "demo-1.0.0.tgz", D1, CREATED)


HAND_MADE = f"""\
# maintained by hand, once
apiVersion: v1
entries:
  other:
    - name: other
      version: 0.3.0
      apiVersion: v2
      created: 2020-01-02T03:04:05Z        # unquoted: a timestamp to PyYAML, text to helm
      urls: ["https://charts.example.com/other-0.3.0.tgz"]
      digest: {D3}
      description: "Another chart"
      appVersion: "1.10"
      annotations: {{artifacthub.io/license: Apache-2.0}}
publicKeys: []
annotations:
  owner: team
generated: 2020-01-02T03:04:05Z
"""


def test_other_charts_and_top_level_fields_are_kept():
    text = helmindex.merge(HAND_MADE, meta(), "demo-1.0.0.tgz", D1, CREATED)
    before, after = helmindex.load(HAND_MADE), helmindex.load(text)
    assert after["entries"]["other"] == before["entries"]["other"]
    assert after["annotations"] == {"owner": "team"} and after["publicKeys"] == []
    assert 'created: "2020-01-02T03:04:05Z"' in text  # still the same text, now quoted as helm quotes it
    assert 'appVersion: "1.10"' in text
    assert after["generated"] == CREATED
    assert [e["version"] for e in after["entries"]["demo"]] == ["1.0.0"]


def test_a_json_index_is_read_too():
    hand = json.dumps({"apiVersion": "v1", "entries": {"other": [{"name": "other", "version": "1.0.0"}]}})
    text = helmindex.merge(hand, meta(), "demo-1.0.0.tgz", D1, CREATED)
    assert entries(text, "other") == [{"name": "other", "version": "1.0.0"}]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("apiVersion: v1\nentries: {demo: [\n", "not valid YAML at line"),
        ("- just\n- a list\n", "not a mapping"),
        ("apiVersion: v2\nentries: {}\n", "apiVersion 'v2'"),
        ("apiVersion: v1\nentries: [a, b]\n", "entries must be a mapping"),
        ("apiVersion: v1\nentries:\n  demo: {name: demo}\n", "entries.demo must be a list"),
        ("apiVersion: v1\nentries: {}\nentries: {}\n", "duplicate key"),
    ],
)
def test_a_corrupt_index_is_an_error_never_replaced(text, problem):
    with pytest.raises(ReleaseError) as caught:
        helmindex.merge(text, meta(), "demo-1.0.0.tgz", D1, CREATED, where="gh-pages:index.yaml")
    assert problem in caught.value.message and caught.value.message.startswith("gh-pages:index.yaml")
    assert "never overwritten" in (caught.value.hint or "")


def test_blank_or_comment_only_index_starts_over():
    assert helmindex.merge("", meta(), "demo-1.0.0.tgz", D1, CREATED) == helmindex.merge(
        "# nothing yet\n", meta(), "demo-1.0.0.tgz", D1, CREATED
    )


def test_entry_holds_helms_metadata_fields_only():
    # Helm reads index.yaml strictly: an unknown field would make the whole repository unreadable.
    raw = meta(home="https://example.com", x_custom="dropped", maintainers=[{"name": "A", "extra": 1}])
    (entry,) = entries(helmindex.merge(None, raw, "demo-1.0.0.tgz", D1, CREATED))
    assert "x_custom" not in entry and entry["maintainers"] == [{"name": "A"}]


def test_chart_names_in_go_yamls_natural_key_order():
    text = None
    for name in ["chart10", "chart9", "Chart", "chart-a", "chart"]:
        text = helmindex.merge(text, meta(name=name), f"{name}-1.0.0.tgz", D1, CREATED)
    assert list(yaml.safe_load(text or "")["entries"]) == ["Chart", "chart", "chart-a", "chart9", "chart10"]


def test_bad_digest_is_a_bug_not_a_user_error():
    with pytest.raises(ValueError):
        helmindex.merge(None, meta(), "demo-1.0.0.tgz", "sha256:" + D1, CREATED)


# --- Helm as the oracle -----------------------------------------------------------------------------------------

AWKWARD_CHART = """\
apiVersion: v2
name: awkward
description: |
  A chart whose description runs over several lines, and one of them is long enough that a YAML emitter
  would want to fold it somewhere past the eightieth column.
type: application
version: {version}
appVersion: "1.10"
home: https://example.com/awkward
icon: https://example.com/icon.png
kubeVersion: ">=1.25.0-0"
keywords: ["y", "on", "1e3", "0x1F", "2024-01-02", "12:30", "- dash", "café", "", "null"]
sources: [https://git.example.com/awkward]
deprecated: false
annotations:
  artifacthub.io/changes: "- kind: added\\n  description: things"
  category: "true"
  a10: x
  a9: "y"
maintainers:
  - {{name: Zoë, email: zoe@example.com, url: "https://example.com/zoe"}}
dependencies:
  - name: sub
    version: "~1.2"
    repository: "file://charts/sub"
    condition: sub.enabled
    tags: [backend]
    import-values: [data, {{child: a.b, parent: c}}]
    alias: child
"""


def _package(tmp_path: Path, version: str) -> tuple[chartpkg.ChartMeta, bytes]:
    directory = tmp_path / "src" / version / "awkward"
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(AWKWARD_CHART.format(version=version), encoding="utf-8")
    (directory / "values.yaml").write_text("sub: {enabled: false}\n")
    (directory / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    sub = directory / "charts" / "sub"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 1.2.3\n")
    return chartpkg.package(directory, mtime=1_700_000_000)


def test_byte_for_byte_what_helm_repo_index_writes(tmp_path):
    sdk = helm_oracle.helm()
    repo = tmp_path / "repo"
    repo.mkdir()
    packaged = {v: _package(tmp_path, v) for v in ("0.9.0", "1.0.0-rc.1", "1.0.0")}
    for version, (_, data) in packaged.items():
        (repo / f"awkward-{version}.tgz").write_bytes(data)
    sdk.repo_index_generate(str(repo))
    helms = (repo / "index.yaml").read_text(encoding="utf-8")
    created = {e["version"]: e["created"] for e in yaml.safe_load(helms)["entries"]["awkward"]}
    ours = None
    for version in ("1.0.0", "0.9.0", "1.0.0-rc.1"):  # out of order on purpose
        chart, data = packaged[version]
        digest = hashlib.sha256(data).hexdigest()
        ours = helmindex.merge(ours, chart.raw, f"awkward-{version}.tgz", digest, created[version])
    assert ours is not None
    generated = yaml.safe_load(helms)["generated"]
    ours = ours.replace(f'generated: "{created["1.0.0-rc.1"]}"', f'generated: "{generated}"')
    assert ours == helms


def test_helm_reads_a_merged_hand_made_index(tmp_path):
    sdk = helm_oracle.helm()
    chart, data = _package(tmp_path, "1.0.0")
    text = helmindex.merge(HAND_MADE, chart.raw, "awkward-1.0.0.tgz", hashlib.sha256(data).hexdigest(), CREATED)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "index.yaml").write_text(text, encoding="utf-8")
    (repo / "awkward-1.0.0.tgz").write_bytes(data)
    merged = tmp_path / "merged"
    shutil.copytree(repo, merged)
    # `helm repo index --merge` loads our file with helm's strict loader: it fails on anything helm does not know.
    result = sdk.repo_index_generate(str(merged), merge=str(repo / "index.yaml"))
    assert {e["version"] for e in result["entries"]["awkward"]} == {"1.0.0"}
    assert result["entries"]["other"][0]["digest"] == D3
    assert result["entries"]["awkward"][0]["digest"] == hashlib.sha256(data).hexdigest()
