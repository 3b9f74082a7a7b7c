"""`release promote / status / rollback` against real infra repositories (bare, file:// and smart HTTP).

The fixture infra repo has the shapes users have: Helm values per environment (French comments, a Vault AVP
placeholder, two `tag:` keys), a Kustomize base with an overlay, and a Flux HelmRelease in a multi-document file.
What lands is read back with git; `kubectl kustomize` renders the promoted overlay.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from release.context import Context, Options
from release.gitops import promote as promote_module
from tests.charts.test_gitbranch import GitHTTP
from tests.conftest import Repo

VALUES = """\
# Valeurs pour l'environnement {env} — ne pas éditer à la main
replicaCount: 1

image:
  repository: registry.example.com/team/app
  tag: "1.0.0"  # épinglé par la CI
  pullPolicy: IfNotPresent

redis:
  image:
    tag: 7.2.4

secret:
  password: <path:secret/data/app#password | jsonPath {{.a}}>
"""

BASE_KUSTOMIZATION = "resources:\n  - deployment.yaml\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: registry.example.com/team/app:latest
"""
OVERLAY = """\
# overlay de dev
resources:
  - ../../base
images:
  - name: registry.example.com/team/app
    newTag: 1.0.0
"""
FLUX = """\
---
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: team
  namespace: app
spec:
  url: oci://registry.example.com/charts
  type: oci
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: app
spec:
  chart:
    spec:
      chart: app
      version: 1.0.0  # {"$imagepolicy": "flux-system:app:tag"}
      sourceRef: {kind: HelmRepository, name: team}
"""

INFRA_FILES = {
    "apps/dev/app/values.yaml": VALUES.format(env="dev"),
    "apps/prod/app/values.yaml": VALUES.format(env="prod"),
    "base/kustomization.yaml": BASE_KUSTOMIZATION,
    "base/deployment.yaml": DEPLOYMENT,
    "overlays/dev/kustomization.yaml": OVERLAY,
    "clusters/dev/apps.yaml": FLUX,
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_infra(tmp_path: Path, files: dict[str, str], name: str = "infra.git") -> Path:
    bare = tmp_path / name
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / (name + "-seed")
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for rel, content in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content, encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial layout")
    git(work, "push", "-q", str(bare), "main")
    return bare


def head(bare: Path) -> str:
    return git(bare, "rev-parse", "main")


def show(bare: Path, path: str, ref: str = "main") -> str:
    return git(bare, "show", f"{ref}:{path}")


CONFIG = """\
environments:
  - name: dev
    repo: {url}
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
      - {{file: overlays/dev/kustomization.yaml, image: {{name: registry.example.com/team/app, newTag: "{{version}}"}}}}
      - file: clusters/dev/apps.yaml
        match: {{kind: HelmRelease, metadata.name: app}}
        set: {{spec.chart.spec.version: "{{version}}"}}
  - name: prod
    repo: {url}
    branch: main
    after: dev
    updates:
      - {{file: apps/prod/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    return make_infra(tmp_path, INFRA_FILES)


def configure(repo: Repo, url: str, config: str = CONFIG, released: tuple[str, ...] = ("1.4.0", "1.5.0")) -> None:
    """The app's release.yaml, and the releases a promote may take (their tags: only a released version is)."""
    repo.commit("chore: release config", {"release.yaml": config.format(url=url)})
    for version in released:
        repo.tag(f"v{version}")


@pytest.fixture
def app(repo: Repo, infra: Path) -> Repo:
    configure(repo, f"file://{infra}")
    return repo


def test_promote_commits_only_the_value_bytes_with_trailers(app, release, infra):
    before = head(infra)
    result = release(
        app, "promote", "dev", "--version", "1.4.0", env={"GITLAB_CI": "true", "CI_PIPELINE_URL": "https://ci/p/42"}
    )
    assert result.code == 0, result.err
    after = head(infra)
    assert git(infra, "rev-parse", "main^") == before
    assert result.out.strip() == f"dev 1.4.0 {after}"
    stat = git(infra, "show", "--stat", "--format=", "main")
    assert stat.splitlines()[-1].strip() == "3 files changed, 3 insertions(+), 3 deletions(-)"
    diff = git(infra, "show", "--format=", "-U0", "main")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        '-  tag: "1.0.0"  # épinglé par la CI',
        '+  tag: "1.4.0"  # épinglé par la CI',
        '-      version: 1.0.0  # {"$imagepolicy": "flux-system:app:tag"}',
        '+      version: 1.4.0  # {"$imagepolicy": "flux-system:app:tag"}',
        "-    newTag: 1.0.0",
        "+    newTag: 1.4.0",
    ]
    message = git(infra, "log", "-1", "--format=%B", "main")
    source = app.head()
    assert message.splitlines()[0] == "chore(dev): deploy app 1.4.0"
    assert f"Source commit: {source}" in message and "Pipeline: https://ci/p/42" in message
    assert git(infra, "log", "-1", "--format=%(trailers:key=Release-Version,valueonly)", "main") == "1.4.0"
    assert git(infra, "log", "-1", "--format=%(trailers:key=Release-Source,valueonly)", "main") == source
    assert show(infra, "apps/prod/app/values.yaml") == VALUES.format(env="prod").rstrip("\n")
    state = json.loads((app.path / ".release/state.json").read_text())
    assert state["promotions"] == [{"env": "dev", "repo": f"file://{infra}", "commit": after, "version": "1.4.0"}]


