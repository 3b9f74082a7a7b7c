"""Forge release: after publishing, one GitLab or GitHub release object per released tag, with the release notes
and links to the images and charts that were published. A rerun updates it; an up-to-date one gets no write call.

Decisions live here; `release.forges.objects` only speaks the APIs.

Which forge, API, project and token: `forge_release:` in release.yaml first, then the CI's variables (GitLab:
CI_API_V4_URL, CI_PROJECT_ID; GitHub: GITHUB_API_URL, GITHUB_REPOSITORY), then the origin remote's URL. Tokens:
GITLAB_TOKEN (PRIVATE-TOKEN) then CI_JOB_TOKEN (JOB-TOKEN) on GitLab, GITHUB_TOKEN (Bearer) on GitHub. No token or
no forge to be found is a skip with its reason; a token the forge rejects is an error, like any failed write.

What each link points at (GitLab shows them as release assets, GitHub in the body's "Artifacts" section):
- an image (`image`, named REPOSITORY:VERSION-TAG): Docker Hub's or Quay's tag page; the project's container
  registry page when the image lives under this GitLab project's CI_REGISTRY_IMAGE; https://ghcr.io/OWNER/NAME
  (it opens the package page); otherwise https://REPOSITORY@DIGEST, which names exactly what was pushed;
- a chart (`package`, named by its published reference): the archive's download URL for ChartMuseum and GitLab's
  Helm registry, the file's page in the branch for a git+ target on GitHub/GitLab, and for OCI the same as images.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import semver
import yaml

from release import ciinfo as ci
from release import secrets
from release.adapters.credentials import missing
from release.adapters.forge import Forge, Kind
from release.context import Context
from release.errors import ReleaseError
from release.forges.objects import Link, ReleaseObject, upsert
from release.naming import templates
from release.source import notes as repo_notes
from release.source import plans as planning
from release.source.fields import release_fields

Say = Callable[[str], None]

NO_TOKEN = "no forge token (set GITLAB_TOKEN or GITHUB_TOKEN; CI_JOB_TOKEN works on GitLab)"
NO_FORGE = "no forge detected (set forge_release.forge, or run in GitLab CI or GitHub Actions)"
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Released:
    """One tag the earlier stages released: the repository's, or one component's."""

    component: str | None
    version: semver.Version
    tag: str
    sha: str


# --------------------------------------------------------------------------------------------- the stage


def skip(ctx: Context) -> str | None:
    prepared = _prepare(ctx)
    return prepared if isinstance(prepared, str) else None


def publish(ctx: Context, say: Say) -> str:
    """Create or update the release object of every released tag; one line for the stage summary.

    Returns the skip reason when there is nothing to do here, else "created URL", "updated URL",
    "already up to date URL" (or "would ..." in a dry run), joined by ", " for several components.
    Raises ReleaseError when the forge refuses (a rejected token, an unknown project) or a notes file is missing.
    """
    prepared = _prepare(ctx)
    if isinstance(prepared, str):
        return prepared
    forge, releases = prepared
    lines = []
    for item in releases:
        line = ctx.effects.outcome(functools.partial(_upsert, ctx, forge, item))
        say(f"{item.tag}: {line}")
        lines.append(line)
    return ", ".join(lines)


def _upsert(ctx: Context, forge: Forge, item: Released) -> str:
    """Create or update one release object; its summary ("would …" lines instead, in a dry run)."""
    result = upsert(
        forge,
        tag=item.tag,
        name=release_name(ctx, item),
        notes=notes_for(ctx, item),
        links=links_for(ctx, item),
        sha=item.sha,
        prerelease=item.version.prerelease is not None,
        effects=ctx.effects,
    )
    return _summary(result, item)


def _summary(result: ReleaseObject, item: Released) -> str:
    if result.action == "unchanged":
        return f"already up to date {result.url}".rstrip()
    return f"{result.action} {result.url or f'release {item.tag}'}"


def _prepare(ctx: Context) -> tuple[Forge, list[Released]] | str:
    """The forge and the releases to make, or why there is nothing to do (checked in that order)."""
    if not ctx.config.forge_release.enabled:
        return "forge_release.enabled is false"
    releases = released(ctx)
    if not releases:
        return "nothing released"
    forge = resolve(ctx)
    return forge if isinstance(forge, str) else (forge, releases)


def access_checks(ctx: Context) -> list[Callable[[], None]]:
    """For the preflight: the forge that gets the release objects answers, and takes our token (one read of its
    releases). Nothing when no release object will be made (the notes stage says why)."""
    if not ctx.config.forge_release.enabled or not any(p.releasable for p in planning.make_plans(ctx)):
        return []
    forge = resolve(ctx)
    if isinstance(forge, str):
        return []

    def check() -> None:
        url = f"{forge.project_api}/releases"
        forge.send("GET", url, "list its releases", access="read and create releases", params={"per_page": "1"})

    return [check]


def released(ctx: Context) -> list[Released]:
    """What the plan stage recorded in the State: every component with a version, or the repository's version."""
    state = ctx.state
    sha = state.sha or ctx.git.head() or ""
    if state.components:
        return [
            Released(c["name"], _version(c["version"]), str(c["tag"]), sha)
            for c in state.components
            if c.get("version") and c.get("tag")
        ]
    if state.version and state.tag:
        return [Released(None, _version(state.version), state.tag, sha)]
    return []


