"""The composite action (action.yml) run step by step, as a GitHub runner runs it, against real repositories.

`run_action` is a small runner for composite actions: it evaluates the `${{ inputs.* }}`, `${{ github.* }}` and
`${{ steps.*.outputs.* }}` expressions of each step's `env:` (the only place the action uses them: scripts never
contain an expression), runs each `run:` with `bash --noprofile --norc -eo pipefail`, gives every step its own
GITHUB_OUTPUT file and shares GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_PATH and RUNNER_TEMP as a runner does,
reads each step's outputs (`key=value` and `key<<DELIMITER` heredocs) and maps the action's `outputs:`.
Any other expression, an `if:` or a `uses:` step fails the test: the runner does not pretend to support them.

The release object goes to the shared fake forge (GITHUB_API_URL), the tag to a bare origin, the promote commit
to a bare infra repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci.test_templates import ROOT
from tests.conftest import Repo
from tests.fakes.forge import DEFAULT_GITHUB_TOKEN
from tests.gitops.test_promote import INFRA_FILES, make_infra, show

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
VENV_BIN = str(Path(sys.executable).parent)


@dataclass
class ActionRun:
    code: int
    outputs: dict[str, str]
    steps: dict[str, dict[str, str]]
    summary: str
    log: str = ""
    env_file: str = ""
    path_file: str = ""
    failed_step: str | None = None


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's format: `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise AssertionError(f"output {name!r}: delimiter {delimiter!r} never closes")
            outputs[name] = "\n".join(body)
        elif line:
            name, _, value = line.partition("=")
            outputs[name] = value
    return outputs


def evaluate(text: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        if not re.fullmatch(r"(inputs|github|steps)(\.[A-Za-z0-9_-]+)+", expr):
            raise AssertionError(f"expression the test runner does not emulate: {expr}")
        node: Any = context
        for part in expr.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return str(node)

    return EXPRESSION.sub(value, text)


def run_action(
    workspace: Path,
    tmp: Path,
    with_: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    github_token: str = "",
    action_path: Path = ROOT,
) -> ActionRun:
    action = yaml.safe_load((action_path / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    runner = tmp / "runner"
    runner.mkdir(parents=True, exist_ok=True)
    files = {name: runner / name for name in ("summary.md", "env", "path")}
    for path in files.values():
        path.write_text("")
    temp = runner / "temp"
    temp.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_"))}
    base.update(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_ACTION_PATH=str(action_path),
        GITHUB_STEP_SUMMARY=str(files["summary.md"]),
        GITHUB_ENV=str(files["env"]),
        GITHUB_PATH=str(files["path"]),
        RUNNER_TEMP=str(temp),
    )
    base.update(env or {})
    github = {"token": github_token, "action_path": str(action_path)}
    context: dict[str, Any] = {"github": github, "steps": {}, "inputs": {}}
    given = with_ or {}
    unknown = set(given) - set(action["inputs"])
    assert not unknown, f"inputs the action does not declare: {unknown}"
    for name, decl in action["inputs"].items():
        context["inputs"][name] = given.get(name, evaluate(str(decl.get("default", "")), context))
    log = []
    for index, step in enumerate(action["runs"]["steps"]):
        assert "uses" not in step and "if" not in step, "the runner emulates run steps only"
        step_id = step.get("id", f"step{index}")
        assert step["shell"] == "bash"
        output = runner / f"output-{step_id}"
        output.write_text("")
        step_env = dict(base)
        step_env["GITHUB_OUTPUT"] = str(output)
        extra_path = [line for line in files["path"].read_text().splitlines() if line]
        step_env["PATH"] = ":".join([*reversed(extra_path), step_env.get("PATH", "")])
        for line in files["env"].read_text().splitlines():  # simple NAME=value lines only
            name, _, value = line.partition("=")
            step_env[name] = value
        for name, value in (step.get("env") or {}).items():
            step_env[name] = evaluate(str(value), context)
        script = runner / f"{step_id}.sh"
        script.write_text(step["run"])
        cwd = workspace / evaluate(step.get("working-directory", "."), context)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        log.append(f"== {step_id} (exit {done.returncode})\n{done.stdout}{done.stderr}")
        context["steps"][step_id] = {"outputs": parse_outputs(output.read_text()), "outcome": done.returncode}
        if done.returncode != 0:
            return ActionRun(
                done.returncode,
                {},
                {k: v["outputs"] for k, v in context["steps"].items()},
                files["summary.md"].read_text(),
                "\n".join(log),
                failed_step=step_id,
            )
    outputs = {name: evaluate(decl["value"], context) for name, decl in action["outputs"].items()}
    return ActionRun(
        0,
        outputs,
        {k: v["outputs"] for k, v in context["steps"].items()},
        files["summary.md"].read_text(),
        "\n".join(log),
        files["env"].read_text(),
        files["path"].read_text(),
    )


# ------------------------------------------------------------------------------------------------ fixtures


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


CONFIG = """\
tests:
  - {{name: unit, run: "test -f app.txt"}}
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


