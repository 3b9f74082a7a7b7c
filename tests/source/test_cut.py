"""`release cut`: changelog commit + annotated tag, checks before any write, push to a real bare repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error


@pytest.fixture
def released(repo):
    """v1.0.0, then a feature and a fix: the next release is 1.1.0."""
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("feat(api): second thing")
    repo.commit("fix: a crash (#3)")
    return repo


def snapshot(repo):
    """What a failed or idle cut must leave alone."""
    return (
        repo.git("tag", "--list"),
        repo.git("log", "--all", "--format=%H %s"),
        repo.git("status", "--porcelain"),
        repo.git("for-each-ref"),
    )


def bare_remote(repo, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    return bare


def bare_git(bare: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=False)


# --- checks before writing --------------------------------------------------------------------------------


def test_dirty_tree_is_refused_and_nothing_is_written(released, release):
    released.commit("docs: readme", {"README.md": "hello\n"})
    (released.path / "README.md").write_text("changed\n")
    before = snapshot(released)
    result = release(released, "cut")
    assert_one_line_error(result, "README.md")
    assert snapshot(released) == before
    assert not (released.path / "CHANGELOG.md").exists()


def test_staged_change_is_refused_too(released, release):
    released.write("new.txt", "x")
    released.git("add", "new.txt")
    before = snapshot(released)
    assert_one_line_error(release(released, "cut"), "new.txt")
    assert snapshot(released) == before


def test_untracked_files_are_refused_unless_ignored_or_allowed(released, release):
    # goreleaser's rule: a file git does not know may end up in what is released (an image's build context)
    released.write("scratch.txt", "notes to self")
    before = snapshot(released)
    assert_one_line_error(release(released, "cut"), "uncommitted changes: scratch.txt", "--allow-dirty")
    assert snapshot(released) == before
    released.write(".git/info/exclude", "scratch.txt\n")  # ignored files do not count
    result = release(released, "cut", "--dry-run")
    assert result.code == 0, result.err


def test_allow_dirty_cuts_from_a_dirty_tree_and_commits_only_the_changelog(released, release):
    released.write("scratch.txt", "notes to self")
    result = release(released, "cut", "--allow-dirty")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    assert released.git("status", "--porcelain") == "?? scratch.txt"
    assert "scratch.txt" not in released.git("show", "--name-only", "--format=", "HEAD")


def test_cut_on_a_feature_branch_is_refused(released, release):
    released.git("checkout", "-q", "-b", "feature/x")
    before = snapshot(released)
    assert_one_line_error(release(released, "cut"), "branch feature/x does not release", "main")
    assert snapshot(released) == before
    assert release(released, "cut", "--dry-run", "--branch", "main").code == 0


# --- the release commit and tag ---------------------------------------------------------------------------


def test_cut_commits_the_changelog_and_tags_annotated(released, release):
    before = released.head()
    released.git("remote", "add", "origin", "git@gitlab.com:g/p.git")
    result = release(released, "cut")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    assert released.git("log", "-1", "--format=%s") == "chore(release): 1.1.0"
    assert released.git("rev-parse", "HEAD~1") == before
    assert released.git("show", "--name-only", "--format=", "HEAD").splitlines() == ["CHANGELOG.md"]
    assert released.git("cat-file", "-t", "v1.1.0") == "tag"
    assert released.git("rev-parse", "v1.1.0^{commit}") == released.head()
    assert released.git("status", "--porcelain") == ""
    message = released.git("tag", "-l", "--format=%(contents)", "v1.1.0")
    assert message.splitlines()[0] == "1.1.0"
    assert "* **api:** second thing ([" in message
    assert "[#3](https://gitlab.com/g/p/-/issues/3)" in message
    changelog = (released.path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [1.1.0](https://gitlab.com/g/p/-/compare/v1.0.0...v1.1.0) (" in changelog


def test_tag_message_keeps_the_markdown_headings(released, release):
    result = release(released, "cut")
    assert result.code == 0, result.err
    message = released.git("tag", "-l", "--format=%(contents)", "v1.1.0")
    assert "## 1.1.0 (" in message
    assert "### Features" in message and "### Bug Fixes" in message


def test_rerun_at_the_tagged_head_is_a_no_op(released, release):
    assert release(released, "cut").code == 0
    before = snapshot(released)
    result = release(released, "cut")
    assert result.code == 0, result.err
    assert result.out == ""
    assert "already released as v1.1.0" in result.err
    assert snapshot(released) == before


def test_nothing_to_release(repo, release):
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("chore: housekeeping")
    repo.commit("docs: typo")
    before = snapshot(repo)
    result = release(repo, "cut")
    assert result.code == 0, result.err
    assert result.out == ""
    assert "nothing to release" in result.err
    assert snapshot(repo) == before
    assert not (repo.path / "CHANGELOG.md").exists()


def test_dry_run_writes_nothing_and_shows_the_diff(released, release):
    released.commit("docs: changelog", {"CHANGELOG.md": "# Changelog\n\n## 1.0.0\n\n* first\n"})
    before = snapshot(released)
    result = release(released, "cut", "--dry-run")
    assert result.code == 0, result.err
    assert "--- a/CHANGELOG.md" in result.out and "+++ b/CHANGELOG.md" in result.out
    assert "+## 1.1.0 (" in result.out
    assert "+* **api:** second thing (" in result.out
    assert "would release 1.1.0 as v1.1.0" in result.err
    assert snapshot(released) == before
    assert (released.path / "CHANGELOG.md").read_text() == "# Changelog\n\n## 1.0.0\n\n* first\n"


def test_dry_run_without_a_changelog_creates_none(released, release):
    before = snapshot(released)
    result = release(released, "cut", "--dry-run")
    assert result.code == 0, result.err
    assert "+# Changelog" in result.out
    assert not (released.path / "CHANGELOG.md").exists()
    assert snapshot(released) == before


def test_bump_major_forces(released, release):
    result = release(released, "cut", "--bump", "major")
    assert result.code == 0, result.err
    assert result.out == "2.0.0\n"
    assert released.git("cat-file", "-t", "v2.0.0") == "tag"
    assert "## 2.0.0 (" in (released.path / "CHANGELOG.md").read_text()


def test_prerelease_rc(released, release):
    result = release(released, "cut", "--prerelease", "rc")
    assert result.code == 0, result.err
    assert result.out == "1.1.0-rc.1\n"
    assert released.git("cat-file", "-t", "v1.1.0-rc.1") == "tag"
    released.commit("fix: another")
    result = release(released, "cut", "--prerelease", "rc")
    assert result.code == 0, result.err
    assert result.out == "1.1.0-rc.2\n"


def test_changelog_false_tags_only(released, release):
    released.commit("chore: config", {"release.yaml": "notes:\n  changelog: false\n"})
    before = released.head()
    result = release(released, "cut")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    assert released.head() == before
    assert released.git("rev-parse", "v1.1.0^{commit}") == before
    assert released.git("cat-file", "-t", "v1.1.0") == "tag"
    assert not (released.path / "CHANGELOG.md").exists()


def test_changelog_path_from_config(released, release):
    released.commit("chore: config", {"release.yaml": "notes:\n  changelog: docs/CHANGES.md\n"})
    assert release(released, "cut").code == 0
    assert released.git("show", "--name-only", "--format=", "HEAD").splitlines() == ["docs/CHANGES.md"]
    assert "## 1.1.0 (" in (released.path / "docs/CHANGES.md").read_text()


# --- monorepo components ----------------------------------------------------------------------------------

MONOREPO = """\
versioning:
  initial: 1.0.0
