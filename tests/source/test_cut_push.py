"""`release cut --push` against a real bare remote that moved on, and monorepo output."""

import subprocess

import pytest

from tests.conftest import Repo, assert_one_line_error


def clone(bare, path) -> Repo:
    subprocess.run(["git", "clone", "-q", str(bare), str(path)], check=True, capture_output=True)
    return Repo(path)


def test_cut_push_refuses_before_writing_when_the_remote_moved_on(tmp_path, release):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    alice, bob = clone(bare, tmp_path / "alice"), clone(bare, tmp_path / "bob")
    alice.commit("feat: from alice")
    alice.git("push", "-q", "origin", "HEAD:main")
    bob.commit("fix: from bob")
    before = bob.head()
    result = release(bob, "cut", "--push")
    assert result.code == 1
    assert "origin/main has commits this clone does not have" in result.err
    assert "git pull --rebase" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert bob.head() == before and bob.git("tag") == ""
    assert subprocess.run(["git", "-C", str(bare), "tag"], capture_output=True, text=True).stdout == ""


def test_rejected_push_names_the_reason_not_just_atomic_failure(tmp_path, release):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    # A server-side hook refuses every update: the reason must reach the user.
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = clone(bare, tmp_path / "app")
    repo.commit("feat: one")
    result = release(repo, "cut", "--push")
    assert result.code == 1
    assert "rejected" in result.err
    assert "rerun release cut --push" in result.err
    assert subprocess.run(["git", "-C", str(bare), "tag"], capture_output=True, text=True).stdout == ""


def test_monorepo_cut_prints_each_component_with_its_version(repo, release):
    repo.commit(
        "chore: config", {"release.yaml": "components:\n  - {name: api, path: api}\n  - {name: web, path: web}\n"}
    )
    repo.commit("feat: both", {"api/a.txt": "a", "web/w.txt": "w"})
    result = release(repo, "cut")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["api 0.1.0", "web 0.1.0"]
    assert set(repo.git("tag").split()) == {"api-v0.1.0", "web-v0.1.0"}


# --- all or nothing: a colleague's push lands while ours is received ------------------------------------

COLLEAGUE_HOOK = """#!/bin/sh
# A colleague's push lands while ours is being received: main moves under it (once), and ours is refused.
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
old=$(git rev-parse refs/heads/main)
blob=$(echo "from a colleague" | git hash-object -w --stdin)
tree=$(printf '100644 blob %s\\tcolleague.txt\\n' "$blob" | git mktree)
new=$(echo "fix: from a colleague" | git commit-tree "$tree" -p "$old")
git update-ref refs/heads/main "$new" "$old"
rm -f "$0"
"""


def bare_with_colleague(tmp_path):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    me = clone(bare, tmp_path / "me")
    me.commit("feat: first", {"CHANGELOG.md": "# Changelog\n\nhand-written intro\n"})
    me.git("push", "-q", "origin", "HEAD:main")
    me.tag("v1.0.0")
    me.git("push", "-q", "origin", "v1.0.0")
    me.commit("feat: mine")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(COLLEAGUE_HOOK)
    hook.chmod(0o755)
    return bare, me


def remote(bare, *args):
    return subprocess.run(["git", "-C", str(bare), *args], capture_output=True, text=True, check=True).stdout


def test_a_push_refused_because_origin_moved_leaves_nothing_behind(tmp_path, release):
    bare, me = bare_with_colleague(tmp_path)
    before, changelog = me.head(), (me.path / "CHANGELOG.md").read_bytes()
    result = release(me, "cut", "--push")
    assert_one_line_error(result, "origin moved: pull, then rerun", "git pull --rebase")
    assert me.head() == before  # no release commit left on the laptop
    assert me.git("tag") == "v1.0.0"  # and no unpublished tag
    assert (me.path / "CHANGELOG.md").read_bytes() == changelog
    assert me.git("status", "--porcelain") == ""
    assert remote(bare, "tag").split() == ["v1.0.0"]
    assert "fix: from a colleague" in remote(bare, "log", "-1", "--format=%s", "main")


@pytest.mark.parametrize("pull", [["pull", "-q", "--rebase"], ["pull", "-q", "--no-rebase", "--no-edit"]])
def test_after_pulling_the_rerun_publishes_the_version_origin_has_no_tag_for(tmp_path, release, pull):
    bare, me = bare_with_colleague(tmp_path)
    assert release(me, "cut", "--push").code == 1
    me.git(*pull, "origin", "main")
    result = release(me, "cut", "--push")
    assert result.code == 0, result.err
    assert result.out.strip() == "1.1.0"
    assert remote(bare, "tag").split() == ["v1.0.0", "v1.1.0"]
    published = remote(bare, "show", "main:CHANGELOG.md")
    assert "## 1.1.0" in published and "## 1.0.1" not in published
    assert remote(bare, "rev-parse", "v1.1.0^{commit}").strip() == remote(bare, "rev-parse", "main").strip()


def test_a_push_refused_for_another_reason_is_undone_too_and_says_why(tmp_path, release):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    me = clone(bare, tmp_path / "me")
    me.commit("feat: one")
    before = me.head()
    result = release(me, "cut", "--push")
    assert_one_line_error(result, "rejected", "nothing was published", "rerun release cut --push")
    assert (me.head(), me.git("tag"), me.git("status", "--porcelain")) == (before, "", "")
    assert not (me.path / "CHANGELOG.md").exists()