def test_rerun_is_a_noop_and_dry_run_pushes_nothing(app, release, infra):
    dry = release(app, "promote", "dev", "--version", "1.4.0", "--dry-run")
    assert dry.code == 0, dry.err
    assert '-  tag: "1.0.0"  # épinglé par la CI\n+  tag: "1.4.0"  # épinglé par la CI\n' in dry.out
    assert "+++ b/overlays/dev/kustomization.yaml" in dry.out
    assert git(infra, "rev-list", "--count", "main") == "1"
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    done = head(infra)
    again = release(app, "promote", "dev", "--version", "1.4.0")
    assert again.code == 0, again.err
    assert "already at 1.4.0" in again.err and again.out == ""
    assert head(infra) == done


def test_prod_waits_for_dev(app, release, infra):
    refused = release(app, "promote", "prod", "--version", "1.4.0")
    assert refused.code == 1
    assert "dev is not at 1.4.0 yet" in refused.err and "release promote dev" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert git(infra, "rev-list", "--count", "main") == "1"
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    ok = release(app, "promote", "prod", "--version", "1.4.0")
    assert ok.code == 0, ok.err
    assert 'tag: "1.4.0"' in show(infra, "apps/prod/app/values.yaml")
    assert git(infra, "log", "-1", "--format=%s", "main") == "chore(prod): deploy app 1.4.0"


def test_status_shows_each_environment_and_the_commit_that_set_it(app, release, infra):
    # more in tests/gitops/test_record.py: drift, holds, pipelines
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    promoted = head(infra)
    result = release(app, "status", "--json")
    assert result.code == 0, result.err
    rows = {row["env"]: row for row in json.loads(result.out)}
    assert (rows["dev"]["version"], rows["dev"]["commit"]) == ("1.4.0", promoted)
    assert (rows["prod"]["version"], rows["prod"]["commit"]) == (None, None)  # never promoted: unknown
    assert rows["dev"]["date"] == git(infra, "log", "-1", "--format=%cI", "main")
    text = release(app, "status")
    assert text.out.splitlines()[0].split("\t")[:3] == ["dev", "1.4.0", promoted[:12]]


