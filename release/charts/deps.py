"""A chart's dependencies: resolved and fetched by us, never by a Helm subprocess or SDK call.

Why ours and not Helm's `dependency build/update` (the SDK's takes no registry config, no repository config, no CA
file and one plain-HTTP switch for every dependency): a dependency is fetched exactly as a publish talks to the same
place, so a chart that mixes a classic repository, an OCI registry and a local `file://` chart needs nothing else:

- `oci://HOST/PATH`: our registry client (credentials.for_registry: RELEASE_REGISTRY_*, DOCKER_AUTH_CONFIG, the
  docker config and its helpers; HTTPS first, plain HTTP for loopback and RELEASE_INSECURE_REGISTRIES);
- `https://…` classic repositories: index.yaml and the archive over our HTTP client (RELEASE_CA_BUNDLE, plain HTTP
  only for loopback and RELEASE_INSECURE_REGISTRIES); credentials are sent only when the server answers 401, and
  only to the repository's own host: RELEASE_HELM_USER/RELEASE_HELM_PASSWORD (as for a ChartMuseum or GitLab
  publish), else the docker config's entry for that host. The archive must match the index's digest;
- `file://PATH`: the chart in the repository at that path, packaged like ours (same time stamp).

A Chart.lock in the chart is respected (its exact versions); without one, each range is resolved to the newest match
(Masterminds' rules, charts/ranges.py) and a Chart.lock is generated the way `helm dependency update` writes it,
with `generated:` set to the packaging time stamp (SOURCE_DATE_EPOCH, else the commit time) instead of the clock:
the same commit and the same resolved archives give the same bytes, as every other file of the archive does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import semver
import yaml

from release.adapters import credentials, http
from release.adapters.registry import Registry
from release.charts import index as chartindex
from release.charts import oci as chartoci
from release.charts import package as chartpkg
from release.charts import ranges as semverrange
from release.context import Context
from release.errors import ReleaseError
from release.naming.imageref import Repository
from release.yaml.strict import SafeLoader

TIMEOUT = 60.0
CHART_LAYERS = (chartoci.CHART_LAYER_MEDIA_TYPE, "application/tar+gzip")  # the second: helm's legacy type
LOCK = "Chart.lock"
# chart.Dependency's JSON fields (pkg/chart/v2/dependency.go) in struct order, and whether they are omitempty.
_FIELDS = (
    ("name", False),
    ("version", True),
    ("repository", False),
    ("condition", True),
    ("tags", True),
    ("enabled", True),
    ("import-values", True),
    ("alias", True),
)
PackageLocal = Callable[[Path], bytes]  # a file:// dependency's directory → its archive


@dataclass(frozen=True)
class Resolved:
    """One dependency as the lock names it, and how to get its archive."""

    name: str
    repository: str
    version: str
    fetch: Callable[[], bytes] = dataclasses.field(compare=False, repr=False)


def declared(chart_yaml: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = chart_yaml.get("dependencies")
    return [d for d in entries if isinstance(d, dict)] if isinstance(entries, list) else []


def locked_versions(lock_text: str | None) -> dict[tuple[str, str], str]:
    """Chart.lock's exact versions by (name, repository): a lock is respected, not re-resolved."""
    data = yaml.load(lock_text or "", Loader=SafeLoader) or {}  # chartpkg checked it is a mapping
    entries = data.get("dependencies") if isinstance(data, dict) else None
    found: dict[tuple[str, str], str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and "name" in entry and "version" in entry:
            found[str(entry["name"]), str(entry.get("repository") or "")] = str(entry["version"])
    return found


def resolve(
    ctx: Context,
    chart_dir: Path,
    dependencies: list[dict[str, Any]],
    locked: Mapping[tuple[str, str], str],
    package_local: PackageLocal,
) -> list[Resolved]:
    """Each dependency's exact version (the lock's, else the newest its range allows), in Chart.yaml's order."""
    found = []
    for dependency in dependencies:
        name = str(dependency.get("name") or "")
        repository = str(dependency.get("repository") or "")
        wanted = str(dependency.get("version") or "*")
        pinned = locked.get((name, repository))
        try:
            found.append(_resolve_one(ctx, chart_dir, name, repository, wanted, pinned, package_local))
        except ReleaseError as error:
            raise about(error, name, repository) from None
    return found


def about(error: ReleaseError, name: str, repository: str) -> ReleaseError:
    where = f"dependency {name} ({repository})" if repository else f"dependency {name}"
    message = error.message if error.message.startswith("dependency ") else f"{where}: {error.message}"
    return ReleaseError(message, error.hint)


def _resolve_one(
    ctx: Context,
    chart_dir: Path,
    name: str,
    repository: str,
    wanted: str,
    pinned: str | None,
    package_local: PackageLocal,
) -> Resolved:
    if repository.startswith("oci://"):
        return _resolve_oci(ctx, name, repository, wanted, pinned)
    if repository.startswith(("https://", "http://")):
        return _resolve_classic(ctx, name, repository, wanted, pinned)
    if repository.startswith("file://"):
        return _resolve_local(ctx, chart_dir, name, repository, wanted, package_local)
    if not repository:
        raise ReleaseError("no repository, and not vendored under charts/", "add its repository URL to Chart.yaml")
    raise ReleaseError(
        f"repository {repository!r} is a name from `helm repo add`, which release does not read",
        "write the repository's URL (https://… or oci://…) in Chart.yaml",
    )


def _pick(name: str, where: str, wanted: str, available: Mapping[semver.Version, str], pinned: str | None) -> str:
    if pinned:
        if pinned not in available.values():
            raise ReleaseError(f"version {pinned} (from Chart.lock) is not in {where}", "run `release chart deps`")
        return pinned
    best = semverrange.parse(wanted).best(available)
    if best is None:
        shown = ", ".join(available[v] for v in sorted(available)[-5:]) or "none"
        raise ReleaseError(
            f"dependency {name}: no version in {where} matches {wanted!r} (latest there: {shown})",
            "fix the version range in Chart.yaml, or publish a matching version",
        )
    return available[best]


def _versions(texts: list[str]) -> dict[semver.Version, str]:
    found: dict[semver.Version, str] = {}
    for text in texts:
        with contextlib.suppress(ValueError):
            found[semver.Version.parse(text.removeprefix("v").replace("_", "+"))] = text
    return found


# --- OCI ------------------------------------------------------------------------------------------------


def registry_for(ctx: Context, repo: Repository) -> Registry:
    """One client per repository per run, so its auth (a Basic challenge, a Bearer token) is paid once."""
    clients: dict[str, Registry] = ctx.cache.setdefault("registries", {})
    if repo.name not in clients:
        clients[repo.name] = Registry(
            repo, credentials.for_registry(repo.host, ctx.env), missing=credentials.registry_missing(ctx.env)
        )
    return clients[repo.name]


def _resolve_oci(ctx: Context, name: str, repository: str, wanted: str, pinned: str | None) -> Resolved:
    base = repository.removeprefix("oci://").rstrip("/")
    registry = registry_for(ctx, Repository.parse(f"{base}/{name}"))
    tag = _pick(name, repository, wanted, _versions(registry.tags()), chartoci.oci_tag(pinned) if pinned else None)
    version = tag.replace("_", "+")

    def fetch() -> bytes:
        manifest = registry.manifest(tag)
        if manifest is None:
            raise ReleaseError(f"{name} {version} is not in {repository}", "check Chart.lock and the registry")
        layers = manifest.body.get("layers") or []
        layer = next((entry for entry in layers if entry.get("mediaType") in CHART_LAYERS), None)
        if layer is None:
            raise ReleaseError(f"{repository}/{name}:{tag} is not a Helm chart", "check the dependency's repository")
        data = registry.blob(str(layer["digest"]))
        if chartoci.digest(data) != layer["digest"]:
            raise ReleaseError(f"{name} {version}: the registry sent bytes that do not match their digest")
        return data

    return Resolved(name, repository, version, fetch)


# --- classic repositories (index.yaml) ------------------------------------------------------------------


def _resolve_classic(ctx: Context, name: str, repository: str, wanted: str, pinned: str | None) -> Resolved:
    index = _index(ctx, repository)
    entries = (index.get("entries") or {}).get(name)
    if not isinstance(entries, list) or not entries:
        raise ReleaseError(f"chart {name} is not in {repository}/index.yaml", "check the name and the repository URL")
    by_version = {str(e.get("version")): e for e in entries if isinstance(e, dict)}
    version = _pick(name, repository, wanted, _versions(list(by_version)), pinned)
    entry = by_version[version]
    urls = entry.get("urls") or []
    if not urls:
        raise ReleaseError(f"{repository}/index.yaml lists {name} {version} without a URL", "fix the repository")
    url = urljoin(repository.rstrip("/") + "/", str(urls[0]))  # chartrepo.go ResolveReferenceURL

    def fetch() -> bytes:
        data = _get(ctx, url, repository)
        expected = str(entry.get("digest") or "")
        if expected and hashlib.sha256(data).hexdigest() != expected.removeprefix("sha256:"):
            raise ReleaseError(f"{url} does not match the digest index.yaml gives", "the repository is inconsistent")
        return data

    return Resolved(name, repository, version, fetch)


def _index(ctx: Context, repository: str) -> dict[str, Any]:
    """A repository's index.yaml, read once per run."""
    cache: dict[str, dict[str, Any]] = ctx.cache.setdefault("chart-indexes", {})
    if repository not in cache:
        url = repository.rstrip("/") + "/index.yaml"
        text = _get(ctx, url, repository).decode("utf-8", "replace")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # public indexes run to tens of megabytes
        try:
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            raise ReleaseError(f"{url} is not valid YAML", "check the repository URL") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries") or {}, dict):
            raise ReleaseError(f"{url} is not a Helm repository index", "check the repository URL")
        cache[repository] = data
    return cache[repository]


def _get(ctx: Context, url: str, repository: str) -> bytes:
    """GET over our HTTP client; credentials only after a 401, and only to the repository's own host."""
    # Two retries, not five: a name that does not resolve or a refused port is reported in seconds, not sixteen.
    session: Any = ctx.cache.get("chart-http") or ctx.cache.setdefault("chart-http", http.session(retries=2))
    what = f"chart repository {url}"
    hint = "check the repository URL in Chart.yaml and the network"
    response = http.send(session, "GET", url, what=what, hint=hint, timeout=TIMEOUT)
    host = urlsplit(url).netloc
    if response.status_code == 401 and host == urlsplit(repository).netloc:
        found = _classic_credentials(ctx.env, host)
        if found is not None:
            auth = (found.username, found.password)
            response = http.send(session, "GET", url, what=what, hint=hint, timeout=TIMEOUT, auth=auth)
    if response.status_code in (401, 403):
        raise ReleaseError(
            f"{url} answered {response.status_code} {response.reason}",
            "set RELEASE_HELM_USER and RELEASE_HELM_PASSWORD (or a docker config entry for its host)",
        )
    if not response.ok:
        raise ReleaseError(f"{url} answered {response.status_code} {response.reason}", hint)
    return bytes(response.content)


def _classic_credentials(env: Mapping[str, str], host: str) -> credentials.Credentials | None:
    user, password = env.get("RELEASE_HELM_USER"), env.get("RELEASE_HELM_PASSWORD")
    if user and password:
        return credentials.Credentials(user, password, "RELEASE_HELM_USER/PASSWORD")
    return credentials.for_registry(host, env)


# --- file:// ---------------------------------------------------------------------------------------------


def _resolve_local(
    ctx: Context, chart_dir: Path, name: str, repository: str, wanted: str, package_local: PackageLocal
) -> Resolved:
    path = (chart_dir / repository.removeprefix("file://")).resolve()
    if not chartpkg.inside(path, ctx.root):
        raise ReleaseError(f"{repository} is outside the repository", "vendor the chart, or publish it")
    meta = chartpkg.read_chart(path)
    if meta.name != name:
        raise ReleaseError(f"{repository} holds chart {meta.name!r}, not {name!r}", "fix the name in Chart.yaml")
    with contextlib.suppress(ValueError):
        if not semverrange.parse(wanted).allows(semver.Version.parse(meta.version)):
            raise ReleaseError(f"{repository} is at version {meta.version}, which {wanted!r} does not allow")
    return Resolved(name, repository, meta.version, lambda: package_local(path))


# --- Chart.lock ------------------------------------------------------------------------------------------


def lock_text(dependencies: list[dict[str, Any]], resolved: list[Resolved], generated: int) -> str:
    """Chart.lock as `helm dependency update` writes it (sigs.k8s.io/yaml: keys sorted, the time quoted)."""
    lock = [{"name": r.name, "version": r.version, "repository": r.repository} for r in resolved]
    stamp = dt.datetime.fromtimestamp(generated, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"dependencies": lock, "digest": lock_digest(dependencies, lock), "generated": stamp}
    return chartindex.dump(body)


def lock_digest(dependencies: list[dict[str, Any]], lock: list[dict[str, str]]) -> str:
    """resolver.HashReq: sha256 of json.Marshal([Chart.yaml's dependencies, the lock's]); `helm dependency build`
    refuses a lock whose digest does not match ("out of sync")."""
    requested = []
    for dependency in dependencies:
        entry: dict[str, Any] = {}
        for key, omitempty in _FIELDS:
            value = dependency.get(key)
            if omitempty and not value:
                continue
            entry[key] = "" if value is None else value
        requested.append(entry)
    return "sha256:" + hashlib.sha256(chartoci.go_json([requested, lock])).hexdigest()


def same_lock(old: str | None, new: str) -> bool:
    """Equal but for `generated:`: helm leaves such a lock alone too."""
    if old is None:
        return False
    try:
        before = yaml.load(old, Loader=SafeLoader) or {}
    except yaml.YAMLError:
        return False
    after = yaml.load(new, Loader=SafeLoader)
    keys = ("dependencies", "digest")
    return isinstance(before, dict) and all(json.dumps(before.get(k)) == json.dumps(after.get(k)) for k in keys)


def refresh(ctx: Context, say: Callable[[str], None]) -> list[Path]:
    """`release chart deps`: each configured chart's Chart.lock resolved afresh from its ranges (what `helm
    dependency update` does, without charts/ filled and without a helm binary); a lock that would change only in
    `generated:` is left alone. Returns the locks written."""
    written = []
    for chart in ctx.config.charts:
        if ctx.options.component and chart.component not in (None, ctx.options.component):
            continue
        directory = ctx.root / chart.path
        dependencies = declared(chartpkg.read_chart(directory).raw)
        shown = f"{chart.path.rstrip('/')}/{LOCK}"
        if not dependencies:
            say(f"{chart.path}: no dependencies")
            continue
        resolved = resolve(ctx, directory, dependencies, {}, lambda path: b"")
        text = lock_text(dependencies, resolved, int(dt.datetime.now(dt.UTC).timestamp()))
        if same_lock(chartpkg.read_text(directory, LOCK), text):
            say(f"{shown} is up to date")
            continue
        ctx.effects.write_file(directory / LOCK, text, shown)
        names = ", ".join(f"{r.name} {r.version}" for r in resolved)
        say(f"wrote {shown} ({names})")
        written.append(directory / LOCK)
    return written
