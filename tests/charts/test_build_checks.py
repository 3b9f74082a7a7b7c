"""Checks before anything is published: structural lint, values.schema.json, Helm lint/render, dependencies."""

from __future__ import annotations

import functools
import http.server
import json
import tarfile
import threading
from pathlib import Path

import pytest

from release.charts import package as chartpkg
from tests import helm_oracle
from tests.charts.test_publish import chart_repo


def files_of(path: Path) -> list[str]:
    with tarfile.open(path, "r:gz") as tar:
        return [m.name for m in tar.getmembers()]


def test_values_must_match_the_schema(repo, release):
    chart_repo(repo, values='    values: {image.tag: "{version}"}\n')
    schema = {
        "type": "object",
        "properties": {"image": {"type": "object", "properties": {"pullPolicy": {"enum": ["Always", "Never"]}}}},
    }
    repo.write("charts/demo/values.schema.json", json.dumps(schema))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "fix: schema")
    result = release(repo, "chart")
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "values.schema.json at image.pullPolicy" in last and "IfNotPresent" in last
    assert not (repo.path / ".release/charts").exists()


def test_a_template_error_stops_before_publishing_and_names_the_template(repo, release):
    helm_oracle.helm()  # the Helm engine is installed with the test extra
    chart_repo(repo)
    repo.write("charts/demo/templates/broken.yaml", "kind: ConfigMap\ndata:\n  x: {{ .Values.nope.deeper }}\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "fix: a broken template")
    result = release(repo, "chart")
    assert result.code == 1
    assert "broken.yaml" in result.err.strip().splitlines()[-1]
    assert not (repo.path / ".release/charts").exists()


def test_an_application_chart_needs_templates(repo, release):
    chart_repo(repo)
    repo.git("rm", "-rq", "charts/demo/templates")
    repo.commit("fix: no templates")
    result = release(repo, "chart")
    assert result.code == 1
    assert "no templates/ directory" in result.err


def _dependency_chart(tmp_path: Path) -> Path:
    """A tiny chart `dep` 0.3.0 packaged by us into a classic repository directory with Helm's index.yaml."""
    src = tmp_path / "dep-src"
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text("apiVersion: v2\nname: dep\nversion: 0.3.0\n")
    (src / "values.yaml").write_text("enabled: true\n")
    (src / "templates" / "cm.yaml").write_text("kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: dep\n")
    repo_dir = tmp_path / "helm-repo"
    repo_dir.mkdir()
    meta, archive = chartpkg.package(src, mtime=0)
    (repo_dir / chartpkg.archive_name(meta)).write_bytes(archive)
    return repo_dir


@pytest.fixture
def served(tmp_path):
    """A classic Helm repository on 127.0.0.1 (index.yaml written by Helm itself)."""
    repo_dir = _dependency_chart(tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(repo_dir))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    helm_oracle.helm().repo_index_generate(str(repo_dir), base_url=url)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield url
    httpd.shutdown()


def _umbrella(repo, url: str) -> None:
    chart_repo(repo)
    chart_yaml = (repo.path / "charts/demo/Chart.yaml").read_text()
    chart_yaml += f'dependencies:\n  - name: dep\n    version: ">=0.0.0 <1.0.0"\n    repository: {url}\n'
    repo.write("charts/demo/Chart.yaml", chart_yaml)
    repo.git("commit", "-qam", "fix: depend on dep")


def test_remote_dependencies_are_fetched_without_helm_outside_the_tree(repo, release, served, monkeypatch):
    _umbrella(repo, served)
    monkeypatch.setattr("release.adapters.helm.available", lambda: False)  # fetching needs no Helm engine
    result = release(repo, "chart")
    assert result.code == 0, result.err
    archive = repo.path / ".release/charts/demo-1.0.1.tgz"
    assert "demo/charts/dep-0.3.0.tgz" in files_of(archive)  # the range resolved to the newest 0.x
    assert "demo/Chart.lock" in files_of(archive)  # generated, as `helm dependency update` would
    assert not (repo.path / "charts/demo/charts").exists()  # the user's tree is untouched
    assert not (repo.path / "charts/demo/Chart.lock").exists()
    loaded = helm_oracle.load(archive)
    assert [d["name"] for d in loaded.dependencies] == ["dep"]


def test_vendored_dependencies_need_no_helm(repo, release, tmp_path, monkeypatch):
    repo_dir = _dependency_chart(tmp_path)
    chart_repo(repo)
    chart_yaml = (repo.path / "charts/demo/Chart.yaml").read_text()
    repo.write("charts/demo/Chart.yaml", chart_yaml + "dependencies:\n  - name: dep\n    version: 0.3.0\n")
    (repo.path / "charts/demo/charts").mkdir()
    (repo.path / "charts/demo/charts/dep-0.3.0.tgz").write_bytes((repo_dir / "dep-0.3.0.tgz").read_bytes())
    repo.git("add", "-A")
    repo.git("commit", "-qm", "fix: vendored dep")
    monkeypatch.setattr("release.adapters.helm.available", lambda: False)
    result = release(repo, "chart")
    assert result.code == 0, result.err
    assert "demo/charts/dep-0.3.0.tgz" in files_of(repo.path / ".release/charts/demo-1.0.1.tgz")


def test_unreachable_dependency_repository(repo, release):
    _umbrella(repo, "http://127.0.0.1:9")
    result = release(repo, "chart")
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "dependency dep (http://127.0.0.1:9)" in last and "http://127.0.0.1:9/index.yaml" in last
    assert "Connection refused" in last
