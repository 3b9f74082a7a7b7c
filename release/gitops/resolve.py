"""A released version's values, from what was published for it: any release is promotable from anywhere.

For version V: the release tag must exist (here or on origin); each image's digest is what its registry holds under
V's version tag; each chart's version is the one the charts stage gave it (Chart.yaml at the tag, bumped as
`charts[].version` says), and its OCI manifest digest is what the registry holds under that version. The images and
charts are those release.yaml configured at the tag (the current file when the tag has none).

The State is a cache: when it is for V and holds every image and chart, its values are used and nothing is asked.
Otherwise everything comes from what was published, never a mix of two releases. A version without a tag, or with
an image or chart missing from its registry, is refused with one line naming what is missing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import semver
import yaml

from release import config as config_module
from release.charts import appversion
from release.charts.build import registry_for
from release.charts.oci import oci_tag
from release.charts.publish import oci_target
from release.config import ChartConfig, ComponentConfig, Config, ImageConfig
from release.context import Context
from release.errors import ReleaseError
from release.images.publish import image_tags
from release.naming import templates
from release.naming.imageref import ReleaseFacts, Repository, template_values
from release.source import origin
from release.source import plans as planning
from release.source.fields import artifact_fields, oci_digest
from release.yaml.strict import SafeLoader

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64  # what preflight renders templates with: digests do not exist yet

Digest = Callable[[Repository, str, str], str]  # (repository, tag, what) → the manifest digest, or refuse


@dataclass(frozen=True)
class Release:
    """A released version: its tag, the commit it names, and every `{field}` its templates can use."""

    version: semver.Version
    component: str | None
    tag: str
    commit: str
    values: dict[str, str]
    source: str  # where the values came from: "the State" or "the registries"


def component(ctx: Context) -> ComponentConfig | None:
    """Whose release environments take: --component, the one component this run released, or the only one."""
    declared = ctx.config.components
    if not declared:
        return None
    if ctx.options.component:
        return planning.components(ctx)[0]
    released = [str(c["name"]) for c in ctx.state.components if c.get("version")]
    names = released if len(released) == 1 else [c.name for c in declared]
    if len(names) == 1:
        return next(c for c in declared if c.name == names[0])
    raise ReleaseError(
        f"this repository has {len(declared)} components ({', '.join(names)}), and an environment takes one "
        "component's release",
        "pass --component NAME",
    )


def released(ctx: Context, version: semver.Version) -> Release:
    """Version `version`'s values (once per run), or a ReleaseError naming what of it was never published."""
    comp = component(ctx)
    found: dict[tuple[str | None, str], Release] = ctx.cache.setdefault("releases", {})
    key = (comp.name if comp else None, str(version))
    if key not in found:
        found[key] = _resolve(ctx, version, comp)
    return found[key]


def _resolve(ctx: Context, version: semver.Version, comp: ComponentConfig | None) -> Release:
    name = comp.name if comp else None
    tag = planning.policy(ctx.config.versioning, comp).tag_format.format(version)
    recorded = _recorded_version(ctx, name) == str(version) and bool(ctx.state.sha)  # the State is this version's
    this_run = recorded and ctx.state.sha == ctx.git.head()  # a dry run of it has published nothing: placeholders
    tagged = recorded and (ctx.effects.tag_published(ctx.state.released) if this_run else ctx.state.released)
    commit = str(ctx.state.sha) if tagged else _tagged(ctx, tag, version, comp)
    cached = _from_state(ctx, name, commit) if recorded else None
    if cached is not None:
        return Release(version, name, tag, commit, _base(ctx, version, commit) | cached, "the State")
    config = ctx.config if this_run else _config_at(ctx, commit, tag)  # the file that made the release

    def digest(repo: Repository, reference: str, what: str) -> str:
        manifest = registry_for(ctx, repo).manifest(reference)
        found = manifest.digest if manifest is not None else None
        if found is None and this_run:
            found = ctx.effects.published_digest(f"{repo.name}:{reference}", None)
        if found is None:
            raise ReleaseError(
                f"{version} was not fully published: {what} {repo.name}:{reference} is not in its registry",
                f"nothing was written; rerun the release pipeline of {tag} to publish it, or promote another version",
            )
        return found

    values = artifact_fields(
        *artifacts(config, name, version, commit, ctx.branch(), lambda path: ctx.git.file_at(commit, path), digest)
    )
    return Release(version, name, tag, commit, _base(ctx, version, commit) | values, "the registries")


def expected_fields(ctx: Context, version: semver.Version, component_name: str | None) -> dict[str, str]:
    """The fields the release of `version` this run makes will have, before anything is published (digests are
    placeholders): what preflight renders the environments' templates with."""
    head = ctx.git.head() or ""

    def read(path: str) -> str | None:
        file = ctx.root / path
        return file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None

    def digest(repo: Repository, reference: str, what: str) -> str:
        return PLACEHOLDER_DIGEST

    images, charts = artifacts(ctx.config, component_name, version, head, ctx.branch(), read, digest)
    return _base(ctx, version, head) | artifact_fields(images, charts)


