"""The GitLab templates run by gitlab-ci-local (4.66.1, shell executor) against real services on loopback.

What runs is what a user writes: the app's `.gitlab-ci.yml` is the README snippet, verbatim. The include styles,
as gitlab-ci-local 4.66.1 resolves them:
- `include: component: $CI_SERVER_FQDN/tools/release-ci/release@1.4.0` works: gitlab-ci-local clones the
  component project `tools/release-ci` at the tag `1.4.0` from the app's own git server (the host and port of
  the app's `origin`, as GitLab serves components from its own instance) and reads `templates/release.yml`;
  inputs are interpolated and type-checked (a wrong type stops the pipeline with GitLab's message). It does not
  check input names (GitLab refuses an unknown input; tests/test_ci_templates.py checks that).
- `include: project: tools/release, ref: "1.4.0", file: ...` (the legacy snippet) is cloned the same way.
- `trigger: include: - artifact:` (the monorepo template's child pipeline) is run as a child pipeline.
So the git server (tests/gitserver.py, smart HTTP with Basic auth) holds `tools/release-ci` (ci-templates/ as its
root, tagged 1.4.0), `tools/release` (this repository's layout), the app's origin and the GitOps infra repo.
gitlab-ci-local's own clones of the template projects authenticate through a git credential store that matches
those two paths only (credential.useHttpPath), so release's own pushes to the app and the infra repo must use
its RELEASE_GIT_USER / RELEASE_GIT_TOKEN, passed, like every credential, as CI/CD variables (gitlab-ci-local's
`.gitlab-ci-local-variables.yml`), never on a command line.

Jobs run with `--force-shell-executor` (the snippet's `image:` is ignored) and `--shell-isolation` (each job in
its own copy of the repo, with only the artifacts of the jobs it needs), `release` from this project's virtualenv
through the PATH variable. The registry and Podman are the session services; the GitLab release object goes to
the shared fake forge (CI_API_V4_URL).
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci.test_templates import CI_TEMPLATES, PROJECT_PIPELINE, ROOT, readme_snippet, tool
from tests.gitserver import GitHTTP

VENV_BIN = str(Path(sys.executable).parent)
GIT_USER, GIT_PASSWORD = "ci-bot", "git-password-51c7"
STAGES = ("plan", "test", "images", "charts", "publish", "notes", "promote")
RELEASE_JOBS = [f"release-{stage}" for stage in STAGES]
# the component's jobs with `environments: [dev]` (the README snippet): promote is one job per environment
COMPONENT_JOBS = [*RELEASE_JOBS[:-1], "release-promote: [dev]"]

pytestmark = pytest.mark.timeout(600)


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


# ------------------------------------------------------------------------------------------------ the git server


@dataclass
class Server:
    http: GitHTTP
    root: Path
    credentials: Path  # a git credential store for the template projects only

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def fqdn(self) -> str:
        return self.url.removeprefix("http://")

    def unique(self, name: str) -> str:
        """`name`, or `name-N` when a repository of that name is already served (the server lives all session)."""
        count = 0
        while (self.root / "team" / f"{name}{f'-{count}' if count else ''}.git").exists():
            count += 1
        return f"{name}-{count}" if count else name

    def bare(self, path: str) -> Path:
        """A new bare repository served at {url}/{path}.git, with what partial clones need."""
        bare = self.root / f"{path}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        git(bare, "config", "uploadpack.allowFilter", "true")
        git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
        git(bare, "config", "http.receivepack", "true")
        return bare

    def publish(self, path: str, files: dict[str, Path], tag: str, work: Path) -> None:
        """A project at `path` whose tree is `files` (path in repo → source file or dir), tagged `tag`."""
        bare = self.bare(path)
        subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
        for target, source in files.items():
            if source.is_dir():
                shutil.copytree(source, work / target, dirs_exist_ok=True)
            else:
                (work / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, work / target)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"release {tag}")
        git(work, "tag", tag)
        git(work, "push", "-q", str(bare), "main", tag)


@pytest.fixture(scope="session")
def ci_version() -> str:
    """The component version the README snippets name (one for all of them)."""
    refs = {yaml.safe_load(readme_snippet("gitlab-component"))["include"][0]["component"].rsplit("@", 1)[1]}
    refs.add(yaml.safe_load(readme_snippet("gitlab-legacy"))["include"][0]["ref"])
    assert len(refs) == 1, refs
    return refs.pop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, ci_version: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("gitlab")
    work = tmp_path_factory.mktemp("template-projects")
    with GitHTTP(root / "repos", GIT_USER, GIT_PASSWORD) as http:
        (root / "repos").mkdir()
        credentials = root / "git-credentials"
        host = http.url.removeprefix("http://")
        credentials.write_text(
            "".join(f"http://{GIT_USER}:{GIT_PASSWORD}@{host}/{p}.git\n" for p in ("tools/release-ci", "tools/release"))
        )
        credentials.chmod(0o600)
        server = Server(http, root / "repos", credentials)
        # The component project: ci-templates/ as its root (templates/<name>.yml), as README says to publish it.
        server.publish("tools/release-ci", {".": CI_TEMPLATES}, ci_version, work / "release-ci")
        # This repository's layout, for `include: project: tools/release`.
        server.publish("tools/release", {"ci-templates": CI_TEMPLATES}, ci_version, work / "release")
        yield server


# ------------------------------------------------------------------------------------------------ the demo app


@dataclass
class App:
    path: Path  # the working clone gitlab-ci-local runs in
    origin: Path  # its bare origin on the git server
    infra: Path  # the GitOps repo promote writes to
    prefix: str  # the registry namespace of its image and chart

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")


def make_app(server: Server, tmp_path: Path, name: str, registry_host: str, pipeline: str) -> App:
    """examples/app with examples/infra, both on the git server; `pipeline` becomes its .gitlab-ci.yml."""
    name = server.unique(name)
    infra = server.bare(f"team/{name}-infra")
    seed = tmp_path / "infra-seed"
    shutil.copytree(ROOT / "examples" / "infra", seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "chore: initial infra")
    git(seed, "push", "-q", str(infra), "main")

    origin = server.bare(f"team/{name}")
    seed = tmp_path / "app-seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    for item in (ROOT / "examples" / "app").iterdir():
        if item.name not in ("history.txt", "CHANGELOG.md"):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, seed / item.name)
    config = (seed / "release.yaml").read_text()
    config = config.replace("localhost:5000/demo/app", f"{registry_host}/{name}/app")
    config = config.replace("oci://localhost:5000/charts", f"oci://{registry_host}/{name}/charts")
    config = config.replace("file:///DEMO_INFRA", f"{server.url}/team/{name}-infra.git")
    assert registry_host in config and server.url in config
    (seed / "release.yaml").write_text(config)
    (seed / ".gitlab-ci.yml").write_text(pipeline)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "feat: the demo app")
    git(seed, "tag", "-a", "v0.1.0", "-m", "v0.1.0")
    (seed / "src" / "hello.txt").write_text("bonjour\n")
    git(seed, "commit", "-q", "-am", "feat(greeting): say hello in French")
    git(seed, "push", "-q", str(origin), "main", "--tags")

    work = tmp_path / "app"
    authed = server.url.replace("http://", f"http://{GIT_USER}:{GIT_PASSWORD}@")
    git(tmp_path, "clone", "-q", f"{authed}/team/{name}.git", str(work))
    git(work, "remote", "set-url", "origin", f"{server.url}/team/{name}.git")  # no credentials in the clone
    # gitlab-ci-local hands reports (the dotenv) to later jobs in this folder of the project, where GitLab hands
    # them as variables: ignored, as a project that runs gitlab-ci-local ignores it, so the tree stays clean
    exclude = work / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + ".gitlab-ci-reports/\n")
    return App(work, origin, infra, name)


def project_variables(app: App, values: dict[str, str]) -> None:
    """The project's CI/CD variables, where gitlab-ci-local reads them (kept out of git and of command lines)."""
    (app.path / ".gitlab-ci-local-variables.yml").write_text(yaml.safe_dump(values))
    exclude = app.path / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + ".gitlab-ci-local-variables.yml\n")


