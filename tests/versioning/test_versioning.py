"""The pure version logic, called directly: parsing, rules, tag formats, revert pairing, channels, decide()."""

from __future__ import annotations

import pytest
import semver

from release.errors import ReleaseError
from release.versioning.commits import Commit, ParsedCommit, drop_reverted_pairs, parse
from release.versioning.plan import Channel, Policy, channel_for, decide, last_on_channel, last_stable
from release.versioning.rules import Bump, Rule, bump_for, pre_major
from release.versioning.tags import ReleaseTag, TagFormat, TagRef

_counter = iter(range(1, 10_000))


def commit(message: str, sha: str | None = None, strict: bool = True) -> ParsedCommit:
    sha = sha or f"{next(_counter):040x}"
    return parse(Commit(sha, ("0" * 40,), "A", "a@example.com", "2026-01-01T00:00:00+00:00", message), strict=strict)


def tag(name: str, fmt: TagFormat | None = None, commit_sha: str = "f" * 40) -> ReleaseTag:
    version = (fmt or TagFormat("v{version}")).parse(name)
    assert version is not None, name
    return ReleaseTag(name, commit_sha, version)


V = semver.Version.parse
POLICY = Policy(tag_format=TagFormat("v{version}"), initial=V("0.1.0"))


# --- parsing ---------------------------------------------------------------------------------------


def test_parse_header_parts() -> None:
    c = commit("feat(api)!: drop v1\n\nLong body.\n\nRefs: #12")
    assert (c.type, c.scope, c.subject, c.breaking) == ("feat", "api", "drop v1", True)
    assert c.breaking_description == "drop v1"
    assert c.body == "Long body."
    assert c.footer("refs") == "#12"
    assert c.conventional


@pytest.mark.parametrize("token", ["BREAKING CHANGE", "BREAKING-CHANGE"])
def test_breaking_footer(token: str) -> None:
    c = commit(f"fix: x\n\nbody\n\n{token}: the flag is gone\n  and so is the env var")
    assert c.breaking
    assert c.breaking_description == "the flag is gone\nand so is the env var"
    assert c.type == "fix"


@pytest.mark.parametrize(
    "message",
    [
        "fix: x\n\nBREAKING CHANGE in prose is not a footer",
        "fix: x\n\nWe talk about a BREAKING CHANGE: here, inside a paragraph\nthat goes on.\n\nmore",
        "docs: x\n\nBREAKING CHANGES: plural",
    ],
)
def test_not_breaking(message: str) -> None:
    assert not commit(message).breaking


@pytest.mark.parametrize(
    "message",
    ["WIP", "Update README.md", "fix:no space", "fix : spaced colon", "(scope): no type", "Merge branch 'x'", ""],
)
def test_non_conventional(message: str) -> None:
    c = commit(message)
    assert not c.conventional
    assert c.type is None
    assert bump_for(c) is Bump.NONE


@pytest.mark.parametrize(
    ("message", "reverted"),
    [
        ('Revert "feat(x): y (#8829)" (#8898)', "feat(x): y (#8829)"),
        ('Revert "feat: y" (!12)', "feat: y"),
        ('Revert "Revert "feat: y""', 'Revert "feat: y"'),
    ],
)
def test_squash_merged_revert_headers(message: str, reverted: str) -> None:
    c = commit(f"{message}\n\nThis reverts commit abcdef1.")
    assert (c.type, c.reverts, c.reverted_header, c.subject) == ("revert", "abcdef1", reverted, reverted)


def test_strict_headers() -> None:
    assert commit(" fix: x").type == "fix"  # semantic-release trims the message
    assert commit("Fix(internal): x").type is None
    assert commit(" fix: x", strict=False).type == "fix"
    assert commit("Fix(internal): x", strict=False).type == "fix"
    assert commit("Fix: x\n\nBREAKING CHANGE: y").breaking  # still breaking, as semantic-release reads notes


def test_git_revert_message() -> None:
    target = "a" * 40
    c = commit(f'Revert "feat(ui): dark mode"\n\nThis reverts commit {target}.')
    assert (c.type, c.reverts, c.reverted_header) == ("revert", target, "feat(ui): dark mode")
    assert not c.breaking


