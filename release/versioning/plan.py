"""Decide the next version from release tags and commits. Pure: the caller reads git.

Version flow (DESIGN.md): decided once, from the commits since the last release tag reachable from HEAD.
Prerelease channels count from the last stable release (so `rc.2` carries everything `rc.1` did) and number
their prereleases from every tag that exists; maintenance branches stay inside their range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import semver

from release.errors import ReleaseError
from release.versioning.commits import ParsedCommit, drop_reverted_pairs
from release.versioning.rules import Bump, Rule, bump_for, pre_major
from release.versioning.tags import ReleaseTag, TagFormat

MAINTENANCE = re.compile(r"^(?:.*/)?v?(?P<major>\d+)\.(?:(?P<minor>\d+)\.)?x$")


@dataclass(frozen=True)
class Channel:
    """What the branch allows: the main line, a prerelease channel, or a maintenance range."""

    branch: str | None
    prerelease: str | None = None
    major: int | None = None  # maintenance: only this major
    minor: int | None = None  # maintenance: only this major.minor

    @property
    def maintenance(self) -> bool:
        return self.major is not None

    def allows(self, version: semver.Version) -> bool:
        if self.major is not None and version.major != self.major:
            return False
        return self.minor is None or version.minor == self.minor

    def describe(self) -> str:
        if self.prerelease:
            return f"prerelease channel {self.prerelease!r}"
        if self.major is not None:
            return f"maintenance range {self.major}.{'x' if self.minor is None else f'{self.minor}.x'}"
        return "release"


def channel_for(branch: str | None, prerelease_branches: dict[str, str], override: str | None = None) -> Channel:
    """`override` is `--prerelease TOKEN`; otherwise the branch decides."""
    if override:
        return Channel(branch, prerelease=override)
    if branch is None:
        return Channel(None)
    if branch in prerelease_branches:
        return Channel(branch, prerelease=prerelease_branches[branch])
    match = MAINTENANCE.match(branch)
    if match:
        minor = match["minor"]
        return Channel(branch, major=int(match["major"]), minor=int(minor) if minor is not None else None)
    return Channel(branch)


@dataclass(frozen=True)
class Policy:
    tag_format: TagFormat
    initial: semver.Version
    rules: tuple[Rule, ...] = ()
    bump_minor_pre_major: bool = False
    bump_patch_for_minor_pre_major: bool = False


@dataclass(frozen=True)
class Plan:
    component: str | None
    channel: Channel
    current: ReleaseTag | None  # the last release on this channel, reachable from HEAD
    base: ReleaseTag | None  # the last stable release the bump is counted from
    next_version: semver.Version | None
    bump: Bump
    tag: str | None
    commits: tuple[ParsedCommit, ...]  # since `current`, reverted pairs removed, for notes
    considered: int  # commits read, merges excluded
    ignored: int  # commits that do not follow the convention
    reasons: tuple[ParsedCommit, ...] = field(default=())  # the commits that decided the bump
    head_tagged: bool = False
    forced: str | None = None  # why the version was forced (Release-As, --bump)

    @property
    def releasable(self) -> bool:
        return self.next_version is not None

    def as_json(self) -> dict[str, object]:
        return {
            "current_version": str(self.current.version) if self.current else None,
            "next_version": str(self.next_version) if self.next_version else None,
            "bump": self.bump.label,
            "tag": self.tag,
            "commits": self.considered,
            "previous_tag": self.current.name if self.current else None,
            "branch": self.channel.branch,
            "channel": self.channel.prerelease,
            "prerelease": bool(self.next_version and self.next_version.prerelease),
            "already_tagged": self.head_tagged,
            "ignored_commits": self.ignored,
            "reasons": [
                {"sha": c.commit.sha, "type": c.type, "scope": c.scope, "subject": c.subject, "breaking": c.breaking}
                for c in self.reasons
            ],
        }


def last_stable(tags: list[ReleaseTag], channel: Channel) -> ReleaseTag | None:
    stable = [t for t in tags if not t.version.prerelease and channel.allows(t.version)]
    return max(stable, key=lambda t: t.version, default=None)


def last_on_channel(tags: list[ReleaseTag], channel: Channel) -> ReleaseTag | None:
    """The newest release this channel builds on: stable, or a prerelease of its own token."""
    token = channel.prerelease
    candidates = [
        t
        for t in tags
        if channel.allows(t.version) and (not t.version.prerelease or (token and _token(t.version) == token))
    ]
    return max(candidates, key=lambda t: t.version, default=None)


def head_release(tags_at_head: list[ReleaseTag], channel: Channel) -> ReleaseTag | None:
    return last_on_channel(tags_at_head, channel)


def _token(version: semver.Version) -> str | None:
    return str(version.prerelease).split(".", 1)[0] if version.prerelease else None


def _prerelease_number(version: semver.Version) -> int:
    parts = str(version.prerelease or "").split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def decide(
    *,
    policy: Policy,
    channel: Channel,
    component: str | None,
    base: ReleaseTag | None,
    current: ReleaseTag | None,
    since_base: list[ParsedCommit],
    since_current: list[ParsedCommit] | None,
    all_tags: list[ReleaseTag],
    forced_bump: Bump | None = None,
) -> Plan:
    """The next release, or a plan with `next_version=None` when nothing is releasable.

    `since_base` are the commits since the last stable release (they decide the bump), `since_current` those
    since the last release on this channel (they decide whether anything is new, and feed the notes); both are
    newest first, merges excluded. `since_current is None` means the two ranges are the same.
    """
    since_current_list = since_base if since_current is None else since_current
    considered = len(since_current_list)
    ignored = sum(1 for c in since_current_list if not c.conventional)
    kept_base = drop_reverted_pairs(since_base)
    kept_current = kept_base if since_current is None else drop_reverted_pairs(since_current)

    bumps = [(bump_for(c, policy.rules), c) for c in kept_base]
    bump = max((b for b, _ in bumps), default=Bump.NONE)
    new_work = max((bump_for(c, policy.rules) for c in kept_current), default=Bump.NONE)
    reasons = tuple(c for b, c in bumps if b == bump and b is not Bump.NONE)
    base_version = base.version if base else None
    if base_version is not None and base_version.major == 0:
        bump = pre_major(
            bump,
            bump_minor_pre_major=policy.bump_minor_pre_major,
            bump_patch_for_minor_pre_major=policy.bump_patch_for_minor_pre_major,
        )

    forced = None
    release_as = next((c for c in kept_base if c.release_as), None)
    target: semver.Version | None
    if release_as is not None and release_as.release_as:
        target = _release_as(release_as, base_version)
        forced = f"Release-As: {target} in {release_as.commit.short_sha}"
        if any(c.commit.sha == release_as.commit.sha for c in kept_current):
            # New since the last release on this channel; once a prerelease carries it, it forces nothing new.
            new_work = max(new_work, Bump.PATCH)
    elif forced_bump is not None:
        bump = forced_bump
        target = policy.initial if base_version is None else _bumped(base_version, forced_bump)
        forced = f"--bump {forced_bump.label}"
    elif bump is Bump.NONE:
        target = None
    else:
        target = policy.initial if base_version is None else _bumped(base_version, bump)

    def plan(next_version: semver.Version | None) -> Plan:
        return Plan(
            component=component,
            channel=channel,
            current=current,
            base=base,
            next_version=next_version,
            bump=bump,
            tag=policy.tag_format.format(next_version) if next_version else None,
            commits=tuple(kept_current),
            considered=considered,
            ignored=ignored,
            reasons=reasons,
            forced=forced,
        )

    if target is None or (new_work is Bump.NONE and forced_bump is None):
        return plan(None)
    if not channel.allows(target):
        culprit = reasons[0] if reasons and forced is None else None  # a forced version names its cause
        why = (
            f"commit {culprit.commit.short_sha} ({culprit.subject}) asks for a {bump.label} release"
            if culprit
            else (forced or "the next version")
        )
        raise ReleaseError(
            f"branch {channel.branch} only releases {channel.describe().split()[-1]}, but {why} → {target}",
            "release it from the main branch, or revert it on this branch",
        )
    if channel.prerelease:
        taken = [
            t.version
            for t in all_tags
            if t.version.finalize_version() == target and _token(t.version) == channel.prerelease
        ]
        number = max((_prerelease_number(v) for v in taken), default=0) + 1
        target = target.replace(prerelease=f"{channel.prerelease}.{number}")
    tag = policy.tag_format.format(target)
    clash = next((t for t in all_tags if t.name == tag), None)
    if clash is not None:
        raise ReleaseError(
            f"the next version {target} is already tagged as {tag} on commit {clash.commit[:7]}, which is not an "
            "ancestor of HEAD",
            "merge that release into this branch, or fetch it (git fetch --tags) if it is missing locally",
        )
    return plan(target)


def _bumped(version: semver.Version, bump: Bump) -> semver.Version:
    if bump is Bump.MAJOR:
        return version.bump_major()
    if bump is Bump.MINOR:
        return version.bump_minor()
    return version.bump_patch()


def _release_as(commit: ParsedCommit, base: semver.Version | None) -> semver.Version:
    text = (commit.release_as or "").strip().lstrip("v")
    try:
        version = semver.Version.parse(text)
    except ValueError:
        raise ReleaseError(
            f"commit {commit.commit.short_sha} has 'Release-As: {commit.release_as}', which is not a semantic version",
            "write it as x.y.z, e.g. Release-As: 2.0.0",
        ) from None
    if base is not None and version <= base:
        raise ReleaseError(
            f"commit {commit.commit.short_sha} asks for Release-As: {version}, which is not above the current {base}",
            "pick a version above the last release",
        )
    return version


def tagged(
    *,
    policy: Policy,
    channel: Channel,
    component: str | None,
    head_tag: ReleaseTag,
    current: ReleaseTag | None,
    base: ReleaseTag | None,
    commits: list[ParsedCommit],
) -> Plan:
    """HEAD already carries a release tag (a tag pipeline, or a rerun after a cut): that version stands."""
    kept = drop_reverted_pairs(commits)
    bumps = [(bump_for(c, policy.rules), c) for c in kept]
    bump = max((b for b, _ in bumps), default=Bump.NONE)
    return Plan(
        component=component,
        channel=channel,
        current=current,
        base=base,
        next_version=head_tag.version,
        bump=bump,
        tag=head_tag.name,
        commits=tuple(kept),
        considered=len(commits),
        ignored=sum(1 for c in commits if not c.conventional),
        reasons=tuple(c for b, c in bumps if b == bump and b is not Bump.NONE),
        head_tagged=True,
    )