def with_git_auth(server: Server) -> dict[str, str]:
    """The environment for a git command of the test itself that talks to the server (a header, no URL creds)."""
    basic = base64.b64encode(f"{GIT_USER}:{GIT_PASSWORD}".encode()).decode()
    return {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{server.url}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


@dataclass
class Pipeline:
    code: int
    out: str  # stdout and stderr
    stdout: str

    def passed(self) -> list[str]:
        return self._jobs("PASS ")

    def failed(self) -> list[str]:
        return self._jobs("FAIL ")

    def _jobs(self, mark: str) -> list[str]:
        """Job names as gitlab-ci-local's summary prints them (a matrix job: `release-promote: [dev]`)."""
        return [line.strip()[len(mark) :].strip() for line in self.out.splitlines() if line.strip().startswith(mark)]


def gitlab_ci_local(app_dir: Path, server: Server, *args: str, timeout: float = 540) -> Pipeline:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_", "RELEASE_", "DOCKER_"))}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_CONFIG_COUNT="2",
        GIT_CONFIG_KEY_0="credential.helper",
        GIT_CONFIG_VALUE_0=f"store --file={server.credentials}",
        GIT_CONFIG_KEY_1="credential.useHttpPath",
        GIT_CONFIG_VALUE_1="true",
        FORCE_COLOR="0",
        GCL_IGNORE_PREDEFINED_VARS="CI_API_V4_URL,CI_PROJECT_ID",  # the fake forge stands in for GitLab's API
        # `--variable PATH=…` does not reach child pipelines: their jobs find `release` through the runner's PATH.
        PATH=f"{VENV_BIN}:{os.environ['PATH']}",
    )
    done = subprocess.run(
        [tool("gitlab-ci-local"), "--no-color", *args],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Pipeline(done.returncode, done.stdout + done.stderr, done.stdout)


SHELL = ("--force-shell-executor", "--shell-isolation", "--variable", f"PATH={VENV_BIN}:{os.environ['PATH']}")
MERGE_REQUEST = (
    "--variable", "CI_MERGE_REQUEST_IID=7", "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
    "--unset-variable", "CI_COMMIT_BRANCH",
)  # fmt: skip


def listed(app_dir: Path, server: Server, *args: str) -> list[str]:
    """The jobs a pipeline would run (gitlab-ci-local --list-csv: rules evaluated, when:never left out)."""
    done = gitlab_ci_local(app_dir, server, "--list-csv", *args)
    assert done.code == 0, done.out
    rows = list(csv.reader(io.StringIO(done.stdout[done.stdout.index("name;") :]), delimiter=";"))
    return [row[0] for row in rows[1:] if row]


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def services_env(registry: Any, podman: Any, forge: Any) -> dict[str, str]:
    from tests.fakes.forge import DEFAULT_JOB_TOKEN

    # The shell runner's engine is Podman on its own unix socket: a project variable, which wins over the
    # `engine: socket` job variable (as in GitLab).
    return {
        "DOCKER_HOST": podman.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
        "RELEASE_GIT_USER": GIT_USER,
        "RELEASE_GIT_TOKEN": GIT_PASSWORD,
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_JOB_TOKEN": DEFAULT_JOB_TOKEN,
    }


def dotenv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


# ------------------------------------------------------------------------------------------------ component


@pytest.mark.slow
def test_component_pipeline_releases_the_demo_app_end_to_end(server, tmp_path, registry, forge, services_env):
    app = make_app(server, tmp_path, "glcl-component", registry.host, readme_snippet("gitlab-component"))
    project_variables(app, services_env)
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 0, done.out
    assert done.passed() == COMPONENT_JOBS, done.out
    assert "release-promote: [dev] environment: { name: dev" in done.out  # the GitLab environment of the job

    env = dotenv(app.path / "release.env")  # the last job's dotenv report (artifacts are copied back)
    assert env["RELEASE_VERSION"] == "0.2.0" and env["RELEASE_TAG"] == "v0.2.0"
    assert env["RELEASE_RELEASED"] == "true" and env["RELEASE_PREVIOUS_VERSION"] == "0.1.0"
    digest = env["RELEASE_IMAGE_DEMO_APP_DIGEST"]
    assert digest.startswith("sha256:")

    # the image: every tag in the registry, the version tag on the digest the dotenv reports
    tags = registry.get(f"/v2/{app.prefix}/app/tags/list").json()["tags"]
    assert {"0.2.0", "0.2", "0", f"sha-{app.head()[:7]}"} <= set(tags)
    assert registry.manifest(f"{app.prefix}/app", "0.2.0", method="HEAD").headers["Docker-Content-Digest"] == digest
    # the chart: pushed as OCI, its values pointing at that digest
    manifest = registry.manifest(f"{app.prefix}/charts/demo-app", "0.2.0").json()
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    assert chart_values(registry, f"{app.prefix}/charts/demo-app", manifest)["image"]["digest"] == digest
    # the tag, pushed last, on the commit the pipeline ran for
    assert git(app.origin, "rev-parse", "v0.2.0^{commit}") == app.head()
    # the infra commit: only the values changed, the version and the digest
    assert git(app.infra, "log", "-1", "--format=%s", "main") == "chore(dev): deploy demo-app 0.2.0"
    values = git(app.infra, "show", "main:apps/dev/demo-app/values.yaml")
    assert 'tag: "0.2.0"  # mis à jour à chaque livraison' in values and digest in values
    # the GitLab release object
    (post,) = forge.calls("POST", r"/api/v4/projects/42/releases$")
    assert post.json()["tag_name"] == "v0.2.0"
    assert "say hello in French" in post.json()["description"]

    # The tag pipeline that pushing the tag starts: every job runs, finds its work done, changes nothing.
    infra_head, tags_before = git(app.infra, "rev-parse", "main"), git(app.origin, "tag", "-l")
    git(app.path, "fetch", "-q", "--tags", env=with_git_auth(server))
    git(app.path, "checkout", "-q", "v0.2.0")
    again = gitlab_ci_local(
        app.path, server, *SHELL, "--variable", "CI_COMMIT_TAG=v0.2.0", "--unset-variable", "CI_COMMIT_BRANCH"
    )
    assert again.code == 0, again.out
    assert again.passed() == COMPONENT_JOBS
    assert git(app.infra, "rev-parse", "main") == infra_head
    assert git(app.origin, "tag", "-l") == tags_before
    assert dotenv(app.path / "release.env")["RELEASE_VERSION"] == "0.2.0"


def chart_values(registry: Any, name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    layer = registry.blob(name, manifest["layers"][0]["digest"]).content
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        member = tar.extractfile("demo-app/values.yaml")
        assert member is not None
        return dict(yaml.safe_load(member.read()))


def test_merge_request_pipeline_runs_the_plan_job_only(server, tmp_path, registry):
    app = make_app(server, tmp_path, "glcl-mr", registry.host, readme_snippet("gitlab-component"))
    project_variables(app, {"RELEASE_GIT_USER": GIT_USER, "RELEASE_GIT_TOKEN": GIT_PASSWORD})
    done = gitlab_ci_local(app.path, server, *SHELL, *MERGE_REQUEST)
    assert done.code == 0, done.out
    assert done.passed() == ["release-plan"]
    assert "next     0.2.0" in done.out  # the plan, printed in the job log
    assert git(app.origin, "tag", "-l") == "v0.1.0"
    assert registry.get(f"/v2/{app.prefix}/app/tags/list").status_code == 404


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ('dry_run: "yes"', "`dry_run` input: provided value is not a boolean."),
        ("environments: dev", "`environments` input: provided value is not a array."),
        ("promote_when: always", "`promote_when` input: `always` cannot be used because it is not in the list"),
    ],
)
def test_a_wrong_input_stops_the_pipeline_before_any_job(server, tmp_path, registry, ci_version, inputs, message):
    snippet = readme_snippet("gitlab-component").replace("environments: [dev]", inputs)
    app = make_app(server, tmp_path, "glcl-wrong", registry.host, snippet)
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 1
    assert "This GitLab CI configuration is invalid: `" in done.out, done.out
    assert f"tools/release-ci/{ci_version}/templates/release.yml`: {message}" in done.out, done.out
    assert "starting shell" not in done.out  # no job started
    assert git(app.origin, "tag", "-l") == "v0.1.0"


