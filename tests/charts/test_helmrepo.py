"""Chart publish targets with an upload API: ChartMuseum and GitLab's Helm registry, against the fake forge.

Through `release chart --publish` as a user runs it; the fake records every request, so the tests check what
was sent (bytes, auth user) as well as what is stored. Target parsing and credential choice are pure unit tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile

import pytest

from release.charts import helmrepo
from release.errors import ReleaseError
from tests.charts.test_publish import chart_repo
from tests.conftest import Repo
from tests.fakes.forge import DEFAULT_JOB_TOKEN, Forge, recompress

GITLAB_UPLOAD = r"/packages/helm/api/stable/charts$"


def publish_repo(repo: Repo, target: str, name: str = "demo") -> None:
    chart_repo(repo, name=name, extra=f'    publish: ["{target}"]\n')


def archive(repo: Repo, name: str = "demo") -> bytes:
    return (repo.path / f".release/charts/{name}-1.0.1.tgz").read_bytes()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def state_digests(repo: Repo) -> dict[str, str]:
    (chart,) = json.loads((repo.path / ".release/state.json").read_text())["charts"]
    return dict(chart["digests"])


def change_content_same_version(repo: Repo, name: str = "demo") -> None:
    repo.write(f"charts/{name}/templates/extra.yaml", "kind: ConfigMap\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--no-edit")
    repo.git("tag", "-d", "v1.0.1")  # as in another clone, which the first publish's tag did not reach


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def tiny_chart(name: str = "tiny", version: str = "1.0.0", note: str = "") -> bytes:
    data = f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: tiny {note}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def helm_env(forge: Forge) -> dict[str, str]:
    return {"RELEASE_HELM_USER": forge.user, "RELEASE_HELM_PASSWORD": forge.password}


# --- ChartMuseum ---------------------------------------------------------------------------------


def test_chartmuseum_upload_records_digest(repo, release, forge, helm_env):
    target = f"chartmuseum+{forge.url}"
    publish_repo(repo, target)
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    ours = archive(repo)
    ref = f"{target}/demo:1.0.1"
    assert result.out.strip() == f"{ref}@{digest_of(ours)}"
    assert state_digests(repo) == {ref: digest_of(ours)}
    (post,) = forge.calls("POST")
    assert post.path == "/api/charts"
    assert post.header("Content-Type") == "application/octet-stream"
    assert post.body == ours
    assert post.user == forge.user
    assert forge.chartmuseum.stored()[("demo", "1.0.1")].archive == ours
    assert [c.path for c in forge.calls("GET")] == ["/api/charts/demo/1.0.1"]


def test_chartmuseum_rerun_skips_and_other_bytes_are_refused(repo, release, forge, helm_env):
    publish_repo(repo, f"chartmuseum+{forge.url}")
    assert release(repo, "chart", "--publish", env=helm_env).code == 0
    first = archive(repo)
    again = release(repo, "chart", "--publish", env=helm_env)
    assert again.code == 0, again.err
    assert "skipped: already published" in again.err
    assert len(forge.calls("POST")) == 1
    assert state_digests(repo) == {f"chartmuseum+{forge.url}/demo:1.0.1": digest_of(first)}
    change_content_same_version(repo)
    refused = release(repo, "chart", "--publish", env=helm_env)
    assert refused.code == 1
    assert last_line(refused.err).startswith("release: error: ") and "never overwritten" in refused.err
    assert len(forge.calls("POST")) == 1
    assert forge.chartmuseum.stored()[("demo", "1.0.1")].archive == first


def test_chartmuseum_same_tar_in_other_gzip_bytes_is_already_published(repo, release, forge, helm_env):
    publish_repo(repo, f"chartmuseum+{forge.url}")
    assert release(repo, "chart", env=helm_env).code == 0
    theirs = forge.chartmuseum.put(recompress(archive(repo)))
    assert theirs.archive != archive(repo)
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    assert "skipped: already published" in result.err
    assert state_digests(repo) == {f"chartmuseum+{forge.url}/demo:1.0.1": "sha256:" + theirs.digest}
    assert not forge.calls("POST")


def test_chartmuseum_under_a_context_path(repo, release, forge, helm_env):
    publish_repo(repo, f"chartmuseum+{forge.url}/museum/")
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    assert [c.path for c in forge.calls()] == ["/museum/api/charts/demo/1.0.1", "/museum/api/charts"]
    assert ("demo", "1.0.1") in forge.chartmuseum.stored("/museum")
    assert result.out.startswith(f"chartmuseum+{forge.url}/museum/demo:1.0.1@sha256:")


def test_chartmuseum_wrong_password_is_one_line_without_the_secret(repo, release, forge):
    publish_repo(repo, f"chartmuseum+{forge.url}")
    env = {"RELEASE_HELM_USER": forge.user, "RELEASE_HELM_PASSWORD": "not-the-password"}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 1
    line = last_line(result.err)
    assert "rejected the credentials from RELEASE_HELM_USER/PASSWORD" in line and "(401)" in line
    assert "not-the-password" not in result.err + result.out
    assert not forge.calls("POST")


def test_chartmuseum_without_credentials_says_which_to_set(repo, release, forge):
    publish_repo(repo, f"chartmuseum+{forge.url}")
    result = release(repo, "chart", "--publish")
    assert result.code == 1
    assert "needs credentials" in result.err and "RELEASE_HELM_PASSWORD" in result.err


def test_chartmuseum_without_auth_needs_no_credentials(repo, release, forge):
    forge.chartmuseum.require_auth = False
    publish_repo(repo, f"chartmuseum+{forge.url}")
    result = release(repo, "chart", "--publish")
    assert result.code == 0, result.err
    (post,) = forge.calls("POST")
    assert post.header("Authorization") is None


def test_chartmuseum_conflict_on_upload_looks_again(forge, helm_env):
    chart = tiny_chart()
    forge.chartmuseum.put(chart)
    forge.inject("GET", r"/api/charts/tiny/1\.0\.0$", 404)  # as if someone uploaded between our look and our POST
    lines: list[str] = []
    ref, digest = helmrepo.publish_chartmuseum(
        f"chartmuseum+{forge.url}", "tiny", "1.0.0", chart, helm_env, lines.append
    )
    assert (ref, digest) == (f"chartmuseum+{forge.url}/tiny:1.0.0", digest_of(chart))
    assert [c.method for c in forge.calls()] == ["GET", "POST", "GET"]
    assert lines == [f"skipped: already published {ref} ({digest})"]


def test_chartmuseum_server_error_is_one_line(forge, helm_env, monkeypatch):
    monkeypatch.setattr(helmrepo.http, "session", lambda: helmrepo.requests.Session())  # no retry backoff here
    forge.inject("POST", r"/api/charts$", 500, {"error": "storage backend unavailable"})
    with pytest.raises(ReleaseError) as caught:
        helmrepo.publish_chartmuseum(f"chartmuseum+{forge.url}", "tiny", "1.0.0", tiny_chart(), helm_env, print)
    assert caught.value.message == (
        f"ChartMuseum {forge.host} answered 500 Internal Server Error while uploading tiny 1.0.0: "
        "storage backend unavailable"
    )


def test_unreachable_chartmuseum_is_one_line(repo, release, monkeypatch):
    monkeypatch.setattr(helmrepo.http, "session", lambda: helmrepo.requests.Session())  # no retry backoff here
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the test publishes: nothing listens there
    publish_repo(repo, f"chartmuseum+http://127.0.0.1:{port}")
    result = release(repo, "chart", "--publish")
    assert result.code == 1
    assert f"cannot reach ChartMuseum 127.0.0.1:{port}: Connection refused" in last_line(result.err)


# --- GitLab --------------------------------------------------------------------------------------


def test_gitlab_upload_with_a_deploy_token(repo, release, forge, helm_env):
    target = f"gitlab+{forge.url}/42/stable"
    publish_repo(repo, target)
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    ours = archive(repo)
    ref = f"{target}/demo:1.0.1"
    assert result.out.strip() == f"{ref}@{digest_of(ours)}"
    assert state_digests(repo) == {ref: digest_of(ours)}
    assert [(c.method, c.path) for c in forge.calls()] == [
        ("GET", "/api/v4/projects/42/packages/helm/stable/index.yaml"),
        ("POST", "/api/v4/projects/42/packages/helm/api/stable/charts"),
    ]
    post = forge.calls("POST")[0]
    assert post.user == forge.user
    assert post.files() == {"chart": ("demo-1.0.1.tgz", ours)}
    (stored,) = forge.gitlab_helm.charts("42", "stable")
    assert stored.archive == ours


def test_gitlab_uses_the_ci_job_token(repo, release, forge):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    result = release(repo, "chart", "--publish", env={"CI_JOB_TOKEN": DEFAULT_JOB_TOKEN})
    assert result.code == 0, result.err
    assert {c.user for c in forge.calls()} == {"gitlab-ci-token"}
    assert len(forge.calls("POST", GITLAB_UPLOAD)) == 1


def test_gitlab_never_sends_the_job_token_to_another_gitlab(repo, release, forge):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    env = {"CI_JOB_TOKEN": DEFAULT_JOB_TOKEN, "CI_SERVER_HOST": "gitlab.example.com"}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 1
    assert "needs credentials" in result.err and "RELEASE_HELM_PASSWORD" in result.err
    assert all(c.header("Authorization") is None for c in forge.calls())


def test_gitlab_project_by_url_encoded_path(repo, release, forge, helm_env):
    publish_repo(repo, f"gitlab+{forge.url}/team%2Fapp/stable")
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    (post,) = forge.calls("POST")
    assert post.path == "/api/v4/projects/team%2Fapp/packages/helm/api/stable/charts"
    assert len(forge.gitlab_helm.charts("42", "stable")) == 1


def test_gitlab_rerun_skips_and_other_bytes_are_refused(repo, release, forge, helm_env):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    assert release(repo, "chart", "--publish", env=helm_env).code == 0
    again = release(repo, "chart", "--publish", env=helm_env)
    assert again.code == 0, again.err
    assert "skipped: already published" in again.err
    assert len(forge.calls("POST")) == 1
    change_content_same_version(repo)
    refused = release(repo, "chart", "--publish", env=helm_env)
    assert refused.code == 1
    assert "never overwritten" in last_line(refused.err)
    assert len(forge.calls("POST")) == 1
    assert len(forge.gitlab_helm.charts("42", "stable")) == 1


def test_gitlab_same_tar_in_other_gzip_bytes_is_already_published(repo, release, forge, helm_env):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    assert release(repo, "chart", env=helm_env).code == 0
    theirs = forge.gitlab_helm.put(recompress(archive(repo)))
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    assert state_digests(repo) == {f"gitlab+{forge.url}/42/stable/demo:1.0.1": "sha256:" + theirs.digest}
    assert [c.path for c in forge.calls()][-1] == "/api/v4/projects/42/packages/helm/stable/charts/demo-1.0.1.tgz"
    assert not forge.calls("POST")


def test_gitlab_other_channel_is_another_repository(repo, release, forge, helm_env):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    assert release(repo, "chart", "--publish", env=helm_env).code == 0
    forge.requests.clear()
    config = f'charts:\n  - path: charts/demo\n    publish: ["gitlab+{forge.url}/42/devel"]\n'
    repo.write("release.yaml", config)
    repo.git("commit", "-qam", "fix: devel channel")
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 0, result.err
    assert len(forge.calls("POST", r"/api/devel/charts$")) == 1


def test_gitlab_wrong_token_is_one_line_without_the_secret(repo, release, forge):
    publish_repo(repo, f"gitlab+{forge.url}/42/stable")
    result = release(repo, "chart", "--publish", env={"RELEASE_HELM_USER": "deployer", "GITLAB_TOKEN": "glpat-wrong"})
    assert result.code == 1
    line = last_line(result.err)
    assert "rejected the credentials from RELEASE_HELM_USER/GITLAB_TOKEN" in line
    assert "glpat-wrong" not in result.err + result.out
    assert not forge.calls("POST")


def test_gitlab_unknown_project(repo, release, forge, helm_env):
    publish_repo(repo, f"gitlab+{forge.url}/7/stable")
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 1
    assert "has no project 7" in last_line(result.err)


# --- plain HTTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["chartmuseum+http://charts.example.com", "gitlab+http://gitlab.example.com/42/stable"]
)
def test_plain_http_to_a_non_loopback_host_is_refused(repo, release, helm_env, target):
    publish_repo(repo, target)
    result = release(repo, "chart", "--publish", env=helm_env)
    assert result.code == 1
    assert "plain HTTP" in last_line(result.err) and target in result.err


# --- unit: targets and credentials -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "base"),
    [
        ("chartmuseum+https://charts.example.com", "https://charts.example.com"),
        ("chartmuseum+https://charts.example.com/", "https://charts.example.com"),
        ("chartmuseum+https://charts.example.com:8443/helm/repo/", "https://charts.example.com:8443/helm/repo"),
        ("chartmuseum+http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("chartmuseum+http://localhost:8080/cm", "http://localhost:8080/cm"),
        ("chartmuseum+http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_parse_chartmuseum(target, base):
    parsed = helmrepo.parse_chartmuseum(target)
    assert parsed.base == base
    assert parsed.ref("demo", "1.2.3") == f"chartmuseum+{base}/demo:1.2.3"


@pytest.mark.parametrize(
    ("target", "api", "ref"),
    [
        (
            "gitlab+https://gitlab.example.com/42/stable",
            "https://gitlab.example.com/api/v4/projects/42/packages/helm",
            "gitlab+https://gitlab.example.com/42/stable/demo:1.2.3",
        ),
        (
            "gitlab+https://gitlab.example.com/group%2fsub%2Fproject/rc-1/",
            "https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproject/packages/helm",
            "gitlab+https://gitlab.example.com/group%2Fsub%2Fproject/rc-1/demo:1.2.3",
        ),
        (
            "gitlab+http://127.0.0.1:9000/7/devel",
            "http://127.0.0.1:9000/api/v4/projects/7/packages/helm",
            "gitlab+http://127.0.0.1:9000/7/devel/demo:1.2.3",
        ),
    ],
)
def test_parse_gitlab(target, api, ref):
    parsed = helmrepo.parse_gitlab(target)
    assert parsed.api == api
    assert parsed.ref("demo", "1.2.3") == ref


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("chartmuseum+ftp://charts.example.com", "is not chartmuseum+https://"),
        ("chartmuseum+https://", "is not chartmuseum+https://"),
        ("chartmuseum+https://user:pw@charts.example.com", "carries credentials"),
        ("chartmuseum+https://charts.example.com/?x=1", "query or fragment"),
        ("chartmuseum+http://10.0.0.5:8080", "plain HTTP"),
        ("chartmuseum+http://127.0.0.1.example.com", "plain HTTP"),
    ],
)
def test_parse_chartmuseum_refuses(target, expected):
    with pytest.raises(ReleaseError) as caught:
        helmrepo.parse_chartmuseum(target)
    assert expected in caught.value.message


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("gitlab+https://gitlab.example.com/42", "PROJECT_ID/CHANNEL"),
        ("gitlab+https://gitlab.example.com/group/project/stable", "PROJECT_ID/CHANNEL"),
        ("gitlab+https://gitlab.example.com/project/stable", "is not a GitLab project ID"),
        ("gitlab+https://gitlab.example.com/42/stable-", "is not a valid Helm channel"),
        ("gitlab+https://gitlab.example.com/42/sta..ble", "is not a valid Helm channel"),
        ("gitlab+http://gitlab.example.com/42/stable", "plain HTTP"),
    ],
)
def test_parse_gitlab_refuses(target, expected):
    with pytest.raises(ReleaseError) as caught:
        helmrepo.parse_gitlab(target)
    assert expected in caught.value.message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"CI_JOB_TOKEN": "job-token"}, ("gitlab-ci-token", "CI_JOB_TOKEN")),
        ({"CI_JOB_TOKEN": "job-token", "CI_SERVER_HOST": "gitlab.example.com"}, ("gitlab-ci-token", "CI_JOB_TOKEN")),
        ({"CI_JOB_TOKEN": "job-token", "CI_SERVER_HOST": "other.example.com"}, None),
        (
            {"CI_JOB_TOKEN": "job-token", "RELEASE_HELM_USER": "deployer", "RELEASE_HELM_PASSWORD": "deploy-token"},
            ("deployer", "RELEASE_HELM_USER/PASSWORD"),
        ),
        (
            {"CI_JOB_TOKEN": "job-token", "RELEASE_HELM_USER": "me", "GITLAB_TOKEN": "glpat-token"},
            ("gitlab-ci-token", "CI_JOB_TOKEN"),
        ),
        ({"RELEASE_HELM_USER": "me", "GITLAB_TOKEN": "glpat-token"}, ("me", "RELEASE_HELM_USER/GITLAB_TOKEN")),
    ],
)
def test_gitlab_credentials_order(env, expected):
    found = helmrepo.gitlab_credentials(env, "gitlab.example.com:443")
    assert ((found.username, found.source) if found else None) == expected


@pytest.mark.parametrize(
    "env",
    [{"GITLAB_TOKEN": "glpat-token"}, {"RELEASE_HELM_PASSWORD": "deploy-token"}],
)
def test_gitlab_credentials_need_a_user(env):
    with pytest.raises(ReleaseError, match="RELEASE_HELM_USER"):
        helmrepo.gitlab_credentials(env, "gitlab.example.com")


def test_chartmuseum_credentials_come_in_pairs():
    assert helmrepo.chartmuseum_credentials({}) is None
    with pytest.raises(ReleaseError, match="RELEASE_HELM_PASSWORD is not set, but RELEASE_HELM_USER is"):
        helmrepo.chartmuseum_credentials({"RELEASE_HELM_USER": "me"})
    with pytest.raises(ReleaseError, match="RELEASE_HELM_USER is not set, but RELEASE_HELM_PASSWORD is"):
        helmrepo.chartmuseum_credentials({"RELEASE_HELM_PASSWORD": "pw"})
    with pytest.raises(ReleaseError, match=r"RELEASE_HELM_PASSWORD is set but empty \(a protected variable"):
        helmrepo.chartmuseum_credentials({"RELEASE_HELM_USER": "me", "RELEASE_HELM_PASSWORD": ""})
