"""`release ci generate` as a user runs it: a real monorepo in a temp dir, the CLI in-process, and the generated
GitLab child pipeline / GitHub matrix checked as documents (and against GitLab's CI schema when it is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Repo, Result, assert_one_line_error

COMPONENTS = """\
components:
  - {name: api, path: services/api}
  - {name: web, path: web, tag_format: "web@{version}"}
  - {name: worker, path: worker}
"""
GITLAB_BRANCH = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"}
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
GITLAB_CI_LOCAL_JS = Path("/usr/lib/node_modules/gitlab-ci-local/dist/index.js")
# Stands in for `release run` (written by another command): shows what the job gave it, writes the State and the
# dotenv report where the job's artifacts expect them.
STUB_RELEASE = """\
#!/bin/sh
set -e
echo "stub: release $* state=$RELEASE_STATE dotenv=$RELEASE_DOTENV depth=$GIT_DEPTH"
mkdir -p "$(dirname "$RELEASE_STATE")"
echo '{}' > "$RELEASE_STATE"
echo "RELEASE_RAN=$3" > "$RELEASE_DOTENV"
"""


# --- helpers ---------------------------------------------------------------------------------------


def monorepo(repo: Repo) -> Repo:
    """Three components, each released once, and one commit outside all of them."""
    repo.write("release.yaml", COMPONENTS)
    repo.commit("chore: init", {"README.md": "hi"})
    repo.commit("feat: api", {"services/api/main.py": "1"})
    repo.commit("feat: web", {"web/index.html": "1"})
    repo.commit("feat: worker", {"worker/main.go": "1"})
    for tag in ("api-v1.2.0", "web@0.4.0", "worker-v2.0.0"):
        repo.tag(tag)
    repo.commit("docs: root only", {"README.md": "more"})
    return repo


def generate(release: Any, repo: Repo, *args: str, env: dict[str, str] | None = None) -> Result:
    result: Result = release(repo, "ci", "generate", *args, env=env)
    assert result.code == 0, result.err
    return result


def gitlab(release: Any, repo: Repo, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(generate(release, repo, "--format", "gitlab", *args, env=env).out)
    return doc


def jobs(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: job for name, job in doc.items() if name not in ("stages", "default")}


def github(release: Any, repo: Repo, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = generate(release, repo, "--format", "github", *args, env=env).out
    assert out.count("\n") == 1, out  # one line, as GITHUB_OUTPUT needs it
    data: dict[str, Any] = json.loads(out)
    return data


def schema_check(path: Path) -> None:
    if not CHECK_JSONSCHEMA.exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema; it is in the test extras)")
    done = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.gitlab-ci", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- which components get a job --------------------------------------------------------------------


def test_one_component_changed_is_one_job(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("fix(api): a bug", {"services/api/main.py": "2"})
    doc = gitlab(release, repo)
    assert list(doc) == ["stages", "release:api"]
    assert doc["stages"] == ["release"]
    assert doc["release:api"] == {
        "stage": "release",
        "variables": {
            "RELEASE_STATE": ".release/api/state.json",
            "RELEASE_DOTENV": ".release/api/release.env",
            "GIT_DEPTH": "0",
        },
        "resource_group": "release-api",
        "script": ["release run --component api"],
        "artifacts": {"paths": [".release/api/"], "reports": {"dotenv": ".release/api/release.env"}},
    }


def test_two_components_changed_are_two_jobs_in_config_order(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("feat: both", {"worker/x.go": "1", "web/x.js": "1"})
    result = release(repo, "ci", "generate", "--format", "gitlab")
    doc = yaml.safe_load(result.out)
    assert list(jobs(doc)) == ["release:web", "release:worker"]
    assert doc["release:web"]["variables"]["RELEASE_STATE"] == ".release/web/state.json"
    assert doc["release:worker"]["resource_group"] == "release-worker"
    assert doc["release:worker"]["script"] == ["release run --component worker"]
    assert "web 0.5.0" in result.err and "worker 2.1.0" in result.err


def test_nothing_to_release_is_a_valid_no_op_child_pipeline(repo: Repo, release: Any) -> None:
    monorepo(repo)
    result = release(repo, "ci", "generate", "--format", "gitlab")
    assert result.code == 0
    assert "nothing to release" in result.err
    doc = yaml.safe_load(result.out)
    assert doc == {
        "stages": ["release"],
        "nothing-to-release": {
            "stage": "release",
            "variables": {"GIT_STRATEGY": "none"},
            "script": ["echo nothing to release"],
        },
    }


def test_component_option_limits_the_jobs(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("feat: both", {"services/api/x.py": "1", "web/x.js": "1"})
    assert list(jobs(gitlab(release, repo, "--component", "web"))) == ["release:web"]
    assert_one_line_error(release(repo, "ci", "generate", "--format", "gitlab", "--component", "mobile"), "mobile")


def test_head_already_tagged_on_a_branch_still_gets_its_job(repo: Repo, release: Any) -> None:
    """A rerun after `release cut`: the tag exists, images and charts may not; `release run` finishes the job."""
    monorepo(repo)
    repo.commit("fix(api): a bug", {"services/api/main.py": "2"})
    repo.tag("api-v1.2.1")
    data = github(release, repo, env=GITLAB_BRANCH)
    assert data["include"] == [
        {"component": "api", "version": "1.2.1", "tag": "api-v1.2.1", "state": ".release/api/state.json"}
    ]


# --- tag pipelines ---------------------------------------------------------------------------------


def tag_pipeline(tag: str) -> dict[str, str]:
    return {"GITLAB_CI": "true", "CI_COMMIT_TAG": tag, "CI_COMMIT_REF_NAME": tag}


def test_tag_pipeline_releases_only_the_component_its_tag_names(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("feat: api and web", {"services/api/x.py": "1", "web/x.js": "1"})
    repo.tag("web@0.5.0", annotated=True)  # web's tag pipeline: api has unreleased work, but not here
    doc = gitlab(release, repo, env=tag_pipeline("web@0.5.0"))
    assert list(jobs(doc)) == ["release:web"]
    data = github(release, repo, env=tag_pipeline("web@0.5.0"))
    assert data["include"] == [
        {"component": "web", "version": "0.5.0", "tag": "web@0.5.0", "state": ".release/web/state.json"}
    ]


def test_tag_pipeline_with_prerelease_branches_configured(repo: Repo, release: Any) -> None:
    """Planning every component in a tag pipeline would need a branch; only the tag's owner is planned."""
    monorepo(repo)
    repo.write("release.yaml", COMPONENTS + "versioning: {prerelease_branches: {next: rc}}\n")
    repo.commit("feat(api): new", {"services/api/y.py": "1", "worker/y.go": "1"})
    repo.tag("api-v1.3.0")
    repo.git("checkout", "-q", "--detach")
    data = github(release, repo, env=tag_pipeline("api-v1.3.0"))
    assert [(m["component"], m["version"]) for m in data["include"]] == [("api", "1.3.0")]