@pytest.fixture
def app(repo: Repo, tmp_path: Path) -> tuple[Repo, Path, Path]:
    """An app repo at v1.0.0 plus one feature, pushed to a bare origin, promoting into a bare infra repo."""
    infra = make_infra(tmp_path, INFRA_FILES)
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": CONFIG.format(infra=infra)})
    repo.tag("v1.0.0")
    repo.commit("feat(api): add the search endpoint", {"app.txt": "v2"})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    return repo, origin, infra


def github_env(repo: Repo, forge: Any, event: str = "push") -> dict[str, str]:
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_SHA": repo.head(),
        "GITHUB_REPOSITORY": "team/app",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_API_URL": forge.url,
        "GITHUB_RUN_ID": "1234",
        "GITHUB_ACTOR": "octocat",
    }
    if event == "pull_request":
        env.update(GITHUB_REF="refs/pull/7/merge", GITHUB_REF_NAME="7/merge", GITHUB_HEAD_REF="feature/search")
    else:
        env.update(GITHUB_REF="refs/heads/main", GITHUB_REF_NAME="main", GITHUB_REF_TYPE="branch")
    return env


def tags(bare: Path) -> list[str]:
    return git(bare, "tag", "-l").split()


# ------------------------------------------------------------------------------------------------ tests


def test_a_push_releases_and_the_outputs_say_what(app, forge, tmp_path):
    repo, origin, infra = app
    done = run_action(repo.path, tmp_path, {"install": "none"}, github_env(repo, forge), DEFAULT_GITHUB_TOKEN)
    assert done.code == 0, done.log
    assert done.outputs["released"] == "true"
    assert done.outputs["version"] == "1.1.0"
    assert done.outputs["tag"] == "v1.1.0"
    assert done.outputs["previous_version"] == "1.0.0"
    assert done.outputs["is_prerelease"] == "false"
    assert "add the search endpoint" in done.outputs["release_notes"]
    assert len(done.outputs["release_notes"].splitlines()) > 1  # the heredoc kept the lines
    # what the outputs claim is what happened
    assert tags(origin) == ["v1.0.0", "v1.1.0"]
    assert git(origin, "rev-parse", "v1.1.0^{commit}") == repo.head()
    (post,) = forge.calls("POST", r"/repos/team/app/releases$")
    assert post.json()["tag_name"] == "v1.1.0"
    assert "add the search endpoint" in post.json()["body"]
    assert 'tag: "1.1.0"' in show(infra, "apps/dev/app/values.yaml")
    assert done.summary.startswith("## release 1.1.0 (v1.1.0, published)")
    assert "| publish |" in done.summary and "| promote |" in done.summary


