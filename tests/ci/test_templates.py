"""The CI templates, checked with the tools their users' CIs trust, and the README snippets that show them.

- GitLab: every template against check-jsonschema's vendored GitLab CI schema (`vendor.gitlab-ci`). A component
  file is two YAML documents (the `spec:` header, then the jobs): the header is validated as it is, the jobs
  after interpolating `$[[ inputs.NAME ]]` the way GitLab does (`render_component`, with the defaults and with
  other values). The same interpolation checks inputs as GitLab does at include time: unknown names, wrong types
  and values outside `options:` are errors with GitLab's wording. The job scripts go through shellcheck.
- GitHub: action.yml against `vendor.github-actions`, zizmor's audits (offline), shellcheck on its bash steps,
  and actionlint on the README's workflow with `uses: ./` pointing at a copy of action.yml, so actionlint checks
  the `with:` inputs and `steps.*.outputs` the workflow uses against the action's own declarations.

gitlab-ci-local runs the templates in tests/test_gitlab_ci_local.py; the action's steps run in
tests/test_github_action.py. Helpers here are shared with both.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI_TEMPLATES = ROOT / "ci-templates"
COMPONENTS = sorted((CI_TEMPLATES / "templates").glob("*.yml"))
LEGACY = CI_TEMPLATES / "release.gitlab-ci.yml"
PROJECT_PIPELINE = ROOT / ".gitlab-ci.yml"
ACTION = ROOT / "action.yml"
README = ROOT / "README.md"
STAGES = ("plan", "test", "images", "charts", "publish", "notes", "promote")

INPUT = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool, "number": (int, float), "array": list}


def tool(name: str) -> str:
    """A tool from the test extra (next to this Python) or from scripts/setup.sh (on PATH)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh")
    return found


def readme_snippet(name: str) -> str:
    """The fenced block between `<!-- snippet: NAME -->` and `<!-- /snippet -->` in README.md."""
    match = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```\w*\n(.*?)```\n<!-- /snippet -->", README.read_text(), re.S
    )
    assert match, f"README.md has no snippet {name!r}"
    return match.group(1)


# ------------------------------------------------------------------------------------- component interpolation


class InputError(ValueError):
    """An include's inputs that GitLab refuses; the message is GitLab's."""


def component_parts(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the `spec:` header, the jobs document) of a component file."""
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 2 and set(docs[0]) == {"spec"}, f"{path}: expected a spec header, ---, then the jobs"
    return docs[0], docs[1]


def resolve_inputs(spec: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The value of every input, as GitLab checks them when the file is included."""
    declared: dict[str, Any] = spec["spec"].get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(f"unknown input arguments: {', '.join(unknown)}")
    values = {}
    for name, decl in declared.items():
        decl = decl or {}
        kind = decl.get("type", "string")
        if name in given:
            value = given[name]
        elif "default" in decl:
            value = decl["default"]
        else:
            raise InputError(f"`{name}` input: required value has not been provided")
        expected = TYPES[kind]
        if not isinstance(value, expected) or (kind == "number" and isinstance(value, bool)):
            raise InputError(f"`{name}` input: provided value is not a {kind}")
        if "options" in decl and value not in decl["options"]:
            raise InputError(
                f"`{name}` input: `{value}` cannot be used because it is not in the list of allowed options"
            )
        values[name] = value
    return values


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _interpolate(node: Any, values: dict[str, Any], used: set[str]) -> Any:
    if isinstance(node, dict):
        return {_interpolate(k, values, used): _interpolate(v, values, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, values, used) for item in node]
    if not isinstance(node, str):
        return node

    def lookup(match: re.Match[str]) -> Any:
        name = match.group(1)
        if name not in values:
            raise InputError(f"unknown interpolation key: `{name}`")
        used.add(name)
        return values[name]

    whole = INPUT.fullmatch(node.strip())
    if whole:  # the whole value: inserted with its type (an array stays an array)
        return lookup(whole)
    return INPUT.sub(lambda m: _as_text(lookup(m)), node)