def artifacts(
    config: Config,
    component_name: str | None,
    version: semver.Version,
    commit: str,
    branch: str | None,
    read: Callable[[str], str | None],
    digest: Digest,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The images and charts of a release, as State entries: `read` gives a file of the released tree, `digest`
    a manifest's digest in its registry."""
    facts = ReleaseFacts(version, commit, branch)
    images = [_image(image, facts, digest) for image in config.images if image.component == component_name]
    values = template_values(facts) | artifact_fields(images, [])
    charts = [
        _chart(chart, index, values, read, digest)
        for index, chart in enumerate(config.charts)
        if chart.component == component_name
    ]
    return images, charts


def _image(image: ImageConfig, facts: ReleaseFacts, digest: Digest) -> dict[str, Any]:
    tags, version_tag = image_tags(image, facts)
    repo = Repository.parse(image.repository)
    return {"name": image.name, "repository": repo.name, "tags": tags, "digest": digest(repo, version_tag, "image")}


def _chart(
    chart: ChartConfig, index: int, values: dict[str, str], read: Callable[[str], str | None], digest: Digest
) -> dict[str, Any]:
    """The chart as the charts stage publishes it: its name, version and appVersion, and its OCI digests."""
    where = f"charts[{index}] ({chart.path})"
    meta = _chart_yaml(read, chart.path, where)
    name = chart.name or str(meta.get("name") or "")
    if not name:
        raise ReleaseError(f"{where}: Chart.yaml has no name", "add `name:` to Chart.yaml")
    version = templates.render(chart.version, values, f"{where} version")
    app_template = appversion.template(chart, meta)
    app_version = (
        templates.render(app_template, values, f"{where} app_version")
        if app_template is not None
        else str(meta.get("appVersion") or "")
    )
    digests = {}
    for target in chart.publish:
        if target.startswith("oci://"):
            repo, prefix = oci_target(target, name)
            digests[f"{prefix}:{oci_tag(version)}"] = digest(repo, oci_tag(version), "chart")
    return {"name": name, "version": version, "app_version": app_version, "digests": digests}


def _chart_yaml(read: Callable[[str], str | None], path: str, where: str) -> dict[str, Any]:
    file = posixpath.join(posixpath.normpath(path), "Chart.yaml")
    text = read(file)
    if text is None:
        raise ReleaseError(f"{where}: no {file}", "point charts[].path at a chart directory")
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ReleaseError(f"{where}: {file} is not valid YAML ({str(exc).splitlines()[0]})", "fix it") from None
    return data if isinstance(data, dict) else {}


def _base(ctx: Context, version: semver.Version, commit: str) -> dict[str, str]:
    return template_values(ReleaseFacts(version, commit, ctx.branch()))


def _recorded_version(ctx: Context, name: str | None) -> str | None:
    if name is None:
        return ctx.state.version
    return next((str(c.get("version")) for c in ctx.state.components if c.get("name") == name), None)


def _from_state(ctx: Context, name: str | None, commit: str) -> dict[str, str] | None:
    """The State's image and chart fields when it holds every image and chart of this release, else None."""
    images = {i["name"]: i for i in ctx.state.images if i.get("digest")}
    wanted_images = [i.name for i in ctx.config.images if i.component == name]
    if any(image not in images for image in wanted_images):
        return None
    charts = {c["name"]: c for c in ctx.state.charts if c.get("version")}
    found = []
    for index, chart in enumerate(ctx.config.charts):
        if chart.component != name:
            continue
        where = f"charts[{index}] ({chart.path})"
        chart_name = chart.name or str(_chart_yaml(lambda p: ctx.git.file_at(commit, p), chart.path, where).get("name"))
        entry = charts.get(chart_name)
        if entry is None or (any(t.startswith("oci://") for t in chart.publish) and not oci_digest(entry)):
            return None
        found.append(entry)
    return artifact_fields([images[i] for i in wanted_images], found)


def _tagged(ctx: Context, tag: str, version: semver.Version, comp: ComponentConfig | None) -> str:
    """The commit the release tag names, here or on origin (its objects fetched); refused when there is none."""
    local = ctx.git.local_tag(tag)
    if local is not None:
        return local
    where = origin.remote(ctx)
    if where is not None:
        on_remote = ctx.git.remote_tag(where[0], tag, where[1])
        if on_remote is not None:
            ctx.git.fetch_objects(where[0], f"refs/tags/{tag}", where[1])  # Chart.yaml and release.yaml at the tag
            return on_remote
    pattern = planning.policy(ctx.config.versioning, comp).tag_format.format("*")
    raise ReleaseError(
        f"{version} was never released: no tag {tag} here"
        + (" or on origin" if where is not None else " (and no origin remote to ask)"),
        f"promote a released version (git tag --list '{pattern}'), or release {version} first",
    )


def _config_at(ctx: Context, commit: str, tag: str) -> Config:
    """release.yaml as the tag has it (its images and charts made the release); the current one when it has none."""
    if ctx.options.config_path:
        return ctx.config
    for name in config_module.CONFIG_NAMES:
        text = ctx.git.file_at(commit, name)
        if text is not None:
            try:
                return config_module.from_text(text, f"{name} at {tag}")
            except ReleaseError as exc:
                ctx.say(f"{name} at {tag} is not readable by this version of release ({exc.message}); using today's")
                return ctx.config
    return ctx.config
