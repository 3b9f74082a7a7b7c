import pytest

from release.ciinfo import detect, forge_of, web_url


def test_gitlab_branch_pipeline():
    info = detect(
        {
            "GITLAB_CI": "true",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
            "CI_PROJECT_URL": "https://git.example.org/g/p",
            "CI_PIPELINE_URL": "https://git.example.org/p/1",
        }
    )
    assert (info.provider, info.branch, info.tag) == ("gitlab", "main", None)
    assert info.project_url == "https://git.example.org/g/p"


def test_gitlab_tag_pipeline_has_no_branch():
    info = detect({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "v1.2.0", "CI_COMMIT_TAG": "v1.2.0"})
    assert info.branch is None
    assert info.tag == "v1.2.0"


def test_gitlab_merge_request_pipeline_uses_source_branch():
    info = detect(
        {"GITLAB_CI": "true", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/x", "CI_COMMIT_REF_NAME": "feature/x"}
    )
    assert info.branch == "feature/x"


def test_github_push_and_pull_request():
    push = detect(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF_NAME": "main",
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "7",
        }
    )
    assert (push.provider, push.branch) == ("github", "main")
    assert push.project_url == "https://github.com/o/r"
    assert push.pipeline_url == "https://github.com/o/r/actions/runs/7"
    pr = detect({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "12/merge", "GITHUB_HEAD_REF": "feature"})
    assert pr.branch == "feature"
    tag = detect({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "v2.0.0", "GITHUB_REF": "refs/tags/v2.0.0"})
    assert (tag.branch, tag.tag) == (None, "v2.0.0")


def test_local_has_no_ci_facts():
    info = detect({})
    assert (info.provider, info.branch, info.project_url) == ("local", None, None)


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@gitlab.com:group/sub/proj.git", "https://gitlab.com/group/sub/proj"),
        ("https://gitlab.com/group/proj.git", "https://gitlab.com/group/proj"),
        ("https://oauth2:glpat-SECRET@gitlab.example.org/g/p.git", "https://gitlab.example.org/g/p"),
        ("ssh://git@github.com:22/o/r.git", "https://github.com/o/r"),
        ("https://github.com/o/r", "https://github.com/o/r"),
        ("/srv/git/app.git", None),
        ("", None),
    ],
)
def test_web_url_strips_credentials_and_suffix(remote, url):
    assert web_url(remote) == url
    assert "SECRET" not in str(web_url(remote))


def test_forge_guessing():
    assert forge_of("https://github.com/o/r", {}) == "github"
    assert forge_of("https://gitlab.com/g/p", {}) == "gitlab"
    assert forge_of("https://code.example.org/g/p", {}) is None
    assert forge_of("https://code.example.org/g/p", {"CI_SERVER_URL": "https://code.example.org"}) == "gitlab"
    assert forge_of("https://ghe.example.org/o/r", {"GITHUB_SERVER_URL": "https://ghe.example.org"}) == "github"
