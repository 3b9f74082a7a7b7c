"""Version inference as a user sees it: `release plan/version/cut` on real temporary git repositories.

Each test builds a history with plain git, runs the CLI in-process and checks what it decides.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo, Result

PLAN_KEYS = {
    "current_version",
    "next_version",
    "bump",
    "tag",
    "commits",
    "previous_tag",
    "branch",
    "channel",
    "prerelease",
    "already_tagged",
    "ignored_commits",
    "reasons",
}


# --- helpers ---------------------------------------------------------------------------------------


def plan(release: Any, where: Repo | Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = release(where, "plan", "--json", *args, env=env)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def version(release: Any, where: Repo | Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = release(where, "version", *args, env=env)
    assert result.code == 0, result.err
    out: str = result.out
    return out.strip()


def assert_fails(result: Result, *needles: str) -> str:
    """An expected failure: exit 1, exactly one line on stderr, `release: error:` first, no traceback."""
    assert result.code == 1, (result.code, result.out, result.err)
    assert result.err.endswith("\n")
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("release: error: "), result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def config(repo: Repo, text: str) -> None:
    repo.write("release.yaml", text)


def released(repo: Repo, tag: str = "v1.0.0") -> None:
    """A history with one release already tagged."""
    repo.commit("feat: the first release")
    repo.tag(tag)


# --- Conventional Commits and the default rules ----------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected", "bump"),
    [
        ("fix: handle empty input", "1.2.4", "patch"),
        ("fix(parser): handle empty input", "1.2.4", "patch"),
        ("perf: cache the index", "1.2.4", "patch"),
        ("feat: add export", "1.3.0", "minor"),
        ("feat(api): add export", "1.3.0", "minor"),
        ("feat!: drop the v1 API", "2.0.0", "major"),
        ("feat(api)!: drop the v1 API", "2.0.0", "major"),
        ("refactor(core)!: rename everything", "2.0.0", "major"),
        ("fix: rename a flag\n\nBREAKING CHANGE: --old is now --new", "2.0.0", "major"),
        ("fix: rename a flag\n\nBREAKING-CHANGE: --old is now --new", "2.0.0", "major"),
        ("chore: x\n\nsome body\n\nReviewed-by: Z\nBREAKING CHANGE: config moved", "2.0.0", "major"),
        ("revert: feat: something released long ago", "1.2.4", "patch"),
    ],
)
def test_default_rules_decide_the_bump(repo: Repo, release: Any, message: str, expected: str, bump: str) -> None:
    repo.commit("feat: base")
    repo.tag("v1.2.3")
    repo.commit(message)
    data = plan(release, repo)
    assert data["current_version"] == "1.2.3"
    assert data["previous_tag"] == "v1.2.3"
    assert data["next_version"] == expected
    assert data["bump"] == bump
    assert data["tag"] == f"v{expected}"
    assert data["reasons"][0]["subject"] == message.split("\n")[0].split(": ", 1)[1]
    assert version(release, repo) == expected


def test_a_shouted_type_counts_only_when_strict_is_off(repo: Repo, release: Any) -> None:
    """semantic-release and release-please do not read `FEAT:` as a feature; `versioning.strict: false` does."""
    repo.commit("feat: base")
    repo.tag("v1.2.3")
    repo.commit("FEAT: shouting")
    assert plan(release, repo)["next_version"] is None
    repo.write("release.yaml", "versioning:\n  strict: false\n")
    assert plan(release, repo)["next_version"] == "1.3.0"


@pytest.mark.parametrize(
    "message",
    [
        "chore: bump deps",
        "docs: fix typo",
        "ci: cache pip",
        "test: more cases",
        "style: black",
        "refactor: extract function",
        "build: new base image",
        "chore(release): 1.2.3",
        "fix:no space after the colon is not conventional",
        "BREAKING CHANGE: a header is not a footer",
        "docs: mention it\n\nBREAKING CHANGES: plural is not the token",
    ],
)
def test_other_types_release_nothing(repo: Repo, release: Any, message: str) -> None:
    released(repo)
    repo.commit(message)
    data = plan(release, repo)
    assert data["next_version"] is None
    assert data["bump"] is None
    assert data["tag"] is None
    assert data["current_version"] == "1.0.0"
    assert data["commits"] == 1
    result = release(repo, "version")
    assert (result.code, result.out) == (0, "")
    human = release(repo, "plan")
    assert human.code == 0
    assert "nothing to release" in human.out


def test_the_highest_bump_wins_and_plan_explains_why(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: small thing")
    feat = repo.commit("feat(search): fuzzy matching")
    repo.commit("chore: tidy")
    repo.commit("docs: explain fuzzy matching")
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert data["commits"] == 4
    assert [(r["sha"], r["type"], r["scope"], r["subject"]) for r in data["reasons"]] == [
        (feat, "feat", "search", "fuzzy matching")
    ]
    human = release(repo, "plan")
    assert human.code == 0, human.err
    assert "1.1.0" in human.out
    assert "v1.0.0" in human.out
    assert "fuzzy matching" in human.out
    assert feat[:7] in human.out


def test_plan_explains_a_breaking_change(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix(config): read the new file\n\nBREAKING CHANGE: the old file is ignored")
    human = release(repo, "plan")
    assert human.code == 0, human.err
    assert "2.0.0" in human.out
    assert "read the new file" in human.out


def test_breaking_change_survives_a_signed_off_by(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("commit", "-q", "-s", "--allow-empty", "-m", "fix: rename flag", "-m", "BREAKING CHANGE: --old is --new")
    assert "Signed-off-by:" in repo.git("log", "-1", "--format=%B")
    assert version(release, repo) == "2.0.0"


# --- configurable rules ----------------------------------------------------------------------------


RULES = """\
versioning:
  rules:
    - {type: build, bump: patch}
    - {type: feat, scope: "deps*", bump: none}
    - {type: docs, scope: api, bump: patch}
    - {type: refactor, breaking: true, bump: minor}
