"""Any released version is promotable from anywhere: its values come from what was published for it.

Two real releases (0.1.0, 0.2.0) go through `release run`: a FROM scratch image built by Podman and pushed to the
loopback registry, a chart published there as OCI, the tags pushed to a bare origin. Then promotes from a fresh
clone at the tag (no .release/), from a clone without tags, and of an older version, are read back from the infra
repository and checked against the registry's own digests. Versions that were not released, or not wholly, are
refused before anything is written. `release run` checks the environments before it publishes anything.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.gitops.test_promote import git, head, make_infra, show
from tests.services import Registry, scratch_context

VALUES = """\
# staging — written by the release pipeline
image:
  repository: {repository}
  tag: "0.0.0"  # pinned by CI
  digest: ""
"""
HELM_RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
spec:
  chart:
    spec:
      chart: app
      version: 0.0.0
"""
OCI_REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata:
  name: app-chart
spec:
  url: oci://{charts}/app
  ref:
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
"""

CONFIG = """\
images:
  - name: app
    repository: {repository}
charts:
  - path: charts/app
    values: {{image.digest: "{{image.app.digest}}"}}
    publish: ["oci://{charts}"]
environments:
  - name: staging
    repo: file://{infra}
    updates:
      - {{file: apps/staging/values.yaml, set: {{image.tag: "{{version}}", image.digest: "{{image.app.digest}}"}}}}
      - file: clusters/staging/app.yaml
        set: {{spec.chart.spec.version: "{{chart.app.version}}"}}
      - file: clusters/staging/source.yaml
        set: {{spec.ref.digest: "{{chart.app.digest}}"}}