components:
  - {name: api, path: services/api}
  - {name: web, path: web}
"""


def test_monorepo_changelog_per_component_and_prefixed_tags(repo, release):
    repo.commit("chore: layout", {"release.yaml": MONOREPO, "README.md": "x"})
    repo.commit("feat(api): endpoint", {"services/api/main.py": "print(1)\n"})
    repo.commit("fix(web): button", {"web/app.js": "1\n"})
    result = release(repo, "cut")
    assert result.code == 0, result.err
    assert repo.git("tag", "--list").splitlines() == ["api-v1.0.0", "web-v1.0.0"]
    assert repo.git("cat-file", "-t", "api-v1.0.0") == "tag"
    assert sorted(repo.git("show", "--name-only", "--format=", "HEAD").splitlines()) == [
        "services/api/CHANGELOG.md",
        "web/CHANGELOG.md",
    ]
    api = (repo.path / "services/api/CHANGELOG.md").read_text()
    web = (repo.path / "web/CHANGELOG.md").read_text()
    assert "endpoint" in api and "button" not in api
    assert "button" in web and "endpoint" not in web
    assert not (repo.path / "CHANGELOG.md").exists()


def test_monorepo_only_the_changed_component_is_released(repo, release):
    repo.commit("chore: layout", {"release.yaml": MONOREPO, "web/.keep": ""})  # a component's path exists
    repo.commit("feat(api): endpoint", {"services/api/main.py": "print(1)\n"})
    repo.tag("api-v1.0.0")
    repo.tag("web-v1.0.0")
    repo.commit("fix(api): crash", {"services/api/main.py": "print(2)\n"})
    result = release(repo, "cut")
    assert result.code == 0, result.err
    assert "api-v1.0.1" in repo.git("tag", "--list").splitlines()
    assert "web-v1.0.1" not in repo.git("tag", "--list")
    assert repo.git("show", "--name-only", "--format=", "HEAD").splitlines() == ["services/api/CHANGELOG.md"]
    assert "web: nothing to release" in result.err


# --- push ------------------------------------------------------------------------------------------------


def test_push_sends_branch_and_tag_to_the_remote(released, release, tmp_path):
    bare = bare_remote(released, tmp_path)
    result = release(released, "cut", "--push")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    head = released.head()
    assert bare_git(bare, "rev-parse", "refs/heads/main").stdout.strip() == head
    assert bare_git(bare, "cat-file", "-t", "refs/tags/v1.1.0").stdout.strip() == "tag"
    assert bare_git(bare, "rev-parse", "v1.1.0^{commit}").stdout.strip() == head


def test_push_from_detached_head_needs_a_branch(released, release, tmp_path):
    bare = bare_remote(released, tmp_path)
    released.git("checkout", "-q", "--detach", "HEAD")
    before = snapshot(released)
    assert_one_line_error(release(released, "cut", "--push"), "detached")
    assert snapshot(released) == before
    assert bare_git(bare, "for-each-ref").stdout == ""


def test_push_from_detached_head_with_branch(released, release, tmp_path):
    bare = bare_remote(released, tmp_path)
    released.git("checkout", "-q", "--detach", "HEAD")
    result = release(released, "cut", "--push", "--branch", "main")
    assert result.code == 0, result.err
    assert bare_git(bare, "rev-parse", "refs/heads/main").stdout.strip() == released.head()
    assert bare_git(bare, "cat-file", "-t", "refs/tags/v1.1.0").stdout.strip() == "tag"


def test_push_without_a_remote_writes_nothing(released, release):
    before = snapshot(released)
    assert_one_line_error(release(released, "cut", "--push"), "origin")
    assert snapshot(released) == before
    assert not (released.path / "CHANGELOG.md").exists()


def test_rejected_push_is_an_expected_failure(released, release, tmp_path):
    bare = bare_remote(released, tmp_path)
    # someone else pushed to main meanwhile: a non-fast-forward push is refused, atomically
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(bare), str(other)], check=True, capture_output=True)
    released.git("push", "-q", "origin", "HEAD~1:refs/heads/main")
    subprocess.run(["git", "-C", str(other), "fetch", "-q"], check=True)
    subprocess.run(["git", "-C", str(other), "checkout", "-q", "-b", "main", "origin/main"], check=True)
    subprocess.run(["git", "-C", str(other), "commit", "-q", "--allow-empty", "-m", "fix: elsewhere"], check=True)
    subprocess.run(["git", "-C", str(other), "push", "-q", "origin", "main"], check=True)
    before = released.head()
    result = release(released, "cut", "--push")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    # checked before anything is written: the release would have missed the remote's commit
    assert result.err.splitlines() == [
        "release: error: origin/main has commits this clone does not have; the release would miss them "
        "(hint: pull them first (git pull --rebase), then rerun release cut --push)"
    ]
    assert released.head() == before and "v1.1.0" not in released.git("tag")
    assert bare_git(bare, "rev-parse", "-q", "--verify", "refs/tags/v1.1.0").returncode != 0


def test_rerun_with_push_after_a_refused_push_makes_the_release(released, release, tmp_path):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    released.git("remote", "add", "origin", str(bare))
    # The remote refuses pushes while a marker exists (a hook, a flaky proxy): the push fails after the checks.
    refuse = tmp_path / "refuse"
    refuse.touch()
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\n[ -e {refuse} ] && echo 'try later' >&2 && exit 1\nexit 0\n")
    hook.chmod(0o755)
    assert release(released, "cut", "--push").code == 1
    assert "v1.1.0" not in released.git("tag")  # all or nothing: the local commit and tag were undone
    refuse.unlink()
    result = release(released, "cut", "--push")
    assert result.code == 0, result.err
    assert bare_git(bare, "cat-file", "-t", "refs/tags/v1.1.0").stdout.strip() == "tag"


def test_push_error_never_shows_credentials(released, release):
    released.git("remote", "add", "origin", "https://user:s3cret@127.0.0.1:9/g/p.git")
    result = release(released, "cut", "--push")
    assert result.code == 1
    # the unreachable remote is found before anything is written
    assert result.err.splitlines()[-1].startswith("release: error: git ls-remote failed: fatal: unable to access")
    assert "s3cret" not in result.out + result.err
    assert "v1.1.0" not in released.git("tag")