def test_tag_pipeline_for_a_tag_that_is_no_release(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("feat: api", {"services/api/x.py": "1"})
    repo.tag("docs-2026")
    result = release(repo, "ci", "generate", "--format", "gitlab", env=tag_pipeline("docs-2026"))
    assert result.code == 0, result.err
    assert list(jobs(yaml.safe_load(result.out))) == ["nothing-to-release"]
    assert "docs-2026" in result.err


# --- repo without components, options that reach the job ------------------------------------------


def test_repo_without_components_is_one_job(repo: Repo, release: Any) -> None:
    repo.commit("feat: first")
    doc = gitlab(release, repo)
    assert list(jobs(doc)) == ["release"]
    job = doc["release"]
    assert job["script"] == ["release run"]
    assert job["variables"]["RELEASE_STATE"] == ".release/state.json"
    assert job["variables"]["RELEASE_DOTENV"] == ".release/release.env"
    assert job["artifacts"] == {"paths": [".release/"], "reports": {"dotenv": ".release/release.env"}}
    assert job["resource_group"] == "release"
    data = github(release, repo)
    assert data["include"] == [{"component": None, "version": "0.1.0", "tag": "v0.1.0", "state": ".release/state.json"}]


def test_config_and_branch_options_reach_the_job(repo: Repo, release: Any) -> None:
    """The job must plan what the generator planned: same config file, same branch."""
    repo.write("ci/release config.yaml", COMPONENTS)
    repo.commit("feat: api", {"services/api/main.py": "1", "web/.keep": "", "worker/.keep": ""})
    repo.git("checkout", "-q", "--detach")
    doc = gitlab(release, repo, "--config", "ci/release config.yaml", "--branch", "main")
    command = "release run --component api --config 'ci/release config.yaml' --branch main"
    assert doc["release:api"]["script"] == [command]


def test_image_and_before_script_come_from_variables(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("fix(api): x", {"services/api/main.py": "3"})
    env = {
        "RELEASE_CI_IMAGE": "registry.example.com/tools/release:1",
        "RELEASE_CI_BEFORE_SCRIPT": "git fetch --tags --force\n\n  pip install --no-deps .  \n",
    }
    doc = gitlab(release, repo, env=env)
    assert list(doc)[:2] == ["stages", "default"]
    assert doc["default"] == {
        "image": "registry.example.com/tools/release:1",
        "before_script": ["git fetch --tags --force", "pip install --no-deps ."],
    }
    repo.commit("docs: nothing", {"README.md": "x"})
    repo.tag("api-v1.2.1", "HEAD~1")
    noop = gitlab(release, repo, env=env)  # no clone in the no-op job, so no setup commands either
    assert "default" not in noop
    assert noop["nothing-to-release"]["image"] == "registry.example.com/tools/release:1"
    assert "before_script" not in noop["nothing-to-release"]


def test_unsafe_component_name_is_refused(repo: Repo, release: Any) -> None:
    repo.write("release.yaml", "components:\n  - {name: '../api', path: api}\n")
    repo.commit("feat: api", {"api/main.py": "1"})
    assert_one_line_error(release(repo, "ci", "generate", "--format", "gitlab"), "../api", "rename")


# --- formats, outputs --------------------------------------------------------------------------------


def test_github_matrix_and_github_output(repo: Repo, release: Any, tmp_path: Path) -> None:
    monorepo(repo)
    repo.commit("feat: both", {"services/api/x.py": "1", "worker/x.go": "1"})
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=1\n", encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main", "GITHUB_OUTPUT": str(outputs)}
    result = generate(release, repo, env=env)  # the format comes from the CI running it
    expected = {
        "include": [
            {"component": "api", "version": "1.3.0", "tag": "api-v1.3.0", "state": ".release/api/state.json"},
            {"component": "worker", "version": "2.1.0", "tag": "worker-v2.1.0", "state": ".release/worker/state.json"},
        ]
    }
    assert json.loads(result.out) == expected
    lines = outputs.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier=1"  # appended, never overwritten
    assert lines[1] == f"matrix={result.out.strip()}"
    assert lines[2] == "count=2"
    assert len(lines) == 3


def test_github_empty_matrix(repo: Repo, release: Any, tmp_path: Path) -> None:
    monorepo(repo)
    outputs = tmp_path / "github_output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main", "GITHUB_OUTPUT": str(outputs)}
    result = generate(release, repo, env=env)
    assert result.out == '{"include": []}\n'
    assert outputs.read_text(encoding="utf-8") == 'matrix={"include": []}\ncount=0\n'