def test_rollback_writes_the_previous_version_as_a_new_commit(app, release, infra):
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    assert release(app, "promote", "dev", "--version", "1.5.0").code == 0
    newest = head(infra)
    result = release(app, "rollback", "dev")
    assert result.code == 0, result.err
    assert git(infra, "rev-parse", "main^") == newest  # a new commit on top: history kept
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    assert "newTag: 1.4.0" in show(infra, "overlays/dev/kustomization.yaml")
    assert "version: 1.4.0  #" in show(infra, "clusters/dev/apps.yaml")
    assert git(infra, "log", "-1", "--format=%s", "main") == "chore(dev): roll back app 1.4.0"
    assert git(infra, "log", "-1", "--format=%(trailers:key=Release-Version,valueonly)", "main") == "1.4.0"
    to_first = release(app, "rollback", "dev", "--to", "1.0.0")  # files no release recorded: found by value
    assert to_first.code == 0, to_first.err
    assert show(infra, "apps/dev/app/values.yaml") == VALUES.format(env="dev").rstrip("\n")
    assert git(infra, "rev-list", "--count", "main") == "5"
    initial = git(infra, "rev-list", "--max-parents=0", "main")
    assert (
        git(infra, "log", "-1", "--format=%s", "main") == f"chore(dev): roll back app to the files as of {initial[:12]}"
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_the_promoted_image(app, release, infra, tmp_path):
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(infra), str(checkout)], check=True)
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(checkout / "overlays/dev")], check=True, capture_output=True, text=True
    ).stdout
    assert "image: registry.example.com/team/app:1.4.0" in rendered


def test_ten_concurrent_promotes_of_different_apps_all_land(tmp_path):
    files = {f"apps/app{i}/values.yaml": VALUES.format(env=f"app{i}") for i in range(10)}
    infra = make_infra(tmp_path, files)
    contexts = []
    for i in range(10):
        path = tmp_path / f"app{i}"
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        project = Repo(path)
        project.commit(
            "chore: config",
            {
                "release.yaml": f"environments:\n  - name: dev\n    repo: file://{infra}\n    updates:\n"
                f'      - {{file: apps/app{i}/values.yaml, set: {{image.tag: "2.0.{i}"}}}}\n'
            },
        )
        project.tag("v2.0.0")
        contexts.append(Context.build(Options(directory=str(path)), env=dict(os.environ)))
    errors: list[BaseException] = []
    said: list[str] = []
    start = threading.Barrier(10)

    def run(ctx: Context) -> None:
        try:
            start.wait()
            promote_module.promote(ctx, "dev", "2.0.0", say=said.append)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ctx,)) for ctx in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert git(infra, "rev-list", "--count", "main") == "11"
    for i in range(10):
        assert f'tag: "2.0.{i}"' in show(infra, f"apps/app{i}/values.yaml")
    subjects = git(infra, "log", "--format=%s", "main").splitlines()
    assert sorted(subjects[:-1]) == sorted(f"chore(dev): deploy app{i} 2.0.0" for i in range(10))
    # ten pushes from one tip: the losers were redone on the new tip, not forced and not lost
    assert any("moved while promoting" in line for line in said)


TOKEN = "glpat-infra-s3cr3t-token"


def test_over_smart_http_with_a_token_from_the_environment(repo, release, infra):
    with GitHTTP(infra.parent, "deployer", TOKEN) as server:
        configure(repo, f"{server.url}/{infra.name}")
        env = {"RELEASE_GIT_USER": "deployer", "RELEASE_GIT_TOKEN": TOKEN}
        result = release(repo, "promote", "dev", "--version", "1.4.0", env=env)
        assert result.code == 0, result.err
        wrong = release(repo, "promote", "dev", "--version", "1.5.0", env={**env, "RELEASE_GIT_TOKEN": "nope-wrong"})
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    assert TOKEN not in result.err + result.out
    assert wrong.code == 1 and "refused the credentials" in wrong.err
    assert "nope-wrong" not in wrong.err
    assert len(wrong.err.strip().splitlines()) == 1
    assert git(infra, "rev-list", "--count", "main") == "2"


def one_env(update: str, url: str) -> str:
    return f"environments:\n  - name: dev\n    repo: {url}\n    updates:\n      - {update}\n"


