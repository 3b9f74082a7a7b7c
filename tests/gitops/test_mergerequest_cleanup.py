"""Merge requests that clean up after themselves (issue 12): GitLab removes the source branch on merge, a newer
release closes the older open merge request of the same environment (a last comment, then its branch is deleted
from the infra repo), a merge request closed by someone is never recreated by a rerun, and `pending()` finds the
one waiting. Real infra repos over file://, the shared fake forge's documented endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.context import Context, Options
from release.gitops import mergerequest
from tests.conftest import assert_one_line_error
from tests.fakes.forge import DEFAULT_GITHUB_TOKEN, DEFAULT_GITLAB_TOKEN
from tests.gitops.test_mergerequest import GITHUB, GITLAB, setup
from tests.gitops.test_promote import INFRA_FILES, git, head, make_infra

GITLAB_TOKEN = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN}
GITHUB_TOKEN = {"GITHUB_TOKEN": DEFAULT_GITHUB_TOKEN}


@pytest.fixture
def infra(tmp_path):
    return make_infra(tmp_path, INFRA_FILES)


def branches(infra: Path) -> list[str]:
    return git(infra, "for-each-ref", "--format=%(refname:short)", "refs/heads/release/").split()


def push_branch(tmp_path: Path, infra: Path, branch: str, message: str) -> str:
    """Someone else's branch in the infra repo: one commit on main, pushed to `branch`."""
    work = tmp_path / f"work-{branch.replace('/', '-')}"
    git(tmp_path, "clone", "-q", str(infra), str(work))
    (work / "NOTES.md").write_text(message + "\n")
    git(work, "add", "NOTES.md")
    git(work, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return git(work, "rev-parse", "HEAD")


def test_gitlab_merge_request_removes_its_source_branch_on_merge(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    result = release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN)
    assert result.code == 0, result.err
    (created,) = forge.calls("POST", r"/merge_requests$")
    assert created.json()["remove_source_branch"] is True
    (mr,) = forge.merge_requests.mrs["7"]
    assert mr["force_remove_source_branch"] is True

    mr["force_remove_source_branch"] = False  # someone unticked "Delete source branch"
    again = release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN)
    assert again.code == 0, again.err
    (put,) = forge.calls("PUT", r"/merge_requests/1$")
    assert put.json()["remove_source_branch"] is True
    assert mr["force_remove_source_branch"] is True and len(forge.calls("POST")) == 1


def test_gitlab_newer_release_closes_the_older_merge_request_and_deletes_its_branch(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    app.tag("v1.5.0")  # a second released version, on the same commit
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN).code == 0
    assert branches(infra) == ["release/dev/1.4.0"]
    main_before = head(infra)

    newer = release(app, "promote", "dev", "--version", "1.5.0", env=GITLAB_TOKEN)
    assert newer.code == 0, newer.err
    old, new = forge.merge_requests.mrs["7"]
    assert (old["source_branch"], old["state"]) == ("release/dev/1.4.0", "closed")
    assert (new["source_branch"], new["state"]) == ("release/dev/1.5.0", "opened")
    assert newer.out.strip() == new["web_url"]
    (note,) = forge.merge_requests.notes[("7", 1)]
    assert "1.5.0" in note["body"] and new["web_url"] in note["body"]
    # the last comment comes before the close
    writes = [(r.method, r.path) for r in forge.calls() if r.method in ("POST", "PUT")]
    assert writes[-2:] == [
        ("POST", "/api/v4/projects/team%2Finfra/merge_requests/1/notes"),
        ("PUT", "/api/v4/projects/team%2Finfra/merge_requests/1"),
    ]
    assert forge.calls("PUT")[-1].json() == {"state_event": "close"}
    assert branches(infra) == ["release/dev/1.5.0"]  # the older branch is gone from the infra repo
    assert head(infra) == main_before  # the target branch is never pushed to
    assert "closed merge request" in newer.err and old["web_url"] in newer.err


def test_github_newer_release_closes_the_older_pull_request_with_a_comment(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITHUB, mode="mode: merge-request")
    app.tag("v1.5.0")  # a second released version, on the same commit
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITHUB_TOKEN).code == 0
    newer = release(app, "promote", "dev", "--version", "1.5.0", env=GITHUB_TOKEN)
    assert newer.code == 0, newer.err
    old, new = forge.pulls.prs["team/infra"]
    assert (old["state"], new["state"]) == ("closed", "open")
    (comment,) = forge.pulls.comments[("team/infra", 1)]
    assert "1.5.0" in comment["body"] and new["html_url"] in comment["body"]
    (close,) = [r for r in forge.calls("PATCH", r"/pulls/1$") if "state" in r.json()]
    assert close.json() == {"state": "closed"}
    assert branches(infra) == ["release/dev/1.5.0"]


def test_branches_and_merge_requests_we_did_not_make_are_left_alone(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge, GITLAB)
    foreign = push_branch(tmp_path, infra, "release/dev/0.9.0", "hand-made, no trailers")
    push_branch(tmp_path, infra, "release/prod/1.0.0", "another environment")
    project = forge.merge_requests.mrs.setdefault("7", [])
    for iid, branch in ((1, "release/dev/0.9.0"), (2, "release/prod/1.0.0"), (3, "feature/x")):
        project.append(
            {
                "id": 1000 + iid,
                "iid": iid,
                "project_id": 7,
                "title": branch,
                "description": "",
                "state": "opened",
                "source_branch": branch,
                "target_branch": "main",
                "force_remove_source_branch": False,
                "web_url": f"{forge.url}/team/infra/-/merge_requests/{iid}",
            }
        )
    result = release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN)
    assert result.code == 0, result.err
    assert [mr["state"] for mr in project] == ["opened", "opened", "opened", "opened"]
    assert not forge.merge_requests.notes
    assert git(infra, "rev-parse", "release/dev/0.9.0") == foreign
    assert branches(infra) == ["release/dev/0.9.0", "release/dev/1.4.0", "release/prod/1.0.0"]
    assert "left merge request" in result.err and "release/dev/0.9.0" in result.err


