"""The whole life of two environments, as a release day goes (issue 12), through the CLI only.

release 1.0.0 → dev promoted by the pipeline, prod by a merge request (merged by a person) → release 1.1.0 →
rollback dev → the pipeline reruns (no redeploy: dev is held) → status → a fresh clone at the 1.1.0 tag promotes dev
again (no State there) → status.

The infra repository has shapes met in real ones: a Kustomize overlay without `images:` whose `apiVersion`/`kind`
come last (argoproj/argocd-example-apps' kustomize-guestbook), a Flux HelmRelease whose `spec.values` block the
release creates (fluxcd/flux2-kustomize-helm-example's staging values hold only an httpRoute), and an Argo CD
Application with `targetRevision` and `valuesObject`. `kubectl kustomize` renders the overlay at each step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.fakes.forge import DEFAULT_GITLAB_TOKEN
from tests.gitops.test_promote import git, head, make_infra, show

KUSTOMIZATION = """\
namePrefix: dev-

resources:
- deployment.yaml
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/team/web:0.9.0
"""
HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: web
spec:
  chart:
    spec:
      version: ">=1.0.0-alpha"
  values:
    httpRoute:
      hostnames:
        - web.dev
"""
APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-prod
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example.com/team/charts.git
    targetRevision: 0.9.0
    path: web
    helm:
      valuesObject:
        image:
          tag: 0.9.0 # prod
  destination:
    server: https://kubernetes.default.svc
    namespace: web
"""
FILES = {
    "dev/kustomization.yaml": KUSTOMIZATION,
    "dev/deployment.yaml": DEPLOYMENT,
    "dev/helmrelease.yaml": HELMRELEASE,
    "prod/application.yaml": APPLICATION,
}
CONFIG = """\
versioning: {{initial: 1.0.0}}
notes: {{changelog: false}}
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    updates:
      - {{file: dev/kustomization.yaml, image: {{name: registry.example.com/team/web, newTag: "{{version}}"}}}}
      - file: dev/helmrelease.yaml
        create: true
        set: {{spec.values.image.tag: "{{version}}"}}
  - name: prod
    repo: file://{infra}
    mode: merge-request
    forge: gitlab
    api: {api}/api/v4
    project: team/infra
    updates:
      - file: prod/application.yaml
        set: {{spec.source.targetRevision: "{{version}}", spec.source.helm.valuesObject.image.tag: "{{version}}"}}
"""
TOKEN = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN}


def rendered_image(infra: Path, tmp_path: Path) -> str:
    checkout = tmp_path / f"render-{head(infra)[:8]}"
    subprocess.run(["git", "clone", "-q", str(infra), str(checkout)], check=True)
    out = subprocess.run(
        ["kubectl", "kustomize", str(checkout / "dev")], check=True, capture_output=True, text=True
    ).stdout
    (line,) = [line for line in out.splitlines() if "image:" in line]
    return line.split("image:")[1].strip()


def merge_by_hand(infra: Path, branch: str, tmp_path: Path) -> None:
    """What a person's click on "Merge" does: the release branch lands on main (fast-forward)."""
    work = tmp_path / "merger"
    subprocess.run(["git", "clone", "-q", str(infra), str(work)], check=True)
    git(work, "merge", "-q", "--ff-only", f"origin/{branch}")
    git(work, "push", "-q", "origin", "main")


def status(release, where: Repo | Path) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    shown = release(where, "status", "--json", env=TOKEN)
    assert shown.code == 0, shown.err
    return {row["env"]: row for row in json.loads(shown.out)}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_a_release_day_promote_rollback_rerun_status_and_promote_again(repo, release, forge, tmp_path):
    infra = make_infra(tmp_path, FILES)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.commit("feat: first", {"release.yaml": CONFIG.format(infra=infra, api=forge.url), "web.txt": "1"})
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    stages = ("run", "--skip", "test,images,charts")

    # 1.0.0: the pipeline promotes dev; prod goes through a merge request that a person merges.
    first = release(repo, *stages, env=TOKEN)
    assert first.code == 0, first.err
    assert git(origin, "tag", "-l") == "v1.0.0"
    assert rendered_image(infra, tmp_path) == "registry.example.com/team/web:1.0.0"
    dev_at_1_0 = {name: show(infra, name) for name in ("dev/kustomization.yaml", "dev/helmrelease.yaml")}
    assert "    image:\n      tag: 1.0.0" in dev_at_1_0["dev/helmrelease.yaml"]  # the block the release created
    opened = release(repo, "promote", "prod", "--version", "1.0.0", env=TOKEN)
    assert opened.code == 0, opened.err
    (mr,) = forge.merge_requests.mrs["7"]  # the fake knows team/infra as project 7
    assert mr["source_branch"] == "release/prod/1.0.0" and mr["force_remove_source_branch"] is True
    assert status(release, repo)["prod"]["merge_request"]["version"] == "1.0.0"
    merge_by_hand(infra, "release/prod/1.0.0", tmp_path)
    mr["state"] = "merged"
    assert "targetRevision: 1.0.0" in show(infra, "prod/application.yaml")

    # 1.1.0: dev follows.
    repo.commit("feat: second", {"web.txt": "2"})
    second = release(repo, *stages, env=TOKEN)
    assert second.code == 0, second.err
    assert rendered_image(infra, tmp_path) == "registry.example.com/team/web:1.1.0"

    # Broken: roll dev back. The files are 1.0.0's again, byte for byte, and dev is held.
    back = release(repo, "rollback", "dev")
    assert back.code == 0, back.err
    assert {name: show(infra, name) for name in dev_at_1_0} == dev_at_1_0
    assert rendered_image(infra, tmp_path) == "registry.example.com/team/web:1.0.0"
    rolled = head(infra)

    # The pipeline reruns on the same commit: it must not redeploy 1.1.0 over the rollback.
    rerun = release(repo, *stages, env=TOKEN)
    assert rerun.code == 0, rerun.err
    assert head(infra) == rolled
    assert "held" in rerun.err and "release unhold dev" in rerun.err

    rows = status(release, repo)
    assert (rows["dev"]["version"], rows["dev"]["held"], rows["dev"]["rollback_from"]) == ("1.0.0", True, "1.1.0")
    assert (rows["prod"]["version"], rows["prod"]["held"], rows["prod"]["drifted"]) == ("1.0.0", False, False)
    assert rows["prod"]["merge_request"] is None

    # Fixed elsewhere, or a false alarm: a person promotes 1.1.0 again, from a fresh clone at the tag (no State).
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", "--branch", "v1.1.0", str(origin), str(fresh)], check=True)
    assert not (fresh / ".release").exists()
    again = release(fresh, "promote", "dev", "--version", "1.1.0", env=TOKEN)
    assert again.code == 0, again.err
    assert rendered_image(infra, tmp_path) == "registry.example.com/team/web:1.1.0"
    rows = status(release, fresh)
    assert (rows["dev"]["version"], rows["dev"]["held"], rows["dev"]["drifted"]) == ("1.1.0", False, False)
    assert rows["dev"]["source"] == git(origin, "rev-parse", "v1.1.0^{commit}")