def _version(text: str) -> semver.Version:
    try:
        return semver.Version.parse(str(text))
    except ValueError:
        raise ReleaseError(
            f"the state file records version {text!r}, which is not semantic", "delete the state file and rerun"
        ) from None


# --------------------------------------------------------------------------------------------- content


def release_name(ctx: Context, item: Released) -> str:
    """`forge_release.name` rendered like image tags, plus {tag} and {component}; the tag when it renders empty."""
    values = {**release_fields(ctx, item.version), "tag": item.tag, "component": item.component or ""}
    name = templates.render(ctx.config.forge_release.name, values, "forge_release.name").strip()
    return name or item.tag


def notes_for(ctx: Context, item: Released) -> str:
    """The notes the notes stage wrote for this tag; rendered now when that stage has not run in this workspace."""
    recorded = ctx.state.notes_path if item.component is None else None
    path = ctx.root / recorded if recorded else repo_notes.notes_file(ctx, item.component)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    plan = next(
        (p for p in planning.make_plans(ctx) if p.component == item.component and p.next_version == item.version),
        None,
    )
    if plan is None:
        raise ReleaseError(
            f"no release notes for {item.tag}: {_shown(ctx, path)} does not exist",
            "run the notes stage first (release run --only notes) in the same workspace",
        )
    return repo_notes.for_plan(ctx, plan).strip()


def _shown(ctx: Context, path: Path) -> str:
    try:
        return str(path.relative_to(ctx.root))
    except ValueError:
        return str(path)


def links_for(ctx: Context, item: Released) -> list[Link]:
    """One link per image and per published chart reference of this component (the State's records)."""
    image_components = {i.name: i.component for i in ctx.config.images}
    chart_components = _chart_components(ctx)
    project_url = ctx.ci.project_url
    links = []
    for image in ctx.state.images:
        if image_components.get(image.get("name", "")) != item.component:
            continue
        revision = image.get("revision")
        if revision and item.sha and revision != item.sha:
            continue  # left in a reused state file by an earlier release
        links.append(image_link(image, item.version, ctx.env, project_url))
        links.extend(attachment_links(image, str(image.get("repository") or ""), ctx.env, project_url))
    for chart in ctx.state.charts:
        if chart_components.get(str(chart.get("name"))) == item.component:
            links.extend(chart_links(chart, ctx.env, project_url))
            links.extend(attachment_links(chart, None, ctx.env, project_url))
    return _unique(links)


ATTACHED = {"sbom": "SBOM", "provenance": "SLSA provenance", "signature": "Sigstore signature"}
SIGNED_PROVENANCE = "https://slsa.dev/provenance/v1"


def attachment_links(
    record: Mapping[str, Any], repository: str | None, env: Mapping[str, str], project_url: str | None
) -> list[Link]:
    """A link per SBOM, provenance statement and signature the images and charts stages attached in a registry
    (the State's `attached`): named for what it is, pointing at the artifact's digest."""
    links = []
    for entry in record.get("attached") or []:
        what, digest = ATTACHED.get(str(entry.get("kind"))), entry.get("digest")
        where = repository or str(entry.get("ref") or "").removeprefix("oci://").rpartition(":")[0]
        if not what or not digest or not where:
            continue
        detail = entry.get("platform") or ("of the provenance" if entry.get("predicate") == SIGNED_PROVENANCE else "")
        name = f"{where} {what}" + (f" ({detail})" if detail else "")
        links.append(Link(name, registry_page(where, None, str(digest), env, project_url), "other"))
    return links


