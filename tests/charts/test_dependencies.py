"""Umbrella charts as they are in the wild: dependencies from a classic repository, an OCI registry and a second
classic repository (HTTPS with a private CA and basic auth), with and without a Chart.lock, published twice on the
same commit; Helm itself pulls, lints and renders what we published; `release chart deps` writes a lock Helm takes.

Stand-ins, all on loopback: `ChartRepo` (a small HTTP(S) server holding an index.yaml written by Helm's own `repo
index` for archives we package), the CNCF registry (`registry` fixture, htpasswd auth).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from release.charts import package as chartpkg
from tests import helm_oracle
from tests.charts.test_publish import archive_files
from tests.conftest import Repo

HELM_USER, HELM_PASSWORD = "charts-reader", "classic-s3cr3t-pass"
COMMIT_TIME = 1767225600  # 2026-01-01T00:00:00Z, the umbrella commit's time


class ChartRepo:
    """A classic Helm repository on 127.0.0.1: static files, optional TLS and basic auth; records who sent what."""

    def __init__(self, root: Path, *, tls: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.authorizations: list[str | None] = []
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.authorizations.append(self.headers.get("Authorization"))
                if expected and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, tmp: Path, name: str, version: str, *, absolute: bool = False) -> None:
        """Package chart `name` at `version` (ours) and let Helm index the folder (relative or absolute URLs)."""
        (self.root / chartpkg.archive_name(chart_meta(tmp, name, version))).write_bytes(dependency(tmp, name, version))
        helm_oracle.helm().repo_index_generate(str(self.root), base_url=self.url if absolute else None)

    def stop(self) -> None:
        self.httpd.shutdown()


def chart_meta(tmp: Path, name: str, version: str) -> chartpkg.ChartMeta:
    return chartpkg.read_chart(source(tmp, name, version))


def source(tmp: Path, name: str, version: str) -> Path:
    src = tmp / f"src-{name}-{version}"
    (src / "templates").mkdir(parents=True, exist_ok=True)
    (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n")
    (src / "values.yaml").write_text("greeting: hello\n")
    (src / "templates/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-{{ .Chart.Version }}\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    return src


def dependency(tmp: Path, name: str, version: str) -> bytes:
    return chartpkg.package(source(tmp, name, version), mtime=0)[1]


def push_oci(registry: Any, tmp: Path, name: str, version: str) -> None:
    """Push chart `name` at `version` to oci://<registry>/deps the way `helm push` lays it out (our code path)."""
    from release.adapters.credentials import Credentials
    from release.adapters.registry import Registry
    from release.charts import oci as chartoci
    from release.naming.imageref import Repository

    archive = dependency(tmp, name, version)
    meta = chart_meta(tmp, name, version)
    client = Registry(Repository.parse(f"{registry.host}/deps/{name}"), Credentials(registry.user, registry.password))
    config = chartpkg.chart_json(meta)
    client.upload_blob(config)
    client.upload_blob(archive)
    body = chartoci.manifest(config, archive, chartoci.oci_annotations(meta.raw, "2026-01-01T00:00:00Z"))
    client.put_manifest(chartoci.oci_tag(version), body, chartoci.MANIFEST_MEDIA_TYPE)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield ca, path


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory, registry: Any, pki: Any) -> Iterator[dict[str, Any]]:
    """alpha in a plain classic repository, beta in the registry, gamma in a classic repository over HTTPS + auth."""
    ca, ca_path = pki
    tmp = tmp_path_factory.mktemp("stand-ins")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    plain = ChartRepo(tmp / "plain")
    secure = ChartRepo(tmp / "secure", tls=context, auth=(HELM_USER, HELM_PASSWORD))
    for version in ("0.3.0", "0.4.0", "1.0.0"):
        plain.add(tmp, "alpha", version)  # relative URLs in index.yaml
    for version in ("1.2.0", "1.3.0", "2.0.0"):
        push_oci(registry, tmp, "beta", version)
    for version in ("2.0.0", "2.1.0"):
        secure.add(tmp, "gamma", version, absolute=True)
    yield {"plain": plain, "secure": secure, "registry": registry, "ca": ca_path}
    plain.stop()
    secure.stop()


def env_for(stand_ins: dict[str, Any]) -> dict[str, str]:
    registry = stand_ins["registry"]
    return {
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
        "RELEASE_HELM_USER": HELM_USER,
        "RELEASE_HELM_PASSWORD": HELM_PASSWORD,
        "RELEASE_CA_BUNDLE": str(stand_ins["ca"]),
    }


