"""`release init`: a starter release.yaml from what the repo holds, every key explained in a comment.

Detection reads files and git only (no network): Dockerfiles become `images:`, Helm charts `charts:`, the
origin remote and CI files pick the forge and the registry guesses, existing tags the tag format (or
`components:`), build files a test command. Environments are only ever a commented example: a live entry
with an invented infra repo would be used by `release promote`.

The text is built line by line rather than dumped by PyYAML because the comments are the point; it is read
back with the strict config reader before anything is written. The same repo always gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml

from release import ciinfo as ci_module
from release import config as config_module
from release.adapters.git import Git
from release.ci import starter
from release.errors import ReleaseError
from release.versioning.tags import SEMVER

Forge = Literal["gitlab", "github"]
Say = Callable[[str], None]

MAX_DEPTH = 3  # folders below the root searched for Dockerfiles and charts
# Folders that hold other people's code or test data: a Dockerfile there is not one of this project's images.
SKIPPED_DIRS = frozenset(
    {"node_modules", "vendor", "vendored", "third_party", "third-party", "testdata", "__pycache__", "site-packages"}
)
DEFAULT_TAGS = '["{version}", "{major}.{minor}", "{major}", "sha-{short_sha}"]'
IMAGE_VALUE_KEYS = ("repository", "tag", "digest")  # the `image.*` values a chart gets wired to
RELEASE_VALUES = {"version": "{version}", "commit": "{sha}"}  # `release.*` values (the starter's pod annotations)
COMMENT_COLUMN = 40


# --- what was found ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    host: str
    path: str  # group/subgroup/project as the remote spells it
    web: str
    forge: Forge | None


@dataclass(frozen=True)
class Image:
    name: str
    context: str
    dockerfile: str
    at_root: bool  # the repo's own Dockerfile: its registry path is the project's, without a suffix


@dataclass(frozen=True)
class Chart:
    path: str
    name: str
    image_keys: tuple[str, ...]  # which of image.repository/tag/digest its values file has
    values_problem: str | None  # why values.yaml could not be read, when it could not
    image_repository: str | None = None  # values.yaml's image.repository: which image the chart deploys
    release_keys: tuple[str, ...] = ()  # which of release.version/commit its values file has (the starter's)
    dependencies: int = 0  # how many charts Chart.yaml's dependencies bundle (an umbrella chart's)
    app_version: str | None = None  # Chart.yaml's appVersion as written


@dataclass(frozen=True)
class TestCommand:
    name: str
    run: str
    reason: str
    sure: bool  # unsure guesses are written commented out


@dataclass(frozen=True)
class Component:
    name: str
    path: str | None  # None: no folder of that name was found


@dataclass(frozen=True)
class TagStyle:
    tag_format: str
    reason: str
    components: tuple[Component, ...] = ()
    component_format: str | None = None  # None: ComponentConfig's default {component}-v{version}
    charts: bool = False  # chart-releaser's NAME-X.Y.Z tags: one component per chart


@dataclass(frozen=True)
class Registry:
    """Where images (and OCI charts) most likely go, and why we think so."""

    base: str
    note: str
    made_up: bool  # registry.example.com: must be changed before anything is pushed


@dataclass(frozen=True)
class Found:
    project: str
    remote: Remote | None
    forge: Forge | None
    ci_files: tuple[tuple[Forge, str], ...]
    images: tuple[Image, ...]
    charts: tuple[Chart, ...]
    tags: TagStyle
    tests: tuple[TestCommand, ...]
    registry: Registry


# --- entry point ------------------------------------------------------------------------------------------


def main(
    root: Path, *, force: bool, to_stdout: bool, say: Say, echo: Callable[[str], None], chart: bool = False
) -> None:
    git = Git.open(root)
    target = _target(git.cwd, force=force, to_stdout=to_stdout)
    found = detect(git)
    if chart:
        add_starter_chart(git.cwd, found, to_stdout=to_stdout, say=say)
        found = detect(git)  # the new chart, found like any other: wired to the image by its name
    text = render(found)
    _check(text)
    say(summary(found))
    for line in _found_lines(found):
        say(line)
    if to_stdout:
        echo(text.rstrip("\n"))
    else:
        target.write_text(text, encoding="utf-8")
        say(f"wrote {target.name}: check the lines marked CHANGE ME, then run `release plan`")
        echo(str(target))
    for line in ci_snippet(found):
        say(line)


def add_starter_chart(top: Path, found: Found, *, to_stdout: bool, say: Say) -> None:
    """`release init --chart`: the starter chart for the repository's image, checked before anything is written."""
    if to_stdout:
        raise ReleaseError("--chart writes a chart, --stdout writes nothing", "leave out one of them")
    if found.charts:
        paths = ", ".join(c.path for c in found.charts)
        raise ReleaseError(
            f"this repository already has a chart ({paths})", "run `release init` without --chart: it wires that one"
        )
    if not found.images:
        raise ReleaseError(
            "no Dockerfile here: the starter chart deploys the image built from it",
            "add a Dockerfile (or Containerfile), or run `release init` without --chart",
        )
    image = next((i for i in found.images if i.at_root), found.images[0])
    name = starter.chart_name(image.name)
    where = starter.target(top, name)
    starter.copy(where, name)
    say(f"wrote the starter chart to charts/{name} (Deployment, Service, optional Ingress) for image {image.name}")


