"""Tag formats: `v{version}`, `{component}-v{version}`, anything with exactly one `{version}`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver

from release.errors import ReleaseError

# The official SemVer 2.0 grammar (semver.org), without anchors.
SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-(?:(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
PLACEHOLDER = re.compile(r"\{(\w*)\}")


@dataclass(frozen=True)
class TagRef:
    """A tag as git lists it: its name and the commit it points at (annotated tags peeled)."""

    name: str
    commit: str


@dataclass(frozen=True)
class ReleaseTag:
    name: str
    commit: str
    version: semver.Version


class TagFormat:
    """Formats versions into tag names and reads versions back out of them."""

    def __init__(self, template: str, component: str | None = None) -> None:
        names = PLACEHOLDER.findall(template)
        if names.count("version") != 1:
            raise ReleaseError(
                f"tag format {template!r} must contain {{version}} exactly once",
                'use a format like "v{version}" or "{component}-v{version}"',
            )
        unknown = sorted(set(names) - {"version", "component", "name"})
        if unknown:
            raise ReleaseError(
                f"tag format {template!r} has unknown field {{{unknown[0]}}}",
                "tag formats know {version} and {component}",
            )
        if component is None and ("{component}" in template or "{name}" in template):
            raise ReleaseError(
                f"tag format {template!r} uses {{component}} outside a component",
                "set the format on the component under components:",
            )
        self.template = template
        self.component = component
        pattern = ""
        for literal, field_name in _split(template):
            pattern += re.escape(literal)
            if field_name == "version":
                pattern += f"(?P<version>{SEMVER})"
            elif field_name:
                pattern += re.escape(component or "")
        self._regex = re.compile(f"^{pattern}$")

    def format(self, version: semver.Version | str) -> str:
        out = ""
        for literal, field_name in _split(self.template):
            out += literal
            if field_name == "version":
                out += str(version)
            elif field_name:
                out += self.component or ""
        return out

    def parse(self, tag: str) -> semver.Version | None:
        """The version a tag stands for, or None when the tag is not one of ours (never an error)."""
        match = self._regex.match(tag)
        return semver.Version.parse(match["version"]) if match else None

    def release_tags(self, refs: list[TagRef]) -> list[ReleaseTag]:
        found = []
        for ref in refs:
            version = self.parse(ref.name)
            if version is not None:
                found.append(ReleaseTag(ref.name, ref.commit, version))
        return found


def _split(template: str) -> list[tuple[str, str | None]]:
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for match in PLACEHOLDER.finditer(template):
        parts.append((template[pos : match.start()], match[1]))
        pos = match.end()
    parts.append((template[pos:], None))
    return parts