"""


@pytest.mark.parametrize(
    ("message", "with_rules", "without_rules"),
    [
        ("build: new base image", "1.0.1", None),
        ("build(docker): new base image", "1.0.1", None),
        ("feat(deps): bump requests", None, "1.1.0"),
        ("feat(deps-dev): bump pytest", None, "1.1.0"),
        ("feat(depsolver): faster", None, "1.1.0"),  # the glob is deps*, so this matches too
        ("feat(api): still a feature", "1.1.0", "1.1.0"),
        ("feat: no scope, still a feature", "1.1.0", "1.1.0"),
        ("docs(api): document the endpoint", "1.0.1", None),
        ("docs(readme): not the api", None, None),
        ("refactor!: rename modules", "1.1.0", "2.0.0"),
        ("fix: defaults still apply", "1.0.1", "1.0.1"),
        ("feat(deps)!: drop python 3.8", "2.0.0", "2.0.0"),  # a rule silent on `breaking` keeps major
    ],
)
def test_configured_rules(
    repo: Repo, release: Any, message: str, with_rules: str | None, without_rules: str | None
) -> None:
    released(repo)
    repo.commit(message)
    assert plan(release, repo)["next_version"] == without_rules
    config(repo, RULES)
    assert plan(release, repo)["next_version"] == with_rules


def test_a_rule_by_breaking_only(repo: Repo, release: Any) -> None:
    config(repo, "versioning:\n  rules:\n    - {breaking: true, bump: minor}\n")
    released(repo, "v2.3.0")
    repo.commit("feat!: drop the old endpoint")
    assert plan(release, repo)["next_version"] == "2.4.0"


def test_a_bad_rule_is_a_config_error(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("build: x")
    config(repo, "versioning:\n  rules:\n    - {type: build, bump: huge}\n")
    assert_fails(release(repo, "plan"), "release.yaml:3", "bump")


# --- before 1.0 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message", "expected"),
    [
        ("", "feat!: new API", "1.0.0"),
        ("", "feat: more", "0.4.0"),
        ("", "fix: less", "0.3.1"),
        ("bump_minor_pre_major: true", "feat!: new API", "0.4.0"),
        ("bump_minor_pre_major: true", "fix: x\n\nBREAKING CHANGE: y", "0.4.0"),
        ("bump_minor_pre_major: true", "feat: more", "0.4.0"),
        ("bump_patch_for_minor_pre_major: true", "feat: more", "0.3.1"),
        ("bump_patch_for_minor_pre_major: true", "feat!: new API", "1.0.0"),
        ("bump_patch_for_minor_pre_major: true", "fix: less", "0.3.1"),
        ("{bump_minor_pre_major: true, bump_patch_for_minor_pre_major: true}", "feat!: new API", "0.4.0"),
        ("{bump_minor_pre_major: true, bump_patch_for_minor_pre_major: true}", "feat: more", "0.3.1"),
    ],
)
def test_pre_major_options(repo: Repo, release: Any, options: str, message: str, expected: str) -> None:
    if options:
        body = options if options.startswith("{") else "{" + options + "}"
        config(repo, f"versioning: {body}\n")
    released(repo, "v0.3.0")
    repo.commit(message)
    assert version(release, repo) == expected


def test_pre_major_options_stop_at_1_0(repo: Repo, release: Any) -> None:
    config(repo, "versioning: {bump_minor_pre_major: true, bump_patch_for_minor_pre_major: true}\n")
    released(repo, "v1.4.0")
    repo.commit("feat!: new API")
    assert version(release, repo) == "2.0.0"
    repo.git("tag", "v2.0.0")
    repo.commit("feat: more")
    assert version(release, repo) == "2.1.0"


# --- Release-As ------------------------------------------------------------------------------------


def test_release_as_forces_the_version(repo: Repo, release: Any) -> None:
    released(repo, "v1.2.3")
    sha = repo.commit("chore: prepare the 2.0 launch\n\nRelease-As: 2.0.0")
    repo.commit("fix: small thing")
    data = plan(release, repo)
    assert data["next_version"] == "2.0.0"
    assert data["tag"] == "v2.0.0"
    human = release(repo, "plan")
    assert "Release-As: 2.0.0" in human.out
    assert sha[:7] in human.out


def test_release_as_on_the_first_release(repo: Repo, release: Any) -> None:
    repo.commit("chore: start\n\nRelease-As: 1.0.0")
    assert version(release, repo) == "1.0.0"


@pytest.mark.parametrize(
    ("value", "needle"),
    [("banana", "not a semantic version"), ("2.0", "not a semantic version"), ("1.0.0", "1.2.3"), ("1.2.3", "1.2.3")],
)
def test_release_as_must_be_a_version_above_the_current(repo: Repo, release: Any, value: str, needle: str) -> None:
    released(repo, "v1.2.3")
    sha = repo.commit(f"feat: x\n\nRelease-As: {value}")
    assert_fails(release(repo, "plan"), "Release-As", value, needle, sha[:7])
    assert_fails(release(repo, "version"), "Release-As")


def test_release_as_on_a_prerelease_channel_is_released_once(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("chore: the big one\n\nRelease-As: 2.0.0")
    assert version(release, repo) == "2.0.0-rc.1"
    repo.tag("v2.0.0-rc.1")
    repo.commit("chore: nothing to release here")
    assert plan(release, repo)["next_version"] is None
    repo.commit("fix: something")
    assert version(release, repo) == "2.0.0-rc.2"


# --- reverts ---------------------------------------------------------------------------------------


def test_a_git_revert_and_its_target_both_drop_out(repo: Repo, release: Any) -> None:
    released(repo)
    feat = repo.commit("feat: risky feature")
    repo.git("revert", "--no-edit", feat)
    assert plan(release, repo)["next_version"] is None
    repo.commit("fix: unrelated")
    data = plan(release, repo)
    assert data["next_version"] == "1.0.1"
    assert [r["subject"] for r in data["reasons"]] == ["unrelated"]


def test_a_conventional_revert_with_refs_footer_drops_out(repo: Repo, release: Any) -> None:
    released(repo)
    feat = repo.commit("feat!: remove the endpoint")
    repo.commit("fix: unrelated")
    repo.commit(f"revert: remove the endpoint\n\nRefs: {feat[:12]}")
    data = plan(release, repo)
    assert data["next_version"] == "1.0.1"
    assert data["bump"] == "patch"


def test_a_revert_of_a_released_commit_is_a_patch(repo: Repo, release: Any) -> None:
    repo.commit("chore: init")
    feat = repo.commit("feat: shipped feature")
    repo.tag("v1.0.0")
    repo.git("revert", "--no-edit", feat)
    data = plan(release, repo)
    assert data["next_version"] == "1.0.1"
    assert data["reasons"][0]["type"] == "revert"
    assert "shipped feature" in release(repo, "plan").out


def test_a_revert_names_its_target_by_sha_not_by_header(repo: Repo, release: Any) -> None:
    """The revert undoes the released commit; a relanded commit with the same header is new work."""
    repo.commit("chore: init")
    shipped = repo.commit("feat: flaky cache")
    repo.tag("v1.0.0")
    repo.commit("feat: flaky cache")
    repo.commit(f'Revert "feat: flaky cache"\n\nThis reverts commit {shipped}.')
    assert version(release, repo) == "1.1.0"


def test_a_revert_of_a_revert_restores_the_feature(repo: Repo, release: Any) -> None:
    released(repo)
    feat = repo.commit("feat: back and forth")
    repo.git("revert", "--no-edit", feat)
    revert = repo.head()
    repo.git("revert", "--no-edit", revert)
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert [r["sha"] for r in data["reasons"]] == [feat]


# --- merges ----------------------------------------------------------------------------------------


def test_merge_commits_are_not_counted_but_the_branch_commits_are(repo: Repo, release: Any) -> None:
    repo.commit("chore: init", {"README.md": "hi"})
    repo.git("checkout", "-q", "-b", "feature")  # branched before the release
    repo.commit("feat: from the branch", {"feature/a.txt": "a"})
    repo.commit("fix: also from the branch", {"feature/b.txt": "b"})
    repo.git("checkout", "-q", "main")
    repo.commit("fix: on main", {"main/a.txt": "a"})
    repo.tag("v1.0.0")
    repo.commit("docs: on main after the release", {"main/b.txt": "b"})
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "Merge branch 'feature'")
    assert len(repo.git("rev-parse", "HEAD^@").split()) == 2
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert data["commits"] == 3
    assert data["ignored_commits"] == 0
    assert [r["subject"] for r in data["reasons"]] == ["from the branch"]


def test_a_merge_message_does_not_decide_the_bump(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: the only change", {"topic.txt": "t"})
    repo.git("checkout", "-q", "main")
    repo.commit("chore: meanwhile on main", {"main.txt": "m"})
    repo.git("merge", "-q", "--no-ff", "topic", "-m", "feat!: merge topic")
    data = plan(release, repo)
    assert data["next_version"] == "1.0.1"
    assert data["commits"] == 2


# --- non-conventional commits and [skip release] --------------------------------------------------


def test_non_conventional_commits_are_ignored_and_counted(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("WIP")
    repo.commit("Update README.md")
    repo.commit("fix: the real change")
    data = plan(release, repo)
    assert data["next_version"] == "1.0.1"
    assert data["commits"] == 3
    assert data["ignored_commits"] == 2
    human = release(repo, "plan")
    assert human.code == 0
    assert "2 not conventional" in human.out


def test_only_non_conventional_commits_is_not_an_error(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("oops")
    repo.commit("more stuff")
    data = plan(release, repo)
    assert (data["next_version"], data["ignored_commits"]) == (None, 2)
    assert release(repo, "version").code == 0


@pytest.mark.parametrize(
    "message",
    [
        "feat: experimental [skip release]",
        "feat!: experimental\n\nNot yet. [skip release]",
        "feat: experimental [SKIP RELEASE]",
    ],
)
def test_skip_release_excludes_the_commit(repo: Repo, release: Any, message: str) -> None:
    released(repo)
    repo.commit(message)
    assert plan(release, repo)["next_version"] is None
    repo.commit("fix: a real one")
    assert version(release, repo) == "1.0.1"


def test_odd_commit_messages_are_not_fatal(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("commit", "-q", "--allow-empty", "--allow-empty-message", "-m", "")
    repo.commit("Release-As: 5.0.0")  # a header, not a footer: forces nothing
    repo.commit("feat(): empty scope")
    repo.commit("fix(a)(b): two scopes")
    repo.commit("fix: ünïcødé ✨ and a\ttab")
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert data["commits"] == 5
    assert data["ignored_commits"] >= 2  # the empty message and `fix(a)(b)` at least
    assert [r["subject"] for r in data["reasons"]] == ["empty scope"]


def test_control_characters_in_a_commit_message(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: a\x1eb\x1fc")
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["next_version"] == "1.0.1"


# --- tags ------------------------------------------------------------------------------------------


def test_custom_tag_format(repo: Repo, release: Any) -> None:
    config(repo, 'versioning:\n  tag_format: "release-{version}"\n')
    repo.commit("feat: a")
    repo.tag("release-1.4.0")
    repo.commit("fix: b")
    repo.tag("v9.0.0")  # not our format any more: ignored
    repo.commit("fix: c")
    data = plan(release, repo)
    assert data["previous_tag"] == "release-1.4.0"
    assert data["next_version"] == "1.4.1"
    assert data["tag"] == "release-1.4.1"
    assert data["commits"] == 2


def test_tags_that_do_not_parse_are_ignored(repo: Repo, release: Any) -> None:
    released(repo)
    for name in ("v1.2", "latest", "vfoo", "v1.2.3.4", "v01.2.3", "1.9.0", "v2.0.0-"):
        repo.commit(f"chore: {name}")
        repo.tag(name)
    repo.commit("fix: x")
    data = plan(release, repo)
    assert data["current_version"] == "1.0.0"
    assert data["next_version"] == "1.0.1"


@pytest.mark.parametrize("annotated", [False, True])
def test_annotated_and_lightweight_tags(repo: Repo, release: Any, annotated: bool) -> None:
    repo.commit("feat: a")
    repo.tag("v1.0.0", annotated=annotated)
    repo.commit("fix: b")
    repo.tag("v1.0.1", annotated=not annotated)
    repo.commit("feat: c")
    data = plan(release, repo)
    assert data["previous_tag"] == "v1.0.1"
    assert data["next_version"] == "1.1.0"
    assert data["commits"] == 1


def test_last_tag_is_the_highest_reachable_from_head(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "experiment")
    repo.commit("feat!: unmerged")
    repo.tag("v5.0.0")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: on main")
    data = plan(release, repo)
    assert data["previous_tag"] == "v1.0.0"
    assert data["next_version"] == "1.0.1"


def test_last_tag_is_the_highest_version_not_the_newest(repo: Repo, release: Any) -> None:
    repo.commit("feat: a")
    repo.tag("v1.1.0")
    repo.commit("fix: b")
    repo.tag("v1.0.5")  # a stray older version tagged later
    repo.commit("fix: c")
    data = plan(release, repo)
    assert data["previous_tag"] == "v1.1.0"
    assert data["next_version"] == "1.1.1"
    assert data["commits"] == 2


# --- the first release -----------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["feat: first", "fix: first", "feat!: first"])
def test_first_release_is_the_initial_version(repo: Repo, release: Any, message: str) -> None:
    repo.commit("chore: init")
    repo.commit(message)
    data = plan(release, repo)
    assert data["current_version"] is None
    assert data["previous_tag"] is None
    assert data["next_version"] == "0.1.0"
    assert data["commits"] == 2
    config(repo, "versioning:\n  initial: 1.0.0\n")
    assert version(release, repo) == "1.0.0"


def test_first_release_needs_a_releasable_commit(repo: Repo, release: Any) -> None:
    repo.commit("chore: init")
    assert plan(release, repo)["next_version"] is None


# --- prerelease channels ---------------------------------------------------------------------------


def test_prerelease_channel_on_next(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: shiny")
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0-rc.1"
    assert data["tag"] == "v1.1.0-rc.1"
    assert (data["branch"], data["channel"], data["prerelease"]) == ("next", "rc", True)
    repo.tag("v1.1.0-rc.1", annotated=True)
    repo.commit("fix: polish")
    assert version(release, repo) == "1.1.0-rc.2"
    repo.tag("v1.1.0-rc.2")
    repo.commit("chore: nothing")
    assert plan(release, repo)["next_version"] is None
    repo.commit("feat!: rethink")
    assert version(release, repo) == "2.0.0-rc.1"


def test_main_releases_stable_after_prereleases(repo: Repo, release: Any) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: shiny")
    repo.tag("v1.1.0-rc.1")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "next")
    repo.commit("fix: last fix")
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert data["previous_tag"] == "v1.0.0"
    assert data["prerelease"] is False


def test_custom_prerelease_branches(repo: Repo, release: Any) -> None:
    config(repo, "versioning:\n  prerelease_branches: {beta: beta}\n")
    released(repo)
    repo.git("checkout", "-q", "-b", "beta")
    repo.commit("feat: early")
    assert version(release, repo) == "1.1.0-beta.1"
    repo.tag("v1.1.0-beta.1")
    repo.commit("fix: early fix")
    assert version(release, repo) == "1.1.0-beta.2"
    repo.git("checkout", "-q", "-b", "next")  # no longer a prerelease branch with this config
    assert version(release, repo) == "1.1.0"


def test_cut_dry_run_with_prerelease_flag(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("feat: try me")
    result = release(repo, "cut", "--dry-run", "--prerelease", "rc")
    assert result.code == 0, result.err
    assert "1.1.0-rc.1" in result.err
    assert "v1.1.0-rc.1" in result.err
    assert repo.git("tag", "--list") == "v1.0.0"
    repo.tag("v1.1.0-rc.1")
    repo.commit("fix: again")
    result = release(repo, "cut", "--dry-run", "--prerelease", "rc")
    assert result.code == 0, result.err
    assert "1.1.0-rc.2" in result.err
    result = release(repo, "cut", "--dry-run", "--prerelease", "beta")
    assert "1.1.0-beta.1" in result.err


# --- maintenance branches --------------------------------------------------------------------------


def maintenance_history(repo: Repo) -> None:
    """main: v1.0.0, v1.2.0, then v2.0.0; `1.x` and `1.2.x` branch off at v1.2.0."""
    released(repo)
    repo.commit("feat: second")
    repo.tag("v1.2.0")
    repo.git("branch", "1.x")
    repo.git("branch", "1.2.x")
    repo.commit("feat!: the big change")
    repo.tag("v2.0.0")


def test_maintenance_major_branch(repo: Repo, release: Any) -> None:
    maintenance_history(repo)
    repo.git("checkout", "-q", "1.x")
    repo.commit("fix: backport")
    data = plan(release, repo)
    assert data["previous_tag"] == "v1.2.0"
    assert data["next_version"] == "1.2.1"
    assert data["branch"] == "1.x"
    repo.commit("feat: backported feature")
    assert version(release, repo) == "1.3.0"
    repo.commit("feat!: not allowed here")
    line = assert_fails(release(repo, "plan"), "1.x")
    assert "not allowed here" in line
    assert_fails(release(repo, "version"), "1.x")


def test_maintenance_minor_branch(repo: Repo, release: Any) -> None:
    maintenance_history(repo)
    repo.git("checkout", "-q", "1.2.x")
    repo.commit("fix: backport")
    assert version(release, repo) == "1.2.1"
    repo.commit("feat: too big for a patch branch")
    assert_fails(release(repo, "plan"), "1.2.x")


def test_a_major_fix_on_main_is_not_limited(repo: Repo, release: Any) -> None:
    maintenance_history(repo)
    repo.commit("fix: on main")
    assert version(release, repo) == "2.0.1"


# --- detached HEAD and CI branch variables ---------------------------------------------------------


def detached_on_next(repo: Repo) -> None:
    released(repo)
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: shiny")
    repo.git("checkout", "-q", "--detach")


def test_detached_head_with_defaults(repo: Repo, release: Any) -> None:
    detached_on_next(repo)
    data = plan(release, repo)
    assert data["branch"] is None
    assert data["next_version"] == "1.1.0"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--branch", "next"), {}),
        ((), {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "next"}),
        ((), {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "next", "CI_COMMIT_REF_NAME": "next"}),
        ((), {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "next", "GITHUB_REF": "refs/heads/next"}),
    ],
)
def test_detached_head_branch_from_option_or_ci(
    repo: Repo, release: Any, args: tuple[str, ...], env: dict[str, str]
) -> None:
    detached_on_next(repo)
    data = plan(release, repo, *args, env=env)
    assert data["branch"] == "next"
    assert data["next_version"] == "1.1.0-rc.1"


def test_detached_head_with_configured_prerelease_branches_needs_the_branch(repo: Repo, release: Any) -> None:
    config(repo, "versioning:\n  prerelease_branches: {next: rc}\n")
    detached_on_next(repo)
    assert_fails(release(repo, "plan"), "branch")
    assert_fails(release(repo, "version"), "branch")
    assert version(release, repo, "--branch", "next") == "1.1.0-rc.1"
    assert version(release, repo, env={"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"}) == "1.1.0"


# --- HEAD already tagged ---------------------------------------------------------------------------


@pytest.mark.parametrize("annotated", [False, True])
def test_head_already_tagged(repo: Repo, release: Any, annotated: bool) -> None:
    released(repo)
    repo.commit("feat: new")
    repo.commit("feat!: even newer")
    repo.tag("v1.1.0", annotated=annotated)  # cut by hand: the tag stands, whatever the commits say
    data = plan(release, repo)
    assert data["next_version"] == "1.1.0"
    assert data["tag"] == "v1.1.0"
    assert data["already_tagged"] is True
    assert data["current_version"] == "1.0.0"
    assert version(release, repo) == "1.1.0"
    assert "v1.1.0" in release(repo, "plan").out


def test_tag_pipeline_on_gitlab(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: x")
    repo.tag("v1.0.1")
    repo.git("checkout", "-q", "--detach")
    env = {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.0.1", "CI_COMMIT_REF_NAME": "v1.0.1"}
    data = plan(release, repo, env=env)
    assert (data["next_version"], data["already_tagged"]) == ("1.0.1", True)


@pytest.mark.parametrize("configured", [False, True])
def test_tag_pipeline_of_a_prerelease(repo: Repo, release: Any, configured: bool) -> None:
    """CI checks out the rc tag detached, with no branch: the tag at HEAD is the version."""
    if configured:
        config(repo, "versioning:\n  prerelease_branches: {next: rc}\n")
    released(repo)
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: shiny")
    repo.tag("v1.1.0-rc.1", annotated=True)
    repo.git("checkout", "-q", "--detach")
    env = {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.1.0-rc.1", "CI_COMMIT_REF_NAME": "v1.1.0-rc.1"}
    data = plan(release, repo, env=env)
    assert data["next_version"] == "1.1.0-rc.1"
    assert data["tag"] == "v1.1.0-rc.1"
    assert data["already_tagged"] is True
    assert data["prerelease"] is True
    assert version(release, repo, env=env) == "1.1.0-rc.1"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "v1.1.0-rc.1", "GITHUB_REF_TYPE": "tag"}
    assert version(release, repo, env=env) == "1.1.0-rc.1"


def test_tag_pipeline_uses_its_own_tag_when_a_commit_has_two(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("feat: shiny")
    repo.tag("v1.1.0-rc.1")
    repo.tag("v1.1.0")  # the rc promoted as is
    repo.git("checkout", "-q", "--detach")
    rc = {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.1.0-rc.1", "CI_COMMIT_REF_NAME": "v1.1.0-rc.1"}
    final = {"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.1.0", "CI_COMMIT_REF_NAME": "v1.1.0"}
    assert version(release, repo, env=rc) == "1.1.0-rc.1"
    assert version(release, repo, env=final) == "1.1.0"
    assert version(release, repo) == "1.1.0"  # no CI: the highest release at HEAD


# --- monorepo components ---------------------------------------------------------------------------


COMPONENTS = """\
components:
  - {name: api, path: services/api}
  - {name: web, path: web, tag_format: "web@{version}"}