@pytest.mark.parametrize(
    ("update", "files", "expected"),
    [
        ('{file: apps/qa/values.yaml, set: {image.tag: "{version}"}}', {}, "apps/qa/values.yaml does not exist"),
        ('{file: v.yaml, set: {image.digest: "{version}"}}', {"v.yaml": "image:\n  tag: 1.0.0\n"}, "create: true"),
        (
            '{file: v.yaml, set: {image.tag: "{version}"}}',
            {"v.yaml": "{{- if .Values.x }}\nimage:\n  tag: {{ .Values.tag }}\n{{- end }}\n"},
            "v.yaml",
        ),
        (
            '{file: v.yaml, set: {defaults.tag: "{version}"}}',
            {"v.yaml": "defaults: &d\n  tag: 1.0.0\napp:\n  <<: *d\n"},
            "anchor",
        ),
    ],
    ids=["missing-file", "path-not-found", "go-template", "anchored-value"],
)
def test_bad_input_exits_1_with_one_line_and_pushes_nothing(repo, release, tmp_path, update, files, expected):
    infra = make_infra(tmp_path, {"README.md": "infra\n", **files})
    repo.commit("chore: release config", {"release.yaml": one_env(update, f"file://{infra}")})
    repo.tag("v1.4.0")
    before = head(infra)
    result = release(repo, "promote", "dev", "--version", "1.4.0")
    assert result.code == 1, result.err
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert head(infra) == before


def test_unknown_environment(app, release):
    result = release(app, "promote", "staging", "--version", "1.4.0")
    assert result.code == 1
    assert "unknown environment 'staging'" in result.err and "dev, prod" in result.err


def test_protected_branch_suggests_merge_request_mode(app, release, infra):
    hook = infra / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GitLab: You are not allowed to push code to protected branches' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = head(infra)
    result = release(app, "promote", "dev", "--version", "1.4.0")
    assert result.code == 1
    assert "protected branches" in result.err and "mode: merge-request" in result.err
    assert "redoing" not in result.err
    assert head(infra) == before


def test_merge_request_mode_needs_a_forge_for_a_file_url(repo, release, infra):
    # merge-request mode itself: tests/test_promote_mr.py
    configure(repo, f"file://{infra}", CONFIG.replace("    after: dev\n", "    mode: merge-request\n"))
    result = release(repo, "promote", "prod", "--version", "1.4.0")
    assert result.code == 1 and "cannot tell which forge" in result.err and "forge: gitlab" in result.err
    assert git(infra, "rev-list", "--count", "--all") == "1"


def test_environments_config_errors_name_the_line(repo, release, infra):
    bad = one_env("{file: v.yaml}", f"file://{infra}")
    repo.commit("chore: config", {"release.yaml": bad})
    result = release(repo, "promote", "dev", "--version", "1.4.0")
    assert result.code == 1
    assert "release.yaml:5" in result.err and "exactly one of `set` and `image`" in result.err


def test_an_anchored_value_is_edited_when_the_update_allows_it(repo, release, tmp_path):
    values = "defaults: &d\n  tag: 1.0.0  # partagé\napp:\n  <<: *d\n"
    infra = make_infra(tmp_path, {"v.yaml": values})
    update = '{file: v.yaml, set: {defaults.tag: "{version}"}, allow_anchor: true}'
    repo.commit("chore: release config", {"release.yaml": one_env(update, f"file://{infra}")})
    repo.tag("v1.4.0")
    result = release(repo, "promote", "dev", "--version", "1.4.0")
    assert result.code == 0, result.err
    assert show(infra, "v.yaml") == values.replace("1.0.0", "1.4.0").rstrip("\n")  # show() strips


