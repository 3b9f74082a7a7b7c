"""`release chart --publish` to a classic Helm repository in a git branch (git+URL#BRANCH[:DIR]), with real git.

The remote is a bare repository (file://), or the same served by `git http-backend` behind Basic auth. What
lands is read back with git; Helm itself (helm-python-sdk) loads the index over HTTP and pulls the chart.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from release.adapters import gitclone
from release.charts import build as chart_build
from release.charts import gitbranch
from release.charts import index as helmindex
from release.context import Context, Options
from release.errors import ReleaseError
from tests import helm_oracle
from tests.charts.test_publish import chart_repo
from tests.conftest import Repo
from tests.gitserver import GitHTTP


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, input=input
    ).stdout.strip()


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "pages.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def head(bare: Path, branch: str = "gh-pages") -> str | None:
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or None


def tree(bare: Path, branch: str = "gh-pages") -> dict[str, bytes]:
    """Every file on the branch, path → bytes."""
    names = git(bare, "ls-tree", "-r", "--name-only", branch).splitlines()
    return {
        name: subprocess.run(
            ["git", "--git-dir", str(bare), "cat-file", "blob", f"{branch}:{name}"], capture_output=True, check=True
        ).stdout
        for name in names
    }


def commits(bare: Path, branch: str = "gh-pages") -> list[str]:
    return git(bare, "log", "--format=%s", branch).splitlines()


def configure(repo: Repo, target: str, name: str = "demo") -> None:
    chart_repo(repo, name=name, extra=f'    publish: ["{target}"]\n')


def next_release(repo: Repo, tag: str) -> None:
    """`release chart --publish` tagged HEAD as released; a fix makes the next publish the next patch version."""
    assert repo.git("tag", "--points-at", "HEAD") == tag
    repo.commit("fix: more")


def index_of(files: dict[str, bytes], path: str = "index.yaml") -> dict[str, Any]:
    index: dict[str, Any] = yaml.safe_load(files[path])
    return index


def test_first_publish_creates_the_branch_with_archive_and_index(repo, release, bare):
    target = f"git+file://{bare}#gh-pages"
    configure(repo, target)
    result = release(repo, "chart", "--publish")
    assert result.code == 0, result.err
    archive = (repo.path / ".release/charts/demo-1.0.1.tgz").read_bytes()
    digest = hashlib.sha256(archive).hexdigest()
    files = tree(bare)
    assert set(files) == {"index.yaml", "demo-1.0.1.tgz"}
    assert files["demo-1.0.1.tgz"] == archive
    (entry,) = index_of(files)["entries"]["demo"]
    assert (entry["version"], entry["appVersion"], entry["digest"], entry["urls"]) == (
        "1.0.1",
        "1.0.1",
        digest,
        ["demo-1.0.1.tgz"],
    )
    assert index_of(files)["apiVersion"] == "v1"
    assert commits(bare) == ["chore(charts): publish demo 1.0.1"]
    assert git(bare, "log", "-1", "--format=%an <%ae>", "gh-pages") == "Test Author <author@example.com>"
    assert git(bare, "rev-list", "--count", "gh-pages") == "1"  # an orphan: none of main's history
    assert result.out.strip() == f"{target}/demo-1.0.1.tgz@sha256:{digest}"
    assert "published" in result.err


def test_second_version_keeps_the_first_newest_first_and_rerun_is_a_noop(repo, release, bare):
    configure(repo, f"git+file://{bare}#gh-pages")
    assert release(repo, "chart", "--publish").code == 0
    first = tree(bare)["demo-1.0.1.tgz"]
    next_release(repo, "v1.0.1")
    assert release(repo, "chart", "--publish").code == 0
    files = tree(bare)
    assert files["demo-1.0.1.tgz"] == first
    assert files["demo-1.0.2.tgz"] == (repo.path / ".release/charts/demo-1.0.2.tgz").read_bytes()
    versions = index_of(files)["entries"]["demo"]
    assert [v["version"] for v in versions] == ["1.0.2", "1.0.1"]
    assert versions[1]["digest"] == hashlib.sha256(first).hexdigest()
    before = head(bare)
    again = release(repo, "chart", "--publish")
    assert again.code == 0, again.err
    assert "skipped: already published" in again.err
    assert head(bare) == before


def test_same_version_other_bytes_is_refused_and_the_branch_untouched(repo, release, bare):
    configure(repo, f"git+file://{bare}#gh-pages")
    assert release(repo, "chart", "--publish").code == 0
    before = head(bare)
    repo.write("charts/demo/templates/extra.yaml", "kind: ConfigMap\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--no-edit")  # same version, other content
    repo.git("tag", "-d", "v1.0.1")  # as in another clone, which the first publish's tag did not reach
    refused = release(repo, "chart", "--publish")
    assert refused.code == 1
    assert "never overwritten" in refused.err
    assert head(bare) == before


def test_into_a_folder_of_the_branch(repo, release, bare):
    configure(repo, f"git+file://{bare}#gh-pages:charts/stable")
    assert release(repo, "chart", "--publish").code == 0
    files = tree(bare)
    assert set(files) == {"charts/stable/index.yaml", "charts/stable/demo-1.0.1.tgz"}
    assert index_of(files, "charts/stable/index.yaml")["entries"]["demo"][0]["urls"] == ["demo-1.0.1.tgz"]


HAND_MADE = """\
# Our charts. Written by hand before we had a release tool.
apiVersion: v1
entries:
  legacy:
    - apiVersion: v1
      name: legacy
      version: 0.1.0
      created: 2019-05-01T00:00:00Z
      digest: 0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0
      urls: [https://example.com/legacy-0.1.0.tgz]
  demo:
    - apiVersion: v2
      name: demo
      version: 0.9.0
      urls: [demo-0.9.0.tgz]
generated: 2019-05-01T00:00:00Z
"""


def seed(bare: Path, tmp_path: Path, files: dict[str, str], branch: str = "gh-pages") -> str:
    """Put `files` on `branch` of the bare repository (as an orphan branch), from a scratch clone."""
    work = tmp_path / f"seed-{len(list(tmp_path.glob('seed-*')))}"
    subprocess.run(["git", "init", "-q", "-b", branch, str(work)], check=True)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "seed")
    git(work, "push", "-q", str(bare), f"HEAD:refs/heads/{branch}")
    return git(work, "rev-parse", "HEAD")


def test_a_hand_made_index_keeps_its_charts(repo, release, bare, tmp_path):
    seed(bare, tmp_path, {"index.yaml": HAND_MADE, "README.md": "# charts\n"})
    configure(repo, f"git+file://{bare}#gh-pages")
    result = release(repo, "chart", "--publish")
    assert result.code == 0, result.err
    files = tree(bare)
    assert files["README.md"] == b"# charts\n"
    index = index_of(files)
    assert [v["version"] for v in index["entries"]["demo"]] == ["1.0.1", "0.9.0"]
    (legacy,) = index["entries"]["legacy"]
    assert legacy["created"] == "2019-05-01T00:00:00Z" and legacy["urls"] == ["https://example.com/legacy-0.1.0.tgz"]
    assert commits(bare) == ["chore(charts): publish demo 1.0.1", "seed"]


def test_a_corrupt_index_is_an_error_and_stays(repo, release, bare, tmp_path):
    seed(bare, tmp_path, {"index.yaml": "apiVersion: v1\nentries: {demo: [\n"})
    before = head(bare)
    configure(repo, f"git+file://{bare}#gh-pages")
    result = release(repo, "chart", "--publish")
    assert result.code == 1
    assert "gh-pages:index.yaml is not valid YAML" in result.err
    assert head(bare) == before


def test_a_symlink_in_the_branch_cannot_lead_outside(repo, release, bare, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "links"
    subprocess.run(["git", "init", "-q", "-b", "gh-pages", str(work)], check=True)
    os.symlink(outside, work / "charts")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a link")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/gh-pages")
    configure(repo, f"git+file://{bare}#gh-pages:charts")
    result = release(repo, "chart", "--publish")
    assert result.code == 1 and "symbolic link" in result.err
    assert list(outside.iterdir()) == []


def test_a_refusing_hook_is_not_retried(repo, release, bare):
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pages are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    configure(repo, f"git+file://{bare}#gh-pages")
    result = release(repo, "chart", "--publish")
    assert result.code == 1
    assert "pre-receive hook declined" in result.err and "pages are frozen" in result.err
    assert "retrying" not in result.err
    assert head(bare) is None


def test_a_push_race_is_redone_on_the_new_tip_and_nothing_is_lost(repo, release, bare, tmp_path, monkeypatch):
    """Another publish lands between our fetch and our push: we re-read their index and add ours to it."""
    seed(bare, tmp_path, {"index.yaml": HAND_MADE})
    configure(repo, f"git+file://{bare}#gh-pages")
    real_push = gitbranch.push_head
    calls = []

    def push_after_someone_else(git_: Any, where: Any) -> str | None:
        calls.append(1)
        if len(calls) == 1:  # another job's publish lands first
            work = tmp_path / "other-job"
            subprocess.run(["git", "clone", "-q", "-b", "gh-pages", str(bare), str(work)], check=True)
            index = (work / "index.yaml").read_text(encoding="utf-8")
            other = {"apiVersion": "v2", "name": "intruder", "version": "3.0.0"}
            merged = helmindex.merge(index, other, "intruder-3.0.0.tgz", "d4" * 32, "2026-01-01T00:00:00Z")
            (work / "index.yaml").write_text(merged, encoding="utf-8")
            (work / "intruder-3.0.0.tgz").write_bytes(b"x")
            git(work, "add", "-A")
            git(work, "commit", "-q", "-m", "chore(charts): publish intruder 3.0.0")
            git(work, "push", "-q", "origin", "gh-pages")
        return real_push(git_, where)

    monkeypatch.setattr(gitbranch, "push_head", push_after_someone_else)
    monkeypatch.setattr(gitbranch, "BACKOFF_SECONDS", 0.01)
    result = release(repo, "chart", "--publish")
    assert result.code == 0, result.err
    assert len(calls) == 2 and "retrying" in result.err
    files = tree(bare)
    index = index_of(files)
    assert set(index["entries"]) == {"legacy", "demo", "intruder"}
    assert [v["version"] for v in index["entries"]["demo"]] == ["1.0.1", "0.9.0"]
    assert {"intruder-3.0.0.tgz", "demo-1.0.1.tgz"} <= set(files)
    assert commits(bare)[0] == "chore(charts): publish demo 1.0.1"


def test_a_branch_that_never_stops_moving_gives_up(repo, release, bare, monkeypatch):
    configure(repo, f"git+file://{bare}#gh-pages")
    monkeypatch.setattr(gitbranch, "push_head", lambda git_, where: "[rejected] (fetch first)")
    monkeypatch.setattr(gitbranch, "BACKOFF_SECONDS", 0.001)
    result = release(repo, "chart", "--publish")
    assert result.code == 1
    assert f"{gitbranch.ATTEMPTS} attempts" in result.err and "rerun" in result.err


def test_concurrent_publishes_of_different_charts_both_land(tmp_path, bare):
    """Two jobs publish to the same branch at the same moment: both archives and both entries survive."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nsleep 0.3\n")  # widen the window between read and update
    hook.chmod(0o755)
    target = f"git+file://{bare}#gh-pages"
    contexts = []
    for name in ("alpha", "beta", "gamma"):
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        configure(Repo(path), target, name=name)
        contexts.append(Context.build(Options(directory=str(path))))
    jobs = [chart_build.prepare(ctx)[0] for ctx in contexts]
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    said: list[str] = []

    def publish(ctx: Context, job: chart_build.ChartJob) -> None:
        start.wait()
        try:
            gitbranch.publish_git_branch(ctx, job, target, said.append)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=pair) for pair in zip(contexts, jobs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    files = tree(bare)
    index = index_of(files)
    assert sorted(index["entries"]) == ["alpha", "beta", "gamma"]
    for job in jobs:
        assert files[job.filename] == job.archive
        assert index["entries"][job.meta.name][0]["digest"] == job.sha256
        assert job.published == {f"{target}/{job.filename}": f"sha256:{job.sha256}"}
    assert len(commits(bare)) == 3
    assert any("retrying" in line for line in said)  # the race did happen


# --- a branch served over HTTP, read by Helm -----------------------------------------------------------------


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A static HTTP server on loopback, as GitHub Pages would serve the branch."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_helm_reads_the_index_and_pulls_the_chart(repo, release, bare, tmp_path):
    sdk = helm_oracle.helm()
    seed(bare, tmp_path, {"charts/index.yaml": HAND_MADE})
    configure(repo, f"git+file://{bare}#gh-pages:charts")
    assert release(repo, "chart", "--publish").code == 0
    next_release(repo, "v1.0.1")
    assert release(repo, "chart", "--publish").code == 0
    checkout = tmp_path / "pages"
    subprocess.run(["git", "clone", "-q", "-b", "gh-pages", str(bare), str(checkout)], check=True)
    archive = (repo.path / ".release/charts/demo-1.0.2.tgz").read_bytes()
    with serve(checkout / "charts") as url:
        seen = sdk.repo_index(url)
        versions = seen["entries"]["demo"]
        assert [v["version"] for v in versions] == ["1.0.2", "1.0.1", "0.9.0"]
        assert versions[0]["digest"] == hashlib.sha256(archive).hexdigest()
        assert versions[0]["urls"] == ["demo-1.0.2.tgz"]
        assert versions[0]["appVersion"] == "1.0.2" and versions[0]["apiVersion"] == "v2"
        assert [v["version"] for v in seen["entries"]["legacy"]] == ["0.1.0"]
        pulled = tmp_path / "pulled"
        pulled.mkdir()
        sdk.pull("demo", repo_url=url, version="1.0.2", destination=str(pulled))
        assert (pulled / "demo-1.0.2.tgz").read_bytes() == archive
        (pulled / "latest").mkdir()  # the SDK needs the destination to exist
        sdk.pull("demo", repo_url=url, destination=str(pulled / "latest"))  # no version: the newest
        assert (pulled / "latest" / "demo-1.0.2.tgz").read_bytes() == archive


# --- smart HTTP with Basic auth: credentials never in a URL, a command line or the output ----------------------


TOKEN = "glpat-s3cr3t-t0ken-value"


def test_https_credentials_go_in_a_header_from_the_environment(repo, release, bare):
    with GitHTTP(bare.parent, "publisher", TOKEN) as server:
        target = f"git+{server.url}/{bare.name}#gh-pages"
        configure(repo, target)
        env = {"RELEASE_GIT_USER": "publisher", "RELEASE_GIT_TOKEN": TOKEN}
        result = release(repo, "chart", "--publish", env=env)
        assert result.code == 0, result.err
        assert server.authorizations and set(server.authorizations) == {
            "Basic " + base64.b64encode(f"publisher:{TOKEN}".encode()).decode()
        }
    assert "demo-1.0.1.tgz" in tree(bare)
    assert TOKEN not in result.err + result.out
    assert TOKEN not in (bare / "config").read_text()


def test_wrong_token_fails_clearly_and_masked(repo, release, bare):
    with GitHTTP(bare.parent, "publisher", TOKEN) as server:
        configure(repo, f"git+{server.url}/{bare.name}#gh-pages")
        env = {"RELEASE_GIT_USER": "publisher", "RELEASE_GIT_TOKEN": "wrong-token-value"}
        result = release(repo, "chart", "--publish", env=env)
    assert result.code == 1
    assert "refused the credentials" in result.err and "RELEASE_GIT_TOKEN" in result.err
    assert "wrong-token-value" not in result.err + result.out
    assert head(bare) is None


def test_git_env_appends_to_existing_config_variables():
    env = gitclone.auth_env(
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "c", "RELEASE_GIT_TOKEN": TOKEN},
        "https://git.example.com/team/charts.git",
    )
    assert env["GIT_CONFIG_COUNT"] == "2" and env["GIT_CONFIG_KEY_0"] == "a.b"
    assert env["GIT_CONFIG_KEY_1"] == "http.https://git.example.com/.extraHeader"
    assert env["GIT_CONFIG_VALUE_1"].startswith("Authorization: Basic ")
    assert "RELEASE_GIT_TOKEN" not in env and TOKEN not in " ".join(env.values())  # only its base64 form
    assert "GIT_CONFIG_KEY_1" not in gitclone.auth_env({"RELEASE_GIT_TOKEN": TOKEN}, "file:///srv/charts.git")