"""


@dataclass
class World:
    repo: Repo
    origin: Path
    infra: Path
    repository: str  # the image's, host:port/path
    charts: str  # the charts' OCI base, host:port/path
    env: dict[str, str]
    registry: Registry

    def image_digest(self, tag: str) -> str:
        return self.registry.manifest(self.repository.split("/", 1)[1], tag).headers["Docker-Content-Digest"]

    def chart_digest(self, version: str) -> str:
        path = f"{self.charts.split('/', 1)[1]}/app"
        return self.registry.manifest(path, version).headers["Docker-Content-Digest"]

    def clone(self, name: str, *args: str) -> Repo:
        path = self.repo.path.parent / name
        url = f"file://{self.origin}"  # not a local path: --depth applies
        subprocess.run(["git", "-c", "advice.detachedHead=false", "clone", "-q", *args, url, str(path)], check=True)
        return Repo(path)


def unique(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


def app_files(repo: Repo, content: str) -> None:
    scratch_context(repo.path, {"hello.txt": content})
    repo.write(".gitignore", ".release/\n")  # the State stays out of the history, as in CI
    repo.write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.0.1\nappVersion: 0.0.1\n")
    repo.write("charts/app/values.yaml", "image:\n  digest: none\n")
    repo.write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n")


def infra_files(repository: str, charts: str) -> dict[str, str]:
    return {
        "apps/staging/values.yaml": VALUES.format(repository=repository),
        "clusters/staging/app.yaml": HELM_RELEASE,
        "clusters/staging/source.yaml": OCI_REPOSITORY.format(charts=charts),
    }


@pytest.fixture
def world(repo, release, tmp_path, registry, podman, request) -> World:  # type: ignore[no-untyped-def]
    """Two releases, 0.1.0 and 0.2.0, each published by `release run` (images, chart, tag on origin)."""
    name = unique(request)
    repository, charts = f"{registry.host}/resolve/{name}/app", f"{registry.host}/resolve/{name}/charts"
    infra = make_infra(tmp_path, infra_files(repository, charts))
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    env = {
        "DOCKER_HOST": podman.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
    }
    config = CONFIG.format(repository=repository, charts=charts, infra=infra)
    for number, message in enumerate(("feat: first", "feat: second"), start=1):
        app_files(repo, f"release {number}\n")
        repo.write("release.yaml", config)
        repo.git("add", "-A")
        repo.commit(message)
        result = release(repo, "run", env=env)
        assert result.code == 0, result.err
    assert git(origin, "tag", "--list") == "v0.1.0\nv0.2.0"
    repo.git("push", "-q", "origin", "main")  # the tags are the pipeline's; the branch, the developers'
    return World(repo, origin, infra, repository, charts, env, registry)


def staging(world: World) -> dict[str, str]:
    """What the staging files hold: image tag and digest, the HelmRelease's chart version, the chart's digest."""
    values = show(world.infra, "apps/staging/values.yaml")
    return {
        "tag": found(r'tag: "([^"]*)"', values),
        "digest": found(r'digest: "([^"]*)"', values),
        "chart": found(r"version: (\S+)", show(world.infra, "clusters/staging/app.yaml")),
        "chart_digest": found(r"digest: (\S+)", show(world.infra, "clusters/staging/source.yaml")),
    }


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return match[1]


def published(world: World, version: str) -> dict[str, str]:
    return {
        "tag": version,
        "digest": world.image_digest(version),
        "chart": version,
        "chart_digest": world.chart_digest(version),
    }


def test_a_fresh_clone_at_the_tag_promotes_that_release(world, release):
    fresh = world.clone("fresh", "--branch", "v0.2.0")  # a detached HEAD at the tag, no .release/
    assert not (fresh.path / ".release").exists()
    result = release(fresh, "promote", "staging", env=world.env)
    assert result.code == 0, result.err
    assert staging(world) == published(world, "0.2.0")
    assert world.image_digest("0.2.0") != world.image_digest("0.1.0")  # two releases, two images
    assert git(world.infra, "log", "-1", "--format=%(trailers:key=Release-Version,valueonly)", "main") == "0.2.0"
    tagged = git(world.origin, "rev-parse", "v0.2.0^{commit}")
    assert git(world.infra, "log", "-1", "--format=%(trailers:key=Release-Source,valueonly)", "main") == tagged


def test_an_older_version_is_promoted_with_its_own_values_everywhere(world, release):
    # the release repo's State is 0.2.0's: none of it may leak into 0.1.0 (image tag of one, chart of the other)
    result = release(world.repo, "promote", "staging", "--version", "0.1.0", env=world.env)
    assert result.code == 0, result.err
    assert staging(world) == published(world, "0.1.0")
    newer = release(world.repo, "promote", "staging", env=world.env)  # no --version: the State's, 0.2.0
    assert newer.code == 0, newer.err
    assert staging(world) == published(world, "0.2.0")


def test_a_shallow_clone_without_tags_asks_origin_for_the_tag(world, release):
    bare = world.clone("shallow", "--depth", "1", "--no-tags")  # as CI clones: 0.1.0's commit is not here
    assert bare.git("tag", "--list") == ""
    older = git(world.origin, "rev-parse", "v0.1.0^{commit}")
    assert subprocess.run(["git", "cat-file", "-e", older], cwd=bare.path, capture_output=True).returncode != 0
    result = release(bare, "promote", "staging", "--version", "v0.1.0", env=world.env)
    assert result.code == 0, result.err
    assert staging(world) == published(world, "0.1.0")


def test_the_state_of_the_version_is_used_without_asking_the_registry(world, release):
    wrong = {**world.env, "RELEASE_REGISTRY_PASSWORD": "not-the-password"}
    from_state = release(world.repo, "promote", "staging", env=wrong)  # .release/state.json is 0.2.0's, complete
    assert from_state.code == 0, from_state.err
    assert staging(world) == published(world, "0.2.0")
    asked = release(world.repo, "promote", "staging", "--version", "0.1.0", env=wrong)  # not in the State
    assert_one_line_error(asked, "rejected the credentials")


def test_a_version_never_released_is_refused_naming_its_tag(world, release):
    before = head(world.infra)
    result = release(world.repo, "promote", "staging", "--version", "9.9.9", env=world.env)
    assert_one_line_error(result, "9.9.9 was never released", "no tag v9.9.9 here or on origin")
    assert head(world.infra) == before


def test_a_tag_whose_image_is_gone_from_the_registry_is_refused_naming_the_image(world, release):
    path = world.repository.split("/", 1)[1]
    gone = world.registry.get(f"/v2/{path}/manifests/{world.image_digest('0.1.0')}", method="DELETE")
    assert gone.status_code == 202, gone.text
    before = head(world.infra)
    result = release(world.repo, "promote", "staging", "--version", "0.1.0", env=world.env)
    assert_one_line_error(result, "0.1.0 was not fully published", f"image {world.repository}:0.1.0 is not in")
    assert head(world.infra) == before


# ----------------------------------------------------------------------------------------- preflight


@pytest.mark.parametrize(
    ("update", "needles"),
    [
        (
            '{file: apps/staging/values.yaml, set: {spec.values.image.repository: "{image.app.repository}"}}',
            ["environment staging", "apps/staging/values.yaml", "no spec.values.image.repository"],
        ),
        (
            '{file: clusters/staging/app.yaml, set: {spec.chart.spec.version: "{chart.podinfo.version}"}}',
            ["environment staging", "clusters/staging/app.yaml", "spec.chart.spec.version", "{chart.podinfo.version}"],
        ),
        (
            '{file: apps/prod/values.yaml, set: {image.tag: "{version}"}}',
            ["environment staging", "apps/prod/values.yaml does not exist"],
        ),
    ],
    ids=["wrong-path", "unknown-field", "missing-file"],
)
def test_run_checks_the_environments_before_publishing_anything(
    repo, release, tmp_path, registry, podman, request, update, needles
):
    name = unique(request)
    repository, charts = f"{registry.host}/preflight/{name}/app", f"{registry.host}/preflight/{name}/charts"
    infra = make_infra(tmp_path, infra_files(repository, charts))
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    config = CONFIG.format(repository=repository, charts=charts, infra=infra).replace(
        "    repo: file://", "    automatic: true\n    repo: file://"
    )
    app_files(repo, "hello\n")
    repo.write("release.yaml", config + f"      - {update}\n")
    repo.git("add", "-A")
    repo.commit("feat: first")
    env = {"DOCKER_HOST": podman.base_url, "RELEASE_REGISTRY_USER": registry.user}
    result = release(repo, "run", env={**env, "RELEASE_REGISTRY_PASSWORD": registry.password})
    assert_one_line_error(result, *needles)
    assert "[plan]" not in result.err  # no stage ran
    assert git(origin, "for-each-ref") == ""  # no tag, no claim
    assert repo.git("tag", "--list") == ""
    for path in (repository.split("/", 1)[1], f"{charts.split('/', 1)[1]}/app"):
        assert registry.get(f"/v2/{path}/tags/list").status_code == 404  # nothing pushed
    assert git(infra, "rev-list", "--count", "main") == "1"


def test_run_checks_that_the_infra_repository_and_branch_exist(repo, release, tmp_path):
    infra = make_infra(tmp_path, {"apps/dev/values.yaml": "image:\n  tag: 1.0.0\n"})
    config = (
        "environments:\n  - name: dev\n    repo: file://{repo}\n    branch: {branch}\n    automatic: true\n"
        '    updates:\n      - {{file: apps/dev/values.yaml, set: {{image.tag: "{{version}}"}}}}\n'
    )
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.commit("feat: first", {"release.yaml": config.format(repo=infra, branch="production")})
    repo.git("remote", "add", "origin", str(origin))
    no_branch = release(repo, "run")
    assert_one_line_error(no_branch, "environment dev", "has no branch production")
    repo.commit("fix: the branch", {"release.yaml": config.format(repo=tmp_path / "nowhere.git", branch="main")})
    no_repo = release(repo, "run")
    assert_one_line_error(no_repo, "environment dev", "nowhere.git")
    assert git(origin, "for-each-ref") == ""


def test_a_dry_run_shows_the_promote_with_placeholder_digests(repo, release, tmp_path, registry, podman, request):
    name = unique(request)
    repository, charts = f"{registry.host}/dry/{name}/app", f"{registry.host}/dry/{name}/charts"
    infra = make_infra(tmp_path, infra_files(repository, charts))
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    config = CONFIG.format(repository=repository, charts=charts, infra=infra)
    config = config.replace("    repo: file://", "    automatic: true\n    repo: file://")
    app_files(repo, "hello\n")
    repo.write("release.yaml", config.replace('    values: {image.digest: "{image.app.digest}"}\n', ""))
    repo.git("add", "-A")
    repo.commit("feat: first")
    env = {"DOCKER_HOST": podman.base_url, "RELEASE_REGISTRY_USER": registry.user}
    result = release(repo, "run", "--dry-run", env={**env, "RELEASE_REGISTRY_PASSWORD": registry.password})
    assert result.code == 0, result.err
    assert f'+  digest: "<digest of {repository}:0.1.0 once pushed>"' in result.err
    assert "+      version: 0.1.0" in result.err
    assert f"+    digest: <digest of {charts}/app:0.1.0 once pushed>" in result.err
    assert git(origin, "for-each-ref") == "" and git(infra, "rev-list", "--count", "main") == "1"
    assert registry.get(f"/v2/{repository.split('/', 1)[1]}/tags/list").status_code == 404


def test_a_monorepo_component_is_promoted_from_its_own_tag(repo, release, tmp_path):
    infra = make_infra(tmp_path, {"apps/dev/values.yaml": "image:\n  tag: 1.0.0\n"})
    config = (
        "components:\n  - {name: api, path: api}\n  - {name: web, path: web}\n"
        f"environments:\n  - name: dev\n    repo: file://{infra}\n"
        '    updates:\n      - {file: apps/dev/values.yaml, set: {image.tag: "{version}"}}\n'
    )
    repo.commit("feat: both", {"release.yaml": config, "api/main.go": "package main\n", "web/index.html": "hi\n"})
    repo.tag("api-v1.2.0")
    repo.tag("web-v3.0.0")
    ambiguous = release(repo, "promote", "dev", "--version", "1.2.0")
    assert_one_line_error(ambiguous, "2 components", "--component NAME")
    assert_one_line_error(
        release(repo, "promote", "dev", "--component", "web", "--version", "1.2.0"), "no tag web-v1.2.0"
    )
    result = release(repo, "promote", "dev", "--component", "api", "--version", "1.2.0")
    assert result.code == 0, result.err
    assert show(infra, "apps/dev/values.yaml") == "image:\n  tag: 1.2.0"