def test_conventional_revert_with_refs_footer() -> None:
    c = commit("revert: feat(ui): dark mode\n\nRefs: ABCDEF1234")
    assert (c.type, c.reverts, c.reverted_header) == ("revert", "abcdef1234", "feat(ui): dark mode")
    assert commit("revert: x\n\nRefs: #123").reverts is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("chore: x\n\nRelease-As: 2.0.0", "2.0.0"),
        ("chore: x\n\nrelease-as: v3.1.0", "v3.1.0"),
        ("chore: x\n\nRelease-As 2.0.0 (not a footer)", None),
    ],
)
def test_release_as_footer(message: str, expected: str | None) -> None:
    assert commit(message).release_as == expected


@pytest.mark.parametrize(
    ("message", "skip"),
    [
        ("feat: x [skip release]", True),
        ("feat: x\n\n[release skip]", True),
        ("feat: x [Skip Release]", True),
        ("feat: x [skip ci]", False),
    ],
)
def test_skip_markers(message: str, skip: bool) -> None:
    c = commit(message)
    assert c.skip is skip
    assert (bump_for(c) is Bump.NONE) is skip


@pytest.mark.parametrize(
    ("trailer", "expected"),
    [("added", "feat"), ("fixed", "fix"), ("security", "fix"), ("performance", "perf"), ("other", None)],
)
def test_gitlab_changelog_trailer_types_a_plain_commit(trailer: str, expected: str | None) -> None:
    c = commit(f"Add the export button\n\nChangelog: {trailer}")
    assert c.type == expected


def test_windows_line_endings() -> None:
    c = commit("feat: x\r\n\r\nBREAKING CHANGE: y\r\n")
    assert c.breaking and c.breaking_description == "y"


# --- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "bump"),
    [
        ("feat!: x", Bump.MAJOR),
        ("chore!: x", Bump.MAJOR),
        ("feat: x", Bump.MINOR),
        ("fix: x", Bump.PATCH),
        ("perf: x", Bump.PATCH),
        ("revert: x", Bump.PATCH),
        ('Revert "feat: x"', Bump.PATCH),
        ("chore: x", Bump.NONE),
        ("docs: x", Bump.NONE),
        ("ci: x", Bump.NONE),
        ("build: x", Bump.NONE),
    ],
)
def test_default_bumps(message: str, bump: Bump) -> None:
    assert bump_for(commit(message)) is bump


def test_user_rules_by_type_scope_and_breaking() -> None:
    rules = (
        Rule(Bump.PATCH, type="build"),
        Rule(Bump.NONE, type="feat", scope="deps*"),
        Rule(Bump.MINOR, breaking=True, type="refactor"),
    )
    assert bump_for(commit("build: x"), rules) is Bump.PATCH
    assert bump_for(commit("feat(deps): x"), rules) is Bump.NONE
    assert bump_for(commit("feat(deps-dev): x"), rules) is Bump.NONE
    assert bump_for(commit("feat(api): x"), rules) is Bump.MINOR  # no user rule matches: defaults
    assert bump_for(commit("feat: x"), rules) is Bump.MINOR  # no scope does not match "deps*"
    assert bump_for(commit("feat(deps)!: x"), rules) is Bump.MAJOR  # rule silent on breaking
    assert bump_for(commit("refactor!: x"), rules) is Bump.MINOR  # rule speaks about breaking
    assert bump_for(commit("refactor: x"), rules) is Bump.NONE


def test_rule_types_are_case_insensitive() -> None:
    assert bump_for(commit("build: x"), (Rule(Bump.PATCH, type="BUILD"),)) is Bump.PATCH
    assert bump_for(commit("Build: x", strict=False), (Rule(Bump.PATCH, type="BUILD"),)) is Bump.PATCH
    assert bump_for(commit("Build: x"), (Rule(Bump.PATCH, type="BUILD"),)) is Bump.NONE  # as semantic-release


@pytest.mark.parametrize(
    ("bump", "minor_opt", "patch_opt", "expected"),
    [
        (Bump.MAJOR, False, False, Bump.MAJOR),
        (Bump.MAJOR, True, False, Bump.MINOR),
        (Bump.MAJOR, False, True, Bump.MAJOR),
        (Bump.MAJOR, True, True, Bump.MINOR),
        (Bump.MINOR, False, True, Bump.PATCH),
        (Bump.MINOR, True, False, Bump.MINOR),
        (Bump.PATCH, True, True, Bump.PATCH),
        (Bump.NONE, True, True, Bump.NONE),
    ],
)
def test_pre_major(bump: Bump, minor_opt: bool, patch_opt: bool, expected: Bump) -> None:
    assert pre_major(bump, bump_minor_pre_major=minor_opt, bump_patch_for_minor_pre_major=patch_opt) is expected