def test_default_identity_when_none_is_configured(repo, release, bare, monkeypatch):
    configure(repo, f"git+file://{bare}#gh-pages")
    for role in ("AUTHOR", "COMMITTER"):  # CI runners often have no git identity at all
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    result = release(repo, "chart", "--publish")
    assert result.code == 0, result.err
    assert git(bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "gh-pages") == (
        "release <release@localhost>|release <release@localhost>"
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("git+https://h/o/r.git#gh-pages", ("https://h/o/r.git", "gh-pages", "")),
        ("git+https://h/o/r.git#gh-pages:charts/", ("https://h/o/r.git", "gh-pages", "charts")),
        ("git+file:///srv/r.git#pages:./a/b", ("file:///srv/r.git", "pages", "a/b")),
        ("git+../pages#release/charts", ("{root}/pages", "release/charts", "")),
    ],
)
def test_target_parsing(tmp_path, target, expected):
    root = tmp_path / "app"
    parsed = gitclone.BranchTarget.parse(target, root)
    url, branch, directory = expected
    assert (parsed.url, parsed.branch, parsed.directory) == (url.format(root=tmp_path), branch, directory)


@pytest.mark.parametrize(
    "target",
    ["git+https://h/r.git#", "git+#main", "git+https://h/r.git#a..b", "git+https://h/r.git#main:../up", "git+x#-f"],
)
def test_bad_targets(tmp_path, target):
    with pytest.raises(ReleaseError):
        gitclone.BranchTarget.parse(target, tmp_path)
