"""Pure image naming: tag templates (docker/metadata-action semantics), OCI labels, reference parts."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import semver

from release.errors import ReleaseError

TAG_FIELDS = ("version", "major", "minor", "patch", "prerelease", "sha", "short_sha", "branch")
DEFAULT_TAGS = ("{version}", "{major}.{minor}", "{major}", "sha-{short_sha}")
_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_TAG_VALID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def template_fields(template: str) -> list[str]:
    """The {fields} a tag template uses; raises ValueError on broken braces."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def check_template(template: str) -> str | None:
    """Why a tag template is unusable, or None."""
    try:
        names = template_fields(template)
    except ValueError as exc:
        return f"tag template {template!r} is malformed ({exc})"
    unknown = [n for n in names if n not in TAG_FIELDS]
    if unknown:
        return f"tag template {template!r} has unknown field {{{unknown[0]}}}; known: {', '.join(TAG_FIELDS)}"
    return None


@dataclass(frozen=True)
class ReleaseFacts:
    version: semver.Version
    sha: str
    branch: str | None


def slug(text: str) -> str:
    """A branch name made safe for an image tag, like GitLab's CI_COMMIT_REF_SLUG but keeping case and dots."""
    return _TAG_CHARS.sub("-", text).strip("-.")[:128] or "detached"


def template_values(facts: ReleaseFacts) -> dict[str, str]:
    v = facts.version
    return {
        "version": str(v),
        "major": str(v.major),
        "minor": str(v.minor),
        "patch": str(v.patch),
        "prerelease": str(v.prerelease or ""),
        "sha": facts.sha,
        "short_sha": facts.sha[:7],
        "branch": slug(facts.branch or ""),
    }


def render(template: str, facts: ReleaseFacts) -> str:
    """A template (a tag, a build arg) with the release's fields filled in."""
    problem = check_template(template)
    if problem:
        raise ReleaseError(problem, "fix the template in release.yaml")
    return template.format(**template_values(facts))


def render_tags(templates: tuple[str, ...], facts: ReleaseFacts) -> list[str]:
    """Rendered tags, in order, without duplicates.

    A prerelease moves no floating tag: templates that only name {major}/{minor} are left out, and so is
    `latest` (docker/metadata-action does the same).
    """
    tags: list[str] = []
    for template in templates:
        tag = render(template, facts)
        names = set(template_fields(template))
        floating = bool(names & {"major", "minor"}) and not names & {"version", "patch", "prerelease"}
        if facts.version.prerelease and (floating or template == "latest"):
            continue
        if not _TAG_VALID.match(tag):
            raise ReleaseError(
                f"tag template {template!r} gives {tag!r}, which is not a valid image tag",
                "tags are 1-128 characters of letters, digits, _ . - and do not start with . or -",
            )
        if tag not in tags:
            tags.append(tag)
    return tags


def oci_labels(*, title: str, version: str, revision: str, source: str | None, created: str) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": created,
    }
    if source:
        labels["org.opencontainers.image.source"] = source
    return labels


@dataclass(frozen=True)
class Repository:
    """`registry.example.com:5000/team/app` → host and path, with Docker Hub's defaults."""

    host: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Repository:
        if not text or "@" in text or text != text.strip() or re.search(r":[^/]*$", text.split("/", 1)[-1]):
            raise ReleaseError(
                f"image repository {text!r} is not a repository name",
                "write it without tag or digest, e.g. registry.example.com/team/app",
            )
        first, _, rest = text.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            host, path = first, rest
        else:
            host, path = "docker.io", text if "/" in text else f"library/{text}"
        if not re.fullmatch(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*", path):
            raise ReleaseError(
                f"image repository {text!r} has an invalid path {path!r}",
                "repository paths are lowercase letters, digits and . _ - separated by /",
            )
        return cls(host, path)

    @property
    def name(self) -> str:
        return f"{self.host}/{self.path}"

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.host == "docker.io" else self.host