def umbrella(repo: Repo, stand_ins: dict[str, Any], name: str, *, lock: str | None = None, extra: str = "") -> None:
    """An umbrella chart (appVersion 9.22.1: the version of what it deploys) over alpha, beta and gamma."""
    host = stand_ins["registry"].host
    chart_yaml = (
        f'apiVersion: v2\nname: {name}\nversion: 0.0.1\nappVersion: "9.22.1"\ndependencies:\n'
        f'  - name: alpha\n    version: ">=0.3.0 <1.0.0"\n    repository: {stand_ins["plain"].url}\n'
        f"  - name: beta\n    version: ^1.2\n    repository: oci://{host}/deps\n    condition: beta.enabled\n"
        f"  - name: gamma\n    version: 2.x\n    repository: {stand_ins['secure'].url}\n"
    )
    repo.write(f"charts/{name}/Chart.yaml", chart_yaml)
    repo.write(f"charts/{name}/values.yaml", "alpha:\n  greeting: from-umbrella\n")
    repo.write(f"charts/{name}/.gitignore", "charts/\n")
    if lock:
        repo.write(f"charts/{name}/Chart.lock", lock)
    repo.write("release.yaml", f'charts:\n  - path: charts/{name}\n    publish: ["oci://{host}/charts"]\n{extra}')
    repo.git("add", "-A")
    stamp = {"GIT_AUTHOR_DATE": f"@{COMMIT_TIME} +0000", "GIT_COMMITTER_DATE": f"@{COMMIT_TIME} +0000"}
    os.environ.update(stamp)
    try:
        repo.git("commit", "-qm", "feat: umbrella")
        repo.tag("v1.0.0")
        repo.git("commit", "-q", "--allow-empty", "-m", "fix: release it")
    finally:
        for key in stamp:
            del os.environ[key]


def pulled(stand_ins: dict[str, Any], tmp: Path, name: str, version: str) -> Path:
    """`helm pull` of what we published, logged in like a user (credentials in a file Helm owns)."""
    registry = stand_ins["registry"]
    with helm_oracle.registry_client(credentials_file=tmp / "helm-registry.json") as client:
        helm_oracle.login(client, registry.host, registry.user, registry.password)
        return helm_oracle.pull(client, f"oci://{registry.host}/charts/{name}", tmp / "pulled", version=version)


def rendered_names(archive: Path) -> list[str]:
    return sorted(
        yaml.safe_load(text)["metadata"]["name"] for text in helm_oracle.render(archive).values() if text.strip()
    )


def test_umbrella_without_a_lock_publishes_the_same_bytes_twice(repo, release, stand_ins, tmp_path):
    umbrella(repo, stand_ins, "platform")
    first = release(repo, "chart", "--publish", env=env_for(stand_ins))
    assert first.code == 0, first.err
    archive = (repo.path / ".release/charts/platform-1.0.1.tgz").read_bytes()
    second = release(repo, "chart", "--publish", env=env_for(stand_ins))
    assert second.code == 0, second.err
    assert "skipped: already published" in second.err
    assert (repo.path / ".release/charts/platform-1.0.1.tgz").read_bytes() == archive  # byte-identical

    helm_archive = pulled(stand_ins, tmp_path, "platform", "1.0.1")
    assert helm_archive.read_bytes() == archive
    assert not helm_oracle.lint_errors(helm_oracle.lint(helm_archive))
    assert rendered_names(helm_archive) == ["alpha-0.4.0", "beta-1.3.0", "gamma-2.1.0"]  # newest in each range
    assert helm_oracle.load(helm_archive).app_version == "9.22.1"  # an umbrella keeps what it deploys
    lock = yaml.safe_load(archive_files(archive)["platform/Chart.lock"])
    assert lock["generated"] == "2026-01-01T00:00:00Z"  # the commit time, not the clock
    assert [(d["name"], d["version"]) for d in lock["dependencies"]] == [
        ("alpha", "0.4.0"),
        ("beta", "1.3.0"),
        ("gamma", "2.1.0"),
    ]
    assert not (repo.path / "charts/platform/charts").exists()  # the user's tree untouched
    # the classic repository that never asked for credentials never saw them
    assert all(seen is None for seen in stand_ins["plain"].authorizations)


