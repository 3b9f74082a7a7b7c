"""`release init` over another release tool's config: release-please, semantic-release, git-cliff.

What each of them says about tag formats, changelog sections, bump rules, branches and monorepo packages is
carried over to the equivalent release.yaml keys; what has no equivalent is named, so that init says it in a
comment instead of dropping it silently. Files only: no network, no JavaScript run (a `release.config.js` is
named as left out).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

RELEASE_PLEASE = "release-please-config.json"
RELEASE_PLEASE_MANIFEST = ".release-please-manifest.json"
SEMANTIC_RELEASE = (".releaserc", ".releaserc.json", ".releaserc.yaml", ".releaserc.yml")
SEMANTIC_RELEASE_JS = (".releaserc.js", ".releaserc.cjs", ".releaserc.mjs", "release.config.js", "release.config.cjs")
CLIFF = ("cliff.toml", ".cliff.toml")
# Conventional types a git-cliff parser like `^doc` stands for.
KNOWN_TYPES = ("feat", "fix", "perf", "revert", "docs", "doc", "style", "refactor", "test", "build", "ci", "chore")
ANALYZER = "@semantic-release/commit-analyzer"
GENERATOR = "@semantic-release/release-notes-generator"
BUMPS = {"major": "major", "minor": "minor", "patch": "patch", "false": "none", "none": "none"}


@dataclass(frozen=True)
class Rule:
    bump: str
    type: str | None = None
    scope: str | None = None
    breaking: bool | None = None


@dataclass(frozen=True)
class Migrated:
    """What another tool's config says, in release.yaml's terms; empty fields: it says nothing about that."""

    sources: tuple[str, ...] = ()  # the files read
    tag_format: str | None = None
    components: tuple[tuple[str, str], ...] = ()  # (name, path)
    component_format: str | None = None  # None: the default {component}-v{version}
    sections: tuple[tuple[str, str, bool], ...] = ()  # (type, title, hidden)
    rules: tuple[Rule, ...] = ()
    bump_minor_pre_major: bool = False
    bump_patch_for_minor_pre_major: bool = False
    prerelease_branches: tuple[tuple[str, str], ...] = ()
    branches: tuple[str, ...] = ()
    style: str | None = None
    changelog: str | None = None
    left_out: tuple[str, ...] = field(default=())  # what has no equivalent, said in a comment


def read(top: Path, files: list[str]) -> Migrated:
    """Every other tool's config found at the repository's top, merged (the first one found wins a conflict)."""
    found = Migrated()
    for reader in (_release_please, _semantic_release, _cliff):
        other = reader(top, files)
        if other is not None:
            found = _merge(found, other)
    return found


def _merge(first: Migrated, other: Migrated) -> Migrated:
    kept = {name: getattr(first, name) or getattr(other, name) for name in Migrated.__dataclass_fields__}
    kept["sources"] = first.sources + other.sources
    kept["left_out"] = first.left_out + other.left_out
    return Migrated(**kept)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- release-please -------------------------------------------------------------------------------------


def _release_please(top: Path, files: list[str]) -> Migrated | None:
    if RELEASE_PLEASE not in files:
        return None
    config = _load_json(top / RELEASE_PLEASE)
    if not isinstance(config, dict):
        return Migrated(sources=(RELEASE_PLEASE,), left_out=(f"{RELEASE_PLEASE} is not a JSON object: not read",))
    manifest = _load_json(top / RELEASE_PLEASE_MANIFEST) if RELEASE_PLEASE_MANIFEST in files else None
    packages = config.get("packages") or (manifest if isinstance(manifest, dict) else None) or {".": {}}
    defaults = {k: v for k, v in config.items() if k != "packages"}
    left_out = []
    strategy = config.get("versioning")
    if strategy not in (None, "default"):
        left_out.append(f'release-please "versioning": "{strategy}" has no equivalent: commits decide the bump')
    found = Migrated(
        sources=(RELEASE_PLEASE,) + ((RELEASE_PLEASE_MANIFEST,) if manifest is not None else ()),
        sections=_sections(config.get("changelog-sections"), "type", "section"),
        bump_minor_pre_major=bool(config.get("bump-minor-pre-major")),
        bump_patch_for_minor_pre_major=bool(config.get("bump-patch-for-minor-pre-major")),
        style="release-please",
        changelog=config.get("changelog-path") if isinstance(config.get("changelog-path"), str) else None,
        left_out=tuple(left_out),
    )
    items = [(str(path), {**defaults, **(opts if isinstance(opts, dict) else {})}) for path, opts in packages.items()]
    if len(items) == 1 and items[0][0] in (".", ""):
        return replace(found, tag_format=_rp_tag(items[0][1], _rp_name(".", items[0][1]), single=True))
    components = tuple((_rp_name(path, opts), path.strip("/") or ".") for path, opts in items)
    formats = {_rp_tag(opts, "{component}", single=False) for _, opts in items}
    fmt = formats.pop() if len(formats) == 1 else "{component}-v{version}"
    if formats:
        left_out = [*left_out, "packages tag their releases differently: every component uses " + fmt]
    return replace(
        found,
        components=components,
        component_format=None if fmt == "{component}-v{version}" else fmt,
        left_out=tuple(left_out),
    )


def _rp_name(path: str, opts: dict[str, Any]) -> str:
    name = opts.get("component") or opts.get("package-name") or PurePosixPath(path).name or "app"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).split("/")[-1]).strip("-") or "app"


def _rp_tag(opts: dict[str, Any], component: str, *, single: bool) -> str:
    """release-please's tag: `v1.2.3`, or `<component>-v1.2.3` (include-component-in-tag, tag-separator)."""
    version = ("v" if opts.get("include-v-in-tag", True) else "") + "{version}"
    with_component = opts.get("include-component-in-tag", not single)
    return f"{component}{opts.get('tag-separator', '-')}{version}" if with_component else version