# --- tag formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "component", "name", "version"),
    [
        ("v{version}", None, "v1.2.3", "1.2.3"),
        ("v{version}", None, "v1.2.3-rc.1", "1.2.3-rc.1"),
        ("v{version}", None, "v1.2.3+build.5", "1.2.3+build.5"),
        ("{version}", None, "0.0.1", "0.0.1"),
        ("release-{version}", None, "release-2.0.0", "2.0.0"),
        ("{component}-v{version}", "api", "api-v1.0.0", "1.0.0"),
        ("web@{version}", "web", "web@3.1.4", "3.1.4"),
    ],
)
def test_tag_format_round_trip(template: str, component: str | None, name: str, version: str) -> None:
    fmt = TagFormat(template, component)
    assert fmt.parse(name) == V(version)
    assert fmt.format(V(version)) == name


@pytest.mark.parametrize(
    ("template", "component", "name"),
    [
        ("v{version}", None, "v1.2"),
        ("v{version}", None, "latest"),
        ("v{version}", None, "vfoo"),
        ("v{version}", None, "1.2.3"),
        ("v{version}", None, "v1.2.3.4"),
        ("v{version}", None, "v01.2.3"),
        ("v{version}", None, "xv1.2.3"),
        ("v{version}", None, "v1.2.3-"),
        ("{component}-v{version}", "api", "web-v1.0.0"),
        ("{component}-v{version}", "api", "v1.0.0"),
        ("{component}-v{version}", "api", "api-gateway-v1.0.0"),
    ],
)
def test_tags_that_are_not_ours(template: str, component: str | None, name: str) -> None:
    assert TagFormat(template, component).parse(name) is None


def test_release_tags_keeps_only_parseable_ones() -> None:
    refs = [TagRef("v1.0.0", "a"), TagRef("latest", "b"), TagRef("v1.2", "c"), TagRef("v2.0.0-rc.1", "d")]
    found = TagFormat("v{version}").release_tags(refs)
    assert [(t.name, t.commit, str(t.version)) for t in found] == [
        ("v1.0.0", "a", "1.0.0"),
        ("v2.0.0-rc.1", "d", "2.0.0-rc.1"),
    ]


@pytest.mark.parametrize(
    ("template", "component", "needle"),
    [
        ("v", None, "{version}"),
        ("{version}-{version}", None, "{version}"),
        ("v{major}", None, "{version}"),
        ("v{version}-{sha}", None, "{sha}"),
        ("{component}-v{version}", None, "component"),
    ],
)
def test_bad_tag_formats(template: str, component: str | None, needle: str) -> None:
    with pytest.raises(ReleaseError) as exc:
        TagFormat(template, component)
    assert needle in exc.value.message


# --- revert pairing --------------------------------------------------------------------------------


def subjects(commits: list[ParsedCommit]) -> list[str]:
    return [c.subject for c in commits]


def test_revert_pairs_by_sha() -> None:
    feat = commit("feat: a")
    fix = commit("fix: b")
    revert = commit(f'Revert "feat: a"\n\nThis reverts commit {feat.commit.sha}.')
    assert drop_reverted_pairs([revert, fix, feat]) == [fix]


def test_revert_pairs_by_abbreviated_sha_in_refs() -> None:
    feat = commit("feat: a")
    revert = commit(f"revert: feat: a\n\nRefs: {feat.commit.sha[:10]}")
    assert drop_reverted_pairs([revert, feat]) == []


def test_revert_pairs_by_header_when_no_sha() -> None:
    feat = commit("feat: a")
    assert drop_reverted_pairs([commit('Revert "feat: a"'), feat]) == []
    assert drop_reverted_pairs([commit("revert: feat: a"), feat]) == []


def test_revert_by_header_only_reaches_older_commits() -> None:
    revert = commit("revert: feat: a")
    relanded = commit("feat: a")
    assert drop_reverted_pairs([relanded, revert]) == [relanded, revert]


def test_revert_of_something_outside_the_range_stays() -> None:
    revert = commit(f'Revert "feat: a"\n\nThis reverts commit {"e" * 40}.')
    fix = commit("fix: b")
    assert drop_reverted_pairs([revert, fix]) == [revert, fix]


def test_revert_names_a_sha_outside_the_range_and_a_same_header_commit_is_inside() -> None:
    relanded = commit("feat: a")
    revert = commit(f'Revert "feat: a"\n\nThis reverts commit {"e" * 40}.')
    assert drop_reverted_pairs([revert, relanded]) == [revert, relanded]