def _target(top: Path, *, force: bool, to_stdout: bool) -> Path:
    """The file to write; an existing config is replaced in place so that no second, shadowed one is left."""
    existing = config_module.find(top)
    if existing is not None and not force and not to_stdout:
        raise ReleaseError(f"{existing.name} already exists in {top}", "pass --force to replace it, or edit it")
    return existing or top / config_module.CONFIG_NAMES[0]


def _check(text: str) -> None:
    """What init writes must be a config the tool accepts: anything else is a bug in init, not a user error."""
    try:
        config_module.from_text(text, "release.yaml (generated)")
    except ReleaseError as exc:
        raise RuntimeError(f"release init generated an invalid release.yaml: {exc.line()}") from exc


def summary(found: Found) -> str:
    return f"found {found_text(found)}"


def found_text(found: Found) -> str:
    """2 Dockerfiles, 1 chart, GitLab CI."""
    if not found.images and not found.charts and not found.ci_files:
        return "no Dockerfile, chart or CI file"
    return ", ".join(
        [
            _count(len(found.images), "Dockerfile"),
            _count(len(found.charts), "chart"),
            *(f"{'GitLab' if forge == 'gitlab' else 'GitHub'} CI" for forge, _ in found.ci_files),
        ]
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _found_lines(found: Found) -> list[str]:
    lines = [f"versioning: {found.tags.reason}"]
    lines += [f"test command: {t.run} ({t.reason})" for t in found.tests]
    return lines


# --- detection --------------------------------------------------------------------------------------------


def detect(git: Git) -> Found:
    top = git.cwd
    everything = list_files(git)
    files = [f for f in everything if not _skipped(PurePosixPath(f))]
    remote = parse_remote(git.remote_url())
    ci_files = find_ci_files(everything)
    forge = (remote.forge if remote else None) or (ci_files[0][0] if ci_files else None)
    project = slug(remote.path.rsplit("/", 1)[-1] if remote else top.name) or "app"
    charts = find_charts(top, files)
    tag_names = [t.name for t in git.tags()]
    tags = chart_tag_style(tag_names, charts) or tag_style(tag_names, files)
    images = find_images(files, project)
    return Found(
        project=project,
        remote=remote,
        forge=forge,
        ci_files=ci_files,
        images=images,
        charts=charts,
        tags=tags,
        tests=guess_tests(top, files),
        registry=registry_for(remote, forge, project),
    )


def list_files(git: Git) -> list[str]:
    """Tracked and untracked-but-not-ignored files, sorted: .gitignore already says what is not the project's."""
    out = git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p})


def _skipped(path: PurePosixPath) -> bool:
    """Hidden folders (.github, .devcontainer) and other people's code hold no image or chart of ours."""
    folders = path.parts[:-1]
    return any(part.startswith(".") or part in SKIPPED_DIRS for part in folders)


def parse_remote(url: str | None) -> Remote | None:
    web = ci_module.web_url(url)
    if web is None:
        return None
    host, _, path = web.removeprefix("https://").partition("/")
    if not path:
        return None
    return Remote(host=host.lower(), path=path, web=web, forge=ci_module.forge_of(web, {}))


