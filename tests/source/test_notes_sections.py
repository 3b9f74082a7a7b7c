"""Notes on real histories: configurable sections, hidden commits in templates, release-please rendering,
squash-merged reverts, semantic-release's reading of headers and `--output` paths; through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Repo, assert_one_line_error


def notes(release, repo, *args):
    result = release(repo, "notes", *args)
    assert result.code == 0, result.err
    return result.out


def plan(release, repo):
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.fixture
def mixed(repo: Repo, monkeypatch) -> dict[str, str]:
    """A release-please project's shapes: chore, refactor, docs and a revert since v1.0.0."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-01T12:00:00+00:00")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2024-03-01T12:00:00+00:00")
    shas = {"base": repo.commit("feat: initial")}
    repo.tag("v1.0.0")
    shas["chore"] = repo.commit("chore(deps): bump left-pad")
    shas["refactor"] = repo.commit("refactor(api): split the router")
    shas["docs"] = repo.commit("docs: explain tokens")
    shas["ci"] = repo.commit("ci: cache pnpm")
    shas["fix"] = repo.commit("fix(api): no crash on empty body (#12)")
    shas["revert"] = repo.commit("revert: feat: an old experiment")
    shas["wip"] = repo.commit("WIP on a thing")
    return shas


SECTIONS = """\
notes:
  sections:
    - {type: feat, title: Features}
    - {type: fix, title: Bug Fixes}
    - {type: revert, title: Reverted commits}
    - {type: refactor, title: Code Refactoring}
    - {type: chore, title: Miscellaneous Chores}
    - {type: docs, title: Docs}
    - {type: ci, title: Continuous Integration, hidden: true}
"""


def test_configured_sections_show_their_types_in_their_order_under_their_titles(repo, release, mixed):
    repo.write("release.yaml", SECTIONS)
    out = notes(release, repo)
    titles = [line for line in out.splitlines() if line.startswith("### ")]
    assert titles == [
        "### Bug Fixes",
        "### Reverted commits",
        "### Code Refactoring",
        "### Miscellaneous Chores",
        "### Docs",
    ]
    assert f"* **deps:** bump left-pad ({mixed['chore'][:7]})" in out
    assert f"* **api:** split the router ({mixed['refactor'][:7]})" in out
    assert "cache pnpm" not in out and "WIP" not in out


def test_without_sections_the_default_stays(repo, release, mixed):
    out = notes(release, repo)
    titles = [line for line in out.splitlines() if line.startswith("### ")]
    assert titles == ["### Bug Fixes", "### Reverts"]
    assert "bump left-pad" not in out


def test_types_sharing_a_title_share_a_section(repo, release, mixed):
    repo.write(
        "release.yaml", "notes:\n  sections:\n    - {type: fix, title: Fixes}\n    - {type: chore, title: Fixes}\n"
    )
    out = notes(release, repo)
    assert [line for line in out.splitlines() if line.startswith("### ")] == ["### Fixes"]
    assert "bump left-pad" in out and "no crash on empty body" in out
    assert "Reverts" not in out  # a list of sections replaces the defaults


def test_a_template_sees_every_commit_with_its_section(repo, release, mixed, tmp_path):
    repo.write("release.yaml", SECTIONS)
    template = tmp_path / "all.j2"
    template.write_text(
        "{% for c in commits %}{{ c.short_sha }}|{{ c.group }}|{{ c.hidden }}|{{ c.type }}\n{% endfor %}"
    )
    lines = notes(release, repo, "--template", str(template)).splitlines()
    assert f"{mixed['ci'][:7]}|Continuous Integration|True|ci" in lines
    assert f"{mixed['wip'][:7]}|None|True|None" in lines
    assert f"{mixed['chore'][:7]}|Miscellaneous Chores|False|chore" in lines
    assert len(lines) == 7  # every commit since v1.0.0, once


def test_a_template_sees_hidden_commits_with_the_default_sections_too(repo, release, mixed, tmp_path):
    template = tmp_path / "all.j2"
    template.write_text("{% for c in commits if c.hidden %}{{ c.type }}\n{% endfor %}")
    assert notes(release, repo, "--template", str(template)).split() == ["chore", "refactor", "docs", "ci", "None"]


@pytest.mark.parametrize(
    ("sections", "needle"),
    [
        ("    - {type: fix, title: A}\n    - {type: Fix, title: B}\n", "type 'fix' is listed twice"),
        ("    - {type: fix, title: ''}\n", "empty type or title"),
        ("    - {type: fix}\n", "missing the key 'title'"),
    ],
)
def test_bad_sections_are_one_line_errors(repo, release, mixed, sections, needle):
    repo.write("release.yaml", "notes:\n  sections:\n" + sections)
    assert_one_line_error(release(repo, "notes"), needle)