def render_component(path: Path, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The jobs of a component as GitLab would see them when included with `inputs`."""
    spec, body = component_parts(path)
    values = resolve_inputs(spec, inputs or {})
    used: set[str] = set()
    rendered = _interpolate(body, values, used)
    unused = sorted(set(values) - used)
    assert not unused, f"{path.name}: inputs declared but never used: {unused}"
    return dict(rendered)


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_valid(schema: str, *files: Path) -> None:
    result = check_jsonschema(schema, *files)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------ GitLab: schema

NON_DEFAULT_INPUTS = {
    "release.yml": {
        "image": "registry.example.com/tools/release:1.4.0",
        "before_script": ["pip install release", "release --version"],
        "config": "deploy/release.yaml",
        "state_dir": "out/state",
        "environments": ["dev", "staging"],
        "dry_run": True,
        "promote_when": "manual",
        "stage_images": "publish",
        "engine": "none",
    },
    "monorepo.yml": {"install": "pip install release\nrelease --version", "config": "release.yaml", "stage": "release"},
}


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.name)
def test_component_header_and_jobs_match_gitlab_schema(path, tmp_path):
    spec, _ = component_parts(path)
    header = tmp_path / "header.yml"
    header.write_text(yaml.safe_dump(spec))
    defaults = tmp_path / "with-defaults.yml"
    defaults.write_text(yaml.safe_dump(render_component(path)))
    others = tmp_path / "with-other-values.yml"
    others.write_text(yaml.safe_dump(render_component(path, NON_DEFAULT_INPUTS[path.name])))
    assert_valid("vendor.gitlab-ci", header, defaults, others)


def test_every_combination_of_the_choice_inputs_matches_gitlab_schema(tmp_path):
    """engine × environments (none, one, several) × dry_run × promote_when: each rendering is valid GitLab CI."""
    path = CI_TEMPLATES / "templates" / "release.yml"
    files = []
    for engine, environments, dry_run, when in itertools.product(
        ("dind", "socket", "none"), ([], ["dev"], ["dev", "prod"]), (False, True), ("on_success", "manual")
    ):
        inputs = {"engine": engine, "environments": environments, "dry_run": dry_run, "promote_when": when}
        files.append(tmp_path / f"{engine}-{len(environments)}-{dry_run}-{when}.yml")
        files[-1].write_text(yaml.safe_dump(render_component(path, inputs)))
    assert len(files) == 36
    assert_valid("vendor.gitlab-ci", *files)


def test_the_schema_check_is_not_a_rubber_stamp(tmp_path):
    """The same check refuses a job with a misspelt keyword and an input of a type GitLab does not know."""
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml")
    jobs["release-plan"]["artefacts"] = jobs[".release-component"]["artifacts"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(jobs))
    header = tmp_path / "header.yml"
    header.write_text("spec:\n  inputs:\n    dry_run:\n      type: bool\n")
    result = check_jsonschema("vendor.gitlab-ci", broken, header)
    assert result.returncode == 1
    assert "broken.yml::$['release-plan']: Additional properties are not allowed ('artefacts'" in result.stdout
    assert "$.spec.inputs.dry_run.type: 'bool' is not one of" in result.stdout


@pytest.mark.parametrize("path", [LEGACY, PROJECT_PIPELINE], ids=lambda p: p.name)
def test_plain_pipeline_files_match_gitlab_schema(path):
    assert_valid("vendor.gitlab-ci", path)


def test_readme_gitlab_snippets_match_gitlab_schema(tmp_path):
    files = []
    for name in ("gitlab-component", "gitlab-monorepo", "gitlab-legacy"):
        files.append(tmp_path / f"{name}.yml")
        files[-1].write_text(readme_snippet(name))
    assert_valid("vendor.gitlab-ci", *files)


# ------------------------------------------------------------------------------------------------ GitLab: inputs


def test_release_component_jobs_stages_and_chain():
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml")
    names = [f"release-{stage}" for stage in STAGES]
    assert [name for name in jobs if not name.startswith(".")] == [*names, "release-promote-automatic"]
    for previous, name in itertools.pairwise(names):
        assert jobs[name]["needs"] == [{"job": previous, "artifacts": True}], name
    assert jobs["release-promote-automatic"]["needs"] == jobs["release-promote"]["needs"]
    assert "needs" not in jobs["release-plan"]
    assert [jobs[n]["stage"] for n in names] == ["build", "test", *["deploy"] * 5]
    for stage, name in zip(STAGES, names, strict=True):
        assert jobs[name]["variables"]["RELEASE_CI_STAGE"] == stage
        assert jobs[name]["extends"] == (
            [".release-component", ".release-engine-socket"] if stage == "images" else ".release-component"
        )
    base = jobs[".release-component"]
    assert base["artifacts"]["paths"] == [".release/"]
    assert base["artifacts"]["reports"] == {"dotenv": "release.env"}
    assert base["variables"]["GIT_DEPTH"] == "0"
    assert base["variables"]["RELEASE_STATE"] == ".release/state.json"
    # the jobs that publish never run in two pipelines at once; plan and test may
    publishing = {*names[2:], "release-promote-automatic"}
    assert {n for n in jobs if not n.startswith(".") and "resource_group" in jobs[n]} == publishing


def engine_of(inputs: dict[str, Any]) -> dict[str, Any]:
    """The images job's engine settings (services, variables), as GitLab merges its `extends:` chain."""
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml", inputs)
    images = jobs["release-images"]
    merged: dict[str, Any] = {"variables": {}}
    for parent in [images["extends"]] if isinstance(images["extends"], str) else images["extends"]:
        assert parent in jobs, f"release-images extends {parent}, which the component does not define"
        merged["variables"].update(jobs[parent].get("variables") or {})
        if "services" in jobs[parent]:
            merged["services"] = jobs[parent]["services"]
    merged["variables"].update(images["variables"])
    return merged


def test_engine_dind_is_gitlabs_documented_docker_in_docker_over_tls():
    for inputs in ({"engine": "dind"}, {"engine": "dind", "environments": ["dev"]}):
        engine = engine_of(inputs)
        assert engine["services"] == [{"name": "docker:dind", "alias": "docker"}]
        assert {k: v for k, v in engine["variables"].items() if k.startswith("DOCKER_")} == {
            "DOCKER_HOST": "tcp://docker:2376",
            "DOCKER_TLS_CERTDIR": "/certs",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": "/certs/client",
        }
        assert "RELEASE_ENGINE" not in engine["variables"]
    assert engine_of({"engine": "dind", "dind_image": "docker:27-dind"})["services"][0]["name"] == "docker:27-dind"


def test_engine_socket_the_default_and_none():
    assert engine_of({}) == engine_of({"engine": "socket"})  # what a runner with a mounted socket had before
    socket = engine_of({"engine": "socket"})
    assert "services" not in socket
    assert {k: v for k, v in socket["variables"].items() if k.startswith(("DOCKER_", "RELEASE_ENGINE"))} == {
        "DOCKER_HOST": "unix:///var/run/docker.sock"
    }
    none = engine_of({"engine": "none"})
    assert "services" not in none
    assert {k: v for k, v in none["variables"].items() if k.startswith(("DOCKER_", "RELEASE_ENGINE"))} == {
        "RELEASE_ENGINE": "none"
    }
    # only the images job gets an engine
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml", {"engine": "socket"})
    assert [n for n, j in jobs.items() if "DOCKER_HOST" in (j.get("variables") or {})] == [
        ".release-engine-dind",
        ".release-engine-socket",
    ]


def test_each_named_environment_is_a_promote_job_declaring_its_gitlab_environment():
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml", {"environments": ["dev", "prod"]})
    promote = jobs["release-promote"]
    assert promote["parallel"] == {"matrix": [{"RELEASE_CI_ENVIRONMENT": ["dev", "prod"]}]}
    assert promote["environment"] == {
        "name": "$RELEASE_CI_ENVIRONMENT",
        "action": "start",
        "url": "$RELEASE_ENVIRONMENT_URL",
    }
    assert promote["variables"]["RELEASE_CI_ENVIRONMENTS_INPUT"] == 'json:["dev", "prod"]'
    assert "environment" not in jobs["release-promote-automatic"]
    # the rules pick one of the two promote jobs from the input (GitLab compares the text of the variable)
    assert {"if": '$RELEASE_CI_ENVIRONMENTS_INPUT == "json:[]"', "when": "never"} in promote["rules"]
    assert {"if": '$RELEASE_CI_ENVIRONMENTS_INPUT != "json:[]"', "when": "never"} in jobs["release-promote-automatic"][
        "rules"
    ]
    script = "\n".join(jobs[".release-component"]["script"])
    assert '--environment "$RELEASE_CI_ENVIRONMENT"' in script


def test_release_component_inputs_land_where_they_act():
    jobs = render_component(CI_TEMPLATES / "templates" / "release.yml", NON_DEFAULT_INPUTS["release.yml"])
    base = jobs[".release-component"]
    assert base["image"] == "registry.example.com/tools/release:1.4.0"
    assert base["before_script"] == ["pip install release", "release --version"]  # an array, not a string
    assert base["variables"]["RELEASE_STATE"] == "out/state/state.json"
    assert base["variables"]["RELEASE_CI_CONFIG"] == "deploy/release.yaml"
    assert base["artifacts"]["paths"] == ["out/state/"]
    script = "\n".join(base["script"])
    assert jobs["release-promote"]["parallel"]["matrix"] == [{"RELEASE_CI_ENVIRONMENT": ["dev", "staging"]}]
    assert "RELEASE_CI_DRY_RUN='true'" in script
    assert jobs["release-images"]["stage"] == "publish"
    assert [rule.get("when") for rule in jobs["release-promote"]["rules"]] == ["never", "never", "manual", "manual"]
    assert jobs["release-images"]["extends"] == [".release-component", ".release-engine-none"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"dry_run": "yes"}, "`dry_run` input: provided value is not a boolean"),
        ({"environments": "dev"}, "`environments` input: provided value is not a array"),
        ({"before_script": "pip install release"}, "`before_script` input: provided value is not a array"),
        ({"image": ["python:3.12"]}, "`image` input: provided value is not a string"),
        ({"promote_when": "always"}, "`promote_when` input: `always` cannot be used because it is not in the list"),
        ({"enviroments": ["dev"]}, "unknown input arguments: enviroments"),
        ({"engine": "kaniko"}, "`engine` input: `kaniko` cannot be used because it is not in the list"),
    ],
)
def test_wrong_inputs_are_refused_with_gitlabs_message(inputs, message):
    with pytest.raises(InputError) as err:
        render_component(CI_TEMPLATES / "templates" / "release.yml", inputs)
    assert str(err.value).startswith(message)