def _unique(links: list[Link]) -> list[Link]:
    """GitLab refuses two links with one name or one URL in a release: keep the first of each."""
    names: set[str] = set()
    urls: set[str] = set()
    out = []
    for link in links:
        if link.name not in names and link.url not in urls:
            out.append(link)
            names.add(link.name)
            urls.add(link.url)
    return out


def _chart_components(ctx: Context) -> dict[str, str | None]:
    """Chart name (Chart.yaml's, as the State records it) → the component its config names."""
    out: dict[str, str | None] = {}
    for chart in ctx.config.charts:
        out[chart.name or _chart_yaml_name(ctx.root / chart.path) or Path(chart.path).name] = chart.component
    return out


def _chart_yaml_name(directory: Path) -> str | None:
    try:
        data = yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if name else None


def image_link(
    image: Mapping[str, Any], version: semver.Version, env: Mapping[str, str], project_url: str | None
) -> Link:
    repository = str(image["repository"])
    tags = [str(t) for t in image.get("tags") or []]
    tag = str(version) if str(version) in tags else (tags[0] if tags else None)
    digest = image.get("digest") or None
    name = f"{repository}:{tag}" if tag else f"{repository}@{digest}"
    platforms = [str(p.get("platform")) for p in image.get("platforms") or []]
    if platforms:  # a multi-platform image: its index
        name += f" ({', '.join(platforms)})"
    return Link(name, registry_page(repository, tag, digest, env, project_url), "image")


def registry_page(
    repository: str, tag: str | None, digest: str | None, env: Mapping[str, str], project_url: str | None
) -> str:
    """A page for an image or OCI chart: the registry's web page when it is a known one (module docstring)."""
    host, _, path = repository.partition("/")
    if host in DOCKER_HUB:
        if path.startswith("library/"):
            return f"https://hub.docker.com/_/{path.removeprefix('library/')}"
        return f"https://hub.docker.com/r/{path}/tags" + (f"?name={urllib.parse.quote(tag)}" if tag else "")
    if host == "quay.io":
        return f"https://quay.io/repository/{path}?tab=tags"
    own = env.get("CI_REGISTRY_IMAGE")
    if project_url and own and (repository == own or repository.startswith(own + "/")):
        return f"{project_url.rstrip('/')}/container_registry"
    if host == "ghcr.io":
        return f"https://ghcr.io/{path}"
    return f"https://{repository}" + (f"@{digest}" if digest else f":{tag}" if tag else "")


def chart_links(chart: Mapping[str, Any], env: Mapping[str, str], project_url: str | None) -> list[Link]:
    name, version = str(chart.get("name")), str(chart.get("version"))
    digests = chart.get("digests") or {}
    links = []
    for ref in chart.get("refs") or []:
        url = chart_url(str(ref), name, version, digests.get(ref), env, project_url)
        if url:
            links.append(Link(str(ref), url, "package"))
    return links


def chart_url(
    ref: str, name: str, version: str, digest: str | None, env: Mapping[str, str], project_url: str | None
) -> str | None:
    """Where a published chart can be seen or downloaded, by the target's scheme (config.CHART_TARGET_SCHEMES)."""
    archive = f"{name}-{version}.tgz"
    if ref.startswith("oci://"):
        repository, _, tag = ref.removeprefix("oci://").rpartition(":")
        return registry_page(repository, tag, digest, env, project_url)
    if ref.startswith("chartmuseum+"):
        base = ref.removeprefix("chartmuseum+").rpartition(f"/{name}:")[0]
        return f"{base}/charts/{archive}"
    if ref.startswith("gitlab+"):
        url = urllib.parse.urlsplit(ref.removeprefix("gitlab+"))
        project, channel = [*url.path.strip("/").split("/"), "", ""][:2]
        helm = f"{url.scheme}://{url.netloc}/api/v4/projects/{project}/packages/helm"
        return f"{helm}/{channel}/charts/{archive}"
    if ref.startswith("git+"):
        return _branch_file_page(ref, env)
    return None


def _branch_file_page(ref: str, env: Mapping[str, str]) -> str | None:
    """git+URL#BRANCH[:DIR]/FILE → the file's page on GitHub/GitLab, the repository's page elsewhere."""
    target, _, file = ref.rpartition("/")
    url, _, fragment = target.removeprefix("git+").rpartition("#")
    branch, _, directory = fragment.partition(":")
    web = ci.web_url(url)
    if web is None:
        return None  # a local path: nothing anyone else can open
    path = f"{directory}/{file}" if directory else file
    kind = ci.forge_of(web, env)
    if kind == "github":
        return f"{web}/blob/{branch}/{path}"
    if kind == "gitlab":
        return f"{web}/-/blob/{branch}/{path}"
    return web