def test_release_please_style(repo, release, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-01T12:00:00+00:00")
    repo.commit("feat: initial")
    repo.tag("v1.0.0")
    zeta = repo.commit("feat(ui): zeta")
    alpha = repo.commit("feat(ui): alpha")
    bare = repo.commit("feat: no scope")
    api = repo.commit("feat(api)!: tokens only\n\nBREAKING CHANGE: passwords are gone")
    repo.write("release.yaml", "notes:\n  style: release-please\n")
    repo.git("remote", "add", "origin", "https://github.com/o/r.git")
    out = notes(release, repo)
    url = "https://github.com/o/r/commit/"
    assert out.startswith("## [2.0.0](https://github.com/o/r/compare/v1.0.0...v2.0.0) (")
    assert "### ⚠ BREAKING CHANGES\n\n* **api:** passwords are gone" in out
    features = out.split("### Features\n\n", 1)[1].splitlines()
    assert (
        features
        == [  # as release-please sorts them: scope and subject read together
            f"* **api:** tokens only ([{api[:7]}]({url}{api}))",
            f"* no scope ([{bare[:7]}]({url}{bare}))",
            f"* **ui:** alpha ([{alpha[:7]}]({url}{alpha}))",
            f"* **ui:** zeta ([{zeta[:7]}]({url}{zeta}))",
        ]
    )


# --- reverts -----------------------------------------------------------------------------------------------


def test_a_squash_merged_revert_alone_is_a_patch_release(repo, release):
    feat = repo.commit("feat(x): y (#8829)")
    repo.tag("v24.66.3")
    repo.commit(f'Revert "feat(x): y (#8829)" (#8898)\n\nThis reverts commit {feat}.')
    got = plan(release, repo)
    assert (got["next_version"], got["bump"]) == ("24.66.4", "patch")
    out = notes(release, repo)
    assert "### Reverts" in out and "* **x:**" not in out and "feat(x): y (#8829)" in out


def test_a_squash_merged_revert_and_its_commit_in_one_range_cancel_out(repo, release):
    repo.commit("fix: base")
    repo.tag("v1.0.0")
    feat = repo.commit("feat(x): y (#10)")
    repo.commit(f'Revert "feat(x): y (#10)" (#11)\n\nThis reverts commit {feat}.')
    got = plan(release, repo)
    assert got["next_version"] is None


def test_a_reworded_revert_is_read_by_its_body(repo, release):
    fix = repo.commit("fix: base")
    repo.tag("v1.0.0")
    repo.commit(f"Undo the base fix, it broke prod\n\nThis reverts commit {fix}.")
    got = plan(release, repo)
    assert (got["next_version"], got["ignored_commits"]) == ("1.0.1", 0)
    assert "### Reverts\n\n* Undo the base fix, it broke prod" in notes(release, repo)


# --- headers as semantic-release reads them --------------------------------------------------------------


def test_a_capitalised_type_releases_nothing_unless_strict_is_off(repo, release):
    """semantic-release's rules do not match `Fix`; the spec reads types in any case (`versioning.strict: false`)."""
    repo.commit("feat: base")
    repo.tag("v1.0.0")
    repo.commit("Fix(internal): post dispatch event (#6823)")
    got = plan(release, repo)
    assert (got["next_version"], got["ignored_commits"]) == (None, 1)
    repo.write("release.yaml", "versioning:\n  strict: false\n")
    assert plan(release, repo)["next_version"] == "1.0.1"


def test_a_leading_space_is_read_past_as_semantic_release_trims_it(repo, release):
    """renovate 14.26.1 was released from ` fix(bitbucket-server): Fix status handling (#3250)`."""
    repo.commit("feat: base")
    repo.tag("v1.0.0")
    repo.commit(" fix(bitbucket-server): Fix status handling (#3250)")
    assert plan(release, repo)["next_version"] == "1.0.1"


def test_a_rule_sets_the_bump_of_breaking_commits_of_its_type(repo, release):
    repo.commit("feat: base")
    repo.tag("v1.0.0")
    repo.commit("build!: new toolchain")
    repo.write("release.yaml", "versioning:\n  rules:\n    - {type: build, bump: patch}\n")
    assert plan(release, repo)["next_version"] == "2.0.0"  # a rule silent on breaking does not lower it
    repo.write(
        "release.yaml",
        "versioning:\n  rules:\n    - {type: build, bump: patch}\n    - {type: build, breaking: true, bump: patch}\n",
    )
    assert plan(release, repo)["next_version"] == "1.0.1"  # semantic-release's {type: build, release: patch}


# --- --output --------------------------------------------------------------------------------------------


def test_output_into_a_new_folder_and_into_a_directory(repo, release, tmp_path):
    repo.commit("feat: one")
    first = release(repo, "notes", "--output", "new-folder/NOTES.md")
    assert first.code == 0, first.err
    written = (repo.path / "new-folder" / "NOTES.md").read_text(encoding="utf-8")
    assert "### Features" in written
    folder = tmp_path / "out"
    folder.mkdir()
    second = release(repo, "notes", "--output", str(folder))
    assert second.code == 0, second.err
    assert (folder / "NOTES.md").read_text(encoding="utf-8") == written
    assert "wrote" in second.err and "NOTES.md" in second.err


def test_output_where_nothing_may_be_written_is_a_one_line_error(repo, release):
    repo.commit("feat: one")
    repo.write("taken", "a file, not a folder")
    assert_one_line_error(release(repo, "notes", "--output", "taken/NOTES.md"), "cannot write the notes to")


def test_release_please_style_adds_closed_issues_and_keeps_newest_first_among_equals(repo, release):
    repo.commit("feat: initial")
    repo.tag("v1.0.0")
    older = repo.commit("fix(kc): skip sync")
    fix = repo.commit("fix(api): no crash\n\nlong story (issue #77)\n\nFixes #2500\n\nSigned-off-by: A <a@example.com>")
    chore = repo.commit("chore(ci): official image\n\nIssue: #2148")
    newer = repo.commit("fix(kc): skip sync")
    repo.write("release.yaml", "notes:\n  style: release-please\n  sections:\n" + SECTIONS.split("sections:\n")[1])
    repo.git("remote", "add", "origin", "https://github.com/o/r.git")
    out = notes(release, repo)
    lines = out.split("### Bug Fixes\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    issues = "https://github.com/o/r/issues/"
    assert lines[0].endswith(f"/commit/{fix})), closes [#2500]({issues}2500)")  # not #77, named in prose
    assert [line[line.index("[") + 1 : line.index("]")] for line in lines[1:]] == [newer[:7], older[:7]]
    assert f"/commit/{chore})), closes [#2148]({issues}2148)" in out


@pytest.mark.parametrize(
    "message",
    ["chore(release): 1.1.0", "chore(main): release 1.1.0", "chore(hotfix/x): Release v1.1.0", "chore: release 1.1.0"],
)
def test_a_release_tools_own_commit_is_neither_a_change_nor_a_note(repo, release, message):
    repo.commit("feat: initial")
    repo.tag("v1.0.0")
    repo.commit("fix: real")
    repo.commit(message)
    repo.tag("v1.1.0")
    repo.write(
        "release.yaml", "notes:\n  sections:\n    - {type: fix, title: Fixes}\n    - {type: chore, title: Chores}\n"
    )
    out = notes(release, repo, "--from", "v1.0.0", "--to", "v1.1.0")
    assert "### Fixes" in out and "Chores" not in out


def test_merge_commits_squashed_reverts_and_quoted_breaking_notes(repo, release):
    """A GitHub-shaped history: a feature merged by a merge commit and released, then reverted by a squash-merged
    revert; a docs commit quoting a BREAKING CHANGE footer (quoted, not one) merged the same way."""
    repo.commit("feat: base")
    repo.git("checkout", "-q", "-b", "topic")
    feat = repo.commit("feat(x): container images (#8829)")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "topic", "-m", "Merge pull request #8829 from o/topic")
    repo.tag("v1.1.0")
    repo.git("checkout", "-q", "-b", "docs")
    repo.commit(
        "docs: how to break\n\nWrite the footer as\n\n> BREAKING CHANGE: what users must change\n\n"
        "or `BREAKING CHANGE: x`."
    )
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "docs", "-m", "Merge pull request #8897 from o/docs")
    repo.commit(f'Revert "feat(x): container images (#8829)" (#8898)\n\nThis reverts commit {feat}.')
    got = plan(release, repo)
    assert (got["next_version"], got["bump"]) == ("1.1.1", "patch")
    out = notes(release, repo)
    assert "### Reverts\n\n* feat(x): container images (#8829)" in out
    assert "Breaking" not in out and "how to break" not in out


def test_release_please_style_lists_no_git_form_revert_as_release_please_does_not_read_them(repo, release):
    old = repo.commit("fix: remove a depends_on")
    repo.tag("v1.0.0")
    repo.commit(f'Revert "fix: remove a depends_on"\n\nThis reverts commit {old}.')
    repo.commit("revert: feat: an experiment")
    repo.write("release.yaml", "notes:\n  style: release-please\n")
    out = notes(release, repo)
    assert "an experiment" in out and "remove a depends_on" not in out
    repo.write("release.yaml", "")
    assert "remove a depends_on" in notes(release, repo)
