"""Forge release objects: a real app repository whose State and notes files look as the earlier stages left them,
published to the shared fake forge's GitLab Releases and GitHub Releases endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from release.context import Context, Options
from release.errors import ReleaseError
from release.forges import releases as forgerelease
from tests.fakes.forge import DEFAULT_GITHUB_TOKEN, DEFAULT_GITLAB_TOKEN, DEFAULT_JOB_TOKEN

CONFIG = """\
images:
  - name: app
    repository: registry.example.com/team/app
charts:
  - path: charts/app
    publish: ["oci://registry.example.com/charts", "chartmuseum+https://charts.example.com"]
"""

NOTES = """\
## [1.4.0](https://git.example.com/team/app/compare/v1.3.0...v1.4.0) (2026-11-20)

### Features

* **api:** paginate the list ([abc1234](https://git.example.com/team/app/commit/abc1234))
"""

DIGEST = "sha256:" + "a" * 64
WRITES = ("POST", "PUT", "PATCH", "DELETE")
TOKENS = (DEFAULT_GITLAB_TOKEN, DEFAULT_GITHUB_TOKEN, DEFAULT_JOB_TOKEN, "glpat-wrong-0000")


def image(name: str, sha: str, version: str = "1.4.0", digest: str = DIGEST) -> dict[str, Any]:
    repository = f"registry.example.com/team/{name}"
    tags = [version, "1.4", "1", f"sha-{sha[:7]}"]
    return {
        "name": name,
        "repository": repository,
        "tags": tags,
        "refs": [f"{repository}:{t}" for t in tags],
        "digest": digest,
        "revision": sha,
    }


def chart(name: str = "app", version: str = "1.4.0") -> dict[str, Any]:
    refs = sorted(  # as charts.record writes them
        [
            f"oci://registry.example.com/charts/{name}:{version}",
            f"chartmuseum+https://charts.example.com/{name}:{version}",
        ]
    )
    return {
        "name": name,
        "version": version,
        "app_version": version,
        "archive_sha256": "b" * 64,
        "refs": refs,
        "digests": {ref: "sha256:" + "c" * 64 for ref in refs},
    }


def setup(repo, config: str = CONFIG, version: str = "1.4.0", notes: str = NOTES, **state: Any) -> str:
    """Commit the config and a chart, then write the State and notes file as plan/images/charts/notes would."""
    repo.commit("feat: first", {"release.yaml": config, "charts/app/Chart.yaml": "apiVersion: v2\nname: app\n"})
    sha = repo.head()
    data: dict[str, Any] = {"sha": sha}
    if version:
        data.update(version=version, tag=f"v{version}", notes_path=".release/notes.md")
        repo.write(".release/notes.md", notes)
        data.setdefault("images", [image("app", sha, version)])
        data.setdefault("charts", [chart(version=version)])
    data.update(state)
    repo.write(".release/state.json", json.dumps(data))
    return sha


def gitlab_env(forge, **more: str) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_SERVER_URL": forge.url,
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_PROJECT_URL": f"{forge.url}/team/app",
        "GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN,
        **more,
    }


def github_env(forge, **more: str) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": forge.url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "team/app",
        "GITHUB_TOKEN": DEFAULT_GITHUB_TOKEN,
        **more,
    }


class Run:
    """Publish as the pipeline would, keeping every line the user would see."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self.lines: list[str] = []

    def __call__(self, env: dict[str, str], dry_run: bool = False) -> str:
        ctx = Context.build(Options(directory=str(self.repo.path), dry_run=dry_run), env=env)
        summary = forgerelease.publish(ctx, self.lines.append)
        self.lines.append(summary)
        return summary

    def assert_no_token(self) -> None:
        for line in self.lines:
            assert not any(token in line for token in TOKENS), line


@pytest.fixture
def run(repo) -> Run:
    return Run(repo)


def writes(forge) -> list[str]:
    return [f"{r.method} {r.path}" for r in forge.requests if r.method in WRITES]


def assert_tokens_only_in_headers(forge) -> None:
    for request in forge.requests:
        sent = request.path + json.dumps(request.query) + request.body.decode()
        assert not any(token in sent for token in TOKENS), sent


# --------------------------------------------------------------------------------------------- GitLab


def test_gitlab_release_is_created_with_notes_and_links(repo, run, forge):
    sha = setup(repo)
    summary = run(gitlab_env(forge))
    url = f"{forge.url}/team/app/-/releases/v1.4.0"
    assert summary == f"created {url}"
    (post,) = forge.calls("POST", r"/api/v4/projects/42/releases$")
    assert post.header("PRIVATE-TOKEN") == DEFAULT_GITLAB_TOKEN
    body = post.json()
    assert (body["tag_name"], body["name"], body["ref"]) == ("v1.4.0", "v1.4.0", sha)
    assert body["description"] == NOTES.strip()
    assert body["assets"]["links"] == [
        {
            "name": "registry.example.com/team/app:1.4.0",
            "url": f"https://registry.example.com/team/app@{DIGEST}",
            "link_type": "image",
        },
        {
            "name": "chartmuseum+https://charts.example.com/app:1.4.0",
            "url": "https://charts.example.com/charts/app-1.4.0.tgz",
            "link_type": "package",
        },
        {
            "name": "oci://registry.example.com/charts/app:1.4.0",
            "url": "https://registry.example.com/charts/app@sha256:" + "c" * 64,
            "link_type": "package",
        },
    ]
    release = forge.gitlab_releases.releases["42"]["v1.4.0"]
    assert release["commit"]["id"] == sha and len(release["assets"]["links"]) == 3
    assert "v1.4.0: created" in run.lines[0]
    run.assert_no_token()
    assert_tokens_only_in_headers(forge)


def test_gitlab_rerun_is_up_to_date_without_a_write(repo, run, forge):
    setup(repo)
    run(gitlab_env(forge))
    forge.requests.clear()
    summary = run(gitlab_env(forge))
    assert summary == f"already up to date {forge.url}/team/app/-/releases/v1.4.0"
    assert writes(forge) == []
    assert [r.method for r in forge.requests] == ["GET"]  # the release carries its links: one read is enough


def test_gitlab_update_changes_notes_and_our_links_and_leaves_hand_made_links(repo, run, forge):
    sha = setup(repo)
    run(gitlab_env(forge))
    release = forge.gitlab_releases.releases["42"]["v1.4.0"]
    forge.gitlab_releases._add_link(
        release, {"name": "Runbook", "url": "https://wiki.example.com/app", "link_type": "runbook"}
    )
    repo.write(".release/notes.md", NOTES + "\n### Bug Fixes\n\n* crash on start\n")
    state = json.loads((repo.path / ".release/state.json").read_text())
    state["images"] = [image("app", sha, digest="sha256:" + "d" * 64), image("worker", sha)]  # rebuilt, and one more
    (repo.path / ".release/state.json").write_text(json.dumps(state))
    config = CONFIG.replace("charts:", "  - name: worker\n    repository: registry.example.com/team/worker\ncharts:")
    (repo.path / "release.yaml").write_text(config)
    forge.requests.clear()

    summary = run(gitlab_env(forge))

    assert summary == f"updated {forge.url}/team/app/-/releases/v1.4.0"
    (put,) = forge.calls("PUT", r"/releases/v1\.4\.0$")
    assert put.json() == {"name": "v1.4.0", "description": (NOTES + "\n### Bug Fixes\n\n* crash on start\n").strip()}
    assert [r.json()["name"] for r in forge.calls("POST", r"/assets/links$")] == [
        "registry.example.com/team/worker:1.4.0"
    ]
    (changed,) = forge.calls("PUT", r"/assets/links/\d+$")
    assert changed.json()["url"] == "https://registry.example.com/team/app@sha256:" + "d" * 64
    assert forge.calls("DELETE") == []
    links = {ln["name"]: ln for ln in release["assets"]["links"]}
    assert links["Runbook"]["url"] == "https://wiki.example.com/app"  # not ours: untouched
    assert len(links) == 5
    assert run(gitlab_env(forge)).startswith("already up to date")
    run.assert_no_token()


def test_gitlab_job_token_and_a_release_made_meanwhile(repo, run, forge):
    """CI_JOB_TOKEN goes in JOB-TOKEN; a 409 (another job created it after our read) becomes an update."""
    setup(repo)
    forge.gitlab_releases.put("42", "v1.4.0", name="v1.4.0", description="made by hand", ref="abc")
    forge.inject("GET", r"/releases/v1\.4\.0$", 404, {"message": "404 Not Found"})
    env = gitlab_env(forge, CI_JOB_TOKEN=DEFAULT_JOB_TOKEN)
    del env["GITLAB_TOKEN"]
    summary = run(env)
    assert summary == f"updated {forge.url}/team/app/-/releases/v1.4.0"
    assert [r.method for r in forge.requests][:3] == ["GET", "POST", "GET"]
    assert all(r.header("JOB-TOKEN") == DEFAULT_JOB_TOKEN and not r.header("PRIVATE-TOKEN") for r in forge.requests)
    assert forge.gitlab_releases.releases["42"]["v1.4.0"]["description"] == NOTES.strip()


def test_project_from_the_origin_remote_and_a_name_template(repo, run, forge):
    config = (
        CONFIG + f"forge_release:\n  forge: gitlab\n  api: {forge.url}/api/v4\n  name: 'App {{version}} ({{tag}})'\n"
    )
    setup(repo, config)
    repo.git("remote", "add", "origin", "git@gitlab.example.com:team/app.git")
    summary = run({"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    assert summary.startswith("created ")
    (post,) = forge.calls("POST", r"/api/v4/projects/team%2Fapp/releases$")
    assert post.json()["name"] == "App 1.4.0 (v1.4.0)"


def test_dry_run_reads_and_writes_nothing(repo, run, forge):
    setup(repo)
    assert run(gitlab_env(forge), dry_run=True) == "would create release v1.4.0 in gitlab project 42"
    assert writes(forge) == []
    run(gitlab_env(forge))
    repo.write(".release/notes.md", NOTES + "\nmore\n")
    forge.requests.clear()
    assert run(gitlab_env(forge), dry_run=True) == f"would update {forge.url}/team/app/-/releases/v1.4.0"
    assert writes(forge) == []


# --------------------------------------------------------------------------------------------- GitHub


def test_github_release_created_then_updated_with_an_artifacts_section(repo, run, forge):
    sha = setup(repo)
    summary = run(github_env(forge))
    url = "https://github.example/team/app/releases/tag/v1.4.0"
    assert summary == f"created {url}"
    (post,) = forge.calls("POST", r"^/repos/team/app/releases$")
    assert post.header("Authorization") == f"Bearer {DEFAULT_GITHUB_TOKEN}"
    body = post.json()
    assert (body["tag_name"], body["target_commitish"], body["name"], body["prerelease"]) == (
        "v1.4.0",
        sha,
        "v1.4.0",
        False,
    )
    assert body["body"].startswith(NOTES.strip() + "\n\n### Artifacts\n\n")
    assert body["body"].splitlines()[-3:] == [
        f"- Container image: [registry.example.com/team/app:1.4.0](https://registry.example.com/team/app@{DIGEST})",
        "- Package: [chartmuseum+https://charts.example.com/app:1.4.0](https://charts.example.com/charts/app-1.4.0.tgz)",
        "- Package: [oci://registry.example.com/charts/app:1.4.0](https://registry.example.com/charts/app@sha256:"
        + "c" * 64
        + ")",
    ]

    forge.requests.clear()
    assert run(github_env(forge)) == f"already up to date {url}"
    assert writes(forge) == []

    repo.write(".release/notes.md", NOTES.replace("paginate", "page through"))
    assert run(github_env(forge)) == f"updated {url}"
    (patch,) = forge.calls("PATCH", r"^/repos/team/app/releases/\d+$")
    assert "page through" in patch.json()["body"] and "### Artifacts" in patch.json()["body"]
    (release,) = forge.github_releases.releases["team/app"]
    assert "page through" in release["body"]
    run.assert_no_token()
    assert_tokens_only_in_headers(forge)


def test_github_prerelease_flag(repo, run, forge):
    setup(repo, version="1.4.0-rc.1")
    run(github_env(forge))
    (post,) = forge.calls("POST", r"/releases$")
    assert post.json()["prerelease"] is True and post.json()["tag_name"] == "v1.4.0-rc.1"
    assert "registry.example.com/team/app:1.4.0-rc.1" in post.json()["body"]


def test_github_release_made_meanwhile_is_updated(repo, run, forge):
    setup(repo)
    forge.github_releases.releases["team/app"] = [
        {"id": 77, "tag_name": "v1.4.0", "name": "old", "body": "", "draft": False, "prerelease": False}
        | {"html_url": "https://github.example/team/app/releases/tag/v1.4.0"}
    ]
    forge.inject("GET", r"/releases/tags/v1\.4\.0$", 404, {"message": "Not Found"})
    assert run(github_env(forge)) == "updated https://github.example/team/app/releases/tag/v1.4.0"
    assert [r.method for r in forge.requests] == ["GET", "POST", "GET", "PATCH"]
    assert forge.github_releases.releases["team/app"][0]["name"] == "v1.4.0"


# --------------------------------------------------------------------------------------------- monorepo


MONOREPO = """\
components:
  - {name: api, path: api}
  - {name: web, path: web}
  - {name: docs, path: docs}
images:
  - {name: api, repository: registry.example.com/team/api, component: api}
  - {name: web, repository: registry.example.com/team/web, component: web}
"""


def test_monorepo_makes_one_release_per_released_component(repo, run, forge):
    repo.commit("feat: first", {"release.yaml": MONOREPO})
    sha = repo.head()
    repo.write(".release/notes-api.md", "## 2.1.0\n\napi notes\n")
    repo.write(".release/notes-web.md", "## 0.3.0\n\nweb notes\n")
    state = {
        "sha": sha,
        "components": [
            {"name": "api", "version": "2.1.0", "tag": "api-v2.1.0", "previous_version": "2.0.0"},
            {"name": "web", "version": "0.3.0", "tag": "web-v0.3.0", "previous_version": "0.2.0"},
            {"name": "docs", "version": None, "tag": None, "previous_version": "1.0.0"},
        ],
        "images": [image("api", sha, "2.1.0"), image("web", sha, "0.3.0")],
    }
    repo.write(".release/state.json", json.dumps(state))
    summary = run(gitlab_env(forge))
    assert summary == (
        f"created {forge.url}/team/app/-/releases/api-v2.1.0, created {forge.url}/team/app/-/releases/web-v0.3.0"
    )
    api, web = (r.json() for r in forge.calls("POST", r"/releases$"))
    assert (api["tag_name"], api["description"]) == ("api-v2.1.0", "## 2.1.0\n\napi notes")
    assert [ln["name"] for ln in api["assets"]["links"]] == ["registry.example.com/team/api:2.1.0"]
    assert (web["tag_name"], web["description"]) == ("web-v0.3.0", "## 0.3.0\n\nweb notes")
    assert [ln["name"] for ln in web["assets"]["links"]] == ["registry.example.com/team/web:0.3.0"]


# --------------------------------------------------------------------------------------------- skips and errors


def test_no_token_is_a_skip_with_the_reason(repo, run, forge):
    setup(repo)
    env = gitlab_env(forge)
    del env["GITLAB_TOKEN"]
    assert run(env) == forgerelease.NO_TOKEN
    assert forgerelease.skip(Context.build(Options(directory=str(repo.path)), env=env)) == forgerelease.NO_TOKEN
    assert forge.requests == []


def test_no_forge_is_a_skip(repo, run, forge):
    setup(repo)
    assert run({"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN}) == forgerelease.NO_FORGE


def test_disabled_is_a_skip(repo, run, forge):
    setup(repo, CONFIG + "forge_release:\n  enabled: false\n")
    assert run(gitlab_env(forge)) == "forge_release.enabled is false"
    assert forge.requests == []


def test_nothing_released_is_a_skip(repo, run, forge):
    setup(repo, version="")
    assert run(gitlab_env(forge)) == "nothing released"
    assert forge.requests == []


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_a_rejected_token_is_a_one_line_error_without_the_token(repo, run, forge, kind):
    api = f"{forge.url}/api/v4" if kind == "gitlab" else forge.url
    setup(repo, CONFIG + f"forge_release:\n  forge: {kind}\n  api: {api}\n  project: team/app\n")
    variable = "GITLAB_TOKEN" if kind == "gitlab" else "GITHUB_TOKEN"
    with pytest.raises(ReleaseError) as raised:
        run({variable: "glpat-wrong-0000"})
    line = raised.value.line()
    assert len(line.splitlines()) == 1
    assert "rejected the token" in line and variable in line and "HTTP 401" in line
    assert "glpat-wrong-0000" not in line
    run.assert_no_token()


def test_an_unknown_project_is_an_error(repo, run, forge):
    setup(repo, CONFIG + f"forge_release:\n  forge: gitlab\n  api: {forge.url}/api/v4\n  project: team/nope\n")
    with pytest.raises(ReleaseError, match="has no project 'team/nope'"):
        run({"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})


def test_missing_notes_without_a_plan_is_an_error(repo, run, forge):
    setup(repo)
    (repo.path / ".release/notes.md").unlink()
    with pytest.raises(ReleaseError, match=r"no release notes for v1\.4\.0: \.release/notes\.md does not exist"):
        run(gitlab_env(forge))


# --------------------------------------------------------------------------------------------- link URLs


@pytest.mark.parametrize(
    ("repository", "env", "expected"),
    [
        ("docker.io/library/nginx", {}, "https://hub.docker.com/_/nginx"),
        ("docker.io/team/app", {}, "https://hub.docker.com/r/team/app/tags?name=1.4.0"),
        ("quay.io/team/app", {}, "https://quay.io/repository/team/app?tab=tags"),
        ("ghcr.io/team/app", {}, "https://ghcr.io/team/app"),
        (
            "registry.gitlab.example.com/team/app/api",
            {"CI_REGISTRY_IMAGE": "registry.gitlab.example.com/team/app"},
            "https://gitlab.example.com/team/app/container_registry",
        ),
        ("registry.example.com/team/app", {}, f"https://registry.example.com/team/app@{DIGEST}"),
    ],
)
def test_registry_pages(repository, env, expected):
    project_url = "https://gitlab.example.com/team/app"
    assert forgerelease.registry_page(repository, "1.4.0", DIGEST, env, project_url) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (
            "chartmuseum+https://charts.example.com/museum/app:1.4.0",
            "https://charts.example.com/museum/charts/app-1.4.0.tgz",
        ),
        (
            "gitlab+https://gitlab.example.com/42/stable/app:1.4.0",
            "https://gitlab.example.com/api/v4/projects/42/packages/helm/stable/charts/app-1.4.0.tgz",
        ),
        (
            "git+https://github.com/team/charts#gh-pages:stable/app-1.4.0.tgz",
            "https://github.com/team/charts/blob/gh-pages/stable/app-1.4.0.tgz",
        ),
        (
            "git+https://gitlab.com/team/charts.git#pages/app-1.4.0.tgz",
            "https://gitlab.com/team/charts/-/blob/pages/app-1.4.0.tgz",
        ),
        ("git+/srv/charts#gh-pages/app-1.4.0.tgz", None),
    ],
)
def test_chart_urls(ref, expected):
    assert forgerelease.chart_url(ref, "app", "1.4.0", None, {}, None) == expected


def test_fake_gitlab_refuses_a_duplicate_release_and_an_unknown_tag(forge):
    import requests

    headers = {"PRIVATE-TOKEN": DEFAULT_GITLAB_TOKEN}
    base = f"{forge.url}/api/v4/projects/team%2Fapp/releases"
    assert requests.post(base, json={"tag_name": "v1"}, headers=headers, timeout=5).status_code == 422  # no ref
    assert requests.post(base, json={"tag_name": "v1", "ref": "main"}, headers=headers, timeout=5).status_code == 201
    again = requests.post(base, json={"tag_name": "v1", "ref": "main"}, headers=headers, timeout=5)
    assert (again.status_code, again.json()) == (409, {"message": "Release already exists"})
    assert requests.get(f"{base}/v2", headers=headers, timeout=5).status_code == 404
    assert requests.get(f"{base}/v1", timeout=5).status_code == 401


def test_fake_github_refuses_a_second_release_for_a_tag(forge):
    import requests

    headers = {"Authorization": f"Bearer {DEFAULT_GITHUB_TOKEN}"}
    base = f"{forge.url}/repos/team/app/releases"
    assert requests.post(base, json={"tag_name": "v1"}, headers=headers, timeout=5).status_code == 201
    again = requests.post(base, json={"tag_name": "v1"}, headers=headers, timeout=5)
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "already_exists"
    assert requests.get(f"{base}/tags/v2", headers=headers, timeout=5).status_code == 404
    assert requests.get(f"{base}/tags/v1", timeout=5).status_code == 401


def test_links_name_platforms_and_each_sbom_provenance_and_signature(repo, run, forge):
    sha = setup(repo)
    state = json.loads((repo.path / ".release/state.json").read_text())
    app = image("app", sha)
    app["platforms"] = [
        {"platform": "linux/amd64", "digest": "sha256:" + "1" * 64},
        {"platform": "linux/arm64", "digest": "sha256:" + "2" * 64},
    ]
    app["attached"] = [
        {"kind": "sbom", "platform": "linux/arm64", "subject": "sha256:" + "2" * 64, "digest": "sha256:" + "3" * 64},
        {"kind": "provenance", "platform": None, "subject": DIGEST, "digest": "sha256:" + "4" * 64},
        {
            "kind": "signature",
            "predicate": "https://sigstore.dev/cosign/sign/v1",
            "subject": DIGEST,
            "digest": "sha256:" + "5" * 64,
        },
        {
            "kind": "signature",
            "predicate": "https://slsa.dev/provenance/v1",
            "subject": DIGEST,
            "digest": "sha256:" + "6" * 64,
        },
    ]
    published = chart()
    oci = "oci://registry.example.com/charts/app:1.4.0"
    published["attached"] = [
        {"kind": "provenance", "ref": oci, "subject": "sha256:" + "c" * 64, "digest": "sha256:" + "7" * 64}
    ]
    state.update(images=[app], charts=[published])
    (repo.path / ".release/state.json").write_text(json.dumps(state))
    run(gitlab_env(forge))
    (post,) = forge.calls("POST", r"/api/v4/projects/42/releases$")
    links = {link["name"]: link["url"] for link in post.json()["assets"]["links"]}
    base = "https://registry.example.com/team/app@sha256:"
    assert links == {
        "registry.example.com/team/app:1.4.0 (linux/amd64, linux/arm64)": f"https://registry.example.com/team/app@{DIGEST}",
        "registry.example.com/team/app SBOM (linux/arm64)": base + "3" * 64,
        "registry.example.com/team/app SLSA provenance": base + "4" * 64,
        "registry.example.com/team/app Sigstore signature": base + "5" * 64,
        "registry.example.com/team/app Sigstore signature (of the provenance)": base + "6" * 64,
        "chartmuseum+https://charts.example.com/app:1.4.0": "https://charts.example.com/charts/app-1.4.0.tgz",
        oci: "https://registry.example.com/charts/app@sha256:" + "c" * 64,
        "registry.example.com/charts/app SLSA provenance": "https://registry.example.com/charts/app@sha256:" + "7" * 64,
    }