# ------------------------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("case", "args", "expected"),
    [
        ("default branch", (), COMPONENT_JOBS),
        ("merge request", MERGE_REQUEST, ["release-plan"]),
        ("tag", ("--variable", "CI_COMMIT_TAG=v9.9.9", "--unset-variable", "CI_COMMIT_BRANCH"), COMPONENT_JOBS),
        (
            "other branch",
            ("--variable", "CI_COMMIT_BRANCH=feature/x", "--variable", "CI_COMMIT_REF_NAME=feature/x"),
            [],
        ),
    ],
)
def test_rules_of_the_component_and_the_legacy_jobs(server, tmp_path, registry, case, args, expected):
    for snippet in ("gitlab-component", "gitlab-legacy"):
        app = make_app(server, tmp_path / snippet, f"glcl-rules-{snippet}", registry.host, readme_snippet(snippet))
        legacy = [RELEASE_JOBS[-1] if job == COMPONENT_JOBS[-1] else job for job in expected]
        assert listed(app.path, server, *args) == (expected if snippet == "gitlab-component" else legacy), snippet


def test_this_projects_pipeline_tests_then_releases(server, tmp_path):
    """The project's own .gitlab-ci.yml includes the component by local path; rules as for users, plus `test`."""
    work = tmp_path / "self"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    shutil.copy(PROJECT_PIPELINE, work / ".gitlab-ci.yml")
    shutil.copytree(CI_TEMPLATES, work / "ci-templates")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "chore: ci")
    git(work, "remote", "add", "origin", "https://gitlab.example.com/tools/release.git")
    git(work, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(work, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    assert listed(work, server) == [
        "release-plan",
        "release-test",
        "test",
        *RELEASE_JOBS[2:-1],
        "release-promote-automatic",
    ]
    assert listed(work, server, *MERGE_REQUEST) == ["release-plan", "test"]
    preview = yaml.safe_load(gitlab_ci_local(work, server, "--preview").stdout)
    assert preview["release-test"]["needs"] == [
        {"job": "release-plan", "artifacts": True, "optional": False},
        {"job": "test", "artifacts": False, "optional": False},
    ]
    assert preview["release-images"]["before_script"] == [
        "python3 -m pip install --quiet --disable-pip-version-check ."
    ]


# ------------------------------------------------------------------------------------------------ legacy, monorepo


LIGHT_CONFIG = """\
tests:
  - {{name: unit, run: "test -f src/hello.txt"}}
environments:
  - name: dev
    app: demo-app
    repo: {infra}
    updates:
      - {{file: apps/dev/demo-app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


def test_legacy_hidden_jobs_release_and_promote(server, tmp_path, registry, forge, services_env):
    """The legacy snippet (include: project + extends), on the demo app without images and charts."""
    app = make_app(server, tmp_path, "glcl-legacy", registry.host, readme_snippet("gitlab-legacy"))
    infra_url = git(app.path, "show", "HEAD:release.yaml").split("repo: ", 1)[1].split()[0]
    (app.path / "release.yaml").write_text(LIGHT_CONFIG.format(infra=infra_url))
    git(app.path, "commit", "-q", "-am", "fix: only tests and promote")
    git(app.path, "push", "-q", "origin", "main", env=with_git_auth(server))
    project_variables(app, services_env)
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 0, done.out
    assert done.passed() == RELEASE_JOBS
    assert git(app.origin, "tag", "-l").split() == ["v0.1.0", "v0.2.0"]
    assert git(app.origin, "rev-parse", "v0.2.0^{commit}") == app.head()
    assert git(app.infra, "log", "-1", "--format=%s", "main") == "chore(dev): deploy demo-app 0.2.0"
    assert 'tag: "0.2.0"' in git(app.infra, "show", "main:apps/dev/demo-app/values.yaml")
    assert registry.get(f"/v2/{app.prefix}/app/tags/list").status_code == 404  # no images configured


MONOREPO_CONFIG = """\
components:
  - {name: api, path: services/api}
  - {name: web, path: web}
"""


def test_monorepo_component_releases_each_component_in_a_child_pipeline(server, tmp_path, registry):
    name = server.unique("glcl-mono")
    origin = server.bare(f"team/{name}")
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    files = {
        ".gitlab-ci.yml": readme_snippet("gitlab-monorepo"),
        "release.yaml": MONOREPO_CONFIG,
        "services/api/main.py": "print('api')\n",
        "web/index.html": "<p>web</p>\n",
        "docs/readme.md": "docs\n",
    }
    for rel, content in files.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(content)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "chore: layout")
    (seed / "services/api/main.py").write_text("print('api v2')\n")
    git(seed, "commit", "-q", "-am", "feat(api): v2 endpoint")
    (seed / "web/index.html").write_text("<p>web, fixed</p>\n")
    git(seed, "commit", "-q", "-am", "fix(web): typo")
    git(seed, "push", "-q", str(origin), "main")
    work = tmp_path / "mono"
    authed = server.url.replace("http://", f"http://{GIT_USER}:{GIT_PASSWORD}@")
    git(tmp_path, "clone", "-q", f"{authed}/team/{name}.git", str(work))
    git(work, "remote", "set-url", "origin", f"{server.url}/team/{name}.git")
    app = App(work, origin, origin, name)
    project_variables(app, {"RELEASE_GIT_USER": GIT_USER, "RELEASE_GIT_TOKEN": GIT_PASSWORD})

    assert listed(work, server, *MERGE_REQUEST) == ["release-plan"]
    done = gitlab_ci_local(work, server, *SHELL)
    assert done.code == 0, done.out
    child = work / ".gitlab-ci-local" / "artifacts" / "release-generate" / "release-pipeline.yml"
    generated = yaml.safe_load(child.read_text())
    assert sorted(k for k in generated if k.startswith("release:")) == ["release:api", "release:web"]
    assert sorted(git(origin, "tag", "-l").split()) == ["api-v0.1.0", "web-v0.1.0"], done.out[-3000:]
    assert git(origin, "rev-parse", "api-v0.1.0^{commit}") == git(work, "rev-parse", "HEAD")


def test_component_inputs_config_state_dir_and_dry_run(server, tmp_path, registry, forge, services_env):
    """Non-default inputs through real jobs: the config path, the State's directory (and the artifact that carries
    it from job to job), dry_run (every job runs, nothing is pushed) and the environments list."""
    pipeline = """\
include:
  - component: $CI_SERVER_FQDN/tools/release-ci/release@{version}
    inputs:
      config: deploy/release.yaml
      state_dir: out/release
      dry_run: true
      environments: [dev]
"""
    app = make_app(server, tmp_path, "glcl-inputs", registry.host, "")
    infra_url = git(app.path, "show", "HEAD:release.yaml").split("repo: ", 1)[1].split()[0]
    (app.path / "deploy").mkdir()
    git(app.path, "mv", "release.yaml", "deploy/release.yaml")
    (app.path / "deploy" / "release.yaml").write_text(LIGHT_CONFIG.format(infra=infra_url))
    ref = yaml.safe_load(readme_snippet("gitlab-component"))["include"][0]["component"].rsplit("@", 1)[1]
    (app.path / ".gitlab-ci.yml").write_text(pipeline.format(version=ref))
    git(app.path, "add", "-A")
    git(app.path, "commit", "-q", "-m", "chore: config in deploy/")
    git(app.path, "push", "-q", "origin", "main", env=with_git_auth(server))
    project_variables(app, services_env)
    infra_head = git(app.infra, "rev-parse", "main")
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 0, done.out
    assert done.passed() == COMPONENT_JOBS
    # dev has no `automatic: true` in deploy/release.yaml: the environments input made promote show its diff
    assert '+  tag: "0.2.0"  # mis à jour à chaque livraison' in done.out
    assert "[promote] would deploy 0.2.0 to dev: a commit pushed to " in done.out
    assert "[publish] would tag" in done.out
    state = json.loads((app.path / "out" / "release" / "state.json").read_text())
    assert state["version"] == "0.2.0" and state["released"] is False
    assert not (app.path / ".release").exists()
    assert git(app.origin, "tag", "-l") == "v0.1.0"
    assert git(app.infra, "rev-parse", "main") == infra_head
    assert forge.calls("POST", r"/api/v4/projects/42/releases$") == []


# ------------------------------------------------------------------------------------------------ engine: none

KANIKO_PIPELINE = """\
include:
  - component: $CI_SERVER_FQDN/tools/release-ci/release@{version}
    inputs:
      engine: none
      environments: [dev]

# Stands in for a kaniko/buildah job from a CI catalog: it builds with its own builder (Podman's remote client
# here, no engine in the release jobs) and pushes the version tag release-plan chose, labelled with the commit.
build-image:
  stage: test
  needs: [{{job: release-plan, artifacts: true}}]
  script:
    - AUTH=$(printf '%s:%s' "$RELEASE_REGISTRY_USER" "$RELEASE_REGISTRY_PASSWORD" | base64 | tr -d '\\n')
    - printf '{{"auths":{{"%s":{{"auth":"%s"}}}}}}' "${{IMAGE%%/*}}" "$AUTH" > "$CI_PROJECT_DIR/.auth.json"
    - LABEL="org.opencontainers.image.revision=$BUILT_FROM"
    - podman --remote --url "$BUILDER_HOST" build --label "$LABEL" -t "$IMAGE:$RELEASE_VERSION" .
    - podman --remote --url "$BUILDER_HOST" push --authfile "$CI_PROJECT_DIR/.auth.json" "$IMAGE:$RELEASE_VERSION"
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
"""


def engine_none_app(server: Server, tmp_path: Path, registry: Any, name: str, wait: int, ci_version: str) -> App:
    app = make_app(server, tmp_path, name, registry.host, KANIKO_PIPELINE.format(version=ci_version))
    config = (app.path / "release.yaml").read_text()
    config = config.replace("    repository: ", f"    wait: {wait}\n    repository: ", 1)
    config = config.replace("  - name: dev\n", "  - name: dev\n    url: https://dev.demo.example.com\n", 1)
    (app.path / "release.yaml").write_text(config)
    git(app.path, "commit", "-q", "-am", "ci: images come from the build-image job")
    git(app.path, "push", "-q", "origin", "main", env=with_git_auth(server))
    return app


@pytest.mark.slow
def test_engine_none_takes_the_image_another_job_pushed_through_promote(
    server, tmp_path, registry, podman, forge, services_env, ci_version
):
    app = engine_none_app(server, tmp_path, registry, "glcl-kaniko", 120, ci_version)
    image = f"{registry.host}/{app.prefix}/app"
    project_variables(
        app,
        {**services_env, "DOCKER_HOST": "unix:///nonexistent.sock", "BUILDER_HOST": podman.base_url,
         "IMAGE": image, "BUILT_FROM": app.head()},
    )  # fmt: skip
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 0, done.out
    assert sorted(done.passed()) == sorted([*COMPONENT_JOBS, "build-image"]), done.out
    assert "built by another job (RELEASE_ENGINE=none)" in done.out

    digest = registry.manifest(f"{app.prefix}/app", "0.2.0", method="HEAD").headers["Docker-Content-Digest"]
    assert registry.get(f"/v2/{app.prefix}/app/tags/list").json()["tags"] == ["0.2.0"]  # release pushed none
    env = dotenv(app.path / "release.env")
    assert env["RELEASE_IMAGE_DEMO_APP_DIGEST"] == digest
    assert env["RELEASE_ENVIRONMENT"] == "dev"
    assert env["RELEASE_ENVIRONMENT_URL"] == "https://dev.demo.example.com"  # the job's `environment: url:`
    manifest = registry.manifest(f"{app.prefix}/charts/demo-app", "0.2.0").json()
    assert chart_values(registry, f"{app.prefix}/charts/demo-app", manifest)["image"]["digest"] == digest
    assert digest in git(app.infra, "show", "main:apps/dev/demo-app/values.yaml")
    assert git(app.origin, "rev-parse", "v0.2.0^{commit}") == app.head()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing", "other commit"])
def test_engine_none_publishes_nothing_without_this_commits_image(
    server, tmp_path, registry, podman, forge, services_env, ci_version, case
):
    app = engine_none_app(server, tmp_path, registry, "glcl-kaniko-bad", 4, ci_version)
    image = f"{registry.host}/{app.prefix}/app"
    built_from = git(app.path, "rev-parse", "HEAD~1")
    if case == "missing":
        image += "-elsewhere"  # the builder pushes somewhere release does not look
    project_variables(
        app,
        {**services_env, "DOCKER_HOST": "unix:///nonexistent.sock", "BUILDER_HOST": podman.base_url,
         "IMAGE": image, "BUILT_FROM": built_from},
    )  # fmt: skip
    infra_head = git(app.infra, "rev-parse", "main")
    done = gitlab_ci_local(app.path, server, *SHELL)
    assert done.code == 1
    assert done.failed() == ["release-images"], done.out
    errors = [line for line in done.out.splitlines() if line.startswith("release-images") and "error:" in line]
    assert len(errors) == 1, done.out
    if case == "missing":
        assert f"{app.prefix}/app:0.2.0 is not in the registry after waiting 4s (RELEASE_ENGINE=none)" in errors[0]
    else:
        assert f"was built from commit {built_from[:12]}, not {app.head()[:12]}" in errors[0]
    assert registry.get(f"/v2/{app.prefix}/charts/demo-app/tags/list").status_code == 404  # no chart
    assert git(app.origin, "tag", "-l") == "v0.1.0"  # no release tag
    assert git(app.infra, "rev-parse", "main") == infra_head