def _sections(entries: Any, type_key: str, title_key: str) -> tuple[tuple[str, str, bool], ...]:
    """release-please's changelog-sections, or the conventionalcommits preset's `types` (same shape)."""
    found: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get(type_key) or entry[type_key].lower() in seen:
            continue
        seen.add(entry[type_key].lower())
        title = str(entry.get(title_key) or entry[type_key])
        found.append((str(entry[type_key]), title, bool(entry.get("hidden", False))))
    return tuple(found)


# --- semantic-release -----------------------------------------------------------------------------------


def _semantic_release(top: Path, files: list[str]) -> Migrated | None:
    name = next((n for n in SEMANTIC_RELEASE if n in files), None)
    config: Any = None
    if name is not None:
        try:
            config = yaml.safe_load((top / name).read_text(encoding="utf-8"))  # JSON is YAML too
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return Migrated(sources=(name,), left_out=(f"{name} did not parse: not read",))
    elif "package.json" in files:
        package = _load_json(top / "package.json")
        config = package.get("release") if isinstance(package, dict) else None
        name = "package.json (release)" if isinstance(config, dict) else None
    if name is None:
        script = next((n for n in SEMANTIC_RELEASE_JS if n in files), None)
        return (
            Migrated(sources=(script,), left_out=(f"{script} is JavaScript: copy its settings by hand",))
            if script
            else None
        )
    if not isinstance(config, dict):
        return Migrated(sources=(name,), left_out=(f"{name} is not a mapping: not read",))
    plugins = _plugins(config.get("plugins"))
    # Top-level options reach every plugin; `analyzeCommits` / `generateNotes` are the older per-step form.
    analyzer = {**config, **_mapping(config.get("analyzeCommits")), **plugins.get(ANALYZER, {})}
    generator = {**config, **_mapping(config.get("generateNotes")), **plugins.get(GENERATOR, {})}
    changelog = plugins.get("@semantic-release/changelog")
    tag_format = config.get("tagFormat")
    rules, left_out = _sr_rules(analyzer.get("releaseRules"))
    main_line, prerelease = _sr_branches(config.get("branches"))
    return Migrated(
        sources=(name,),
        tag_format=tag_format.replace("${version}", "{version}") if isinstance(tag_format, str) else None,
        sections=_sections(_mapping(generator.get("presetConfig")).get("types"), "type", "section"),
        rules=rules,
        branches=main_line + tuple(branch for branch, _ in prerelease) if main_line else (),
        prerelease_branches=prerelease,
        changelog=(changelog or {}).get("changelogFile", "CHANGELOG.md") if changelog is not None else None,
        left_out=left_out,
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _plugins(entries: Any) -> dict[str, dict[str, Any]]:
    """`plugins: ["name", ["name", {options}]]` → {name: options}."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            found[entry] = {}
        elif isinstance(entry, list) and entry and isinstance(entry[0], str):
            found[entry[0]] = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
    return found


def _sr_rules(entries: Any) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """commit-analyzer's releaseRules. A rule there wins over a breaking change of its commits; here a rule silent
    on `breaking` does not lower one, so each gets a `breaking: true` twin with the same bump."""
    rules: list[Rule] = []
    left_out: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        extra = sorted(set(entry) - {"type", "scope", "breaking", "release"})
        bump = BUMPS.get(str(entry.get("release")).lower())
        if extra or bump is None:
            left_out.append(f"releaseRules entry {json.dumps(entry, sort_keys=True)}: no equivalent")
            continue
        rule = Rule(bump, entry.get("type"), entry.get("scope"), entry.get("breaking"))
        rules.append(rule)
        if rule.breaking is None and (rule.type or rule.scope):
            rules.append(replace(rule, breaking=True))
    return tuple(rules), tuple(left_out)


def _sr_branches(entries: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """semantic-release's `branches`: release branches (maintenance patterns as `*.x`) and prerelease channels."""
    main_line: list[str] = []
    prerelease: list[tuple[str, str]] = []
    for entry in entries if isinstance(entries, list) else [entries] if entries else []:
        name = entry if isinstance(entry, str) else entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        token = entry.get("prerelease") if isinstance(entry, dict) else None
        if token:
            prerelease.append((name, name if token is True else str(token)))
        else:
            # semantic-release's maintenance pattern `maint/+([0-9])?(.{+([0-9]),x}).x` as a glob: `maint/*.x`
            main_line.append(name.split("+(", 1)[0] + "*.x" if "+(" in name else name)
    return tuple(dict.fromkeys(main_line)), tuple(prerelease)


# --- git-cliff ------------------------------------------------------------------------------------------


def _cliff(top: Path, files: list[str]) -> Migrated | None:
    name = next((n for n in CLIFF if n in files), None)
    if name is None:
        return None
    try:
        config = tomllib.loads((top / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Migrated(sources=(name,), left_out=(f"{name} did not parse: not read",))
    git: dict[str, Any] = config["git"] if isinstance(config.get("git"), dict) else {}
    pattern = git.get("tag_pattern")
    tag_format = None
    if isinstance(pattern, str):
        tag_format = "v{version}" if pattern.lstrip("^").startswith("v") else "{version}"
    sections, left_out = _cliff_sections(git.get("commit_parsers"))
    if isinstance(config.get("changelog"), dict) and config["changelog"].get("body"):
        left_out = (*left_out, f"{name}'s [changelog] body template: notes use the bundled one (or notes.template)")
    return Migrated(sources=(name,), tag_format=tag_format, sections=sections, left_out=left_out)


def _cliff_sections(parsers: Any) -> tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]:
    """`commit_parsers` on a type (`^feat`, `^doc`) → sections; git-cliff orders groups by name (hence the
    `<!-- 0 -->` prefixes), so do we; parsers on anything else are named as left out."""
    found: list[tuple[str, str, str, bool]] = []  # (sort key, type, title, hidden)
    left_out: list[str] = []
    seen: set[str] = set()
    for parser in parsers if isinstance(parsers, list) else []:
        message = parser.get("message") if isinstance(parser, dict) else None
        literal = re.fullmatch(r"\^?([a-z]+)", message or "")
        if literal is None:
            if isinstance(parser, dict) and not parser.get("skip"):
                left_out.append(f"commit_parsers entry {json.dumps(parser, sort_keys=True)}: no equivalent")
            continue
        group = str(parser.get("group") or literal[1])
        title = re.sub(r"<!--.*?-->", "", group).strip() or literal[1]
        for kind in [t for t in KNOWN_TYPES if t.startswith(literal[1])] or [literal[1]]:
            if kind not in seen:
                seen.add(kind)
                found.append((group, kind, title, bool(parser.get("skip"))))
    ordered = sorted(found, key=lambda item: item[0])
    return tuple((kind, title, hidden) for _, kind, title, hidden in ordered), tuple(left_out)


# --- the workflow that already releases ------------------------------------------------------------------

RELEASE_TOOLS = re.compile(r"release-please|semantic-release|git-cliff|changesets/action|goreleaser", re.IGNORECASE)


def releasing_workflow(top: Path, workflows: list[str]) -> str | None:
    """The GitHub workflow that already releases: one that runs a release tool (itself or through a local
    reusable workflow) on a push, else release.yml, else one named *release*; None when none fits."""

    def text(name: str) -> str:
        try:
            return (top / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    def reusable_only(body: str) -> bool:
        """Triggered only by other workflows (`on: workflow_call`): the one calling it is the one that releases."""
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError:
            return False
        on = data.get("on", data.get(True)) if isinstance(data, dict) else None  # YAML 1.1 reads `on` as true
        triggers = {on} if isinstance(on, str) else set(on) if isinstance(on, (dict, list)) else set()
        return triggers == {"workflow_call"}

    texts = {name: text(name) for name in workflows}
    runs_tool = {name for name, body in texts.items() if RELEASE_TOOLS.search(body)}
    callers = {
        name
        for name, body in texts.items()
        if any(f"./{other}" in body for other in runs_tool) and not reusable_only(body)
    }
    direct = sorted((runs_tool - {n for n in runs_tool if reusable_only(texts[n])}) | callers)
    named = sorted(n for n in workflows if PurePosixPath(n).stem == "release")
    loose = sorted(n for n in workflows if "release" in PurePosixPath(n).name.lower())
    for group in (direct, named, loose):
        if group:
            return group[0]
    return None
