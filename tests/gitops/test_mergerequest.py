"""`release promote ENV` in merge-request mode: the release branch lands in a file:// bare infra repo, and the
merge request (GitLab) or pull request (GitHub) is opened through the shared fake forge's documented endpoints."""

from __future__ import annotations

import json

import pytest

from release.errors import ReleaseError
from tests.fakes.forge import DEFAULT_GITHUB_TOKEN, DEFAULT_GITLAB_TOKEN
from tests.gitops.test_promote import INFRA_FILES, VALUES, git, head, make_infra, show

GITLAB = """\
environments:
  - name: dev
    repo: {url}
    mode: merge-request
    forge: gitlab
    api: {api}/api/v4
    project: team/infra
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
      - {{file: overlays/dev/kustomization.yaml, image: {{name: registry.example.com/team/app, newTag: "{{version}}"}}}}
"""

GITHUB = """\
environments:
  - name: dev
    repo: {url}
    {mode}
    forge: github
    api: {api}
    project: team/infra
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""

BRANCH = "release/dev/1.4.0"


@pytest.fixture
def infra(tmp_path):
    return make_infra(tmp_path, INFRA_FILES)


def setup(repo, infra, forge, config, **kw):
    repo.commit("chore: release config", {"release.yaml": config.format(url=f"file://{infra}", api=forge.url, **kw)})
    repo.tag("v1.4.0")  # only a released version is promoted
    return repo


def changed_lines(infra, ref):
    diff = git(infra, "diff", "-U0", f"main...{ref}")
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_gitlab_merge_request_is_opened_then_reused(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    main_before = head(infra)
    result = release(app, "promote", "dev", "--version", "1.4.0", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    assert result.code == 0, result.err
    assert head(infra) == main_before  # the target branch is never pushed to
    assert git(infra, "rev-parse", f"{BRANCH}^") == main_before
    assert changed_lines(infra, BRANCH) == [
        '-  tag: "1.0.0"  # épinglé par la CI',
        '+  tag: "1.4.0"  # épinglé par la CI',
        "-    newTag: 1.0.0",
        "+    newTag: 1.4.0",
    ]
    created = forge.calls("POST", r"/api/v4/projects/team%2Finfra/merge_requests$")
    assert len(created) == 1
    request = created[0]
    assert request.header("PRIVATE-TOKEN") == DEFAULT_GITLAB_TOKEN
    body = request.json()
    assert (body["source_branch"], body["target_branch"]) == (BRANCH, "main")
    assert body["title"] == f"chore(dev): deploy {app.path.name} 1.4.0"
    assert "apps/dev/app/values.yaml" in body["description"] and "1.4.0" in body["description"]
    (mr,) = forge.merge_requests.mrs["7"]
    assert result.out.strip() == mr["web_url"]
    state = json.loads((app.path / ".release/state.json").read_text())
    assert state["promotions"][0]["merge_request"] == mr["web_url"]
    assert state["promotions"][0]["branch"] == BRANCH

    tip = git(infra, "rev-parse", BRANCH)
    again = release(app, "promote", "dev", "--version", "1.4.0", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    assert again.code == 0, again.err
    assert again.out.strip() == mr["web_url"]
    assert git(infra, "rev-parse", BRANCH) == tip  # nothing new pushed
    assert "nothing pushed" in again.err
    assert len(forge.calls("POST")) == 1 and len(forge.merge_requests.mrs["7"]) == 1


def test_gitlab_moved_target_reapplies_on_the_tip_and_updates_the_merge_request(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge, GITLAB)
    env = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN}
    assert release(app, "promote", "dev", "--version", "1.4.0", env=env).code == 0
    assert forge.calls("POST")[0].header("PRIVATE-TOKEN") == DEFAULT_GITLAB_TOKEN
    forge.merge_requests.mrs["7"][0]["description"] = "edited by hand"
    work = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(infra), str(work))
    (work / "README.md").write_text("infra\n")
    git(work, "add", "README.md")
    git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", "docs")
    git(work, "push", "-q", "origin", "main")
    again = release(app, "promote", "dev", "--version", "1.4.0", env=env)
    assert again.code == 0, again.err
    assert git(infra, "rev-parse", f"{BRANCH}^") == head(infra)  # rebuilt on the new tip, lease-pushed
    assert git(infra, "rev-list", "--count", f"main..{BRANCH}") == "1"
    assert len(forge.calls("POST")) == 1
    (put,) = forge.calls("PUT", r"/merge_requests/1$")
    assert put.json()["description"] != "edited by hand"
    assert forge.merge_requests.mrs["7"][0]["description"] == put.json()["description"]


def test_github_pull_request_with_the_mode_flag(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITHUB, mode="mode: push")
    token = {"GITHUB_TOKEN": DEFAULT_GITHUB_TOKEN}
    result = release(app, "promote", "dev", "--version", "1.4.0", "--mode", "merge-request", env=token)
    assert result.code == 0, result.err
    assert git(infra, "rev-list", "--count", "main") == "1"
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml", BRANCH)
    (post,) = forge.calls("POST", r"^/repos/team/infra/pulls$")
    assert post.header("Authorization") == f"Bearer {DEFAULT_GITHUB_TOKEN}"
    body = post.json()
    assert (body["head"], body["base"]) == (BRANCH, "main")
    assert body["title"].startswith("chore(dev): deploy") and "1.4.0" in body["body"]
    assert result.out.strip() == "https://github.example/team/infra/pull/1"
    lookups = forge.calls("GET", r"/pulls$")
    assert lookups[0].query["head"] == [f"team:{BRANCH}"] and lookups[0].query["state"] == ["open"]

    forge.pulls.prs["team/infra"][0]["title"] = "renamed"
    again = release(app, "promote", "dev", "--version", "1.4.0", "--mode", "merge-request", env=token)
    assert again.code == 0, again.err
    assert len(forge.calls("POST")) == 1
    (patch,) = forge.calls("PATCH", r"/pulls/1$")
    assert patch.json()["title"].startswith("chore(dev)")
    # without the flag the environment's own mode (push) applies
    assert release(app, "promote", "dev", "--version", "1.4.0", env=token).code == 0
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")


def test_bad_token_is_one_line_without_the_secret(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITHUB, mode="mode: merge-request")
    secret = "ghp_wrongwrongwrong123"
    result = release(app, "promote", "dev", "--version", "1.4.0", env={"GITHUB_TOKEN": secret})
    assert result.code == 1
    assert "rejected the token" in result.err and "GITHUB_TOKEN" in result.err
    assert secret not in result.err + result.out
    assert len([line for line in result.err.splitlines() if line.strip()]) <= 2  # the error and its hint
    assert not forge.calls("POST")


def test_missing_token_pushes_nothing(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    result = release(app, "promote", "dev", "--version", "1.4.0")
    assert result.code == 1
    assert "needs a GitLab token" in result.err
    assert git(infra, "branch", "--list", "release/*") == ""


def test_unknown_forge_is_a_config_error(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB.replace("forge: gitlab", "forge: gitea"))
    result = release(app, "promote", "dev", "--version", "1.4.0", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    assert result.code == 1
    assert "release.yaml:5" in result.err and "gitea" in result.err and "gitlab | github" in result.err
    assert not forge.calls()


def test_forge_defaults_from_ci_and_repo_url(repo, release, infra, forge):
    from release.config import EnvironmentConfig
    from release.gitops import mergerequest as promote_module

    class Ctx:
        def __init__(self, **env: str) -> None:
            self.env = env

    env = EnvironmentConfig(name="dev", repo="https://gitlab.example.com/team/infra.git")
    ci = Ctx(CI_SERVER_URL="https://gitlab.example.com/", GITLAB_TOKEN="glpat-xyz1")
    found = promote_module.resolve_forge(ci, env, env.repo)  # type: ignore[arg-type]
    assert (found.kind, found.api, found.project) == ("gitlab", "https://gitlab.example.com/api/v4", "team/infra")
    gh = Ctx(GITHUB_TOKEN="ghp_xyz1")
    found = promote_module.resolve_forge(gh, env, "git@github.com:team/infra.git")  # type: ignore[arg-type]
    assert (found.kind, found.api, found.project) == ("github", "https://api.github.com", "team/infra")
    with pytest.raises(ReleaseError, match="cannot tell which forge"):
        promote_module.resolve_forge(gh, env, f"file://{infra}")  # type: ignore[arg-type]


def test_dry_run_in_merge_request_mode_calls_nothing(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--dry-run")
    assert result.code == 0, result.err
    assert '+  tag: "1.4.0"' in result.out
    assert not forge.calls() and git(infra, "branch", "--list", "release/*") == ""
    assert VALUES  # the fixture shapes are shared with tests/test_promote.py


def test_rollback_in_merge_request_mode_opens_a_merge_request(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    token = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN}
    initial = head(infra)
    pushed = release(app, "promote", "dev", "--version", "1.4.0", "--mode", "push", env=token)
    assert pushed.code == 0, pushed.err
    main_before = head(infra)
    result = release(app, "rollback", "dev", env=token)
    assert result.code == 0, result.err
    assert head(infra) == main_before  # the target branch is never pushed to
    branch = f"release/dev/as-of-{initial[:12]}"  # the files before 1.4.0: no release recorded them
    assert git(infra, "rev-parse", f"{branch}^") == main_before
    assert changed_lines(infra, branch) == [
        '-  tag: "1.4.0"  # épinglé par la CI',
        '+  tag: "1.0.0"  # épinglé par la CI',
        "-    newTag: 1.4.0",
        "+    newTag: 1.0.0",
    ]
    (created,) = forge.calls("POST", r"/api/v4/projects/team%2Finfra/merge_requests$")
    body = created.json()
    assert (body["source_branch"], body["target_branch"]) == (branch, "main")
    assert body["title"] == f"chore(dev): roll back app to the files as of {initial[:12]}"
    assert result.out.strip() == forge.merge_requests.mrs["7"][0]["web_url"]
