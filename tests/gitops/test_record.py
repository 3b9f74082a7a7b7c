"""The record an environment's infra commits carry, and what reads it: `release status` (version, source,
pipeline, held, drifted), `release rollback` (what an earlier release wrote, keys it did not have removed, a hold),
automatic promotes skipping a held environment, and `release unhold`. Real git: file:// bare infra repositories."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.gitops.test_promote import CONFIG, INFRA_FILES, VALUES, configure, git, head, make_infra, show

GITLAB_CI = {"GITLAB_CI": "true", "CI_PIPELINE_URL": "https://gitlab.example.com/team/app/-/pipelines/42"}


def trailer(infra: Path, key: str, ref: str = "main") -> str:
    return git(infra, "log", "-1", f"--format=%(trailers:key={key},valueonly)", ref)


def hand_edit(infra: Path, path: str, old: str, new: str, tmp_path: Path) -> str:
    """Someone edits a file of the infra repository by hand and pushes: the commit's sha."""
    work = tmp_path / f"hand-{uuid.uuid4().hex[:8]}"
    subprocess.run(["git", "clone", "-q", str(infra), str(work)], check=True)
    target = work / path
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    git(work, "commit", "-q", "-am", "hand edit")
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def status_rows(release, app) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    result = release(app, "status", "--json")
    assert result.code == 0, result.err
    return {row["env"]: row for row in json.loads(result.out)}


def released(repo: Repo, *versions: str) -> None:
    """Tag the versions a test promotes: only a released version is promoted."""
    for version in versions:
        repo.tag(f"v{version}")


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    return make_infra(tmp_path, INFRA_FILES)


@pytest.fixture
def app(repo: Repo, infra: Path) -> Repo:
    configure(repo, f"file://{infra}")
    return repo


# --------------------------------------------------------------------------------------------- the record


@pytest.mark.parametrize(
    ("ci", "pipeline"),
    [
        (GITLAB_CI, GITLAB_CI["CI_PIPELINE_URL"]),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "team/app",
                "GITHUB_RUN_ID": "9001",
            },
            "https://github.com/team/app/actions/runs/9001",
        ),
        ({}, ""),  # a laptop: no pipeline
    ],
    ids=["gitlab", "github", "laptop"],
)
def test_a_promote_records_version_source_pipeline_and_environment(app, release, infra, ci, pipeline):
    result = release(app, "promote", "dev", "--version", "1.4.0", env=ci)
    assert result.code == 0, result.err
    assert trailer(infra, "Release-Version") == "1.4.0"
    assert trailer(infra, "Release-Source") == app.head()
    assert trailer(infra, "Release-Pipeline") == pipeline
    assert trailer(infra, "Release-Environment") == "dev"
    assert trailer(infra, "Release-Hold") == ""
    rows = status_rows(release, app)
    assert (rows["dev"]["version"], rows["dev"]["source"], rows["dev"]["pipeline"]) == (
        "1.4.0",
        app.head(),
        pipeline or None,
    )


# --------------------------------------------------------------------------------------------- status


def test_status_after_a_promote_tells_version_source_when_and_pipeline(app, release, infra):
    assert release(app, "promote", "dev", "--version", "1.4.0", env=GITLAB_CI).code == 0
    promoted = head(infra)
    rows = status_rows(release, app)
    dev, prod = rows["dev"], rows["prod"]
    assert (dev["version"], dev["commit"], dev["source"]) == ("1.4.0", promoted, app.head())
    assert dev["date"] == git(infra, "log", "-1", "--format=%cI", "main")
    assert dev["pipeline"] == GITLAB_CI["CI_PIPELINE_URL"]
    assert (dev["held"], dev["drifted"], dev["drift"], dev["recorded"]) == (False, False, [], True)
    # prod was never promoted by release: its files hold 1.0.0, but nothing recorded it as a version
    assert (prod["recorded"], prod["version"], prod["commit"], prod["held"], prod["drifted"]) == (
        False,
        None,
        None,
        False,
        False,
    )
    text = release(app, "status")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert len(lines) == 2  # one line per environment
    assert lines[0].split("\t") == [
        "dev",
        "1.4.0",
        promoted[:12],
        dev["date"],
        app.head()[:12],
        GITLAB_CI["CI_PIPELINE_URL"],
        "unknown (no verify configured)",  # observed: what the agent reports (verify:)
        "ok",
    ]
    assert lines[1].startswith("prod\tunknown\t-\t") and "version unknown" in lines[1]


