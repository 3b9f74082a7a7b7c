"""`release run` checks every target before the tests run, and a rerun of a released commit does not test again.

From the user's side: a real app repo with a bare origin, the CLI in-process. The test command writes a file; a
preflight failure leaves it absent (the tests never ran), no tag on origin, and says in one line what is wrong:
a registry on a closed port or a name that does not resolve (at once, no retries), an empty credential variable
(a protected variable on an unprotected branch), an infra repository that is not there, a merge request with only
CI_JOB_TOKEN, a forge that refuses the token.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.fakes.forge import DEFAULT_GITLAB_TOKEN
from tests.gitops.test_promote import INFRA_FILES, make_infra
from tests.test_run import git, remote_tags, with_origin

TESTS = 'tests:\n  - {name: unit, run: "echo ran >> tests-ran"}\n'
MERGE_REQUEST_ENV = """\
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    mode: merge-request
    forge: gitlab
    api: {api}/api/v4
    project: team/infra
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_with(repo: Repo, tmp_path: Path, config: str) -> Path:
    files = {"app.txt": "v1", "release.yaml": TESTS + config, "Dockerfile": "FROM scratch\nCOPY app.txt /\n"}
    files[".gitignore"] = "tests-ran\n"  # what the test command leaves, as coverage reports are in real CI
    repo.commit("feat: first", files)
    repo.tag("v1.0.0")
    repo.commit("feat: second", {"app.txt": "v2"})
    return with_origin(repo, tmp_path)


def assert_nothing_ran(repo: Repo, origin: Path) -> None:
    assert not (repo.path / "tests-ran").exists(), "the test command ran before the preflight failed"
    assert set(remote_tags(origin)) == {"v1.0.0"}


@pytest.mark.parametrize("host", ["closed", "registry.invalid"])
def test_an_unreachable_registry_fails_before_the_tests_and_at_once(repo, release, tmp_path, host):
    where = f"127.0.0.1:{closed_port()}" if host == "closed" else host
    origin = app_with(repo, tmp_path, f"images:\n  - {{name: app, repository: {where}/team/app}}\n")
    result = release(repo, "run")
    assert_one_line_error(result, f"cannot reach registry {where}:")
    assert "Connection refused" in result.err or "registry.invalid" in result.err
    assert "retrying" not in result.err.lower()
    assert_nothing_ran(repo, origin)


def test_an_empty_registry_password_is_named(repo, release, tmp_path, registry):
    origin = app_with(repo, tmp_path, f"images:\n  - {{name: app, repository: {registry.host}/preflight/app}}\n")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": ""}
    result = release(repo, "run", env=env)
    assert_one_line_error(
        result,
        "RELEASE_REGISTRY_PASSWORD is set but empty (a protected variable on an unprotected branch?)",
        f"registry {registry.host} needs credentials",
    )
    assert_nothing_ran(repo, origin)


def test_an_oci_chart_target_without_credentials_fails_before_the_tests(repo, release, tmp_path, registry):
    chart = {"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n"}
    repo.commit("chore: chart", {**chart, "charts/app/templates/cm.yaml": "kind: ConfigMap\n"})
    origin = app_with(
        repo, tmp_path, f'charts:\n  - path: charts/app\n    publish: ["oci://{registry.host}/preflight"]\n'
    )
    result = release(repo, "run", env={"RELEASE_REGISTRY_USER": registry.user})
    assert_one_line_error(result, "RELEASE_REGISTRY_PASSWORD is not set, but RELEASE_REGISTRY_USER is")
    assert_nothing_ran(repo, origin)


def test_an_unreachable_infra_repository_fails_before_the_tests(repo, release, tmp_path):
    config = (
        "environments:\n  - name: dev\n    repo: file:///nonexistent/infra.git\n    automatic: true\n"
        '    updates:\n      - {file: apps/dev/app/values.yaml, set: {image.tag: "{version}"}}\n'
    )
    origin = app_with(repo, tmp_path, config)
    result = release(repo, "run")
    assert_one_line_error(result, "dev", "/nonexistent/infra.git")
    assert_nothing_ran(repo, origin)


def test_a_merge_request_with_only_the_job_token_is_refused_before_anything(repo, release, tmp_path, forge):
    infra = make_infra(tmp_path, INFRA_FILES)
    origin = app_with(repo, tmp_path, MERGE_REQUEST_ENV.format(infra=infra, api=forge.url))
    result = release(repo, "run", env={"CI_JOB_TOKEN": forge.job_token})
    assert_one_line_error(result, "environment dev: merge requests need GITLAB_TOKEN", "does not accept it")
    assert_nothing_ran(repo, origin)
    assert forge.calls("POST") == [] and forge.calls("GET") == []
    assert not any(ref.startswith("release/") for ref in _branches(infra))