def test_readme_component_snippets_pass_inputs_the_components_accept():
    for name, component in (("gitlab-component", "release"), ("gitlab-monorepo", "monorepo")):
        (include,) = yaml.safe_load(readme_snippet(name))["include"]
        assert include["component"].split("/")[-1].split("@")[0] == component
        render_component(CI_TEMPLATES / "templates" / f"{component}.yml", include["inputs"])


def test_legacy_file_has_a_hidden_job_per_stage_running_that_stage():
    doc = yaml.safe_load(LEGACY.read_text())
    for stage in STAGES:
        job = doc[f".release-{stage}"]
        assert job["extends"] == ".release-base"
        assert job["variables"]["RELEASE_CI_STAGE"] == stage
    assert doc[".release-run"]["variables"]["RELEASE_CI_STAGE"] == ""
    assert not [name for name in doc if not name.startswith(".") and name != "variables"], "only hidden jobs"
    component = render_component(CI_TEMPLATES / "templates" / "release.yml")[".release-component"]
    assert doc[".release-base"]["artifacts"] == component["artifacts"]
    assert doc[".release-base"]["rules"] == component["rules"]


# ------------------------------------------------------------------------------------------------ scripts: shellcheck


def shellcheck(script: str, shell: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("shellcheck"), "--shell", shell, "--severity", "style", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def gitlab_job_scripts(jobs: dict[str, Any]) -> dict[str, str]:
    """Each job's before_script and script as the one shell script the runner makes of them."""
    scripts = {}
    for name, job in jobs.items():
        if isinstance(job, dict) and "script" in job:
            lines = [*(job.get("before_script") or []), *job["script"]]
            scripts[name] = "\n".join(lines) + "\n"
    return scripts


def test_template_scripts_pass_shellcheck():
    sources = {
        **{f"{p.name}:{job}": s for p in COMPONENTS for job, s in gitlab_job_scripts(render_component(p)).items()},
        **{f"{LEGACY.name}:{job}": s for job, s in gitlab_job_scripts(yaml.safe_load(LEGACY.read_text())).items()},
    }
    assert set(sources) == {
        "monorepo.yml:release-plan",
        "monorepo.yml:release-generate",
        "release.yml:.release-component",
        "release.gitlab-ci.yml:.release-base",
    }
    for name, script in sources.items():
        result = shellcheck(script, "sh")  # GitLab runs the script with sh when the image has no bash
        assert result.returncode == 0, f"{name}:\n{script}\n{result.stdout}"


def test_action_scripts_pass_shellcheck_and_never_paste_expressions():
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    runs = [step for step in steps if "run" in step]
    assert runs
    for step in runs:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], f"step {step.get('id')}: inputs reach scripts through env:, never pasted"
        result = shellcheck(step["run"], "bash")
        assert result.returncode == 0, f"step {step.get('id')}:\n{result.stdout}"