def find_ci_files(files: list[str]) -> tuple[tuple[Forge, str], ...]:
    found: list[tuple[Forge, str]] = []
    if ".gitlab-ci.yml" in files:
        found.append(("gitlab", ".gitlab-ci.yml"))
    workflows = [f for f in files if re.fullmatch(r"\.github/workflows/[^/]+\.ya?ml", f)]
    if workflows:
        found.append(("github", workflows[0]))
    return tuple(found)


def find_images(files: list[str], project: str) -> tuple[Image, ...]:
    images: list[Image] = []
    names: set[str] = set()
    for path in files:
        image = _image_for(PurePosixPath(path), project)
        if image is None:
            continue
        name = unique(image.name, names)
        names.add(name)
        # Only one image can have the project's own registry path (a root Dockerfile and Containerfile both).
        at_root = image.at_root and not any(i.at_root for i in images)
        images.append(Image(name, image.context, image.dockerfile, at_root))
    return tuple(images)


def _image_for(path: PurePosixPath, project: str) -> Image | None:
    folder = path.parent
    if len(folder.parts) > MAX_DEPTH:
        return None
    context = str(folder) if folder.parts else "."
    if path.name in ("Dockerfile", "Containerfile"):
        name = slug(folder.name) if folder.parts else project
        return Image(name or project, context, path.name, not folder.parts)
    if path.name.lower().endswith(".dockerfile") and len(path.name) > len(".dockerfile"):
        return Image(slug(path.name[: -len(".dockerfile")]) or project, context, path.name, False)
    return None


def find_charts(top: Path, files: list[str]) -> tuple[Chart, ...]:
    folders = [PurePosixPath(f).parent for f in files if PurePosixPath(f).name == "Chart.yaml"]
    folders = [f for f in folders if len(f.parts) <= MAX_DEPTH]
    chart_dirs = set(folders)
    # A chart inside another chart is a subchart: helm packages it with its parent.
    own = [f for f in folders if not any(parent in chart_dirs for parent in f.parents if parent != f)]
    return tuple(_chart(top, folder) for folder in own)