def test_an_empty_gitlab_token_is_named_for_merge_requests(repo, release, tmp_path, forge):
    infra = make_infra(tmp_path, INFRA_FILES)
    origin = app_with(repo, tmp_path, MERGE_REQUEST_ENV.format(infra=infra, api=forge.url))
    result = release(repo, "run", env={"GITLAB_TOKEN": "", "CI_JOB_TOKEN": forge.job_token})
    assert_one_line_error(result, "GITLAB_TOKEN is set but empty (a protected variable on an unprotected branch?)")
    assert_nothing_ran(repo, origin)


def test_a_merge_request_with_a_token_the_forge_rejects_fails_before_the_tests(repo, release, tmp_path, forge):
    infra = make_infra(tmp_path, INFRA_FILES)
    origin = app_with(repo, tmp_path, MERGE_REQUEST_ENV.format(infra=infra, api=forge.url))
    result = release(repo, "run", env={"GITLAB_TOKEN": "not-a-token-the-forge-knows"})
    assert_one_line_error(result, "environment dev:", "rejected the token (GITLAB_TOKEN)")
    assert_nothing_ran(repo, origin)
    assert forge.calls("POST") == []


def test_a_merge_request_with_gitlab_token_goes_through(repo, release, tmp_path, forge):
    infra = make_infra(tmp_path, INFRA_FILES)
    app_with(repo, tmp_path, MERGE_REQUEST_ENV.format(infra=infra, api=forge.url))
    result = release(repo, "run", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN, "CI_JOB_TOKEN": forge.job_token})
    assert result.code == 0, result.err
    assert (repo.path / "tests-ran").read_text() == "ran\n"
    assert forge.calls("POST")[0].header("PRIVATE-TOKEN") == DEFAULT_GITLAB_TOKEN


def test_a_forge_release_with_a_rejected_token_fails_before_the_tests(repo, release, tmp_path, forge):
    config = f"forge_release:\n  forge: github\n  api: {forge.url}\n  project: team/app\n"
    origin = app_with(repo, tmp_path, config)
    result = release(repo, "run", env={"GITHUB_TOKEN": "not-a-token-the-forge-knows"})
    assert_one_line_error(result, "rejected the token (GITHUB_TOKEN)", "list its releases")
    assert_nothing_ran(repo, origin)


def test_a_rerun_of_a_released_commit_does_not_run_the_tests_again(repo, release, tmp_path):
    origin = app_with(repo, tmp_path, "")
    first = release(repo, "run")
    assert first.code == 0, first.err
    assert (repo.path / "tests-ran").read_text() == "ran\n"
    assert "v1.1.0" in remote_tags(origin)
    message = git(origin, "tag", "-l", "--format=%(contents)", "v1.1.0")
    assert message.rstrip().endswith("\n\nRelease-Tests: passed")
    _drop_state(repo)  # a fresh CI job (GitLab's tag pipeline for v1.1.0): no State, the tag tells
    again = release(repo, "run")
    assert again.code == 0, again.err
    assert (repo.path / "tests-ran").read_text() == "ran\n"  # not run a second time
    assert "tests passed for this commit in the release that tagged it (v1.1.0); not rerun" in again.err


@pytest.mark.parametrize("how", ["by hand", "release cut"])
def test_a_tag_made_without_release_run_is_still_tested(repo, release, tmp_path, how):
    """A person tagged the commit (`git tag -a`, or `release cut --push`): nothing says its tests ran."""
    app_with(repo, tmp_path, "")
    if how == "by hand":
        repo.tag("v1.1.0", annotated=True)
        repo.git("push", "-q", "origin", "v1.1.0")
    else:
        assert release(repo, "cut", "--push").code == 0
    assert not (repo.path / "tests-ran").exists()
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert (repo.path / "tests-ran").read_text() == "ran\n"


def test_release_test_still_runs_them_on_a_released_commit(repo, release, tmp_path):
    app_with(repo, tmp_path, "")
    assert release(repo, "run").code == 0
    assert release(repo, "test").code == 0
    assert (repo.path / "tests-ran").read_text() == "ran\nran\n"


def _drop_state(repo: Repo) -> None:
    for path in (repo.path / ".release").glob("state*.json"):
        path.unlink()


def _branches(infra: Path) -> list[str]:
    from tests.gitops.test_promote import git

    return git(infra, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()