@pytest.mark.parametrize(
    ("ci", "author"),
    [
        (
            {"GITLAB_CI": "true", "GITLAB_USER_NAME": "Jeanne Dev", "GITLAB_USER_EMAIL": "jeanne@example.fr"},
            "Jeanne Dev <jeanne@example.fr>",
        ),
        (
            {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octo", "GITHUB_ACTOR_ID": "42"},
            "octo <42+octo@users.noreply.github.com>",
        ),
    ],
)
def test_the_commit_author_defaults_to_who_triggered_the_pipeline(app, release, infra, monkeypatch, ci, author):
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME", raising=False)
        monkeypatch.delenv(f"GIT_{role}_EMAIL", raising=False)
    result = release(app, "promote", "dev", "--version", "1.4.0", env=ci)
    assert result.code == 0, result.err
    assert git(infra, "log", "-1", "--format=%an <%ae>", "main") == author


def test_explicit_git_identity_wins_over_ci(app, release, infra, monkeypatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Release Bot")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "bot@example.com")
    result = release(app, "promote", "dev", "--version", "1.4.0", env={"GITLAB_USER_NAME": "Jeanne Dev"})
    assert result.code == 0, result.err
    assert git(infra, "log", "-1", "--format=%an <%ae>", "main") == "Release Bot <bot@example.com>"


ARGO_APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app-dev
  namespace: argocd
spec:
  project: default
  source:
    repoURL: oci://registry.example.com/charts
    chart: app
    targetRevision: 1.0.0  # the chart version Argo CD deploys
    helm:
      valuesObject:
        image:
          tag: "1.0.0"
  destination:
    server: https://kubernetes.default.svc
    namespace: app-dev
"""


def test_an_argo_cd_application_gets_the_chart_version_and_image_tag(repo, release, tmp_path):
    infra = make_infra(tmp_path, {"argocd/app-dev.yaml": ARGO_APPLICATION})
    update = (
        "{file: argocd/app-dev.yaml, match: {kind: Application}, "
        'set: {spec.source.targetRevision: "{version}", spec.source.helm.valuesObject.image.tag: "{version}"}}'
    )
    repo.commit("chore: release config", {"release.yaml": one_env(update, f"file://{infra}")})
    repo.tag("v1.4.0")
    result = release(repo, "promote", "dev", "--version", "1.4.0")
    assert result.code == 0, result.err
    assert show(infra, "argocd/app-dev.yaml") == ARGO_APPLICATION.replace("1.0.0", "1.4.0").rstrip("\n")


def test_the_commit_message_carries_the_release_notes(repo, release, infra):
    configure(repo, f"file://{infra}", released=("1.3.0",))
    repo.commit("feat(api): a new endpoint")
    repo.tag("v1.4.0")
    app = repo
    result = release(app, "promote", "dev")  # no --version: the release at HEAD (1.4.0)
    assert result.code == 0, result.err
    message = git(infra, "log", "-1", "--format=%B", "main")
    assert message.splitlines()[0].endswith(" 1.4.0")
    assert "### Features" in message and "**api:** a new endpoint" in message


def test_ssh_remotes_go_through_git_ssh_command(app, release, infra, tmp_path):
    """A stand-in ssh runs git's remote command locally: the ssh transport, without an sshd."""
    log = tmp_path / "ssh.log"
    fake = tmp_path / "fake-ssh"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\nfor last; do :; done\nexec sh -c "$last"\n')
    fake.chmod(0o755)
    config = (app.path / "release.yaml").read_text().replace(f"file://{infra}", f"ssh://git@infra.invalid{infra}")
    app.commit("chore: over ssh", {"release.yaml": config})
    result = release(app, "promote", "dev", "--version", "1.4.0", env={"GIT_SSH_COMMAND": str(fake)})
    assert result.code == 0, result.err
    assert "git@infra.invalid" in log.read_text() and "git-receive-pack" in log.read_text()
    assert git(infra, "log", "-1", "--format=%(trailers:key=Release-Version,valueonly)", "main") == "1.4.0"


def test_an_ssh_key_file_from_the_environment():
    from release.adapters.gitclone import auth_env

    env = auth_env({"RELEASE_GIT_SSH_KEY": "/run/secrets/deploy key"}, "git@gitlab.example.com:team/infra.git")
    assert env["GIT_SSH_COMMAND"] == "ssh -i '/run/secrets/deploy key' -o IdentitiesOnly=yes -o BatchMode=yes"
    assert "GIT_SSH_COMMAND" not in auth_env({"RELEASE_GIT_SSH_KEY": "/k"}, "https://gitlab.example.com/t/i.git")
    mine = auth_env({"RELEASE_GIT_SSH_KEY": "/k", "GIT_SSH_COMMAND": "ssh -F cfg"}, "ssh://git@h/t/i.git")
    assert mine["GIT_SSH_COMMAND"] == "ssh -F cfg"  # the user's own command wins