def _chart(top: Path, folder: PurePosixPath) -> Chart:
    directory = top / folder
    meta = _load_yaml(directory / "Chart.yaml")
    name = meta.get("name") if isinstance(meta, dict) else None
    path = str(folder) if folder.parts else "."
    keys: tuple[str, ...] = ()
    problem = None
    repository = None
    release_keys: tuple[str, ...] = ()
    values_path = directory / "values.yaml"
    if values_path.is_file():
        try:
            values = yaml.safe_load(values_path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problem = f"values.yaml did not parse ({type(exc).__name__})"
        else:
            image = values.get("image") if isinstance(values, dict) else None
            if isinstance(image, dict):
                keys = tuple(k for k in IMAGE_VALUE_KEYS if k in image)
                repository = str(image["repository"]) if image.get("repository") else None
            ours = values.get("release") if isinstance(values, dict) else None
            if isinstance(ours, dict):
                release_keys = tuple(k for k in RELEASE_VALUES if k in ours)
    dependencies = meta.get("dependencies") if isinstance(meta, dict) else None
    app_version = meta.get("appVersion") if isinstance(meta, dict) else None
    return Chart(
        path,
        str(name) if name else folder.name or "chart",
        keys,
        problem,
        repository,
        release_keys,
        len(dependencies) if isinstance(dependencies, list) else 0,
        None if app_version is None else str(app_version),
    )


def _load_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


_TAG_PATTERNS = {
    "v": re.compile(rf"^v{SEMVER}$"),
    "plain": re.compile(rf"^{SEMVER}$"),
    "dash": re.compile(rf"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*?)-v{SEMVER}$"),
    "at": re.compile(rf"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)@{SEMVER}$"),
}


def tag_style(tags: Iterable[str], files: list[str]) -> TagStyle:
    """v1.2.3 → v{version}; 1.2.3 → {version}; api-v1.2.3 and web-v1.0.0 → components; none → the default."""
    counts = {"v": 0, "plain": 0}
    named: dict[str, dict[str, int]] = {"dash": {}, "at": {}}
    for tag in tags:
        kind, name = _classify(tag)
        if kind in counts:
            counts[kind] += 1
        elif kind in named and name:
            named[kind][name] = named[kind].get(name, 0) + 1
    kind = max(("dash", "at"), key=lambda k: (len(named[k]), sum(named[k].values())))
    names = sorted(named[kind])
    suffix = "-v{version}" if kind == "dash" else "@{version}"
    if len(names) >= 2:
        repo = _repo_format(counts, f"tags for {len(names)} components ({', '.join(names)})")
        components = tuple(Component(n, component_path(n, files)) for n in names)
        fmt = None if kind == "dash" else "{component}" + suffix
        return TagStyle(repo.tag_format, repo.reason, components, fmt)
    if names and not counts["v"] and not counts["plain"]:
        fmt = f"{names[0]}{suffix}"
        example = fmt.replace("{version}", "1.2.3")
        return TagStyle(fmt, f'{_count(named[kind][names[0]], "tag")} like {example} → tag_format "{fmt}"')
    return _repo_format(counts, None)


def chart_tag_style(tags: Iterable[str], charts: tuple[Chart, ...]) -> TagStyle | None:
    """chart-releaser's NAME-X.Y.Z tags (cpn-console-2.4.25), NAME a chart's name: one component per chart.

    None when no tag names a chart this way. Every chart becomes a component, tagged or not yet: in a chart
    monorepo each chart has its own version, and one shared v{version} would release them all together."""
    names = sorted({c.name for c in charts}, key=len, reverse=True)  # longest first: web-ui before web
    counts: dict[str, int] = {}
    for tag in tags:
        name = next((n for n in names if tag.startswith(f"{n}-") and re.fullmatch(SEMVER, tag[len(n) + 1 :])), None)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return None
    tagged = ", ".join(f"{n} {counts[n]}" for n in sorted(counts))
    if len(charts) == 1:
        fmt = f"{charts[0].name}-{{version}}"
        example = fmt.replace("{version}", "1.2.3")
        return TagStyle(fmt, f'{_count(counts[charts[0].name], "tag")} like {example} → tag_format "{fmt}"')
    taken: set[str] = set()
    components = []
    # Two charts of one name (a copy in another folder): the one in the folder of that name keeps it, with its tags;
    # the other is named after its folder.
    for chart in sorted(charts, key=lambda c: (c.name, PurePosixPath(c.path).name != c.name, c.path)):
        name = chart.name if chart.name not in taken else unique(slug(PurePosixPath(chart.path).name), taken)
        taken.add(name)
        components.append(Component(name, chart.path))
    reason = f"chart-releaser tags NAME-X.Y.Z for {_count(len(counts), 'chart')} ({tagged}) → one component per chart"
    return TagStyle("v{version}", reason, tuple(components), "{component}-{version}", charts=True)


def _classify(tag: str) -> tuple[str | None, str | None]:
    for kind, pattern in _TAG_PATTERNS.items():
        match = pattern.match(tag)
        if match:
            return kind, match.groupdict().get("name")
    return None, None


def _repo_format(counts: dict[str, int], extra: str | None) -> TagStyle:
    if counts["plain"] > counts["v"]:
        fmt, reason = "{version}", f'{_count(counts["plain"], "tag")} like 1.2.3 → tag_format "{{version}}"'
    elif counts["v"]:
        fmt, reason = "v{version}", f'{_count(counts["v"], "tag")} like v1.2.3 → tag_format "v{{version}}"'
    else:
        fmt, reason = "v{version}", 'no release tags yet → tag_format "v{version}" (the default)'
    if extra:
        reason = f"{extra} → components:; {reason}" if counts["v"] or counts["plain"] else f"{extra} → components:"
    return TagStyle(fmt, reason)


def component_path(name: str, files: list[str]) -> str | None:
    """The shallowest folder called `name` (services/api for api), or None."""
    folders = {parent for f in files for parent in PurePosixPath(f).parents if parent.parts}
    matches = sorted((len(f.parts), str(f)) for f in folders if f.name == name and len(f.parts) <= MAX_DEPTH)
    return matches[0][1] if matches else None


def guess_tests(top: Path, files: list[str]) -> tuple[TestCommand, ...]:
    make = _make_test(top)
    if make is not None:
        return (make,)  # a Makefile's test target usually wraps whatever the language's runner is
    found = [t for t in (_python_test(top, files), _node_test(top), _go_test(top)) if t is not None]
    return tuple(found)


def _make_test(top: Path) -> TestCommand | None:
    for name in ("GNUmakefile", "Makefile", "makefile"):
        text = _read(top / name)
        if text is not None and re.search(r"^test\s*::?(?!=)", text, re.M):
            return TestCommand("test", "make test", f"{name} has a test target", True)
    return None


def _python_test(top: Path, files: list[str]) -> TestCommand | None:
    markers = [n for n in ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini") if (top / n).is_file()]
    has_tests = any(f.startswith("tests/") and f.endswith(".py") for f in files)
    if not markers and not has_tests:
        return None
    texts = [_read(top / n) or "" for n in markers if n != "setup.py"]
    sure = "pytest.ini" in markers or "conftest.py" in files or any("pytest" in t for t in texts)
    reason = ", ".join(markers + (["tests/"] if has_tests else []))
    return TestCommand("python", "pytest -q", f"found {reason}", sure)


def _node_test(top: Path) -> TestCommand | None:
    text = _read(top / "package.json")
    if text is None:
        return None
    try:
        scripts = json.loads(text).get("scripts") or {}
    except (ValueError, AttributeError):
        scripts = {}
    script = scripts.get("test") if isinstance(scripts, dict) else None
    sure = isinstance(script, str) and "no test specified" not in script  # npm init's placeholder fails on purpose
    reason = "package.json has a test script" if sure else "package.json has no test script"
    return TestCommand("node", "npm test", reason, sure)


def _go_test(top: Path) -> TestCommand | None:
    return TestCommand("go", "go test ./...", "found go.mod", True) if (top / "go.mod").is_file() else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def registry_for(remote: Remote | None, forge: Forge | None, project: str) -> Registry:
    if remote is not None and forge == "gitlab":
        host = "registry.gitlab.com" if remote.host == "gitlab.com" else f"registry.{remote.host}"
        note = "GitLab's container registry for this project ($CI_REGISTRY_IMAGE)"
        if remote.host != "gitlab.com":
            note += f"; CHANGE ME if {host} is not your GitLab's $CI_REGISTRY"
        return Registry(f"{host}/{repo_path(remote.path)}", note, False)
    if remote is not None and forge == "github":
        host = "ghcr.io" if remote.host == "github.com" else f"containers.{remote.host}"
        return Registry(f"{host}/{repo_path(remote.path)}", "GitHub's container registry for this repository", False)
    return Registry(
        f"registry.example.com/{project}", "CHANGE ME: no GitLab or GitHub origin remote to guess from", True
    )


def repo_path(path: str) -> str:
    """group/Sub/My.Project → group/sub/my.project: registries want lowercase (as $CI_REGISTRY_IMAGE is)."""
    return "/".join(s for s in (slug(part) for part in path.split("/")) if s)


def slug(text: str) -> str:
    """A valid image-repository path component: lowercase letters and digits joined by single . _ -."""
    text = re.sub(r"[^a-z0-9._-]+", "-", text.lower())
    text = re.sub(r"[._-]{2,}", "-", text)
    return text.strip("._-")


def unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


# --- rendering --------------------------------------------------------------------------------------------


class Lines:
    """The file being written: YAML lines, each with an optional comment lined up in one column."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str = "", comment: str | None = None) -> None:
        if comment is None:
            self.lines.append(text.rstrip())
        elif not text.strip():
            self.lines.append(f"{text}# {comment}")
        else:
            self.lines.append(f"{text:<{COMMENT_COLUMN - 1}} # {comment}")

    def note(self, indent: int, *comments: str) -> None:
        for comment in comments:
            self.add(" " * indent, comment)

    def text(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def q(value: str) -> str:
    """A scalar as YAML: plain when it reads back as the same string, double-quoted otherwise."""
    if re.fullmatch(r"[A-Za-z0-9_./-]+", value) and not value.startswith("-"):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def render(found: Found) -> str:
    out = Lines()
    _header(out, found)
    _versioning(out, found)
    _components(out, found)
    _tests(out, found)
    _notes(out, found)
    _images(out, found)
    _charts(out, found)
    _environments(out, found)
    return out.text()


def _header(out: Lines, found: Found) -> None:
    out.note(
        0,
        f"release.yaml for {found.project}, written by `release init` (found {found_text(found)}).",
        "Every key is optional; a key left out takes the default its comment names. Check the lines marked",
        "CHANGE ME, then run `release plan` to see the next version. All keys: the release README, section",
        '"release.yaml" (and "Images", "Charts", "Environments").',
    )
    out.add("version: 1")
    out.add()


def _versioning(out: Lines, found: Found) -> None:
    out.note(0, "The next version comes from the conventional commits since the last tag matching tag_format:")
    out.note(0, "feat → minor, fix/perf/revert → patch, a breaking change → major.")
    out.add("versioning:")
    out.note(2, f"found {found.tags.reason}")
    out.add(f"  tag_format: {q(found.tags.tag_format)}", "exactly one {version}; default v{version}")
    out.add("  initial: 0.1.0", "the first release, when no tag matches yet")
    out.add("  # rules:", "checked before the defaults; scope is a glob")
    out.add("  #   - {type: build, scope: deps, bump: patch}")
    out.add("  # bump_minor_pre_major: true", "release-please: breaking → minor while the major is 0")
    out.add("  # prerelease_branches: {next: rc}", "default: {next: rc, beta: beta, alpha: alpha}")
    out.add()


def _components(out: Lines, found: Found) -> None:
    if not found.tags.components:
        return
    out.note(0, "Monorepo: each component has its own version and tags; a commit counts when it touches the path.")
    out.add("components:")
    fmt = found.tags.component_format
    example = (fmt or "{component}-v{version}").replace("{version}", "1.2.3")
    if found.tags.charts:
        out.note(0, "Each chart is a component (chart-releaser's layout): a chart whose files did not change since its")
        out.note(0, "last tag is not released again; one with no tag yet starts at versioning.initial.")
    for comp in found.tags.components:
        tags = example.replace("{component}", comp.name)
        if comp.path is None:
            out.add(f"  # - name: {q(comp.name)}", f"CHANGE ME: no folder named {comp.name} found")
            out.add(f"  #   path: {q(comp.name)}")
            continue
        out.add(f"  - name: {q(comp.name)}", f"tags like {tags}")
        out.add(f"    path: {q(comp.path)}")
        if fmt:
            out.add(f"    tag_format: {q(fmt)}")
    out.add()


def _tests(out: Lines, found: Found) -> None:
    out.note(0, "Commands `release test` runs (sh -c, in the repo root) before anything is built or published.")
    live = any(t.sure for t in found.tests)
    out.add("tests:" if live else "# tests:")
    off = "  # " if live else "#   "  # a commented entry under a live key, or under a commented one
    for test in found.tests:
        entry = f"- name: {q(test.name)}"
        if test.sure:
            out.add(f"  {entry}", test.reason)
            out.add(f"    run: {q(test.run)}")
        else:
            out.add(f"{off}{entry}", f"unsure: {test.reason}")
            out.add(f"{off}  run: {q(test.run)}")
    if not found.tests:
        out.add(f"{off}- name: unit", "no test command recognised: CHANGE ME")
        out.add(f"{off}  run: make test")
    out.add()


def _notes(out: Lines, found: Found) -> None:
    out.note(0, "Release notes: CHANGELOG.md and the GitLab/GitHub release carry the same text.")
    out.add("notes:")
    out.add("  changelog: CHANGELOG.md", "false: no changelog commit on `release cut`")
    if found.forge is not None:
        out.add(f"  forge: {found.forge}", f"links to commits and {_forge_refs(found.forge)}; {_forge_source(found)}")
    else:
        out.add("  # forge: gitlab", "gitlab | github | none, for links; default: from CI or the remote")
    url = found.remote.web if found.remote else "https://gitlab.example.com/team/app"
    out.add(f"  # url: {url}", "for links; default: CI_PROJECT_URL or the origin remote")
    out.add("  # template: .release/notes.md.j2", "jinja2; default: the bundled template")
    out.add()
    out.note(0, "After publishing, `release run` makes a GitLab/GitHub release with the notes; this turns it off:")
    out.note(0, "forge_release: {enabled: false}")
    out.add()


def _forge_refs(forge: Forge) -> str:
    return "merge requests (!12)" if forge == "gitlab" else "pull requests (#12)"


def _forge_source(found: Found) -> str:
    if found.remote is not None and found.remote.forge == found.forge:
        return "from the origin remote"
    return f"from {found.ci_files[0][1]}" if found.ci_files else "guessed"


def _images(out: Lines, found: Found) -> None:
    out.note(0, "Container images `release build --push` builds from each Dockerfile and pushes under every tag.")
    if not found.images:
        out.note(0, "No Dockerfile found; an image looks like this:")
        out.note(0, "images:")
        out.note(0, f"  - name: {found.project}")
        example = Image(found.project, ".", "Dockerfile", True)
        out.note(0, f"    repository: {image_repository(found, example)}")
        out.note(0, "    context: .")
        out.add()
        return
    out.add("images:")
    for image in found.images:
        _image(out, found, image)
    out.add()


def _image(out: Lines, found: Found, image: Image) -> None:
    out.add(f"  - name: {q(image.name)}", f"{{image.{image.name}.repository}} etc. in charts and environments")
    out.note(4, found.registry.note)
    out.add(f"    repository: {q(image_repository(found, image))}")
    out.add(f"    context: {q(image.context)}", "the folder sent to the build (COPY reads from here)")
    out.add(f"    dockerfile: {q(image.dockerfile)}", "relative to the context")
    _component_line(out, found, image.context, "the image carries this component's version")
    out.add(f"    # tags: {DEFAULT_TAGS}", 'the default; add "latest" to push it')
    out.add('    # build_args: {VERSION: "{version}"}', "templates like the tags")


def image_repository(found: Found, image: Image) -> str:
    base = found.registry.base
    if found.registry.made_up:
        return f"{base}/{image.name}"
    return base if image.at_root else f"{base}/{image.name}"


def _component_line(out: Lines, found: Found, path: str, why: str) -> None:
    """In a monorepo, what is not in a component is never released: say so rather than let it be skipped."""
    if not found.tags.components:
        return
    component = component_of(found, path)
    if component:
        out.add(f"    component: {q(component)}", why)
    else:
        names = ", ".join(c.name for c in found.tags.components)
        out.add("    # component: NAME", f"CHANGE ME: one of {names}, or it is never released")


def component_of(found: Found, path: str) -> str | None:
    """The component whose folder holds `path`, when the tags showed components."""
    target = PurePosixPath(path)
    for comp in found.tags.components:
        if comp.path is not None and (target == PurePosixPath(comp.path) or PurePosixPath(comp.path) in target.parents):
            return comp.name
    return None


def _charts(out: Lines, found: Found) -> None:
    if not found.charts:
        return
    out.note(0, "Helm charts `release chart --publish` packages (version = the release version; appVersion as each")
    out.note(0, "app_version says) and pushes. Chart.yaml and values.yaml are edited in the packaged copy only, never")
    out.note(0, "in your files.")
    out.add("charts:")
    for chart in found.charts:
        _chart_entry(out, found, chart)
    out.add()


def _chart_entry(out: Lines, found: Found, chart: Chart) -> None:
    out.add(f"  - path: {q(chart.path)}", f"Chart.yaml's name: {chart.name}")
    _component_line(out, found, chart.path, "the chart carries this component's version")
    _chart_values(out, found, chart)
    _app_version_line(out, found, chart)
    target = f"oci://{found.registry.base}/charts"
    if found.registry.made_up:
        out.add("    publish:")
        out.add(f"      # - {target}", "CHANGE ME, then uncomment")
    else:
        out.add("    publish:", "oci:// pushes as `helm push` does")
        out.add(f"      - {target}")


def _app_version_line(out: Lines, found: Found, chart: Chart) -> None:
    """The appVersion choice spelled out: an umbrella keeps the version of what it bundles (charts.appversion)."""
    wired = bool(chart.image_keys) and not chart.values_problem and image_for_chart(found, chart) is not None
    if chart.dependencies and not wired:
        written = f"appVersion {chart.app_version}" if chart.app_version else "Chart.yaml's appVersion"
        why = f"bundles {chart.dependencies} chart{'s' if chart.dependencies > 1 else ''}: {written} stays"
        out.add("    app_version: keep", why)
    else:
        out.add('    app_version: "{version}"', "appVersion = the release version; keep: Chart.yaml's")


def _chart_values(out: Lines, found: Found, chart: Chart) -> None:
    if chart.values_problem:
        out.add("    # values: {}", f"{chart.values_problem}: fix it, then wire the image here")
        return
    if not chart.image_keys:
        out.add('    # values: {image.tag: "{version}"}', "values.yaml has no image.repository or image.tag")
        return
    image = image_for_chart(found, chart)
    if image is not None:
        out.add("    values:", "values.yaml path → template")
        for key in chart.image_keys:
            out.add(f"      {_value_line(key, image.name)}")
        for key in chart.release_keys:
            out.add(f'      release.{key}: "{RELEASE_VALUES[key]}"', "a pod annotation: which release this is")
        return
    # Not an image this repository builds (a third-party one, or one we cannot tell): wiring the release version
    # into it would deploy a tag that does not exist. Commented out, for the user to decide.
    names = ", ".join(i.name for i in found.images) or "none found here"
    theirs = f"it runs {chart.image_repository}, " if chart.image_repository else ""
    out.add("    # values:", f"CHANGE ME if {theirs}an image built here ({names})")
    for key in chart.image_keys:
        out.add(f"    #   {_value_line(key, 'NAME')}")


def _value_line(key: str, image: str) -> str:
    return f'image.{key}: "{{version}}"' if key == "tag" else f'image.{key}: "{{image.{image}.{key}}}"'


def image_for_chart(found: Found, chart: Chart) -> Image | None:
    """The image a chart deploys, when this repository builds it: the one named like the chart (or its folder),
    or like the last part of values.yaml's image.repository; else the only image of a one-chart repository.
    None otherwise: a chart of a third-party image (postgres, nginx) must not get the release version as tag."""
    folder = PurePosixPath(chart.path).name
    deployed = slug((chart.image_repository or "").rsplit("/", 1)[-1].split(":", 1)[0])
    for image in found.images:
        if image.name in (slug(chart.name), slug(folder)) or (deployed and image.name == deployed):
            return image
    return found.images[0] if len(found.images) == 1 and len(found.charts) == 1 else None


def _environments(out: Lines, found: Found) -> None:
    app = found.images[0].name if found.images else found.project
    sets = ['image.tag: "{version}"']
    if found.images:
        sets.append(f'image.digest: "{{image.{app}.digest}}"')
    setting = "{" + ", ".join(sets) + "}"
    repo = infra_repo(found.remote)
    out.note(
        0,
        "GitOps environments for `release promote ENV`: the release is committed to an infra repo that Argo CD or",
        "Flux deploys from (only the values' bytes change). Uncomment and point `repo` at your infra repo; the",
        "token comes from RELEASE_GIT_TOKEN, never from the URL.",
        "environments:",
        "  - name: dev",
        f"    repo: {repo}",
        "    automatic: true       # `release run` promotes here after publishing",
        "    updates:",
        f"      - file: apps/dev/{app}/values.yaml",
        f"        set: {setting}",
        "  - name: prod",
        f"    repo: {repo}",
        "    mode: merge-request   # a merge request to review instead of a push",
        "    after: dev            # only once dev holds the version",
        "    updates:",
        f"      - file: apps/prod/{app}/values.yaml",
        f"        set: {setting}",
    )


def infra_repo(remote: Remote | None) -> str:
    """The example infra repo: a sibling of this project on the same forge, when there is a remote."""
    if remote is None or "/" not in remote.path:
        return "https://git.example.com/team/infra.git"
    group = remote.path.rsplit("/", 1)[0]
    return f"https://{remote.host}/{group}/infra.git"


# --- CI ---------------------------------------------------------------------------------------------------


def ci_snippet(found: Found) -> list[str]:
    """What to add to the CI file, printed rather than written: the CI file is the user's to edit."""
    files = dict(found.ci_files)
    if found.forge == "gitlab" or "gitlab" in files:
        where = files.get("gitlab", ".gitlab-ci.yml")
        return [
            f"add to {where} (the CI/CD component; inputs and the legacy include: README, section GitLab CI):",
            "  include:",
            "    - component: $CI_SERVER_FQDN/<group>/release-ci/release@<version>   # ci-templates/ published",
        ]
    if found.forge == "github" or "github" in files:
        where = files.get("github", ".github/workflows/release.yml")
        return [
            f"add to a job in {where} (tags need the whole history: fetch-depth 0):",
            "  - uses: actions/checkout@v4",
            "    with: {fetch-depth: 0}",
            "  - uses: <owner>/release@<version>   # action.yml at the root of the release repository",
            "    id: release",
        ]
    return []
