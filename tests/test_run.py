"""`release run` and `release test` from the user's side: a real app repo with a bare "origin", the CLI in-process.

The whole pipeline runs in order (plan → test → images → charts → publish → notes → promote); stages can run
alone with --only/--skip, handing the State forward as separate CI jobs would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ci.test_github_action import parse_outputs
from tests.conftest import Repo, assert_one_line_error
from tests.gitops.test_promote import INFRA_FILES, make_infra, show
from tests.gitserver import GitHTTP

TESTS_OK = """\
tests:
  - {name: unit, run: "test -f app.txt && echo unit-ran >> .test-log"}
  - {name: lint, run: "echo lint-ran >> .test-log"}
"""

# the test commands' log is ignored, as test outputs are: an untracked one would make a rerun's tree dirty
IGNORED = ".test-log\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def with_origin(repo: Repo, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main", "--tags")
    return bare


def remote_tags(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/tags")
    return {parts[0]: parts[-1] for parts in (line.split() for line in out.splitlines())}


@pytest.fixture
def app(repo: Repo, tmp_path: Path) -> tuple[Repo, Path]:
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": TESTS_OK, ".gitignore": IGNORED})
    repo.tag("v1.0.0")
    repo.commit("feat(api): add the search endpoint", {"app.txt": "v2"})
    bare = with_origin(repo, tmp_path)
    return repo, bare


def stage_lines(err: str) -> dict[str, str]:
    return {line.split("]")[0][1:]: line for line in err.splitlines() if line.startswith("[")}


def test_run_tests_tags_last_and_records_everything(app, release):
    repo, origin = app
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"
    lines = stage_lines(result.err)
    assert list(lines) == ["plan", "test", "images", "charts", "publish", "notes", "promote"]
    assert "next version 1.1.0" in lines["plan"]
    assert "skipped: no images configured" in lines["images"]
    assert "pushed v1.1.0" in lines["publish"]
    assert (repo.path / ".test-log").read_text() == "unit-ran\nlint-ran\n"
    assert remote_tags(origin)["v1.1.0"] == repo.head()
    # annotated, with the notes in its message
    assert "add the search endpoint" in git(origin, "tag", "-l", "--format=%(contents)", "v1.1.0")
    state = json.loads((repo.path / ".release/state.json").read_text())
    assert state["version"] == "1.1.0" and state["released"] is True and state["sha"] == repo.head()
    assert "add the search endpoint" in (repo.path / state["notes_path"]).read_text()


def test_a_rerun_finds_everything_done(app, release):
    repo, origin = app
    assert release(repo, "run").code == 0
    before = remote_tags(origin)
    again = release(repo, "run")
    assert again.code == 0, again.err
    assert "v1.1.0 already published" in stage_lines(again.err)["publish"]
    assert remote_tags(origin) == before


def test_a_failing_test_stops_the_run_before_anything_is_published(app, release):
    repo, origin = app
    repo.commit("fix: break it", {"release.yaml": TESTS_OK.replace("echo lint-ran", "exit 7")})
    result = release(repo, "run")
    assert result.code == 1
    assert "Traceback" not in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error: test 'lint' failed (exit 7)"), last
    assert "nothing was published" in last
    assert "v1.1.0" not in remote_tags(origin) and repo.git("tag", "-l", "v1.1.0") == ""
    assert "publish" not in stage_lines(result.err)


def test_a_test_that_runs_too_long_is_stopped(app, release):
    repo, origin = app
    repo.commit("fix: slow", {"release.yaml": 'tests:\n  - {name: slow, run: "sleep 30", timeout: 1}\n'})
    result = release(repo, "run")
    assert result.code == 1
    assert "did not finish within 1 s" in result.err.strip().splitlines()[-1]
    assert "v1.0.1" not in remote_tags(origin)


def test_release_test_runs_the_commands_even_with_nothing_to_release(repo, release):
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": TESTS_OK, ".gitignore": IGNORED})
    repo.tag("v1.0.0")
    result = release(repo, "test")
    assert result.code == 0, result.err
    assert (repo.path / ".test-log").read_text() == "unit-ran\nlint-ran\n"
    repo.commit("chore: break", {"release.yaml": 'tests:\n  - {name: unit, run: "exit 3"}\n'})
    failed = release(repo, "test")
    assert failed.code == 1 and "Traceback" not in failed.err
    assert failed.err.splitlines() == ["test unit: exit 3", failed.err.splitlines()[-1]]  # the command, then why
    assert failed.err.splitlines()[-1].startswith("release: error: test 'unit' failed (exit 3)")


def test_stages_run_alone_hand_the_state_forward(app, release):
    repo, origin = app
    plan = release(repo, "run", "--only", "plan")
    assert plan.code == 0, plan.err
    assert "next     1.1.0" in plan.out
    assert json.loads((repo.path / ".release/state.json").read_text())["released"] is False
    assert release(repo, "run", "--only", "test").code == 0
    publish = release(repo, "run", "--only", "publish")
    assert publish.code == 0, publish.err
    assert remote_tags(origin)["v1.1.0"] == repo.head()
    assert json.loads((repo.path / ".release/state.json").read_text())["released"] is True


def test_a_later_stage_without_the_state_says_which_stage_to_run_first(app, release):
    repo, _ = app
    assert_one_line_error(release(repo, "run", "--only", "images"), "needs the State", "release run --only plan")


def test_a_state_from_another_commit_is_refused(app, release):
    repo, _ = app
    assert release(repo, "run", "--only", "plan").code == 0
    repo.commit("fix: later")
    assert_one_line_error(release(repo, "run", "--only", "publish"), "was written for commit", "--only plan")


def test_plan_replaces_a_state_left_by_another_commit(app, release):
    repo, _ = app
    state = repo.path / ".release/state.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"sha": "0" * 40, "images": [{"name": "old", "digest": "sha256:00"}]}))
    assert release(repo, "run", "--only", "plan").code == 0
    data = json.loads(state.read_text())
    assert data["images"] == [] and data["sha"] == repo.head()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--only", "imgs"], "unknown stage 'imgs'"),
        (["--skip", "plan,nope"], "unknown stage 'nope'"),
        (["--only", ","], "no stage named"),
    ],
)
def test_unknown_stage_names(app, release, args, needle):
    repo, _ = app
    assert_one_line_error(release(repo, "run", *args), needle, "plan,test,images,charts,publish,notes,promote")


def test_skip_leaves_out_stages(app, release):
    repo, origin = app
    result = release(repo, "run", "--skip", "test,publish")
    assert result.code == 0, result.err
    assert list(stage_lines(result.err)) == ["plan", "images", "charts", "notes", "promote"]
    assert not (repo.path / ".test-log").exists()
    assert "v1.1.0" not in remote_tags(origin)
    assert "no release object: the tag is not published" in stage_lines(result.err)["notes"]


def test_outside_ci_without_a_config_is_refused(repo, release):
    repo.commit("feat: first")
    assert_one_line_error(release(repo, "run"), "no release.yaml", "release init")


def test_in_ci_without_a_config_the_defaults_apply(repo, release, tmp_path):
    repo.commit("feat: first")
    origin = with_origin(repo, tmp_path)
    result = release(repo, "run", env={"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main"})
    assert result.code == 0, result.err
    assert remote_tags(origin) == {"v0.1.0": repo.head()}


def test_a_merge_request_pipeline_only_plans(app, release):
    repo, origin = app
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "12", "CI_COMMIT_REF_NAME": "feature"}
    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    assert "merge request pipeline: plan only" in result.err
    assert list(stage_lines(result.err)) == ["plan"]
    assert "next     1.1.0" in result.out
    assert not (repo.path / ".test-log").exists()
    assert "v1.1.0" not in remote_tags(origin)


def test_a_github_pull_request_only_plans(app, release):
    repo, origin = app
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_HEAD_REF": "feature"}
    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    assert list(stage_lines(result.err)) == ["plan"]
    assert "v1.1.0" not in remote_tags(origin)


def test_gitlab_gets_a_dotenv_report(app, release):
    repo, _ = app
    result = release(repo, "run", env={"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main"})
    assert result.code == 0, result.err
    values = dict(line.split("=", 1) for line in (repo.path / "release.env").read_text().splitlines())
    assert values["RELEASE_VERSION"] == "1.1.0"
    assert values["RELEASE_TAG"] == "v1.1.0"
    assert values["RELEASE_RELEASED"] == "true"
    assert values["RELEASE_PREVIOUS_VERSION"] == "1.0.0"
    assert values["RELEASE_IS_PRERELEASE"] == "false"


def test_github_gets_step_outputs_and_a_summary(app, release, tmp_path):
    repo, _ = app
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF_NAME": "main",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    outputs = parse_outputs(output.read_text())
    assert outputs["released"] == "true"
    assert outputs["version"] == "1.1.0" and outputs["tag"] == "v1.1.0" and outputs["previous_version"] == "1.0.0"
    assert "add the search endpoint" in outputs["release_notes"]
    text = summary.read_text()
    assert text.startswith("## release 1.1.0 (v1.1.0, published)")
    assert "| test | passed: unit, lint |" in text


def test_github_summary_shows_the_failed_stage(app, release, tmp_path):
    repo, _ = app
    repo.commit("fix: break it", {"release.yaml": 'tests:\n  - {name: unit, run: "exit 2"}\n'})
    summary = tmp_path / "summary"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main", "GITHUB_STEP_SUMMARY": str(summary)}
    assert release(repo, "run", env=env).code == 1
    assert "| test | FAILED: test 'unit' failed (exit 2)" in summary.read_text()


def test_dry_run_writes_and_pushes_nothing(app, release):
    repo, origin = app
    result = release(repo, "run", "--dry-run")
    assert result.code == 0, result.err
    assert "would tag" in stage_lines(result.err)["publish"]
    assert "skipped: dry run: would run unit, lint" in stage_lines(result.err)["test"]
    assert not (repo.path / ".release").exists() and not (repo.path / ".test-log").exists()
    assert repo.git("tag", "-l", "v1.1.0") == "" and "v1.1.0" not in remote_tags(origin)


def test_another_pipeline_took_the_version_first(app, release, tmp_path):
    repo, origin = app
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "feat: elsewhere")
    git(other, "tag", "v1.1.0")
    git(other, "push", "-q", "origin", "v1.1.0")
    theirs = remote_tags(origin)["v1.1.0"]
    result = release(repo, "run")
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "tag v1.1.0 already exists on origin" in last and "another pipeline released 1.1.0 first" in last
    assert remote_tags(origin)["v1.1.0"] == theirs  # nothing overwritten


def test_the_tag_is_pushed_with_a_token_from_the_environment(repo, release, tmp_path):
    token = "git-token-canary-5c1e"
    repo.commit("feat: first", {"release.yaml": "notes: {changelog: false}\n"})
    bare = tmp_path / "served" / "app.git"
    bare.parent.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(bare, "config", "http.receivepack", "true")
    with GitHTTP(bare.parent, "releaser", token) as server:
        repo.git("remote", "add", "origin", f"{server.url}/app.git")
        env = {"RELEASE_GIT_USER": "releaser", "RELEASE_GIT_TOKEN": token}
        result = release(repo, "run", "--skip", "notes", env=env)
        assert result.code == 0, result.err
        wrong = release(repo, "run", "--skip", "notes", env={**env, "RELEASE_GIT_TOKEN": "wrong-token-77"})
    assert remote_tags(bare) == {"v0.1.0": repo.head()}
    assert token not in result.err + result.out
    assert "wrong-token-77" not in wrong.err + wrong.out


def test_promote_stage_promotes_the_automatic_environments(repo, release, tmp_path):
    infra = make_infra(tmp_path, INFRA_FILES)
    config = f"""\
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
  - name: prod
    repo: file://{infra}
    updates:
      - {{file: apps/prod/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""
    repo.commit("feat: first", {"release.yaml": config})
    with_origin(repo, tmp_path)
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert 'tag: "0.1.0"' in show(infra, "apps/dev/app/values.yaml")
    assert 'tag: "0.1.0"' not in show(infra, "apps/prod/app/values.yaml")
    count = git(infra, "rev-list", "--count", "main")
    again = release(repo, "run")
    assert again.code == 0, again.err
    assert "dev already at 0.1.0" in stage_lines(again.err)["promote"]
    assert git(infra, "rev-list", "--count", "main") == count
    named = release(repo, "run", "--only", "promote", "--environment", "prod")
    assert named.code == 0, named.err
    assert 'tag: "0.1.0"' in show(infra, "apps/prod/app/values.yaml")


def test_the_release_object_is_made_after_the_tag_and_updated_on_rerun(app, release, forge):
    from tests.fakes.forge import DEFAULT_GITLAB_TOKEN

    repo, origin = app
    env = {
        "GITLAB_CI": "true",
        "CI_COMMIT_REF_NAME": "main",
        "CI_SERVER_URL": forge.url,
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_PROJECT_URL": f"{forge.url}/team/app",
        "GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN,
    }
    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    assert f"release object: created {forge.url}/team/app/-/releases/v1.1.0" in stage_lines(result.err)["notes"]
    (post,) = forge.calls("POST", r"/api/v4/projects/42/releases$")
    body = post.json()
    assert (body["tag_name"], body["ref"]) == ("v1.1.0", repo.head())
    assert "add the search endpoint" in body["description"]
    assert remote_tags(origin)["v1.1.0"] == repo.head()
    again = release(repo, "run", env=env)
    assert again.code == 0, again.err
    assert "release object: already up to date" in stage_lines(again.err)["notes"]
    assert len(forge.calls("POST", r"/api/v4/projects/42/releases$")) == 1
    assert DEFAULT_GITLAB_TOKEN not in result.err + again.err + (repo.path / "release.env").read_text()


def test_a_github_run_makes_a_github_release(app, release, forge, tmp_path):
    from tests.fakes.forge import DEFAULT_GITHUB_TOKEN

    repo, _ = app
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF_NAME": "main",
        "GITHUB_API_URL": forge.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "team/app",
        "GITHUB_TOKEN": DEFAULT_GITHUB_TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    (post,) = forge.calls("POST", r"/repos/team/app/releases$")
    assert post.json()["tag_name"] == "v1.1.0" and post.json()["prerelease"] is False
    assert parse_outputs((tmp_path / "out").read_text())["released"] == "true"


def test_a_cancelled_job_drops_its_claim_and_exits_143(repo, tmp_path):
    """SIGTERM (GitLab's cancel, GitHub's) while the charts stage waits on a registry that never answers."""
    import os
    import signal
    import socket
    import sys
    import threading
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    held: list[socket.socket] = []

    def serve() -> None:
        """The preflight's read of the tags is answered (no such repository yet); everything after, never."""
        while True:
            try:
                conn, _ = silent.accept()
            except OSError:
                return
            first = conn.recv(65536).split(b"\r\n", 1)[0]
            if b"/tags/list" in first:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()
            elif not first.endswith((b"HTTP/1.1", b"HTTP/1.0")):
                conn.close()  # a TLS probe: this port speaks plain HTTP
            else:
                held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    repo.commit(
        "feat: chart",
        {
            "release.yaml": f'charts:\n  - path: charts/app\n    publish: ["oci://127.0.0.1:{port}/charts"]\n',
            "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.0.1\n",
            "charts/app/values.yaml": "x: 1\n",
        },
    )
    origin = with_origin(repo, tmp_path)
    release_bin = str(Path(sys.executable).with_name("release"))
    proc = subprocess.Popen(
        [release_bin, "run"], cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not git(origin, "for-each-ref", "refs/release-claims/"):
            assert time.monotonic() < deadline and proc.poll() is None, "the run never claimed its tag"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        silent.close()
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert git(origin, "for-each-ref", "refs/release-claims/") == ""  # the claim was dropped
    assert remote_tags(origin) == {}


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_a_test_timeout_must_be_positive(repo, release, timeout):
    repo.commit("feat: first", {"release.yaml": f'tests:\n  - {{name: unit, run: "true", timeout: {timeout}}}\n'})
    assert_one_line_error(release(repo, "test"), "release.yaml:2", "not a number of seconds above 0")


def test_an_automatic_environment_waits_for_its_after_environment(repo, release, tmp_path):
    infra = make_infra(tmp_path, INFRA_FILES)
    config = f"""\
environments:
  - name: dev
    repo: file://{infra}
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
  - name: prod
    repo: file://{infra}
    automatic: true
    after: dev
    updates:
      - {{file: apps/prod/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""
    repo.commit("feat: first", {"release.yaml": config})
    with_origin(repo, tmp_path)
    count = git(infra, "rev-list", "--count", "main")
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert "prod waits for dev" in stage_lines(result.err)["promote"]
    assert "prod: skipped: prod is promoted after dev, and dev is not at 0.1.0 yet" in result.err
    assert git(infra, "rev-list", "--count", "main") == count
    assert release(repo, "promote", "dev").code == 0
    again = release(repo, "run")
    assert again.code == 0, again.err
    assert 'tag: "0.1.0"' in show(infra, "apps/prod/app/values.yaml")