"""


def test_components_count_only_their_own_paths(repo: Repo, release: Any) -> None:
    config(repo, COMPONENTS)
    repo.commit("chore: init", {"README.md": "hi"})
    repo.commit("feat: api thing", {"services/api/main.py": "1"})
    repo.commit("fix: web thing", {"web/index.html": "1"})
    repo.commit("feat!: gateway, a sibling path", {"services/api-gateway/main.py": "1"})
    data = plan(release, repo)
    assert data["next_version"] is None
    by_name = {c["name"]: c for c in data["components"]}
    assert list(by_name) == ["api", "web"]
    for item in data["components"]:
        assert set(item) == PLAN_KEYS | {"name"}
    assert (by_name["api"]["next_version"], by_name["api"]["tag"]) == ("0.1.0", "api-v0.1.0")
    assert (by_name["web"]["next_version"], by_name["web"]["tag"]) == ("0.1.0", "web@0.1.0")
    assert by_name["api"]["commits"] == 1
    assert by_name["web"]["commits"] == 1

    repo.tag("api-v0.1.0")
    repo.tag("web@0.1.0")
    repo.commit("fix: api only", {"services/api/main.py": "2"})
    repo.commit("feat: root only", {"README.md": "more"})
    by_name = {c["name"]: c for c in plan(release, repo)["components"]}
    assert by_name["api"]["previous_tag"] == "api-v0.1.0"
    assert (by_name["api"]["next_version"], by_name["api"]["tag"]) == ("0.1.1", "api-v0.1.1")
    assert by_name["web"]["next_version"] is None
    assert version(release, repo) == "api 0.1.1"

    repo.commit("feat: both", {"services/api/x.py": "1", "web/x.js": "1"})
    by_name = {c["name"]: c for c in plan(release, repo)["components"]}
    assert by_name["api"]["next_version"] == "0.2.0"
    assert by_name["web"]["next_version"] == "0.2.0"
    assert sorted(version(release, repo).splitlines()) == ["api 0.2.0", "web 0.2.0"]


def test_component_tags_do_not_leak(repo: Repo, release: Any) -> None:
    """A plain v-tag and the other component's tags say nothing about this component."""
    config(repo, COMPONENTS)
    repo.commit("feat: api", {"services/api/main.py": "1", "web/.keep": ""})
    repo.tag("v3.0.0")
    repo.tag("web@2.0.0")
    repo.commit("fix: api", {"services/api/main.py": "2"})
    by_name = {c["name"]: c for c in plan(release, repo)["components"]}
    assert by_name["api"]["previous_tag"] is None
    assert by_name["api"]["next_version"] == "0.1.0"
    assert by_name["web"]["previous_tag"] == "web@2.0.0"


