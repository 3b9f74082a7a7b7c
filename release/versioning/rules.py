"""Bump rules: which commit asks for which release type.

Defaults follow semantic-release: breaking → major, feat → minor, fix/perf/revert → patch, anything else
→ no release. User rules (by type, scope and breaking) are checked first; a breaking commit still asks for
a major release unless a matching user rule says something about `breaking` itself.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import IntEnum

from release.versioning.commits import ParsedCommit


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str | None:
        return None if self is Bump.NONE else self.name.lower()

    @classmethod
    def from_label(cls, label: str | None) -> Bump:
        return cls.NONE if label in (None, "none") else cls[str(label).upper()]


@dataclass(frozen=True)
class Rule:
    bump: Bump
    type: str | None = None
    scope: str | None = None  # a glob: "deps", "api-*"
    breaking: bool | None = None

    def matches(self, commit: ParsedCommit) -> bool:
        if self.type is not None and commit.type != self.type.lower():
            return False
        if self.scope is not None and not fnmatch.fnmatchcase(commit.scope or "", self.scope):
            return False
        return self.breaking is None or commit.breaking == self.breaking


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(Bump.MAJOR, breaking=True),
    Rule(Bump.MINOR, type="feat"),
    Rule(Bump.PATCH, type="fix"),
    Rule(Bump.PATCH, type="perf"),
    Rule(Bump.PATCH, type="revert"),
)


def bump_for(commit: ParsedCommit, rules: tuple[Rule, ...] = ()) -> Bump:
    if commit.skip or commit.type is None:
        return Bump.NONE
    matching = [rule for rule in rules if rule.matches(commit)]
    if not matching:
        return max((rule.bump for rule in DEFAULT_RULES if rule.matches(commit)), default=Bump.NONE)
    bump = max(rule.bump for rule in matching)
    if commit.breaking and all(rule.breaking is None for rule in matching):
        bump = Bump.MAJOR
    return bump


def pre_major(bump: Bump, *, bump_minor_pre_major: bool, bump_patch_for_minor_pre_major: bool) -> Bump:
    """release-please's pre-1.0 options: while the major version is 0, breaking → minor, feat → patch."""
    if bump is Bump.MAJOR and bump_minor_pre_major:
        return Bump.MINOR
    if bump is Bump.MINOR and bump_patch_for_minor_pre_major:
        return Bump.PATCH
    return bump
