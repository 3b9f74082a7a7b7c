"""The release-branch guard and the clean-tree guard, from the user's side: `release run` and friends on a real repo
with a bare origin. A branch that does not release plans only (exit 0, nothing published); a dirty tree is one line,
exit 1, nothing published, until --allow-dirty."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error

CONFIG = "version: 1\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def app(repo: Repo, tmp_path: Path) -> tuple[Repo, Path]:
    """v1.0.0, then a feature: the next release is 1.1.0; origin is a bare repository."""
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": CONFIG, ".gitignore": "*.log\n"})
    repo.tag("v1.0.0")
    repo.commit("feat(api): add the search endpoint", {"app.txt": "v2"})
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main", "--tags")
    return repo, bare


def tags(bare: Path) -> set[str]:
    return set(git(bare, "tag", "--list").split())


PLAN_ONLY = "plan only, nothing is built or published"


# --- release branches ----------------------------------------------------------------------------------------


def test_a_feature_branch_plans_only_and_publishes_nothing(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.git("checkout", "-q", "-b", "feature/x")
    result = release(repo, "run")
    assert result.code == 0, result.err
    said = [line for line in result.err.splitlines() if PLAN_ONLY in line]
    assert said == [
        f"branch feature/x does not release (release branches: main, master, next, beta, alpha, N.x): {PLAN_ONLY}"
    ]
    assert [line[1:5] for line in result.err.splitlines() if line.startswith("[")] == ["plan"]
    assert "next     1.1.0" in result.out  # the plan is shown, not announced as released
    assert tags(origin) == {"v1.0.0"}
    assert not (repo.path / ".release" / "notes.md").exists()


def test_plan_on_a_feature_branch_says_that_it_would_not_release(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    assert release(repo, "plan").err == ""
    repo.git("checkout", "-q", "-b", "feature/x")
    result = release(repo, "plan")
    assert result.code == 0 and "next     1.1.0" in result.out
    said = "branch feature/x does not release (release branches: main, master, next, beta, alpha, N.x)"
    assert result.err.endswith(f"{said}: release run would plan only\n")


def test_next_releases_a_prerelease(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.git("checkout", "-q", "-b", "next")
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert result.out == "1.1.0-rc.1\n"
    assert tags(origin) == {"v1.0.0", "v1.1.0-rc.1"}


def test_a_maintenance_branch_releases_within_its_range(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.git("checkout", "-q", "-b", "1.0.x", "v1.0.0")
    repo.commit("fix: backport", {"fix.txt": "x"})
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert result.out == "1.0.1\n"
    assert "v1.0.1" in tags(origin)


def test_a_detached_head_releases_with_the_ci_branch(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.git("checkout", "-q", "--detach")
    result = release(repo, "run", env={"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"})
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    assert "v1.1.0" in tags(origin)


def test_a_detached_head_with_no_branch_known_plans_only(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.git("checkout", "-q", "--detach")
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert "cannot tell which branch this is (detached HEAD; no --branch, CI_COMMIT_BRANCH" in result.err
    assert PLAN_ONLY in result.err
    assert tags(origin) == {"v1.0.0"}
    assert release(repo, "run", "--branch", "main").out == "1.1.0\n"  # a person who knows says so


def test_a_tag_pipeline_publishes_the_tagged_version_from_a_detached_head(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    repo.tag("v1.1.0", annotated=True)
    repo.git("push", "-q", "origin", "v1.1.0")
    repo.git("checkout", "-q", "--detach")
    result = release(repo, "run", env={"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.1.0"})
    assert result.code == 0, result.err
    assert PLAN_ONLY not in result.err
    assert "v1.1.0 already published" in result.err


def test_the_ci_default_branch_is_the_release_branch(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    ci = {"GITLAB_CI": "true", "CI_DEFAULT_BRANCH": "develop"}
    on_main = release(repo, "run", env=ci | {"CI_COMMIT_BRANCH": "main"})
    assert on_main.code == 0 and "branch main does not release (release branches: develop, next" in on_main.err
    repo.git("checkout", "-q", "-b", "develop")
    assert release(repo, "run", env=ci | {"CI_COMMIT_BRANCH": "develop"}).out == "1.1.0\n"
    assert "v1.1.0" in tags(origin)


def test_github_s_default_branch_comes_from_the_event(app, release, tmp_path):  # type: ignore[no-untyped-def]
    repo, origin = app
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}))
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "push"}
    refused = release(repo, "run", env=ci | {"GITHUB_REF_NAME": "main"})
    assert "branch main does not release (release branches: trunk," in refused.err
    assert tags(origin) == {"v1.0.0"}


def test_configured_branches_replace_the_defaults(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    repo.commit("chore: branches", {"release.yaml": 'version: 1\nbranches: [main, "release/*"]\n'})
    repo.git("checkout", "-q", "-b", "next")
    nxt = release(repo, "run")
    assert "branch next does not release (release branches: main, release/*)" in nxt.err
    repo.git("checkout", "-q", "-b", "release/2026")
    assert release(repo, "run").out == "1.1.0\n"
    assert "v1.1.0" in tags(origin)


def test_an_empty_branches_list_is_an_error(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    repo.commit("chore: branches", {"release.yaml": "version: 1\nbranches: []\n"})
    assert_one_line_error(release(repo, "plan"), "release.yaml:2", "branches", "no branch would release")


def test_standalone_publishing_commands_refuse_a_feature_branch(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    images = "version: 1\nimages:\n  - {name: app, repository: 127.0.0.1:1/app}\n"
    charts = "version: 1\ncharts:\n  - {path: chart, publish: ['oci://127.0.0.1:1/charts']}\n"
    repo.git("checkout", "-q", "-b", "feature/x")
    for text, args in ((images, ("build", "--push")), (charts, ("chart", "--publish"))):
        repo.commit("chore: config", {"release.yaml": text})
        assert_one_line_error(release(repo, *args), "branch feature/x does not release", "branches:")


# --- a clean working tree ------------------------------------------------------------------------------------


def test_a_dirty_tree_is_refused_then_allow_dirty_publishes(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    (repo.path / "app.txt").write_text("edited")
    repo.write("notes/todo.txt", "untracked")
    repo.write("debug.log", "ignored by .gitignore")
    refused = release(repo, "run")
    assert_one_line_error(refused, "uncommitted changes: app.txt, notes/todo.txt;", "--allow-dirty")
    assert "debug.log" not in refused.err
    assert tags(origin) == {"v1.0.0"} and not (repo.path / ".release").exists()
    allowed = release(repo, "run", "--allow-dirty")
    assert allowed.code == 0, allowed.err
    assert allowed.out == "1.1.0\n" and "v1.1.0" in tags(origin)


def test_a_dirty_tree_names_a_few_files_and_counts_the_rest(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    for i in range(6):
        repo.write(f"stray-{i}.txt", "x")
    assert_one_line_error(release(repo, "run"), "stray-0.txt, stray-1.txt, stray-2.txt and 3 more")


def test_what_release_writes_does_not_make_the_tree_dirty(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    ci = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    assert release(repo, "run", env=ci).code == 0
    assert {".release/", "release.env"} <= {line[3:] for line in git(repo.path, "status", "--porcelain").splitlines()}
    again = release(repo, "run", env=ci)  # a rerun in the same workspace: the State and dotenv are release's own
    assert again.code == 0, again.err
    # the later jobs of a pipeline run one stage each, with the plan job's State as an artifact
    assert release(repo, "run", "--only", "notes", env=ci).code == 0


def test_a_changed_tracked_file_in_release_s_folder_still_counts(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    repo.commit("chore: notes template", {".release/notes.md.j2": "{{ version }}\n"})
    (repo.path / ".release" / "notes.md.j2").write_text("edited\n")
    assert_one_line_error(release(repo, "run"), "uncommitted changes: .release/notes.md.j2")


def test_runs_that_publish_nothing_from_the_tree_do_not_mind_a_dirty_tree(app, release):  # type: ignore[no-untyped-def]
    # plan, test, and the notes or promote jobs publish what the commits say, not the tree's files
    repo, _ = app
    repo.write("scratch.txt", "x")
    assert release(repo, "run", "--only", "plan").code == 0
    assert release(repo, "run", "--only", "plan,notes").code == 0
    assert_one_line_error(release(repo, "run", "--only", "publish"), "uncommitted changes: scratch.txt")


def test_release_s_state_in_a_folder_of_its_own_does_not_count(app, release):  # type: ignore[no-untyped-def]
    repo, origin = app
    env = {"RELEASE_STATE": "out/state/state.json"}
    assert release(repo, "run", "--only", "plan", env=env).code == 0
    assert (repo.path / "out" / "state" / "state.json").exists()
    (repo.path / "out" / "stray.txt").write_text("x")  # but a stray file beside it does
    assert_one_line_error(release(repo, "run", "--skip", "plan", env=env), "uncommitted changes: out/stray.txt;")
    (repo.path / "out" / "stray.txt").unlink()
    assert release(repo, "run", "--skip", "plan", env=env).code == 0
    assert "v1.1.0" in tags(origin)


def test_standalone_publishing_commands_refuse_a_dirty_tree(app, release):  # type: ignore[no-untyped-def]
    repo, _ = app
    repo.commit(
        "chore: config", {"release.yaml": "version: 1\nimages:\n  - {name: app, repository: 127.0.0.1:1/app}\n"}
    )
    repo.write("scratch.txt", "x")
    assert_one_line_error(release(repo, "build", "--push"), "uncommitted changes: scratch.txt", "--allow-dirty")