def test_gitlab_format_from_gitlab_ci(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("fix(api): x", {"services/api/main.py": "3"})
    assert list(jobs(yaml.safe_load(generate(release, repo, env=GITLAB_BRANCH).out))) == ["release:api"]


def test_output_writes_the_file(repo: Repo, release: Any, tmp_path: Path) -> None:
    monorepo(repo)
    repo.commit("fix(api): x", {"services/api/main.py": "3"})
    target = tmp_path / "out" / "child.yml"
    result = generate(release, repo, "--format", "gitlab", "--output", str(target))
    assert result.out == ""
    assert f"wrote {target}" in result.err
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Generated by `release ci generate`")
    assert list(jobs(yaml.safe_load(text))) == ["release:api"]
    matrix = tmp_path / "matrix.json"
    assert generate(release, repo, "--format", "github", "--output", str(matrix)).out == ""
    assert json.loads(matrix.read_text(encoding="utf-8"))["include"][0]["component"] == "api"


def test_local_without_format_is_a_one_line_error(repo: Repo, release: Any) -> None:
    monorepo(repo)
    assert_one_line_error(release(repo, "ci", "generate"), "--format gitlab", "--format github")


def test_output_is_deterministic(repo: Repo, release: Any) -> None:
    monorepo(repo)
    repo.commit("feat: all three", {"services/api/x.py": "1", "web/x.js": "1", "worker/x.go": "1"})
    env = {"RELEASE_CI_IMAGE": "img:1", "RELEASE_CI_BEFORE_SCRIPT": "true"}
    first = generate(release, repo, "--format", "gitlab", env=env).out
    assert first == generate(release, repo, "--format", "gitlab", env=env).out
    assert list(jobs(yaml.safe_load(first))) == ["release:api", "release:web", "release:worker"]
    matrix = generate(release, repo, "--format", "github").out
    assert matrix == generate(release, repo, "--format", "github").out


def gitlab_ci_local() -> list[str]:
    if shutil.which("gitlab-ci-local"):
        return ["gitlab-ci-local"]
    if shutil.which("node") and GITLAB_CI_LOCAL_JS.exists():
        return ["node", str(GITLAB_CI_LOCAL_JS)]
    pytest.skip("gitlab-ci-local is not installed (npm install -g gitlab-ci-local; the test setup installs it)")


def run_child_pipeline(repo: Repo, child: Path, tmp_path: Path) -> str:
    """Run a generated child pipeline with gitlab-ci-local's shell executor, `release` being the stub."""
    if not shutil.which("rsync"):
        pytest.skip("gitlab-ci-local needs rsync")
    command = gitlab_ci_local()
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir(exist_ok=True)
    stub = stub_dir / "release"
    stub.write_text(STUB_RELEASE, encoding="utf-8")
    stub.chmod(0o755)
    env = os.environ | {"PATH": f"{stub_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [*command, "--file", str(child.relative_to(repo.path)), "--shell-isolation"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_child_pipeline_runs_in_gitlab_ci_local(repo: Repo, release: Any, tmp_path: Path) -> None:
    """Each job runs `release run` for its component with its own State, and its State folder comes back as the
    job's artifacts."""
    monorepo(repo)
    repo.commit("feat: both", {"services/api/x.py": "1", "worker/x.go": "1"})
    child = repo.path / "child.yml"
    generate(release, repo, "--format", "gitlab", "--output", str(child))
    out = run_child_pipeline(repo, child, tmp_path)
    for name in ("api", "worker"):
        paths = f"state=.release/{name}/state.json dotenv=.release/{name}/release.env"
        assert f"stub: release run --component {name} {paths} depth=0" in out
    assert "PASS  release:api" in out and "PASS  release:worker" in out
    for name in ("api", "worker"):  # artifacts copied back: state.json and the dotenv report
        assert (repo.path / ".release" / name / "state.json").is_file()
        assert (repo.path / ".release" / name / "release.env").read_text() == f"RELEASE_RAN={name}\n"


def test_no_op_child_pipeline_runs_in_gitlab_ci_local(repo: Repo, release: Any, tmp_path: Path) -> None:
    monorepo(repo)
    child = repo.path / "child.yml"
    generate(release, repo, "--format", "gitlab", "--output", str(child))
    out = run_child_pipeline(repo, child, tmp_path)
    assert "PASS  nothing-to-release" in out
    assert "stub:" not in out


# --- GitLab's own schema -----------------------------------------------------------------------------


def test_generated_pipelines_pass_gitlab_ci_schema(repo: Repo, release: Any, tmp_path: Path) -> None:
    monorepo(repo)
    noop = tmp_path / "noop.yml"
    generate(release, repo, "--format", "gitlab", "--output", str(noop), env={"RELEASE_CI_IMAGE": "img:1"})
    repo.commit("feat: both", {"services/api/x.py": "1", "web/x.js": "1"})
    two = tmp_path / "two.yml"
    env = {"RELEASE_CI_IMAGE": "img:1", "RELEASE_CI_BEFORE_SCRIPT": "pip install .\nrelease --version"}
    generate(release, repo, "--format", "gitlab", "--output", str(two), env=env)
    bare = tmp_path / "bare.yml"
    generate(release, repo, "--format", "gitlab", "--output", str(bare))
    for path in (noop, two, bare):
        schema_check(path)
