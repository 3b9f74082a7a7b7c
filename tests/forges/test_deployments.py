"""GitHub deployments after a promote: `release promote` on a real app repository and infra repository (file://),
the deployment and its status written to the shared fake forge's GitHub Deployments endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Repo
from tests.fakes.forge import DEFAULT_GITHUB_TOKEN
from tests.forges.test_releases import github_env, gitlab_env
from tests.gitops.test_promote import CONFIG, configure, head, make_infra
from tests.gitops.test_promote import INFRA_FILES as FILES

URL_CONFIG = CONFIG.replace("  - name: dev\n", "  - name: dev\n    url: https://dev.app.example.com\n", 1)
RUN_URL = "https://github.example/team/app/actions/runs/77"


@pytest.fixture
def app(repo: Repo, tmp_path: Any, forge: Any) -> tuple[Repo, Any]:
    infra = make_infra(tmp_path, FILES)
    configure(repo, f"file://{infra}", URL_CONFIG)
    forge.github_deployments.refs = {"v1.4.0": repo.git("rev-parse", "v1.4.0^{commit}")}
    # a commit status that is not green: GitHub refuses a deployment that does not say required_contexts: []
    forge.github_deployments.failing_contexts = {"ci/flaky"}
    return repo, infra


def env(forge: Any, **more: str) -> dict[str, str]:
    return github_env(forge, GITHUB_RUN_ID="77", **more)


def writes(forge: Any) -> list[Any]:
    return forge.calls("POST", r"/repos/team/app/deployments")


def test_a_promote_records_a_github_deployment_with_a_success_status(app, release, forge):
    repo, _ = app
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=env(forge))
    assert result.code == 0, result.err
    (deployment,) = forge.github_deployments.deployments["team/app"]
    assert deployment["ref"] == "v1.4.0" and deployment["environment"] == "dev"
    assert deployment["auto_merge"] is False and deployment["required_contexts"] == []
    assert deployment["sha"] == repo.git("rev-parse", "v1.4.0^{commit}")
    (status,) = forge.github_deployments.statuses[deployment["id"]]
    assert status["state"] == "success"
    assert status["environment_url"] == "https://dev.app.example.com"
    assert status["log_url"] == RUN_URL
    assert f"dev: GitHub deployment {deployment['id']}: v1.4.0 to dev (https://dev.app.example.com)" in result.err
    for call in writes(forge):
        assert call.header("Authorization") == f"Bearer {DEFAULT_GITHUB_TOKEN}"

    # a rerun: the environment already shows this tag, nothing is written
    before = len(writes(forge))
    again = release(repo, "promote", "dev", "--version", "1.4.0", env=env(forge))
    assert again.code == 0, again.err
    assert len(writes(forge)) == before


@pytest.mark.parametrize(
    "token, why",
    [
        (None, "no forge token (set GITLAB_TOKEN or GITHUB_TOKEN; CI_JOB_TOKEN works on GitLab)"),
        ("", "no forge token: GITHUB_TOKEN is set but empty (a protected variable on an unprotected branch?)"),
    ],
)
def test_without_a_token_the_promote_stands_and_one_line_says_why(app, release, forge, token, why):
    repo, infra = app
    before = head(infra)
    variables = env(forge, GITHUB_TOKEN=token or "")
    if token is None:
        del variables["GITHUB_TOKEN"]
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=variables)
    assert result.code == 0, result.err
    assert head(infra) != before  # promoted
    lines = [line for line in result.err.splitlines() if "GitHub deployment" in line]
    assert lines == [f"dev: GitHub deployment skipped: {why}"], result.err
    assert forge.calls(path=r"/repos/team/app/deployments") == []


def test_a_token_without_deployments_write_is_a_skip_not_a_failure(app, release, forge):
    repo, infra = app
    forge.github_deployments.read_only_tokens = {"ghs_read_only_1234"}
    before = head(infra)
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=env(forge, GITHUB_TOKEN="ghs_read_only_1234"))
    assert result.code == 0, result.err
    assert head(infra) != before
    lines = [line for line in result.err.splitlines() if "GitHub deployment" in line]
    assert lines == [
        "dev: GitHub deployment skipped: GITHUB_TOKEN may not create deployments (HTTP 403); "
        "give the workflow `permissions: deployments: write`"
    ]
    assert "ghs_read_only_1234" not in result.err + result.out
    assert forge.github_deployments.deployments == {}


def test_a_forge_failure_never_fails_the_promote(app, release, forge):
    repo, _ = app
    forge.inject("POST", r"/repos/team/app/deployments$", 500, {"message": "boom"}, times=10)
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=env(forge))
    assert result.code == 0, result.err
    (line,) = [line for line in result.err.splitlines() if "GitHub deployment" in line]
    assert line.startswith("dev: GitHub deployment not recorded: github (")


def test_dry_run_says_it_would_and_writes_nothing(app, release, forge):
    repo, _ = app
    result = release(repo, "promote", "dev", "--version", "1.4.0", "--dry-run", env=env(forge))
    assert result.code == 0, result.err
    assert "dev: would create a GitHub deployment of v1.4.0 to dev" in result.err
    assert writes(forge) == []


def test_gitlab_and_merge_request_promotes_record_no_github_deployment(app, release, forge):
    repo, _ = app
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=gitlab_env(forge))
    assert result.code == 0, result.err
    assert forge.calls(path=r"/repos/") == []
    assert "GitHub deployment" not in result.err
