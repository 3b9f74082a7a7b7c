"""Decide the next version from release tags and commits. Pure: the caller reads git.

Version flow (DESIGN.md): decided once, from the commits since the last release tag reachable from HEAD.
Prerelease channels count from the last stable release (so `rc.2` carries everything `rc.1` did) and number
their prereleases from every tag that exists; maintenance branches stay inside their range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

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
    via: tuple[tuple[str, str], ...] = field(default=())  # monorepos: (sha, shared path) of reasons counted through it

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
    return max(stable, key=lambda t: t.key, default=None)


def last_on_channel(tags: list[ReleaseTag], channel: Channel) -> ReleaseTag | None:
    """The newest release this channel builds on: stable, or a prerelease of its own token."""
    token = channel.prerelease
    candidates = [
        t
        for t in tags
        if channel.allows(t.version) and (not t.version.prerelease or (token and _token(t.version) == token))
    ]
    return max(candidates, key=lambda t: t.key, default=None)


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
    kept_base = drop_reverted_pairs(since_base)
    kept_current = kept_base if since_current is None else drop_reverted_pairs(since_current)
    base_version = base.version if base else None

    bump, reasons = _commits_bump(policy, base_version, kept_base)
    release_as = next((c for c in kept_base if c.release_as), None)
    new_work = _new_work(policy, kept_current, release_as)
    if release_as is None and forced_bump is not None:
        bump = forced_bump  # --bump overrides the commits, but not a Release-As footer
    target, forced = _target(policy, base_version, bump, release_as, forced_bump)

    unreleasable = Plan(
        component=component,
        channel=channel,
        current=current,
        base=base,
        next_version=None,
        bump=bump,
        tag=None,
        commits=tuple(kept_current),
        considered=len(since_current_list),
        ignored=sum(1 for c in since_current_list if not c.conventional),
        reasons=reasons,
        forced=forced,
    )
    if target is None or (new_work is Bump.NONE and forced_bump is None):
        return unreleasable
    _check_channel_allows(channel, target, bump, reasons, forced)
    if channel.prerelease:
        if release_as is None:
            target = above_every_release(target, bump, all_tags)
        target = _next_prerelease(target, channel.prerelease, all_tags)
    tag = policy.tag_format.format(target)
    _check_not_tagged_elsewhere(target, tag, all_tags)
    return replace(unreleasable, next_version=target, tag=tag)


def _commits_bump(
    policy: Policy, base_version: semver.Version | None, commits: list[ParsedCommit]
) -> tuple[Bump, tuple[ParsedCommit, ...]]:
    """The bump the commits ask for, after the pre-1.0 rules, and the commits that ask for the largest one."""
    bumps = [(bump_for(c, policy.rules), c) for c in commits]
    bump = max((b for b, _ in bumps), default=Bump.NONE)
    reasons = tuple(c for b, c in bumps if b == bump and b is not Bump.NONE)
    if base_version is not None and base_version.major == 0:
        bump = pre_major(
            bump,
            bump_minor_pre_major=policy.bump_minor_pre_major,
            bump_patch_for_minor_pre_major=policy.bump_patch_for_minor_pre_major,
        )
    return bump, reasons


def _new_work(policy: Policy, kept_current: list[ParsedCommit], release_as: ParsedCommit | None) -> Bump:
    """How far the commits since the last release on this channel alone would push the version."""
    new_work = max((bump_for(c, policy.rules) for c in kept_current), default=Bump.NONE)
    if release_as is not None and any(c.commit.sha == release_as.commit.sha for c in kept_current):
        # New since the last release on this channel; once a prerelease carries it, it forces nothing new.
        new_work = max(new_work, Bump.PATCH)
    return new_work


def _target(
    policy: Policy,
    base_version: semver.Version | None,
    bump: Bump,
    release_as: ParsedCommit | None,
    forced_bump: Bump | None,
) -> tuple[semver.Version | None, str | None]:
    """The next version before any prerelease suffix (None when nothing asks for one), and what forced it."""
    if release_as is not None:
        target = _release_as(release_as, base_version)
        return target, f"Release-As: {target} in {release_as.commit.short_sha}"
    if forced_bump is not None:
        forced = f"--bump {forced_bump.label}"
    elif bump is Bump.NONE:
        return None, None
    else:
        forced = None
    return (policy.initial if base_version is None else _bumped(base_version, bump)), forced


def _check_channel_allows(
    channel: Channel, target: semver.Version, bump: Bump, reasons: tuple[ParsedCommit, ...], forced: str | None
) -> None:
    """A maintenance branch refuses a version outside its range, naming what asks for it."""
    if channel.allows(target):
        return
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


def above_every_release(target: semver.Version, bump: Bump, all_tags: list[ReleaseTag]) -> semver.Version:
    """A prerelease channel's next version, above the newest stable release of any branch: `next` not merged
    with main since 4.11.0 was released from main plans 4.12.0-rc.1 for a feature, never 4.11.0-rc.3."""
    newest = max((t.version for t in all_tags if not t.version.prerelease), default=None)
    if newest is None or target > newest:
        return target
    return _bumped(newest, bump if bump is not Bump.NONE else Bump.PATCH)


def _next_prerelease(target: semver.Version, token: str, all_tags: list[ReleaseTag]) -> semver.Version:
    """`target` as the channel's next prerelease: numbered after every tag of it, reachable from HEAD or not."""
    taken = [t.version for t in all_tags if t.version.finalize_version() == target and _token(t.version) == token]
    number = max((_prerelease_number(v) for v in taken), default=0) + 1
    return target.replace(prerelease=f"{token}.{number}")


def _check_not_tagged_elsewhere(target: semver.Version, tag: str, all_tags: list[ReleaseTag]) -> None:
    """`all_tags` holds tags HEAD cannot reach too: the next tag must not be one of them."""
    clash = next((t for t in all_tags if t.name == tag), None)
    if clash is not None:
        raise ReleaseError(
            f"the next version {target} is already tagged as {tag} on commit {clash.commit[:7]}, which is not an "
            "ancestor of HEAD",
            "merge that release into this branch, or fetch it (git fetch --tags) if it is missing locally",
        )


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