def test_umbrella_with_a_lock_gets_the_locked_versions(repo, release, stand_ins, tmp_path):
    host = stand_ins["registry"].host
    lock = (
        "dependencies:\n"
        f"- name: alpha\n  repository: {stand_ins['plain'].url}\n  version: 0.3.0\n"
        f"- name: beta\n  repository: oci://{host}/deps\n  version: 1.2.0\n"
        f"- name: gamma\n  repository: {stand_ins['secure'].url}\n  version: 2.0.0\n"
        'digest: sha256:0000\ngenerated: "2025-06-01T10:00:00.123Z"\n'
    )
    umbrella(repo, stand_ins, "platform-locked", lock=lock)
    for _ in range(2):
        result = release(repo, "chart", "--publish", env=env_for(stand_ins))
        assert result.code == 0, result.err
    assert "skipped: already published" in result.err
    helm_archive = pulled(stand_ins, tmp_path, "platform-locked", "1.0.1")
    assert rendered_names(helm_archive) == ["alpha-0.3.0", "beta-1.2.0", "gamma-2.0.0"]
    assert archive_files(helm_archive.read_bytes())["platform-locked/Chart.lock"] == lock.encode()  # as committed


def test_an_app_chart_follows_the_release_version(repo, release, stand_ins):
    umbrella(repo, stand_ins, "app", extra='    values:\n      image.tag: "{version}"\n')
    repo.commit("fix: the chart deploys our image", {"charts/app/values.yaml": "image:\n  tag: latest\n"})
    result = release(repo, "chart", env=env_for(stand_ins))
    assert result.code == 0, result.err
    loaded = helm_oracle.load(repo.path / ".release/charts/app-1.0.1.tgz")
    assert loaded.app_version == "1.0.1" and loaded.values["image"]["tag"] == "1.0.1"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("keep", "9.22.1"), ("null", "9.22.1"), ('"{version}"', "1.0.1"), ('"v{major}.{minor}"', "v1.0")],
)
def test_app_version_spelled_out(repo, release, stand_ins, setting, expected):
    umbrella(repo, stand_ins, "spelled", extra=f"    app_version: {setting}\n")
    result = release(repo, "chart", env=env_for(stand_ins))
    assert result.code == 0, result.err
    chart_yaml = archive_files((repo.path / ".release/charts/spelled-1.0.1.tgz").read_bytes())["spelled/Chart.yaml"]
    assert helm_oracle.load(repo.path / ".release/charts/spelled-1.0.1.tgz").app_version == expected
    assert chart_yaml.decode().startswith("apiVersion: v2\nname: spelled\nversion: 1.0.1\n")  # the rest as written


# --- errors: one line naming the repository and the cause ------------------------------------------------------


def one_line(result: Any) -> str:
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    return str(result.err.strip().splitlines()[-1])


def broken(repo: Repo, stand_ins: dict[str, Any], repository: str, name: str = "alpha") -> None:
    repo.write(
        "charts/broken/Chart.yaml",
        f"apiVersion: v2\nname: broken\nversion: 0.0.1\ndependencies:\n"
        f"  - name: {name}\n    version: '*'\n    repository: {repository}\n",
    )
    repo.write("release.yaml", "charts:\n  - path: charts/broken\n")
    repo.git("add", "-A")
    repo.commit("feat: broken")


@pytest.mark.parametrize(
    ("repository", "cause"),
    [
        ("http://127.0.0.1:9", "Connection refused"),
        ("https://charts.invalid", "Name or service not known"),
        ("{plain}/nothing-here", "answered 404"),
        ("oci://127.0.0.1:9/deps", "Connection refused"),
    ],
)
def test_an_unreachable_repository_is_named_with_its_cause(repo, release, stand_ins, repository, cause):
    repository = repository.format(plain=stand_ins["plain"].url)
    broken(repo, stand_ins, repository)
    line = one_line(release(repo, "chart", env=env_for(stand_ins)))
    assert f"dependency alpha ({repository})" in line and cause in line
    assert "127.0.0.1:9" in line or "invalid" in line or repository in line


