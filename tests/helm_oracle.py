"""Helm itself as the test oracle: a thin wrapper over helm-python-sdk.

`helm-python-sdk` (PyPI; `import helm_python`) binds Helm v4.2.3's Go SDK through ctypes (a bundled
libhelm_c.so): no helm binary, no Go toolchain, no cluster. Its API, as found in version 0.2.2:

Charts (offline)
- `Chart.load(path)` (directory or .tgz) and `Chart.load_archive(data: bytes)` → `Chart`, a context manager
  (`close()` frees the Go handle). Properties: `metadata` (Chart.yaml as helm's JSON: json.Marshal of
  chart.Metadata, so key order and omitempty are helm's), `name`, `version`, `values`, `files` and
  `templates` (`[{"name", "data"}]`), `schema`, `crds`, `dependencies` (metadata of the subcharts loaded).
  Methods: `render(values=None, *, name=, namespace=, revision=, is_install=, is_upgrade=)` → `{path: text}`
  keyed `<chart>/templates/x.yaml` (subcharts `<chart>/charts/<sub>/templates/...`); `merge_values(values)`;
  `validate_schema(values)` raises HelmValuesError; `save(dir)` → .tgz path; `save_dir(dir)`.
  `Chart.create(name, dir)` scaffolds like `helm create`.
- `lint(path, values=None, *, strict=, namespace=, with_subcharts=, quiet=, skip_schema_validation=,
  kube_version=)` → `{"total_charts_linted", "messages": [{"severity": 1 info | 2 warning | 3 error, "path",
  "error"}], "errors": [str]}`; `path` may be a directory or a .tgz.
- `package(path, *, destination=, version=, app_version=)` → path of the written .tgz (helm package).
- `expand(dest, archive)`, `digest(archive)` → "sha256:…", `dependency_list(dir)`, `sign`/`verify`.

Registries and repositories
- `RegistryClient(*, debug=False, plain_http=False, credentials_file=None)`, a context manager:
  `login(host, username, password, *, insecure=False, plain_http=False)`, `logout(host)`,
  `push(chart_path, "oci://host/path")` (name and tag come from the archive), `pull(ref, **kw)`,
  `tags("oci://host/path/name")` (semver tags, newest first), `resolve("oci://host/path/name:tag")` →
  `{"digest", "media_type", "size"}`, `show(ref, output_format="all"|"chart"|"values"|"readme"|"crds")`.
- `push(chart_path, remote, *, client=None, plain_http=False, insecure_skip_tls_verify=False)` → dict.
- `pull(chart_ref, *, client=None, destination=None, version=None, repo_url=None, untar=False, untar_dir=None,
  plain_http=False, insecure_skip_tls_verify=False, username=None, password=None)` → `{"output": str}`; the
  archive lands in `destination` as `<name>-<version>.tgz`.
- `repo_index(url)`, `repo_index_generate(dir, base_url=, merge=)`, `dependency_update/build(dir)`.

Errors are `HelmError` subclasses (`HelmChartLoadError`, `HelmChartInvalidError`, `HelmRenderError`,
`HelmValuesError`, `HelmRegistryError`, `HelmRepoError`, …) with `.code` and `.detail`.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def helm() -> ModuleType:
    """The SDK module; the test is skipped where the `helm` extra is not installed."""
    sdk: ModuleType = pytest.importorskip(
        "helm_python", reason="helm-python-sdk is not installed (pip install -e .[helm])"
    )
    return sdk


@dataclass(frozen=True)
class Loaded:
    """What Helm saw in an archive."""

    metadata: dict[str, Any]
    values: dict[str, Any]
    templates: list[str]
    files: list[str]
    dependencies: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    @property
    def app_version(self) -> str | None:
        value = self.metadata.get("appVersion")
        return None if value is None else str(value)


def load(archive: bytes | Path) -> Loaded:
    """Load a chart archive (bytes) or a chart path the way `helm install` would."""
    sdk = helm()
    chart = sdk.Chart.load_archive(archive) if isinstance(archive, bytes) else sdk.Chart.load(str(archive))
    with chart:
        return Loaded(
            metadata=chart.metadata,
            values=chart.values,
            templates=[t["name"] for t in chart.templates],
            files=[f["name"] for f in chart.files],
            dependencies=chart.dependencies,
        )


def render(
    archive: bytes | Path, values: dict[str, Any] | None = None, *, release: str = "demo", namespace: str = "default"
) -> dict[str, str]:
    """`helm template`: rendered manifests by template path, no cluster."""
    sdk = helm()
    chart = sdk.Chart.load_archive(archive) if isinstance(archive, bytes) else sdk.Chart.load(str(archive))
    with chart:
        rendered: dict[str, str] = chart.render(values, name=release, namespace=namespace)
        return rendered


def lint(target: bytes | Path, values: dict[str, Any] | None = None, *, strict: bool = False) -> dict[str, Any]:
    """`helm lint` on a chart directory, a .tgz path, or archive bytes (written to a temp file)."""
    sdk = helm()
    if isinstance(target, bytes):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "chart.tgz"
            path.write_bytes(target)
            return lint(path, values, strict=strict)
    report: dict[str, Any] = sdk.lint(str(target), values, strict=strict)
    return report


def lint_errors(report: dict[str, Any]) -> list[str]:
    """The findings `helm lint` fails on (severity 3), plus hard errors."""
    return [m["error"] for m in report.get("messages", []) if m.get("severity") == 3] + list(report.get("errors", []))


def package(chart_dir: Path, destination: Path) -> Path:
    """`helm package`: helm's own (not reproducible) archive of the same directory."""
    return Path(helm().package(str(chart_dir), destination=str(destination)))


def members(archive: bytes | Path) -> list[str]:
    """Entry names of a .tgz, in archive order."""
    data = archive if isinstance(archive, bytes) else archive.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return [m.name for m in tar.getmembers()]


def registry_client(*, plain_http: bool = True, credentials_file: Path | None = None) -> Any:
    """A RegistryClient; loopback registries speak plain HTTP. Use it as a context manager."""
    return helm().RegistryClient(plain_http=plain_http, credentials_file=credentials_file)


def login(client: Any, host: str, user: str, password: str, *, plain_http: bool = True) -> None:
    """`helm registry login`; the credentials land in the client's credentials_file."""
    client.login(host, user, password, plain_http=plain_http)


def push(client: Any, archive: Path, remote: str) -> dict[str, Any]:
    """`helm push archive oci://host/path` with a logged-in client (the SDK returns {"output": ""})."""
    result: dict[str, Any] = client.push(str(archive), remote)
    return result


def pull(client: Any, ref: str, destination: Path, *, version: str | None = None, plain_http: bool = True) -> Path:
    """`helm pull oci://host/path/name --version v`; returns the downloaded archive's path.

    The SDK needs `destination` to exist (it fails with "no such file or directory" otherwise).
    """
    destination.mkdir(parents=True, exist_ok=True)
    before = set(destination.iterdir())
    client.pull(ref, destination=str(destination), version=version, plain_http=plain_http)
    (archive,) = set(destination.iterdir()) - before
    return archive