def test_a_pull_request_plans_and_publishes_nothing(app, forge, tmp_path):
    repo, origin, infra = app
    before = git(infra, "rev-parse", "main")
    done = run_action(
        repo.path, tmp_path, {"install": "none"}, github_env(repo, forge, "pull_request"), DEFAULT_GITHUB_TOKEN
    )
    assert done.code == 0, done.log
    assert done.outputs["released"] == "false"
    assert done.outputs["version"] == "1.1.0"  # what merging would release
    assert "next     1.1.0" in done.log
    assert tags(origin) == ["v1.0.0"]
    assert forge.calls("POST", r"/repos/team/app/releases$") == []
    assert git(infra, "rev-parse", "main") == before


def test_inputs_select_stages_and_environments(app, forge, tmp_path):
    repo, _origin, infra = app
    before = git(infra, "rev-parse", "main")
    with_ = {"install": "none", "skip": "promote", "dry-run": "false", "working-directory": "."}
    done = run_action(repo.path, tmp_path, with_, github_env(repo, forge), DEFAULT_GITHUB_TOKEN)
    assert done.code == 0, done.log
    assert done.outputs["released"] == "true"
    assert git(infra, "rev-parse", "main") == before  # promote skipped
    again = run_action(
        repo.path,
        tmp_path / "again",
        {"install": "none", "only": "promote", "environments": "dev"},
        github_env(repo, forge),
        DEFAULT_GITHUB_TOKEN,
    )
    assert again.code == 0, again.log
    assert git(infra, "rev-parse", "main") != before
    assert 'tag: "1.1.0"' in show(infra, "apps/dev/app/values.yaml")


def test_inputs_are_data_not_code(app, forge, tmp_path):
    """Values with shell syntax reach release as arguments; nothing in them runs."""
    repo, origin, _ = app
    trap = tmp_path / "pwned"
    hostile = {
        "install": "none",
        "config": f'conf.yaml"; touch {trap}; echo "',
        "environments": f"dev,$(touch {trap}),`touch {trap}`",
        "only": f"plan; touch {trap}",
    }
    done = run_action(repo.path, tmp_path, hostile, github_env(repo, forge), DEFAULT_GITHUB_TOKEN)
    assert done.code != 0 and done.failed_step == "run"
    assert not trap.exists()
    assert f'release: error: config file conf.yaml"; touch {trap}; echo "' in done.log  # verbatim, one argument
    assert tags(origin) == ["v1.0.0"]


def test_dry_run_writes_nothing_anywhere(app, forge, tmp_path):
    repo, origin, infra = app
    before = git(infra, "rev-parse", "main")
    done = run_action(
        repo.path, tmp_path, {"install": "none", "dry-run": "true"}, github_env(repo, forge), DEFAULT_GITHUB_TOKEN
    )
    assert done.code == 0, done.log
    assert tags(origin) == ["v1.0.0"]
    assert git(infra, "rev-parse", "main") == before
    assert forge.calls("POST", r"/repos/team/app/releases$") == []


def copy_action_checkout(tmp_path: Path) -> Path:
    """What `uses: OWNER/release@REF` checks out: the action and the package it installs."""
    target = tmp_path / "action-checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "release", target / "release", ignore=ignore)
    for name in ("action.yml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, target / name)
    return target


@pytest.mark.slow
def test_install_action_puts_the_actions_own_release_in_a_virtualenv(app, forge, tmp_path):
    repo, _origin, _ = app
    checkout = copy_action_checkout(tmp_path)
    env = github_env(repo, forge)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # no release on PATH: the action brings it
    assert shutil.which("release", path=env["PATH"]) is None
    done = run_action(repo.path, tmp_path, {"only": "plan"}, env, DEFAULT_GITHUB_TOKEN, action_path=checkout)
    assert done.code == 0, done.log
    venv_bin = Path(done.steps["install"]["bin"])
    assert venv_bin.parent == tmp_path / "runner" / "temp" / "release-venv"
    assert (venv_bin / "release").exists()
    assert "release, version" in done.log  # the install step showed which release it installed
    assert done.outputs["version"] == "1.1.0"
    assert done.path_file == ""  # nothing added to later steps' PATH
