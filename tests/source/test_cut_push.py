"""`release cut --push` against a real bare remote that moved on, and monorepo output."""

import subprocess

from tests.conftest import Repo


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
