"""release.yaml → a frozen, typed model.

Reading the file is separated from validating it (`from_text`), so tests pass text straight in.
Every error names the file, the line and the key, with a hint; unknown keys are errors, not warnings,
because a typo that is silently ignored releases the wrong thing.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from release.errors import ReleaseError
from release.yaml.strict import SafeLoader

CONFIG_NAMES = ("release.yaml", "release.yml", ".release.yaml", ".release.yml")


def _check_tag_format(value: str, component: str | None = "component") -> tuple[str, str] | None:
    from release.versioning.tags import TagFormat

    try:
        TagFormat(value, component=component)
    except ReleaseError as exc:
        return exc.message, exc.hint or ""
    return None


def _check_repo_tag_format(value: str) -> tuple[str, str] | None:
    """versioning.tag_format tags the repo as a whole: there is no {component} to fill in."""
    return _check_tag_format(value, component=None)


def _check_semver(value: str) -> tuple[str, str] | None:
    import semver

    if semver.Version.is_valid(value):
        return None
    return f"{value!r} is not a semantic version", 'write it as x.y.z, e.g. "0.1.0"'


def _check_timeout(value: int | None) -> tuple[str, str] | None:
    if value is None or value > 0:
        return None
    return f"{value} is not a number of seconds above 0", "write e.g. `timeout: 600`, or leave it out for no limit"


def _check_unique_names(value: tuple[Any, ...]) -> tuple[str, str] | None:
    names = [item.name for item in value]
    dupes = sorted({n for n in names if names.count(n) > 1})
    return (f"{dupes[0]!r} is listed twice", "give each entry its own name") if dupes else None


@dataclass(frozen=True)
class RuleConfig:
    """One entry of `versioning.rules`: commits matching type/scope/breaking ask for `bump`."""

    bump: Literal["major", "minor", "patch", "none"]
    type: str | None = None
    scope: str | None = None
    breaking: bool | None = None


@dataclass(frozen=True)
class VersioningConfig:
    tag_format: str = field(default="v{version}", metadata={"check": _check_repo_tag_format})
    initial: str = field(default="0.1.0", metadata={"check": _check_semver})
    rules: tuple[RuleConfig, ...] = ()
    bump_minor_pre_major: bool = False
    bump_patch_for_minor_pre_major: bool = False
    # branch → prerelease token; maintenance branches (1.x, 1.2.x) need no entry.
    prerelease_branches: dict[str, str] = field(
        default_factory=lambda: {"next": "rc", "beta": "beta", "alpha": "alpha"}
    )
    # true: headers as semantic-release reads them (`Fix: x`, a capitalised type, is not conventional);
    # false: any case of the type is accepted, as the Conventional Commits spec allows.
    strict: bool = True


def _check_shared_paths(value: str | tuple[str, ...]) -> tuple[str, str] | None:
    paths = (value,) if isinstance(value, str) else value
    bad = next((p for p in paths if not p.strip() or p.startswith("/") or ".." in p.split("/")), None)
    if bad is not None:
        return f"path {bad!r} is not a folder inside the repository", "write it relative to the root, e.g. apps/client"
    return None


def _check_component_paths(value: str | tuple[str, ...]) -> tuple[str, str] | None:
    if isinstance(value, tuple) and not value:
        return "an empty list of paths", "list the folders of the component, e.g. [apps/client, packages/ui]"
    return _check_shared_paths(value)


@dataclass(frozen=True)
class ComponentConfig:
    """A monorepo component: released when a commit touches one of its paths or a shared path it lists."""

    name: str
    path: tuple[str, ...] | str = field(metadata={"check": _check_component_paths})  # the first one is its home
    tag_format: str = field(default="{component}-v{version}", metadata={"check": _check_tag_format})
    # paths other components list too (packages/shared): a change there releases every component listing it
    shared: tuple[str, ...] = field(default=(), metadata={"check": _check_shared_paths})

    @property
    def paths(self) -> tuple[str, ...]:
        """Its own paths, then its shared ones: a commit touching any of them counts for it."""
        own = (self.path,) if isinstance(self.path, str) else self.path
        return own + tuple(p for p in self.shared if p not in own)

    @property
    def home(self) -> str:
        """Where its CHANGELOG.md goes: its first path."""
        return self.path if isinstance(self.path, str) else self.path[0]


@dataclass(frozen=True)
class SectionConfig:
    """One entry of `notes.sections` (release-please's `changelog-sections`): commits of `type` go under `title`."""

    type: str
    title: str
    hidden: bool = False  # a template still sees its commits (with `hidden` true)


def _check_sections(value: tuple[SectionConfig, ...]) -> tuple[str, str] | None:
    types = [s.type.lower() for s in value]
    dupes = sorted({t for t in types if types.count(t) > 1})
    if dupes:
        return f"type {dupes[0]!r} is listed twice", "give each type one entry (several types may share a title)"
    blank = next((s for s in value if not s.type.strip() or not s.title.strip()), None)
    return (
        ("an entry with an empty type or title", "write e.g. {type: chore, title: Miscellaneous Chores}")
        if blank
        else None
    )


@dataclass(frozen=True)
class NotesConfig:
    template: str | None = None
    # per commit type: its section's title, shown or hidden, in this order; empty: the default sections
    sections: tuple[SectionConfig, ...] = field(default=(), metadata={"check": _check_sections})
    style: Literal["default", "release-please"] = "default"  # release-please: its headings and entry order
    changelog: str | bool = "CHANGELOG.md"
    forge: Literal["gitlab", "github", "none"] | None = None  # None: guess from the remote / CI
    url: str | None = None  # the project's web URL for links; default from CI variables or the remote


def _check_tag_templates(value: tuple[str, ...]) -> tuple[str, str] | None:
    from release.naming.imageref import check_template

    if not value:
        return "an image needs at least one tag", 'e.g. tags: ["{version}"]'
    problem = next((p for t in value if (p := check_template(t))), None)
    return (problem, "fix the template") if problem else None


def _check_repository(value: str) -> tuple[str, str] | None:
    from release.naming.imageref import Repository

    try:
        Repository.parse(value)
    except ReleaseError as exc:
        return exc.message, exc.hint or ""
    return None


def _check_templates_in_values(value: dict[str, str]) -> tuple[str, str] | None:
    from release.naming.imageref import check_template

    problem = next((p for v in value.values() if (p := check_template(v))), None)
    return (problem, "fix the template") if problem else None


def _check_wait(value: int) -> tuple[str, str] | None:
    if value > 0:
        return None
    return f"{value} is not a number of seconds above 0", "write e.g. `wait: 600` (the default)"


PLATFORM_PATTERN = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


def _check_platforms(value: tuple[str, ...]) -> tuple[str, str] | None:
    bad = next((p for p in value if not PLATFORM_PATTERN.fullmatch(p)), None)
    if bad is not None:
        return f"{bad!r} is not a platform os/arch[/variant]", "write e.g. platforms: [linux/amd64, linux/arm64]"
    if len(set(value)) != len(value):
        return "a platform is listed twice", "list each platform once"
    return None


def _check_sbom(value: bool | str) -> tuple[str, str] | None:
    if isinstance(value, str) and not value.strip():
        return "an empty SBOM file name", "write sbom: true (syft, SPDX), sbom: cyclonedx, or the path of a file"
    return None


@dataclass(frozen=True)
class ImageConfig:
    """One container image: built from `context`, pushed to `repository` under every tag in `tags`.

    `build: elsewhere`: another CI job (kaniko, BuildKit, buildah) builds and pushes it; the images stage waits up to
    `wait` seconds for its version tag and checks its revision label instead of building it.
    """

    name: str
    repository: str = field(metadata={"check": _check_repository})
    context: str = "."
    dockerfile: str = "Dockerfile"
    tags: tuple[str, ...] = field(
        default=("{version}", "{major}.{minor}", "{major}", "sha-{short_sha}"),
        metadata={"check": _check_tag_templates},
    )
    build_args: dict[str, str] = field(default_factory=dict, metadata={"check": _check_templates_in_values})
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    component: str | None = None  # monorepos: the component whose version the image carries
    build: Literal["release", "elsewhere"] = "release"  # elsewhere: another job pushes it; release waits and checks
    wait: int = field(default=600, metadata={"check": _check_wait})  # seconds to wait for an image built elsewhere
    # one build per platform, pushed by digest, then one OCI image index under every tag (images/platforms.py)
    platforms: tuple[str, ...] = field(default=(), metadata={"check": _check_platforms})
    # supply chain (images/attest.py): an SBOM per platform attached in the registry (true/spdx/cyclonedx: syft;
    # any other text: a file of the repo holding one), and an in-toto SLSA provenance statement
    sbom: bool | str = field(default=False, metadata={"check": _check_sbom})
    provenance: bool = False


# oci://HOST/PATH                                   an OCI registry (helm push)
# chartmuseum+https://HOST[/PREFIX]                 ChartMuseum's API (POST /api/charts)
# gitlab+https://HOST/PROJECT_ID/CHANNEL            GitLab's Helm registry (packages/helm/api/CHANNEL/charts)
# git+URL#BRANCH[:DIR]                              a classic repository kept in a git branch (index.yaml + .tgz)
CHART_TARGET_SCHEMES = (
    "oci://",
    "chartmuseum+http://",
    "chartmuseum+https://",
    "gitlab+http://",
    "gitlab+https://",
    "git+",
)


def _check_publish_targets(value: tuple[str, ...]) -> tuple[str, str] | None:
    for target in value:
        if not target.startswith(CHART_TARGET_SCHEMES):
            return (
                f"publish target {target!r} is not supported",
                "use oci://HOST/PATH, chartmuseum+https://HOST, gitlab+https://HOST/PROJECT_ID/CHANNEL "
                "or git+URL#BRANCH",
            )
        if target.startswith("git+") and "#" not in target:
            return f"publish target {target!r} names no branch", "add it: git+URL#gh-pages"
        if re.match(r"^[a-z+]+://[^/@]*:[^/@]*@", target):  # user:password@ (git+ssh://git@host is fine)
            return (
                f"publish target {target!r} carries credentials",
                "never put secrets in release.yaml: use RELEASE_HELM_USER/RELEASE_HELM_PASSWORD or the CI token",
            )
    return None


@dataclass(frozen=True)
class ChartConfig:
    """A Helm chart: versions bumped and values set in memory (files untouched), packaged, published."""

    path: str
    name: str | None = None  # default: Chart.yaml's name
    version: str = "{version}"
    app_version: str | None = "auto"  # auto: by the chart's role (charts/appversion.py); keep or null: Chart.yaml's
    values: dict[str, str] = field(default_factory=dict)  # dotted path in values.yaml → template
    values_file: str = "values.yaml"
    create: bool = False  # allow `values` to create keys that do not exist yet
    publish: tuple[str, ...] = field(default=(), metadata={"check": _check_publish_targets})
    component: str | None = None
    provenance: bool = False  # an in-toto SLSA provenance statement attached to the chart in each OCI registry


def _check_repo_url(value: str) -> tuple[str, str] | None:
    if re.match(r"^[a-z+]+://[^/@]*:[^/@]*@", value):
        return (
            f"repository {value!r} carries credentials",
            "never put secrets in release.yaml: set RELEASE_GIT_USER and RELEASE_GIT_TOKEN in the CI environment",
        )
    return None


def _check_api_url(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^/]+", value):
        return (
            f"api {value!r} is not an http(s) URL",
            "e.g. https://gitlab.example.com/api/v4 or https://api.github.com",
        )
    if "@" in value.split("/")[2]:
        return f"api {value!r} carries credentials", "set GITLAB_TOKEN or GITHUB_TOKEN in the CI environment instead"
    return None


@dataclass(frozen=True)
class KustomizeImageConfig:
    """One Kustomize `images:` entry to set: `name` is the image as the manifests write it."""

    name: str
    newName: str | None = None  # kustomize's own key names
    newTag: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class UpdateConfig:
    """One file to edit in an environment: values by dotted path (`set`), or a Kustomize image (`image`)."""

    file: str
    set: dict[str, str] = field(default_factory=dict)  # dotted path → template
    image: KustomizeImageConfig | None = None
    document: int | None = None  # multi-document files: which one (from 0)
    match: dict[str, str] = field(default_factory=dict)  # or the one whose kind/metadata.name match
    create: bool = False  # allow `set` to add keys that do not exist yet
    allow_anchor: bool = False  # allow editing a value an anchor shares with other places (it changes them all)


def _check_updates(value: tuple[UpdateConfig, ...]) -> tuple[str, str] | None:
    if not value:
        return "an environment needs at least one update", "e.g. updates: [{file: values.yaml, set: {image.tag: ...}}]"
    for i, update in enumerate(value):
        if bool(update.set) == (update.image is not None):
            return (
                f"updates[{i}] ({update.file}) needs exactly one of `set` and `image`",
                "use set: {path: template} for any YAML, image: {name: ..., newTag: ...} for a kustomization",
            )
        if update.image is not None and not (update.image.newName or update.image.newTag or update.image.digest):
            return f"updates[{i}] ({update.file}): image needs newName, newTag or digest", "e.g. newTag: '{version}'"
    return None


def _check_env_url(value: str | None) -> tuple[str, str] | None:
    if value is None or re.match(r"^https?://[^/\s]+\S*$", value):
        return None
    return f"url {value!r} is not an http(s) URL", "e.g. url: https://dev.example.com"


def _check_globs(value: tuple[str, ...] | None) -> tuple[str, str] | None:
    blank = next((g for g in value or () if not g.strip()), None)
    return ("an empty status name", "write a name or a glob like kustomization/apps/*") if blank is not None else None


def _check_server(value: str) -> tuple[str, str] | None:
    if not re.match(r"^https?://[^/\s]+\S*$", value):
        return f"server {value!r} is not an http(s) URL", "e.g. server: https://argocd.example.com"
    if "@" in value.split("/")[2]:
        return f"server {value!r} carries credentials", "put the token in ARGOCD_AUTH_TOKEN in the CI environment"
    return None


def _check_variable(value: str) -> tuple[str, str] | None:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return None
    return (
        "token must name an environment variable, not hold a token",
        "write e.g. `token: ARGOCD_AUTH_TOKEN` and set that variable in the CI environment",
    )


def _check_applications(value: tuple[str, ...]) -> tuple[str, str] | None:
    return ("no application named", "list the Argo CD applications, e.g. [app-dev]") if not value else None


def _check_seconds(value: int) -> tuple[str, str] | None:
    return None if value > 0 else (f"{value} is not a number of seconds above 0", "write e.g. 600")


def _check_not_negative(value: int) -> tuple[str, str] | None:
    return None if value >= 0 else (f"{value} is below 0", "write a number of seconds, e.g. 60, or 0")


@dataclass(frozen=True)
class ArgoCDConfig:
    """Argo CD's API (read-only project-role token): each application's synced revision, sync and health."""

    server: str = field(metadata={"check": _check_server})  # e.g. https://argocd.example.com
    applications: tuple[str, ...] = field(metadata={"check": _check_applications})
    project: str | None = None  # the applications' project: Argo CD then tells "not found" from "permission denied"
    token: str = field(default="ARGOCD_AUTH_TOKEN", metadata={"check": _check_variable})  # the variable's name


@dataclass(frozen=True)
class VerifyConfig:
    """How `release promote --wait`, `after: {verified: true}` and `release status` learn what the agent did."""

    # commit statuses the agent posts on the infra commit (names or globs; [] or absent without argocd: any)
    commit_status: tuple[str, ...] | None = field(default=None, metadata={"check": _check_globs})
    argocd: ArgoCDConfig | None = None
    timeout: int = field(default=600, metadata={"check": _check_seconds})  # seconds a wait may take
    healthy_for: int = field(default=0, metadata={"check": _check_not_negative})  # seconds healthy before done
    interval: int = field(default=5, metadata={"check": _check_seconds})  # seconds between two looks
    wait: bool = False  # `release run` waits for this environment after promoting it

    @property
    def reads_statuses(self) -> bool:
        return self.commit_status is not None or self.argocd is None


@dataclass(frozen=True)
class AfterConfig:
    """`after: {env: dev, verified: true}`: dev must hold the version, and (verified) its agent confirmed it."""

    env: str
    verified: bool = False


@dataclass(frozen=True)
class EnvironmentConfig:
    """A GitOps environment: the infra repository (and branch) whose files a promote edits."""

    name: str
    repo: str = field(metadata={"check": _check_repo_url})
    updates: tuple[UpdateConfig, ...] = field(default=(), metadata={"check": _check_updates})
    branch: str | None = None  # default: the remote's default branch
    mode: Literal["push", "merge-request"] = "push"
    after: str | AfterConfig | None = None  # promote here only once this environment holds the version
    message: str | None = None  # jinja2 template of the commit message
    app: str | None = None  # the name in the commit subject; default: the project's folder name
    # merge-request mode: which forge API opens the merge/pull request (defaults: from CI, then the repo URL)
    forge: Literal["gitlab", "github"] | None = None
    api: str | None = field(default=None, metadata={"check": _check_api_url})  # e.g. https://gitlab.example.com/api/v4
    project: str | None = None  # GitLab: ID or group/name; GitHub: owner/repo; default: the repo URL's path
    automatic: bool = False  # `release run` promotes here after publishing; otherwise `release promote ENV` does
    url: str | None = field(default=None, metadata={"check": _check_env_url})  # where it runs, for forge deployments
    verify: VerifyConfig | None = None  # how to learn that the agent deployed a promoted version, and its health

    @property
    def after_env(self) -> str | None:
        return self.after.env if isinstance(self.after, AfterConfig) else self.after

    @property
    def after_verified(self) -> bool:
        return isinstance(self.after, AfterConfig) and self.after.verified


def _check_environments(value: tuple[EnvironmentConfig, ...]) -> tuple[str, str] | None:
    problem = _check_unique_names(value)
    if problem:
        return problem
    names = {e.name for e in value}
    verified = {e.name for e in value if e.verify is not None}
    for env in value:
        if env.after_env is not None and (env.after_env not in names or env.after_env == env.name):
            return f"environment {env.name!r}: after {env.after_env!r} is not another environment", (
                f"use one of: {', '.join(sorted(names - {env.name})) or 'none'}"
            )
        if env.after_verified and env.after_env not in verified:
            return f"environment {env.name!r}: after {env.after_env} verified, but {env.after_env} has no verify:", (
                f"add a verify: block to {env.after_env} (commit_status or argocd), or drop verified"
            )
    return None


@dataclass(frozen=True)
class CommandConfig:
    """One test command: `release test` and the pipeline's test stage run it with sh -c in the repo root."""

    name: str
    run: str
    timeout: int | None = field(default=None, metadata={"check": _check_timeout})  # seconds; default: none


@dataclass(frozen=True)
class ForgeReleaseConfig:
    """The GitLab or GitHub release object made after publishing (notes + links to images and charts)."""

    enabled: bool = True
    name: str = "{tag}"  # the release's title, a template like image tags
    forge: Literal["gitlab", "github"] | None = None  # default: from CI variables, then the origin remote
    api: str | None = field(default=None, metadata={"check": _check_api_url})
    project: str | None = None  # GitLab: ID or group/name; GitHub: owner/repo; default: CI, then the remote


def _check_branches(value: tuple[str, ...] | None) -> tuple[str, str] | None:
    if value is not None and not value:
        return "no branch would release", "list at least one branch (e.g. [main]), or remove the key for the defaults"
    blank = next((b for b in value or () if not b.strip()), None)
    return ("an empty branch name", "write a branch name or a glob like release/*") if blank is not None else None


@dataclass(frozen=True)
class SigstoreConfig:
    """A private Sigstore instance: a ClientTrustConfig JSON file (trusted root + Fulcio, Rekor and TSA URLs)."""

    trust_config: str | None = None


@dataclass(frozen=True)
class Config:
    version: Literal[1] = 1
    versioning: VersioningConfig = field(default_factory=VersioningConfig)
    components: tuple[ComponentConfig, ...] = field(default=(), metadata={"check": _check_unique_names})
    tests: tuple[CommandConfig, ...] = field(default=(), metadata={"check": _check_unique_names})
    notes: NotesConfig = field(default_factory=NotesConfig)
    forge_release: ForgeReleaseConfig = field(default_factory=ForgeReleaseConfig)
    images: tuple[ImageConfig, ...] = field(default=(), metadata={"check": _check_unique_names})
    charts: tuple[ChartConfig, ...] = ()
    environments: tuple[EnvironmentConfig, ...] = field(default=(), metadata={"check": _check_environments})
    # the branches that release (names or globs, as semantic-release's `branches`); None: the default branch,
    # versioning.prerelease_branches and maintenance branches (1.x, 1.2.x). Any other branch plans only.
    branches: tuple[str, ...] | None = field(default=None, metadata={"check": _check_branches})
    # keyless signatures of images, charts and provenance in OCI registries (source/signing.py)
    signing: Literal["none", "sigstore"] = "none"
    sigstore: SigstoreConfig = field(default_factory=SigstoreConfig)
    source: str | None = field(default=None, metadata={"internal": True})  # the file it came from

    @property
    def changelog_path(self) -> str | None:
        value = self.notes.changelog
        if value is True:
            return "CHANGELOG.md"
        return value or None


def find(root: Path, explicit: str | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ReleaseError(f"config file {explicit} does not exist", "check the --config path")
        return path
    return next((root / name for name in CONFIG_NAMES if (root / name).is_file()), None)


def load(root: Path, explicit: str | None = None) -> Config:
    """The config of the repo at `root`; defaults when there is no file."""
    path = find(root, explicit)
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{path}: not UTF-8 text ({exc.reason})", "save release.yaml as UTF-8") from None
    return from_text(text, str(path))


def from_text(text: str, filename: str = "release.yaml") -> Config:
    try:
        loader = SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader checks every character up front
        number = text.count("\n", 0, exc.position) + 1
        raise ReleaseError(
            f"{filename}:{number}: not valid YAML: character {chr(exc.character)!r} is not allowed in YAML",
            "remove it, or write it escaped in a double-quoted string",
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ReleaseError(
            f"{filename}{line}: not valid YAML: {exc.problem or exc.context}",
            "check indentation and quoting around that line",
        ) from None
    except yaml.YAMLError as exc:
        raise ReleaseError(
            f"{filename}: not valid YAML: {str(exc).splitlines()[0]}", "check the file's syntax"
        ) from None
    finally:
        loader.dispose()
    if node is None or _is_null(node):  # empty, comments only, or a bare `---`
        return dataclasses.replace(Config(), source=filename)
    reader = _Reader(filename, loader)
    config: Config = reader.build(Config, node, "")
    return dataclasses.replace(config, source=filename)


def _quote_hint(hint: Any, node: yaml.Node, path: str) -> str:
    if hint is str:
        text = node.value if isinstance(node, yaml.ScalarNode) else path
        if isinstance(node, yaml.MappingNode) and node.flow_style:
            return "a value starting with { is a YAML mapping: put the whole value in double quotes"
        return f'put the value in double quotes: "{text}"'
    return f"set '{path}' to {_PLAIN_TYPES.get(hint, str(hint))}"


_PLAIN_TYPES = {str: "a string", int: "a whole number", bool: "true or false"}


class _Reader:
    """Builds frozen dataclasses from YAML nodes, checking every key and type against the hints."""

    def __init__(self, filename: str, loader: yaml.SafeLoader) -> None:
        self.filename = filename
        self.loader = loader

    def fail(self, node: yaml.Node, message: str, hint: str) -> typing.NoReturn:
        raise ReleaseError(f"{self.filename}:{node.start_mark.line + 1}: {message}", hint)

    def build(self, cls: type[Any], node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where or 'the top level'} must be a mapping", "write it as `key: value` lines")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct(key_node)
            path = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str) or key not in fields:
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(sorted(fields))}"
                self.fail(key_node, f"unknown key '{path}'", hint)
            if key in values:
                self.fail(key_node, f"key '{path}' appears twice", "keep one of them")
            values[key] = self.value(hints[key], value_node, path)
            check = fields[key].metadata.get("check")
            if check is not None and (problem := check(values[key])):
                self.fail(value_node, f"'{path}': {problem[0]}", problem[1])
        missing = [
            name
            for name, f in fields.items()
            if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            self.fail(node, f"'{where or 'top level'}' is missing the key '{missing[0]}'", "add it")
        return cls(**values)

    def value(self, hint: Any, node: yaml.Node, path: str) -> Any:
        """The value at `node`, read as the type `hint` names (what a dataclass field declares)."""
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if _is_null(node) and (dataclasses.is_dataclass(hint) or origin in (tuple, dict)):
            # `notes:` with everything below commented out: the defaults, as for an empty file.
            node = (yaml.SequenceNode if origin is tuple else yaml.MappingNode)("", [], node.start_mark, node.end_mark)
        if origin in (Union, types.UnionType):
            return self._one_of(args, node, path)
        if origin is Literal:
            return self._literal(args, node, path)
        if origin is tuple:
            if not isinstance(node, yaml.SequenceNode):
                self.fail(node, f"'{path}' must be a list", "write it as `- item` lines or [a, b]")
            return tuple(self.value(args[0], item, f"{path}[{i}]") for i, item in enumerate(node.value))
        if origin is dict:
            if not isinstance(node, yaml.MappingNode):
                self.fail(node, f"'{path}' must be a mapping", "write it as `key: value` lines")
            return {
                self.value(args[0], k, path): self.value(args[1], v, f"{path}.{self.scalar(k)}") for k, v in node.value
            }
        if dataclasses.is_dataclass(hint):
            return self.build(typing.cast(type[Any], hint), node, path)
        return self._plain(hint, node, path)

    def _one_of(self, options: tuple[Any, ...], node: yaml.Node, path: str) -> Any:
        """A union: null where None is allowed, else the first option that reads; the last one's error if none do."""
        if _is_null(node) and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return self.value(option, node, path)
            except ReleaseError as exc:
                errors.append(exc)
        raise errors[-1]

    def _literal(self, allowed: tuple[Any, ...], node: yaml.Node, path: str) -> Any:
        value = self.scalar(node)
        if value not in allowed:
            shown = " | ".join(str(a) for a in allowed)
            self.fail(node, f"'{path}' is {value!r}; it must be one of {shown}", f"use one of {shown}")
        return value

    def _plain(self, hint: Any, node: yaml.Node, path: str) -> Any:
        """A str, int or bool, as YAML typed it: no coercion, so an unquoted 1.10 where a string is wanted is an
        error with a hint to quote it, not the string "1.1"."""
        if not isinstance(node, yaml.ScalarNode):
            wanted = _PLAIN_TYPES.get(hint, str(hint))
            self.fail(
                node,
                f"'{path}' must be {wanted}, got a {type(node).__name__.removesuffix('Node').lower()}",
                _quote_hint(hint, node, path),
            )
        value = self.scalar(node)
        if hint is bool and isinstance(value, bool):
            return value
        if hint is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if hint is str and isinstance(value, str):
            return value
        wanted = _PLAIN_TYPES.get(hint, str(hint))
        got = "null" if value is None else type(value).__name__
        self.fail(node, f"'{path}' must be {wanted}, got {got}", _quote_hint(hint, node, path))

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return f"<{type(node).__name__.removesuffix('Node').lower()}>"
        return self.construct(node)

    def construct(self, node: yaml.Node) -> Any:
        """A key or scalar as SafeLoader reads it; what it cannot build (`<<`, !!python/..., a bad !!binary or
        !!int) is the user's to fix, not a crash."""
        if node.tag == "tag:yaml.org,2002:merge":
            self.fail(node, "merge keys (<<) are not supported in this file", "write the keys out")
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError as exc:
            problem = (getattr(exc, "problem", None) or str(exc)).splitlines()[0]
            self.fail(node, f"cannot read this value ({problem})", "remove the tag (!!...), or quote the value")


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