def test_select_one_component(repo: Repo, release: Any) -> None:
    config(repo, COMPONENTS)
    repo.commit("feat: api thing", {"services/api/main.py": "1"})
    repo.commit("fix: web thing", {"web/index.html": "1"})
    data = plan(release, repo, "--component", "web")
    assert [c["name"] for c in data["components"]] == ["web"]
    assert data["components"][0]["tag"] == "web@0.1.0"
    assert version(release, repo, "--component", "api") == "0.1.0"
    assert "api" in release(repo, "plan", "--component", "api").out


def test_unknown_component(repo: Repo, release: Any) -> None:
    config(repo, COMPONENTS)
    repo.commit("feat: api thing", {"services/api/main.py": "1"})
    assert_fails(release(repo, "plan", "--component", "mobile"), "mobile")
    repo.write("release.yaml", "")
    assert_fails(release(repo, "version", "--component", "api"), "api")


# --- bad input -------------------------------------------------------------------------------------


def test_not_a_git_repository(tmp_path: Path, release: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_fails(release(plain, "plan"), "not a git repository")
    assert_fails(release(plain, "version"), "not a git repository")


def test_repository_without_commits(repo: Repo, release: Any) -> None:
    assert_fails(release(repo, "plan"), "no commits")
    assert_fails(release(repo, "plan", "--json"), "no commits")


def shallow_clone(origin: Repo, depth: int) -> Path:
    target = origin.path.parent / f"clone-{depth}"
    subprocess.run(
        ["git", "clone", "-q", f"--depth={depth}", f"file://{origin.path}", str(target)],
        check=True,
        capture_output=True,
    )
    assert (target / ".git" / "shallow").exists()
    return target


def test_shallow_clone_without_origin_fails_naming_the_command(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: a")
    repo.commit("fix: b")
    clone = shallow_clone(repo, 1)
    subprocess.run(["git", "remote", "remove", "origin"], cwd=clone, check=True)
    assert_fails(release(clone, "plan"), "shallow", "stops after 1 commit", "git fetch --unshallow --tags origin")
    assert_fails(release(clone, "version"), "git fetch --unshallow --tags origin")
    assert_fails(release(clone, "notes"), "git fetch --unshallow --tags origin")


def test_shallow_clone_whose_origin_is_gone_fails_naming_the_command(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: a")
    clone = shallow_clone(repo, 1)
    subprocess.run(["git", "remote", "set-url", "origin", str(repo.path.parent / "gone.git")], cwd=clone, check=True)
    assert_fails(release(clone, "plan"), "shallow", "from origin failed", "git fetch --unshallow --tags origin")


def test_shallow_clone_deep_enough_works(repo: Repo, release: Any) -> None:
    released(repo)
    repo.commit("fix: a")
    clone = shallow_clone(repo, 2)
    assert version(release, clone) == "1.0.1"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("versioning:\n  tag_fromat: 'v{version}'\n", ("release.yaml:2", "tag_fromat", "tag_format")),
        ("version: 1\nversioning:\n  initial: 0.1.0\n  rulez: []\n", ("release.yaml:4", "rulez")),
        ("versioning:\n  bump_minor_pre_major: maybe\n", ("release.yaml:2", "bump_minor_pre_major")),
        ("versioning:\n  rules: {type: build, bump: patch}\n", ("release.yaml:2", "list")),
        ("versioning:\n  tag_format: 'v{major}'\n", ("release.yaml:2", "{version}")),
        ("versioning:\n  initial: banana\n", ("release.yaml:2", "banana")),
        ("versioning: [\n", ("release.yaml",)),
        ("components:\n  - {name: api}\n", ("release.yaml:2", "path")),
    ],
)
def test_malformed_release_yaml(repo: Repo, release: Any, text: str, needles: tuple[str, ...]) -> None:
    repo.commit("feat: x")
    config(repo, text)
    assert_fails(release(repo, "plan"), *needles)
    assert_fails(release(repo, "plan", "--json"), *needles)
    assert_fails(release(repo, "version"), *needles)


@pytest.mark.parametrize(
    ("ci", "fix"),
    [
        ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main"}, "set GIT_DEPTH: 0"),
        ({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"}, "set fetch-depth: 0 on actions/checkout"),
    ],
)
def test_shallow_clone_hint_speaks_the_ci_s_language(repo: Repo, release: Any, ci: dict[str, str], fix: str) -> None:
    released(repo)
    repo.commit("fix: a")
    repo.commit("fix: b")
    clone = shallow_clone(repo, 1)
    subprocess.run(["git", "remote", "remove", "origin"], cwd=clone, check=True)
    assert_fails(release(clone, "run", "--only", "plan", env=ci), "shallow", fix)