def test_status_names_the_file_and_path_edited_by_hand(app, release, infra, tmp_path):
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    promoted = head(infra)
    hand_edit(infra, "apps/dev/app/values.yaml", "replicaCount: 1", "replicaCount: 3", tmp_path)
    rows = status_rows(release, app)
    assert (rows["dev"]["drifted"], rows["dev"]["commit"]) == (False, promoted)  # not a path we write
    hand_edit(infra, "apps/dev/app/values.yaml", 'tag: "1.4.0"', 'tag: "1.4.0-hotfix"', tmp_path)
    hand_edit(infra, "overlays/dev/kustomization.yaml", "newTag: 1.4.0", "newTag: 1.3.9", tmp_path)
    dev = status_rows(release, app)["dev"]
    assert (dev["version"], dev["commit"], dev["drifted"]) == ("1.4.0", promoted, True)  # the record stays
    assert dev["drift"] == [
        {"file": "apps/dev/app/values.yaml", "path": "image.tag", "recorded": "1.4.0", "now": "1.4.0-hotfix"},
        {
            "file": "overlays/dev/kustomization.yaml",
            "path": "images[registry.example.com/team/app].newTag",
            "recorded": "1.4.0",
            "now": "1.3.9",
        },
    ]
    line = release(app, "status").out.splitlines()[0]
    assert line.startswith(f"dev\t1.4.0\t{promoted[:12]}\t")
    assert line.endswith(
        "\tdrifted: apps/dev/app/values.yaml image.tag: '1.4.0' → '1.4.0-hotfix'; "
        "overlays/dev/kustomization.yaml images[registry.example.com/team/app].newTag: '1.4.0' → '1.3.9'"
    )


def test_status_after_a_rollback_says_held_and_from_what(app, release, infra):
    for version in ("1.4.0", "1.5.0"):
        assert release(app, "promote", "dev", "--version", version).code == 0
    assert release(app, "rollback", "dev", env=GITLAB_CI).code == 0
    rolled = head(infra)
    dev = status_rows(release, app)["dev"]
    assert (dev["version"], dev["commit"], dev["held"], dev["rollback_from"], dev["drifted"]) == (
        "1.4.0",
        rolled,
        True,
        "1.5.0",
        False,
    )
    assert dev["pipeline"] == GITLAB_CI["CI_PIPELINE_URL"]
    line = release(app, "status").out.splitlines()[0]
    assert line.split("\t")[:3] == ["dev", "1.4.0", rolled[:12]]
    assert line.endswith("\theld since the rollback from 1.5.0 (to release it: release unhold dev)")


def test_two_environments_sharing_a_file_each_have_their_own_record(repo, release, tmp_path):
    flux = INFRA_FILES["clusters/dev/apps.yaml"]
    infra = make_infra(tmp_path, {"clusters/apps.yaml": flux + flux.replace("name: app\n", "name: app-qa\n")})
    config = "environments:\n" + "".join(
        f"  - name: {name}\n    repo: file://{infra}\n    updates:\n"
        f"      - file: clusters/apps.yaml\n        match: {{kind: HelmRelease, metadata.name: {release_name}}}\n"
        '        set: {spec.chart.spec.version: "{version}"}\n'
        for name, release_name in (("dev", "app"), ("qa", "app-qa"))
    )
    repo.commit("chore: config", {"release.yaml": config})
    released(repo, "1.3.0", "1.4.0")
    assert release(repo, "promote", "dev", "--version", "1.4.0").code == 0
    assert release(repo, "promote", "qa", "--version", "1.3.0").code == 0
    rows = status_rows(release, repo)
    assert (rows["dev"]["version"], rows["qa"]["version"]) == ("1.4.0", "1.3.0")
    assert not rows["dev"]["drifted"] and not rows["qa"]["drifted"]


# --------------------------------------------------------------------------------------------- rollback