def test_revert_of_a_cherry_pick() -> None:
    original = "c" * 40
    picked = commit(f"fix: a\n\n(cherry picked from commit {original})")
    revert = commit(f'Revert "fix: a"\n\nThis reverts commit {original}.')
    assert drop_reverted_pairs([revert, picked]) == []


def test_revert_of_a_revert_keeps_the_original() -> None:
    feat = commit("feat: a")
    revert = commit(f'Revert "feat: a"\n\nThis reverts commit {feat.commit.sha}.')
    again = commit(f'Revert "Revert "feat: a""\n\nThis reverts commit {revert.commit.sha}.')
    assert drop_reverted_pairs([again, revert, feat]) == [feat]
    third = commit(f'Revert "Revert "Revert "feat: a"""\n\nThis reverts commit {again.commit.sha}.')
    assert drop_reverted_pairs([third, again, revert, feat]) == []


def test_two_reverts_of_one_commit() -> None:
    feat = commit("feat: a")
    first = commit(f'Revert "feat: a"\n\nThis reverts commit {feat.commit.sha}.')
    second = commit(f'Revert "feat: a"\n\nThis reverts commit {feat.commit.sha}.')
    assert drop_reverted_pairs([second, first, feat]) == [first]


# --- channels --------------------------------------------------------------------------------------


BRANCHES = {"next": "rc", "beta": "beta"}


@pytest.mark.parametrize(
    ("branch", "override", "prerelease", "major", "minor"),
    [
        ("main", None, None, None, None),
        (None, None, None, None, None),
        ("next", None, "rc", None, None),
        ("beta", None, "beta", None, None),
        ("main", "rc", "rc", None, None),
        ("1.x", None, None, 1, None),
        ("v2.x", None, None, 2, None),
        ("release/1.x", None, None, 1, None),
        ("1.2.x", None, None, 1, 2),
        ("1.2.3.x", None, None, None, None),
        ("feature/x", None, None, None, None),
    ],
)
def test_channel_for(
    branch: str | None, override: str | None, prerelease: str | None, major: int | None, minor: int | None
) -> None:
    chan = channel_for(branch, BRANCHES, override)
    assert (chan.branch, chan.prerelease, chan.major, chan.minor) == (branch, prerelease, major, minor)


def test_maintenance_ranges() -> None:
    assert Channel("1.x", major=1).allows(V("1.9.9"))
    assert not Channel("1.x", major=1).allows(V("2.0.0"))
    assert Channel("1.2.x", major=1, minor=2).allows(V("1.2.7"))
    assert not Channel("1.2.x", major=1, minor=2).allows(V("1.3.0"))


def test_last_stable_and_last_on_channel() -> None:
    tags = [tag(n) for n in ("v1.0.0", "v1.1.0-rc.1", "v1.1.0-beta.3", "v2.0.0", "v1.2.0")]
    rc = Channel("next", prerelease="rc")
    assert last_stable(tags, Channel("main")).name == "v2.0.0"  # type: ignore[union-attr]
    assert last_stable(tags, Channel("1.x", major=1)).name == "v1.2.0"  # type: ignore[union-attr]
    assert last_on_channel(tags, Channel("1.1.x", major=1, minor=1)) is None  # an rc is not a 1.1.x release
    assert last_on_channel(tags[:3], rc).name == "v1.1.0-rc.1"  # type: ignore[union-attr]
    assert last_on_channel(tags[:3], Channel("main")).name == "v1.0.0"  # type: ignore[union-attr]


# --- decide ----------------------------------------------------------------------------------------


def decide_for(
    messages: list[str],
    *,
    base: str | None = "v1.0.0",
    channel: Channel | None = None,
    policy: Policy = POLICY,
    all_tags: tuple[str, ...] = (),
) -> semver.Version | None:
    base_tag = tag(base) if base else None
    plan = decide(
        policy=policy,
        channel=channel or Channel("main"),
        component=None,
        base=base_tag,
        current=base_tag,
        since_base=[commit(m) for m in messages],
        since_current=None,
        all_tags=[tag(t, commit_sha="1" * 40) for t in all_tags] + ([base_tag] if base_tag else []),
    )
    return plan.next_version


def test_decide_default_bumps() -> None:
    assert decide_for(["fix: a", "feat: b", "chore: c"]) == V("1.1.0")
    assert decide_for(["chore: a", "docs: b"]) is None
    assert decide_for([]) is None
    assert decide_for(["fix: a"], base=None) == V("0.1.0")