def test_a_refused_login_and_an_untrusted_certificate(repo, release, stand_ins):
    broken(repo, stand_ins, stand_ins["secure"].url, name="gamma")
    env = env_for(stand_ins)
    line = one_line(release(repo, "chart", env={k: v for k, v in env.items() if not k.startswith("RELEASE_HELM")}))
    assert f"{stand_ins['secure'].url}/index.yaml answered 401" in line and "RELEASE_HELM_USER" in line
    line = one_line(release(repo, "chart", env={k: v for k, v in env.items() if k != "RELEASE_CA_BUNDLE"}))
    assert "dependency gamma" in line and "TLS certificate of 127.0.0.1" in line and "not trusted" in line
    oci = f"oci://{stand_ins['registry'].host}/deps"
    broken(repo, stand_ins, oci, name="beta")
    line = one_line(release(repo, "chart"))
    assert f"dependency beta ({oci})" in line and "needs credentials" in line
    assert HELM_PASSWORD not in line


# --- release chart deps -------------------------------------------------------------------------------------------


def test_release_chart_deps_writes_a_lock_helm_accepts(repo, release, stand_ins, tmp_path):
    """Helm's own `dependency build` checks the lock's digest against Chart.yaml and fetches the exact versions.

    Helm's SDK takes no credentials for dependencies, so this chart uses what Helm can reach unaided: the plain
    classic repository and a `file://` chart in the same repository."""
    umbrella(repo, stand_ins, "locked")
    chart_yaml = (repo.path / "charts/locked/Chart.yaml").read_text().split("  - name: beta")[0]
    chart_yaml += "  - name: local\n    version: '>=0.1.0'\n    repository: file://../local\n    alias: sidecar\n"
    files = {"charts/locked/Chart.yaml": chart_yaml}
    files["charts/local/Chart.yaml"] = "apiVersion: v2\nname: local\nversion: 0.2.0\n"
    files["charts/local/templates/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-cm\n"
    repo.commit("fix: a local dependency", files)
    result = release(repo, "chart", "deps", env=env_for(stand_ins))
    assert result.code == 0, result.err
    assert "wrote charts/locked/Chart.lock (alpha 0.4.0, local 0.2.0)" in result.err
    lock_path = repo.path / "charts/locked/Chart.lock"
    written = lock_path.read_bytes()
    again = release(repo, "chart", "deps", env=env_for(stand_ins))
    assert "charts/locked/Chart.lock is up to date" in again.err and lock_path.read_bytes() == written

    sdk = helm_oracle.helm()
    sdk.dependency_build(str(repo.path / "charts/locked"))
    vendored = sorted(p.name for p in (repo.path / "charts/locked/charts").iterdir())
    assert vendored == ["alpha-0.4.0.tgz", "local-0.2.0.tgz"]
    assert hashlib.sha256((repo.path / "charts/locked/charts/alpha-0.4.0.tgz").read_bytes()).hexdigest() == (
        hashlib.sha256((stand_ins["plain"].root / "alpha-0.4.0.tgz").read_bytes()).hexdigest()
    )
    # the oracle can say no: a lock out of step with Chart.yaml is refused by Helm
    lock_path.write_text(written.decode().replace("version: 0.4.0", "version: 0.3.0", 1))
    with pytest.raises(sdk.HelmError, match="out of sync"):
        sdk.dependency_build(str(repo.path / "charts/locked"))


def test_a_committed_lock_and_a_local_dependency_package_without_helm(repo, release, stand_ins, monkeypatch):
    umbrella(repo, stand_ins, "withlocal")
    chart_yaml = (repo.path / "charts/withlocal/Chart.yaml").read_text()
    chart_yaml += "  - name: local\n    version: '>=0.1.0'\n    repository: file://../local\n"
    files = {"charts/withlocal/Chart.yaml": chart_yaml, "charts/local/Chart.yaml": "apiVersion: v2\nname: local\n"}
    files["charts/local/Chart.yaml"] += "version: 0.2.0\n"
    files["charts/local/templates/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-cm\n"
    repo.commit("fix: a local dependency", files)
    assert release(repo, "chart", "deps", env=env_for(stand_ins)).code == 0
    repo.commit("fix: lock", {"charts/withlocal/Chart.lock": (repo.path / "charts/withlocal/Chart.lock").read_text()})
    monkeypatch.setattr("release.adapters.helm.available", lambda: False)
    result = release(repo, "chart", env=env_for(stand_ins))
    assert result.code == 0, result.err
    archive = repo.path / ".release/charts/withlocal-1.0.1.tgz"
    assert rendered_names(archive) == ["alpha-0.4.0", "beta-1.3.0", "gamma-2.1.0", "local-cm"]