BARE_OVERLAY = "# overlay de dev\nresources:\n  - ../../base\n"
DIGEST = "sha256:" + "ab" * 32
CREATING = """\
environments:
  - name: dev
    repo: {url}
    updates:
      - file: apps/dev/app/values.yaml
        create: true
        set: {{image.tag: "{{version}}", image.digest: "{digest}"}}
      - {{file: overlays/dev/kustomization.yaml, image: {{name: registry.example.com/team/app, newTag: "{{version}}"}}}}
"""


def kustomize(infra: Path, tmp_path: Path) -> str:
    checkout = tmp_path / f"render-{uuid.uuid4().hex[:8]}"
    subprocess.run(["git", "clone", "-q", str(infra), str(checkout)], check=True)
    return subprocess.run(
        ["kubectl", "kustomize", str(checkout / "overlays/dev")], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_rollback_removes_the_keys_and_images_entry_a_promote_created(repo, release, tmp_path):
    files = {**INFRA_FILES, "overlays/dev/kustomization.yaml": BARE_OVERLAY}
    infra = make_infra(tmp_path, files)
    repo.commit("chore: config", {"release.yaml": CREATING.format(url=f"file://{infra}", digest=DIGEST)})
    released(repo, "1.4.0")
    before = {path: show(infra, path) for path in files}
    assert "image: registry.example.com/team/app:latest" in kustomize(infra, tmp_path)
    assert release(repo, "promote", "dev", "--version", "1.4.0").code == 0
    assert "images:" in show(infra, "overlays/dev/kustomization.yaml")
    assert f"digest: {DIGEST}" in show(infra, "apps/dev/app/values.yaml")
    assert "image: registry.example.com/team/app:1.4.0" in kustomize(infra, tmp_path)
    result = release(repo, "rollback", "dev")
    assert result.code == 0, result.err
    assert {path: show(infra, path) for path in files} == before  # byte for byte
    assert git(infra, "diff", "main~2", "main", "--stat") == ""
    assert "image: registry.example.com/team/app:latest" in kustomize(infra, tmp_path)


def test_rollback_to_a_release_made_before_the_keys_existed(repo, release, tmp_path):
    """1.3.0 wrote only the tag; release.yaml then grew a digest (create: true) and a Kustomize image (no
    `images:` yet): rolling back to 1.3.0 writes its tag and removes what 1.4.0 added, byte for byte."""
    files = {**INFRA_FILES, "overlays/dev/kustomization.yaml": BARE_OVERLAY}
    infra = make_infra(tmp_path, files)
    only_tag = (
        f"environments:\n  - name: dev\n    repo: file://{infra}\n    updates:\n"
        '      - {file: apps/dev/app/values.yaml, set: {image.tag: "{version}"}}\n'
    )
    repo.commit("chore: config", {"release.yaml": only_tag})
    released(repo, "1.3.0", "1.4.0")
    assert release(repo, "promote", "dev", "--version", "1.3.0").code == 0
    at_130 = {path: show(infra, path) for path in files}
    repo.commit("chore: more updates", {"release.yaml": CREATING.format(url=f"file://{infra}", digest=DIGEST)})
    assert release(repo, "promote", "dev", "--version", "1.4.0").code == 0
    result = release(repo, "rollback", "dev")
    assert result.code == 0, result.err
    assert "dev: rolling back from 1.4.0 to 1.3.0" in result.err
    assert {path: show(infra, path) for path in files} == at_130
    assert git(infra, "log", "-1", "--format=%s", "main") == "chore(dev): roll back app 1.3.0"
    assert trailer(infra, "Release-Version") == "1.3.0"
    assert trailer(infra, "Release-Rollback-From") == "1.4.0"
    assert trailer(infra, "Release-Hold") == "true"
    assert trailer(infra, "Release-Restores") == git(infra, "rev-parse", "main~2")


def test_rollback_goes_to_the_previous_distinct_version_and_never_back_to_a_rolled_back_one(app, release, infra):
    released(app, "1.3.0")
    for version in ("1.3.0", "1.4.0", "1.4.0", "1.5.0"):  # the second 1.4.0 changes nothing
        assert release(app, "promote", "dev", "--version", version).code == 0
    first = release(app, "rollback", "dev")
    assert first.code == 0, first.err
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    second = release(app, "rollback", "dev")  # from 1.4.0: to 1.3.0, not "back" to 1.5.0
    assert second.code == 0, second.err
    assert "rolling back from 1.4.0 to 1.3.0" in second.err
    assert 'tag: "1.3.0"' in show(infra, "apps/dev/app/values.yaml")
    assert "newTag: 1.3.0" in show(infra, "overlays/dev/kustomization.yaml")
    assert "version: 1.3.0  #" in show(infra, "clusters/dev/apps.yaml")
    to = release(app, "rollback", "dev", "--to", "v1.5.0")
    assert to.code == 0, to.err
    assert 'tag: "1.5.0"' in show(infra, "apps/dev/app/values.yaml")
    assert trailer(infra, "Release-Rollback-From") == "1.3.0"


ARGO_RANGE = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
spec:
  source:
    chart: podinfo
    repoURL: oci://ghcr.io/stefanprodan/charts
    targetRevision: ">=1.0.0-alpha"  # whatever is newest
"""


def test_rollback_to_files_that_held_a_range_does_not_call_it_a_version(repo, release, tmp_path):
    infra = make_infra(tmp_path, {"argocd/podinfo.yaml": ARGO_RANGE})
    update = '{file: argocd/podinfo.yaml, set: {spec.source.targetRevision: "{version}"}}'
    repo.commit(
        "chore: config",
        {
            "release.yaml": f"environments:\n  - name: argocd\n    app: podinfo\n    repo: file://{infra}\n"
            f"    updates:\n      - {update}\n"
        },
    )
    released(repo, "6.15.0")
    initial = head(infra)
    assert release(repo, "promote", "argocd", "--version", "6.15.0").code == 0
    result = release(repo, "rollback", "argocd")
    assert result.code == 0, result.err
    assert show(infra, "argocd/podinfo.yaml") == ARGO_RANGE.rstrip("\n")
    subject = git(infra, "log", "-1", "--format=%s", "main")
    assert subject == f"chore(argocd): roll back podinfo to the files as of {initial[:12]}"
    assert ">=" not in git(infra, "log", "-1", "--format=%B", "main")
    assert trailer(infra, "Release-Version") == ""  # no release recorded those files: no version to claim
    assert (trailer(infra, "Release-Restores"), trailer(infra, "Release-Rollback-From")) == (initial, "6.15.0")
    assert f"rolling back from 6.15.0 to the files as of {initial[:12]} (no release recorded them)" in result.err
    row = status_rows(release, repo)["argocd"]
    assert (row["recorded"], row["version"], row["held"], row["restores"]) == (True, None, True, initial)
    line = release(repo, "status").out.splitlines()[0]
    assert line.startswith("argocd\tunknown\t") and f"rolled back to the files as of {initial[:12]}" in line


def test_nothing_earlier_to_roll_back_to_says_so_in_plain_words(app, release, infra):
    untouched = release(app, "rollback", "prod")  # never promoted, and its file never changed
    assert_one_line_error(untouched, "environment prod: the history of its files holds no other values than today's")
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    assert release(app, "rollback", "dev").code == 0  # to the files before 1.4.0
    again = release(app, "rollback", "dev", "--to", "2.0.0")
    assert_one_line_error(again, "environment dev: no release 2.0.0 in the history of its files", "1.4.0")
    assert "no a " not in again.err


# --------------------------------------------------------------------------------------------- hold

AUTOMATIC = """\
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


def with_origin(repo: Repo, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")


def test_a_rerun_after_a_rollback_skips_the_held_environment_until_unhold(repo, release, tmp_path):
    infra = make_infra(tmp_path, INFRA_FILES)
    repo.commit("feat: first", {"release.yaml": AUTOMATIC.format(infra=infra)})
    with_origin(repo, tmp_path)
    assert release(repo, "run").code == 0
    assert 'tag: "0.1.0"' in show(infra, "apps/dev/app/values.yaml")
    rolled = release(repo, "rollback", "dev")
    assert rolled.code == 0, rolled.err
    assert show(infra, "apps/dev/app/values.yaml") == VALUES.format(env="dev").rstrip("\n")
    held_at = head(infra)

    rerun = release(repo, "run")  # the same commit, the same version: the rollback must stay
    assert rerun.code == 0, rerun.err
    assert head(infra) == held_at
    skipped = [line for line in rerun.err.splitlines() if "held" in line and line.startswith("dev:")]
    assert len(skipped) == 1, rerun.err
    assert skipped[0].startswith("dev: skipped: dev is held since the rollback from 0.1.0 to the files as of")
    assert "release unhold dev" in skipped[0] and "release promote dev --version" in skipped[0]
    assert "deploy" not in git(infra, "log", "-1", "--format=%s", "main")

    unheld = release(repo, "unhold", "dev", env=GITLAB_CI)
    assert unheld.code == 0, unheld.err
    assert git(infra, "rev-parse", "main^") == held_at
    assert git(infra, "diff", "--stat", "main^", "main") == ""  # an empty commit: no file changes
    assert git(infra, "log", "-1", "--format=%s", "main") == "chore(dev): release the hold on app"
    assert (trailer(infra, "Release-Hold"), trailer(infra, "Release-Environment")) == ("false", "dev")
    assert trailer(infra, "Release-Pipeline") == GITLAB_CI["CI_PIPELINE_URL"]
    row = status_rows(release, repo)["dev"]
    assert (row["held"], row["commit"], row["hold_released_by"]) == (False, held_at, head(infra))

    again = release(repo, "run")
    assert again.code == 0, again.err
    assert 'tag: "0.1.0"' in show(infra, "apps/dev/app/values.yaml")
    assert git(infra, "log", "-1", "--format=%s", "main") == f"chore(dev): deploy {repo.path.name} 0.1.0"


def test_a_person_promoting_a_newer_version_releases_the_hold(app, release, infra):
    released(app, "1.5.1")
    for version in ("1.4.0", "1.5.0"):
        assert release(app, "promote", "dev", "--version", version).code == 0
    assert release(app, "rollback", "dev").code == 0
    same = release(app, "promote", "dev", "--version", "1.4.0")  # already there: no commit, still held
    assert same.code == 0, same.err
    assert "dev stays held since the rollback from 1.5.0 to 1.4.0" in same.err
    assert status_rows(release, app)["dev"]["held"] is True
    newer = release(app, "promote", "dev", "--version", "1.5.1")
    assert newer.code == 0, newer.err
    assert trailer(infra, "Release-Hold") == ""
    assert status_rows(release, app)["dev"]["held"] is False


def test_the_hold_is_found_far_below_a_shallow_promote_clone(repo, release, tmp_path):
    """An automatic promote clones one commit deep; other environments' commits pile up above the rollback."""
    files = {**INFRA_FILES, **{f"apps/app{i}/values.yaml": VALUES.format(env=f"app{i}") for i in range(3)}}
    infra = make_infra(tmp_path, files)
    repo.commit("feat: first", {"release.yaml": AUTOMATIC.format(infra=infra)})
    with_origin(repo, tmp_path)
    assert release(repo, "run").code == 0
    assert release(repo, "rollback", "dev").code == 0
    held_at = head(infra)
    for n in range(60):  # more than the first deepening step
        hand_edit(infra, f"apps/app{n % 3}/values.yaml", "replicaCount: ", f"replicaCount: {n}", tmp_path)
    rerun = release(repo, "run")
    assert rerun.code == 0, rerun.err
    assert "dev: skipped: dev is held" in rerun.err
    assert git(infra, "rev-list", "--count", f"{held_at}..main") == "60"


def test_unhold_of_an_environment_not_held_changes_nothing(app, release, infra):
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    before = head(infra)
    result = release(app, "unhold", "dev")
    assert result.code == 0, result.err
    assert "dev is not held (its record is" in result.err and result.out == ""
    assert head(infra) == before
    dry = release(app, "unhold", "dev", "--dry-run")
    assert dry.code == 0 and head(infra) == before


def test_unhold_dry_run_says_what_it_would_push(app, release, infra):
    for version in ("1.4.0", "1.5.0"):
        assert release(app, "promote", "dev", "--version", version).code == 0
    assert release(app, "rollback", "dev").code == 0
    before = head(infra)
    dry = release(app, "unhold", "dev", "--dry-run")
    assert dry.code == 0, dry.err
    assert "would push an empty commit to dev's branch:\nchore(dev): release the hold on app" in dry.err
    assert "Release-Hold: false" in dry.err
    assert head(infra) == before


def test_unhold_refuses_a_merge_request_environment_in_one_line(repo, release, infra):
    configure(repo, f"file://{infra}", INFRA_CONFIG_MR)
    result = release(repo, "unhold", "dev")
    assert_one_line_error(result, "merge-request mode", "--mode push")


INFRA_CONFIG_MR = """\
environments:
  - name: dev
    repo: {url}
    mode: merge-request
    forge: gitlab
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


def test_status_and_rollback_over_smart_http_with_a_token(repo, release, infra, tmp_path):
    """Drift reads blobs a blobless clone lacks: fetched by id in one request, through the same credentials."""
    from tests.charts.test_gitbranch import GitHTTP

    token = "glpat-record-s3cr3t"
    git(infra, "config", "uploadpack.allowFilter", "true")
    with GitHTTP(infra.parent, "deployer", token) as server:
        configure(repo, f"{server.url}/{infra.name}")
        env = {"RELEASE_GIT_USER": "deployer", "RELEASE_GIT_TOKEN": token}
        for version in ("1.4.0", "1.5.0"):
            assert release(repo, "promote", "dev", "--version", version, env=env).code == 0
        hand_edit(infra, "apps/dev/app/values.yaml", 'tag: "1.5.0"', 'tag: "1.5.0-hotfix"', tmp_path)
        drifted = release(repo, "status", "--json", env=env)
        rolled = release(repo, "rollback", "dev", env=env)
        after = release(repo, "status", "--json", env=env)
    assert drifted.code == 0, drifted.err
    dev = {row["env"]: row for row in json.loads(drifted.out)}["dev"]
    assert (dev["version"], dev["drift"][0]["path"], dev["drift"][0]["now"]) == ("1.5.0", "image.tag", "1.5.0-hotfix")
    assert rolled.code == 0, rolled.err
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    dev = {row["env"]: row for row in json.loads(after.out)}["dev"]
    assert (dev["version"], dev["held"], dev["drifted"]) == ("1.4.0", True, False)
    assert token not in drifted.err + rolled.err + after.err


# --------------------------------------------------------------------------------------------- drift


def test_a_promote_over_a_hand_edit_stops_and_says_what_changed_until_forced(app, release, infra, tmp_path):
    assert release(app, "promote", "dev", "--version", "1.4.0").code == 0
    hand_edit(infra, "apps/dev/app/values.yaml", 'tag: "1.4.0"', 'tag: "1.4.0-hotfix"', tmp_path)
    edited = head(infra)
    refused = release(app, "promote", "dev", "--version", "1.5.0")
    assert_one_line_error(refused, "edited by hand", "apps/dev/app/values.yaml image.tag", "1.4.0-hotfix", "--force")
    assert head(infra) == edited  # nothing pushed
    forced = release(app, "promote", "dev", "--version", "1.5.0", "--force")
    assert forced.code == 0, forced.err
    assert 'tag: "1.5.0"' in show(infra, "apps/dev/app/values.yaml")
    assert status_rows(release, app)["dev"]["drifted"] is False


def test_the_pipeline_stops_on_a_drifted_environment_before_anything_is_published(repo, release, infra, tmp_path):
    config = CONFIG.replace("  - name: dev\n", "  - name: dev\n    automatic: true\n", 1)
    configure(repo, f"file://{infra}", config)
    assert release(repo, "promote", "dev", "--version", "1.4.0").code == 0
    hand_edit(infra, "overlays/dev/kustomization.yaml", "newTag: 1.4.0", "newTag: 1.3.9", tmp_path)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.commit("feat: more", {"more.txt": "x"})
    repo.git("push", "-q", "origin", "main")
    run = release(repo, "run", "--skip", "test,images,charts")
    assert_one_line_error(run, "environment dev", "overlays/dev/kustomization.yaml", "1.3.9")
    assert git(origin, "tag", "-l") == ""  # preflight stopped it: no tag, no claim
    assert git(origin, "for-each-ref", "refs/release-claims") == ""