def test_decide_pre_major() -> None:
    pol = Policy(tag_format=TagFormat("v{version}"), initial=V("0.1.0"), bump_minor_pre_major=True)
    assert decide_for(["feat!: a"], base="v0.4.2", policy=pol) == V("0.5.0")
    assert decide_for(["feat!: a"], base="v0.4.2") == V("1.0.0")
    assert decide_for(["feat!: a"], base="v1.4.2", policy=pol) == V("2.0.0")


def test_decide_prerelease_numbers_from_every_tag() -> None:
    rc = Channel("next", prerelease="rc")
    assert decide_for(["feat: a"], channel=rc) == V("1.1.0-rc.1")
    assert decide_for(["feat: a"], channel=rc, all_tags=("v1.1.0-rc.1", "v1.1.0-rc.4")) == V("1.1.0-rc.5")
    assert decide_for(["feat: a"], channel=rc, all_tags=("v1.1.0-beta.7", "v1.2.0-rc.3")) == V("1.1.0-rc.1")


def test_decide_refuses_a_tag_that_exists_elsewhere() -> None:
    with pytest.raises(ReleaseError) as exc:
        decide_for(["fix: a"], all_tags=("v1.0.1",))
    assert "v1.0.1" in exc.value.message


def test_decide_maintenance_range() -> None:
    assert decide_for(["fix: a"], channel=Channel("1.x", major=1)) == V("1.0.1")
    with pytest.raises(ReleaseError) as exc:
        decide_for(["feat!: big"], channel=Channel("1.x", major=1))
    assert "1.x" in exc.value.message and "big" in exc.value.message
    with pytest.raises(ReleaseError) as exc:
        decide_for(["feat: medium"], channel=Channel("1.0.x", major=1, minor=0))
    assert "1.0.x" in exc.value.message


def test_decide_release_as() -> None:
    assert decide_for(["chore: a\n\nRelease-As: 3.0.0"]) == V("3.0.0")
    assert decide_for(["chore: a\n\nRelease-As: v3.0.0"]) == V("3.0.0")
    for bad in ("1.0.0", "0.9.0", "three"):
        with pytest.raises(ReleaseError) as exc:
            decide_for([f"chore: a\n\nRelease-As: {bad}"])
        assert "Release-As" in exc.value.message


def test_decide_counts_ignored_commits() -> None:
    base_tag = tag("v1.0.0")
    plan = decide(
        policy=POLICY,
        channel=Channel("main"),
        component=None,
        base=base_tag,
        current=base_tag,
        since_base=[commit("WIP"), commit("fix: a"), commit("oops")],
        since_current=None,
        all_tags=[base_tag],
    )
    assert (plan.considered, plan.ignored, str(plan.next_version)) == (3, 2, "1.0.1")
    assert plan.as_json()["ignored_commits"] == 2


@pytest.mark.parametrize(
    "message",
    [
        # `git commit -s` puts Signed-off-by in a paragraph of its own after the breaking footer
        "fix: rename flag\n\nBREAKING CHANGE: --old is now --new\n\nSigned-off-by: A <a@example.com>",
        # GitHub squash merges add a Co-authored-by paragraph
        "feat: x\n\nbody\n\nBREAKING-CHANGE: gone\n\nCo-authored-by: B <b@example.com>",
        # a breaking description that runs over two paragraphs
        "feat: x\n\nBREAKING CHANGE: the config moved.\n\nSee the migration guide for details.",
    ],
)
def test_breaking_footer_followed_by_more_paragraphs(message: str) -> None:
    c = commit(message)
    assert c.breaking
    assert bump_for(c) is Bump.MAJOR
    assert "BREAKING" not in c.body


def test_footers_across_trailing_paragraphs() -> None:
    c = commit("fix: x\n\nBody text.\n\nRefs: #12\n\nSigned-off-by: A <a@example.com>\nRelease-As: 2.0.0")
    assert c.body == "Body text."
    assert c.footer("Refs") == "#12"
    assert c.release_as == "2.0.0"


def test_decide_maintenance_range_blames_release_as() -> None:
    with pytest.raises(ReleaseError) as exc:
        decide_for(["fix: small", "chore: jump\n\nRelease-As: 3.0.0"], channel=Channel("1.x", major=1))
    assert "Release-As: 3.0.0" in exc.value.message
    assert "small" not in exc.value.message