def test_merge_request_closed_by_someone_is_not_recreated(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge, GITLAB)
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN).code == 0
    (mr,) = forge.merge_requests.mrs["7"]
    mr["state"] = "closed"  # closed in the web UI, not merged
    tip = git(infra, "rev-parse", "release/dev/1.4.0")
    push_branch(tmp_path, infra, "main", "main moves on")  # a rerun would otherwise rebuild and push the branch

    rerun = release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN)
    assert_one_line_error(rerun, "closed by someone", mr["web_url"], "release promote dev --version 1.4.0")
    assert git(infra, "rev-parse", "release/dev/1.4.0") == tip  # nothing pushed
    assert len(forge.calls("POST")) == 1 and not forge.calls("PUT")
    assert mr["state"] == "closed" and len(forge.merge_requests.mrs["7"]) == 1

    mr["state"] = "opened"  # reopened: the rerun goes on, on the new tip
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN).code == 0
    assert git(infra, "rev-parse", "release/dev/1.4.0^") == head(infra)


def test_github_pull_request_closed_by_someone_is_not_recreated(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITHUB, mode="mode: merge-request")
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITHUB_TOKEN).code == 0
    (pr,) = forge.pulls.prs["team/infra"]
    pr["state"] = "closed"
    rerun = release(app, "promote", "dev", "--version", "1.4.0", env=GITHUB_TOKEN)
    assert_one_line_error(rerun, "pull request", "closed by someone", "release promote dev --version 1.4.0")
    assert len(forge.calls("POST")) == 1 and pr["state"] == "closed"


def test_a_version_whose_merge_request_a_newer_release_closed_can_be_promoted_again(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    app.tag("v1.5.0")  # a second released version, on the same commit
    for version in ("1.4.0", "1.5.0"):
        assert release(app, "promote", "dev", "--version", version, env=GITLAB_TOKEN).code == 0
    back = release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN)
    assert back.code == 0, back.err
    states = [(mr["source_branch"], mr["state"]) for mr in forge.merge_requests.mrs["7"]]
    assert states == [("release/dev/1.4.0", "closed"), ("release/dev/1.5.0", "closed"), ("release/dev/1.4.0", "opened")]
    assert branches(infra) == ["release/dev/1.4.0"]


@pytest.fixture
def context_for(monkeypatch):
    def build(app, **env: str) -> Context:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Context.build(Options(directory=str(app.path)))

    return build


def test_pending_finds_our_open_merge_request(repo, release, infra, forge, context_for):
    app = setup(repo, infra, forge, GITLAB)
    app.tag("v1.5.0")  # a second released version, on the same commit
    ctx = context_for(app, **GITLAB_TOKEN)
    assert mergerequest.pending(ctx, "dev") is None
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN).code == 0
    assert release(app, "promote", "dev", "--version", "1.5.0", env=GITLAB_TOKEN).code == 0
    found = mergerequest.pending(ctx, "dev")
    assert found is not None
    new = forge.merge_requests.mrs["7"][1]
    assert (found.env, found.version, found.url, found.number) == ("dev", "1.5.0", new["web_url"], 2)
    assert found.branch == "release/dev/1.5.0"
    new["state"] = "merged"
    assert mergerequest.pending(ctx, ctx.config.environments[0]) is None


def test_pending_is_none_for_a_push_environment(repo, infra, forge, context_for):
    app = setup(repo, infra, forge, GITHUB, mode="mode: push")
    assert mergerequest.pending(context_for(app, **GITHUB_TOKEN), "dev") is None
    assert not forge.calls()


def test_status_shows_the_merge_request_that_waits(repo, release, infra, forge):
    app = setup(repo, infra, forge, GITLAB)
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_TOKEN).code == 0
    (mr,) = forge.merge_requests.mrs["7"]
    shown = release(app, "status", "--json", env=GITLAB_TOKEN)
    assert shown.code == 0, shown.err
    (row,) = json.loads(shown.out)
    assert row["merge_request"] == {"version": "1.4.0", "url": mr["web_url"], "number": 1}
    assert row["version"] is None  # the infra branch itself holds no release of ours yet
    text = release(app, "status", env=GITLAB_TOKEN)
    assert text.out.splitlines()[0].endswith(f"1.4.0 waits in {mr['web_url']}")
    mr["state"] = "merged"
    (after,) = json.loads(release(app, "status", "--json", env=GITLAB_TOKEN).out)
    assert after["merge_request"] is None


def test_status_without_a_forge_token_still_answers_and_says_why_the_merge_request_is_unknown(
    repo, release, infra, forge
):
    app = setup(repo, infra, forge, GITLAB)
    shown = release(app, "status", "--json")
    assert shown.code == 0, shown.err
    (row,) = json.loads(shown.out)
    assert row["merge_request"] is None and "GITLAB_TOKEN" in row["merge_request_unknown"]
    assert "pending merge request unknown" in release(app, "status").out