# --------------------------------------------------------------------------------------------- which forge


def resolve(ctx: Context) -> Forge | str:
    """The forge API, project and token for release objects, or why there is none (a skip, not an error).

    Settings given in release.yaml that cannot work (no API URL, a GitHub project that is not owner/repo) are
    errors: the user asked for this forge.
    """
    cfg = ctx.config.forge_release
    env = ctx.env
    explicit = bool(cfg.forge or cfg.api or cfg.project)
    web = ci.web_url(ctx.git.remote_url("origin"))
    kind = cfg.forge or _ci_kind(ctx) or ci.forge_of(web, env)
    if kind is None:
        return NO_FORGE
    # The remote tells the API host and the project only when it is on that same forge.
    remote = web if web and ci.forge_of(web, env) in (kind, None) else None
    host = remote.split("/")[2] if remote else None
    api = cfg.api or default_api(kind, env, host)
    project = cfg.project or _ci_project(kind, env) or (remote.split("/", 3)[3] if remote else None)
    problem = _problem(kind, api, project)
    if problem is not None:
        if explicit:
            raise ReleaseError(f"forge_release: {problem[0]}", problem[1])
        return f"{problem[0]} ({problem[1]})"
    assert api is not None and project is not None
    token = token_headers(kind, env)
    if token is None:
        empty = missing(env, None, "GITLAB_TOKEN" if kind == "gitlab" else "GITHUB_TOKEN")
        return f"no forge token: {empty}" if empty else NO_TOKEN
    name, headers = token
    return Forge(kind, api, project, headers, name, setting="`forge_release.api`")


def _problem(kind: Kind, api: str | None, project: str | None) -> tuple[str, str] | None:
    if not api:
        return f"cannot tell the {kind} API URL", "set forge_release.api"
    if not project:
        return (
            f"cannot tell the {kind} project",
            "set forge_release.project (GitLab: ID or group/name; GitHub: owner/repo)",
        )
    if kind == "github" and project.count("/") != 1:
        return f"GitHub project {project!r} is not owner/repo", "fix forge_release.project"
    return None


def _ci_kind(ctx: Context) -> Kind | None:
    if ctx.ci.provider in ("gitlab", "github"):
        return "gitlab" if ctx.ci.provider == "gitlab" else "github"
    if ctx.env.get("CI_API_V4_URL"):
        return "gitlab"
    if ctx.env.get("GITHUB_API_URL"):
        return "github"
    return None


def _ci_project(kind: Kind, env: Mapping[str, str]) -> str | None:
    if kind == "gitlab":
        return env.get("CI_PROJECT_ID") or env.get("CI_PROJECT_PATH") or None
    return env.get("GITHUB_REPOSITORY") or None


def default_api(kind: Kind, env: Mapping[str, str], host: str | None) -> str | None:
    """The REST API root from the CI's variables, else from the git host (GitHub Enterprise: /api/v3)."""
    if kind == "gitlab":
        if env.get("CI_API_V4_URL"):
            return env["CI_API_V4_URL"]
        if env.get("CI_SERVER_URL"):
            return f"{env['CI_SERVER_URL'].rstrip('/')}/api/v4"
        return f"https://{host}/api/v4" if host else None
    if env.get("GITHUB_API_URL"):
        return env["GITHUB_API_URL"]
    if host == "github.com":
        return "https://api.github.com"
    return f"https://{host}/api/v3" if host else None


def token_headers(kind: Kind, env: Mapping[str, str], job_token: bool = True) -> tuple[str, dict[str, str]] | None:
    """(the variable's name, the auth header) for `kind`, registered for masking; None when no token is set.

    `job_token=False`: not CI_JOB_TOKEN (GitLab's merge requests API does not accept it)."""
    if kind == "gitlab":
        if env.get("GITLAB_TOKEN"):
            name, headers = "GITLAB_TOKEN", {"PRIVATE-TOKEN": env["GITLAB_TOKEN"]}
        elif job_token and env.get("CI_JOB_TOKEN"):
            name, headers = "CI_JOB_TOKEN", {"JOB-TOKEN": env["CI_JOB_TOKEN"]}
        else:
            return None
    elif env.get("GITHUB_TOKEN"):
        name, headers = "GITHUB_TOKEN", {"Authorization": f"Bearer {env['GITHUB_TOKEN']}"}
    else:
        return None
    for value in headers.values():
        secrets.register(value)
        secrets.register(value.removeprefix("Bearer "))
    return name, headers