def test_shellcheck_is_not_a_rubber_stamp():
    assert shellcheck("for env in $RELEASE_CI_ENVIRONMENTS; do echo $env; done\nrelease run $@\n", "sh").returncode == 1


# ------------------------------------------------------------------------------------------------ GitHub


def test_action_matches_github_actions_schema():
    assert_valid("vendor.github-actions", ACTION)


def test_action_declares_the_outputs_users_expect_from_the_run_step():
    action = yaml.safe_load(ACTION.read_text())
    expected = ["released", "version", "tag", "previous_version", "is_prerelease", "release_notes"]
    assert list(action["outputs"]) == expected
    for name in expected:
        assert action["outputs"][name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    assert action["runs"]["using"] == "composite"


def test_action_passes_zizmor_offline(tmp_path):
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(ACTION)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # zizmor audits what we think it does: the same step with an input pasted into its script is a finding
    action = yaml.safe_load(ACTION.read_text())
    action["runs"]["steps"][-1]["run"] += 'echo "${{ inputs.config }}"\n'
    bad = tmp_path / "action.yml"
    bad.write_text(yaml.safe_dump(action, sort_keys=False))
    flagged = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert flagged.returncode != 0 and "template-injection" in flagged.stdout + flagged.stderr


def workflow_with_local_action(tmp_path: Path, workflow: str) -> Path:
    """A repo with the README workflow using `./` (a copy of action.yml): actionlint reads the action's metadata."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, repo / "action.yml")
    local = re.sub(r"uses: [\w.-]+/release@[\w.-]+", "uses: ./", workflow)
    assert local != workflow, "the README workflow does not use the action"
    (repo / ".github" / "workflows" / "release.yml").write_text(local)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def actionlint(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-oneline"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_readme_workflow_using_the_action_passes_actionlint(tmp_path):
    workflow = readme_snippet("github-workflow")
    result = actionlint(workflow_with_local_action(tmp_path / "ok", workflow))
    assert result.returncode == 0, result.stdout + result.stderr
    # actionlint checks the workflow against action.yml: an input or output the action lacks is an error
    wrong = workflow.replace("environments: dev", "enviroments: dev").replace(
        "steps.release.outputs.version", "steps.release.outputs.new_version"
    )
    result = actionlint(workflow_with_local_action(tmp_path / "wrong", wrong))
    assert result.returncode == 1
    assert 'input "enviroments" is not defined in action "release" defined at "./"' in result.stdout
    assert 'property "new_version" is not defined' in result.stdout


def test_readme_workflow_matches_github_workflow_schema(tmp_path):
    path = tmp_path / "release.yml"
    path.write_text(readme_snippet("github-workflow"))
    assert_valid("vendor.github-workflows", path)
