"""The starter chart and `release init --chart`: an app repository with a Dockerfile gets a chart Helm lints and
renders, wired so that a released pod names its version, commit and image digest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from release.ci import starter
from release.config import from_text
from tests import helm_oracle
from tests.conftest import Repo, assert_one_line_error

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


def instantiated(tmp_path: Path, name: str = "shop") -> Path:
    """The starter as `helm create NAME --starter` makes it: a copy with every <CHARTNAME> replaced."""
    where = tmp_path / name
    starter.copy(where, name)
    return where


def documents(rendered: dict[str, str]) -> dict[str, dict]:  # type: ignore[type-arg]
    """Rendered manifests by kind, parsed as YAML (what kubectl would be given)."""
    found = {}
    for path, text in rendered.items():
        if path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc:
                    found[doc["kind"]] = doc
    return found


def test_the_repositorys_charts_starter_is_the_shipped_one():
    assert (ROOT / "charts" / "starter").resolve() == starter.STARTER.resolve()
    chart = yaml.safe_load((starter.STARTER / "Chart.yaml").read_text())
    assert chart["name"] == "<CHARTNAME>"  # Helm's starter placeholder
    assert {str(p) for p in starter.files()} >= {
        "Chart.yaml",
        "values.yaml",
        ".helmignore",
        "templates/_helpers.tpl",
        "templates/deployment.yaml",
        "templates/service.yaml",
        "templates/ingress.yaml",
        "templates/NOTES.txt",
    }


@pytest.mark.parametrize("ingress", [False, True])
def test_helm_lints_and_renders_the_starter(tmp_path, ingress):
    chart = instantiated(tmp_path)
    values = {"ingress": {"enabled": True, "className": "nginx", "tls": [{"secretName": "t", "hosts": ["a.b"]}]}}
    report = helm_oracle.lint(chart, values if ingress else None, strict=True)
    assert helm_oracle.lint_errors(report) == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []  # not even a warning
    rendered = documents(helm_oracle.render(chart, values if ingress else None, release="web"))
    assert set(rendered) == ({"Deployment", "Service", "Ingress"} if ingress else {"Deployment", "Service"})
    pod = rendered["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"release/version": "0.1.0", "release/commit": "unknown"}
    assert pod["spec"]["containers"][0]["image"] == "registry.example.com/shop:0.1.0"
    service = rendered["Service"]["spec"]
    assert service["selector"] == rendered["Deployment"]["spec"]["selector"]["matchLabels"]
    if ingress:
        rule = rendered["Ingress"]["spec"]["rules"][0]
        assert rule["http"]["paths"][0]["backend"]["service"]["name"] == rendered["Service"]["metadata"]["name"]
        assert rendered["Ingress"]["spec"]["ingressClassName"] == "nginx"


def test_a_digest_pins_the_image_and_the_annotations_name_the_release(tmp_path):
    values = {"image": {"tag": "1.4.0", "digest": DIGEST}, "release": {"version": "1.4.0", "commit": "c0ffee"}}
    rendered = documents(helm_oracle.render(instantiated(tmp_path), values))
    pod = rendered["Deployment"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == f"registry.example.com/shop:1.4.0@{DIGEST}"
    assert pod["metadata"]["annotations"] == {"release/version": "1.4.0", "release/commit": "c0ffee"}


def app_repo(repo: Repo) -> None:
    repo.commit("feat: app", {"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "hello\n"})


def test_init_chart_copies_the_starter_and_wires_it(repo, release):
    app_repo(repo)
    result = release(repo, "init", "--chart")
    assert result.code == 0, result.err
    assert "wrote the starter chart to charts/app" in result.err
    chart = yaml.safe_load((repo.path / "charts/app/Chart.yaml").read_text())
    assert chart["name"] == "app"
    assert "<CHARTNAME>" not in "".join(p.read_text() for p in (repo.path / "charts/app").rglob("*") if p.is_file())
    config = from_text((repo.path / "release.yaml").read_text())
    [entry] = config.charts
    assert entry.path == "charts/app"
    assert entry.values == {
        "image.repository": "{image.app.repository}",
        "image.tag": "{version}",
        "image.digest": "{image.app.digest}",
        "release.version": "{version}",
        "release.commit": "{sha}",
    }
    assert helm_oracle.lint_errors(helm_oracle.lint(repo.path / "charts/app")) == []
    plan = release(repo, "plan", "--json")
    assert plan.code == 0 and json.loads(plan.out)["next_version"] == "0.1.0"


def test_init_chart_refuses_a_repository_with_a_chart_or_without_a_dockerfile(repo, release):
    repo.commit("feat: x", {"README.md": "x\n"})
    assert_one_line_error(release(repo, "init", "--chart"), "no Dockerfile here", "without --chart")
    assert not (repo.path / "release.yaml").exists() and not (repo.path / "charts").exists()
    repo.commit("feat: app", {"Dockerfile": "FROM scratch\n", "deploy/web/Chart.yaml": "apiVersion: v2\nname: web\n"})
    assert_one_line_error(release(repo, "init", "--chart"), "already has a chart (deploy/web)")
    assert not (repo.path / "release.yaml").exists() and not (repo.path / "charts").exists()
    assert_one_line_error(release(repo, "init", "--chart", "--stdout"), "--stdout writes nothing")


def test_init_chart_leaves_a_taken_folder_alone(repo, release):
    app_repo(repo)
    repo.write("charts/app/notes.txt", "mine\n")  # a folder of that name, but no chart in it
    assert_one_line_error(release(repo, "init", "--chart"), "charts/app already exists")
    assert [p.name for p in (repo.path / "charts/app").iterdir()] == ["notes.txt"]
    assert not (repo.path / "release.yaml").exists()


@pytest.mark.slow
def test_the_built_wheel_ships_the_starter(tmp_path):
    """`pip install .` (not editable) must carry the starter: build the wheel, run `release init --chart` from it."""
    source = tmp_path / "source"  # a clean copy: an in-tree build/ left by an earlier build would hide a gap
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "release", source / "release", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("release-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert "release/ci/starter/templates/deployment.yaml" in archive.namelist()
        assert "release/ci/starter/.helmignore" in archive.namelist()
        archive.extractall(unpacked)
    app = tmp_path / "app"
    app.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(app)], check=True)
    (app / "Dockerfile").write_text("FROM scratch\n")
    code = "import release.ci.starter as s, release.cli as c; print(s.STARTER); c.main(['init', '--chart'])"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(str(unpacked))  # the wheel's copy, not this checkout
    assert yaml.safe_load((app / "charts/app/Chart.yaml").read_text())["name"] == "app"
    assert (app / "release.yaml").is_file()
    shutil.rmtree(unpacked)


@pytest.mark.parametrize("commands", [["run"], ["build --push", "chart --publish"]])
def test_dockerfile_to_init_chart_to_run_publishes_a_chart_helm_renders_with_the_digest(
    repo, release, registry, podman, tmp_path, commands
):
    """The README's path: a Dockerfile, `release init --chart`, the CHANGE ME lines, `release run` (or the two
    publishing commands alone, one after the other: one release, tagged once)."""
    from tests.services import scratch_context

    scratch_context(repo.path, {"hello.txt": "hello from the starter\n"})
    repo.git("add", "-A")
    repo.commit("feat: the app")
    assert release(repo, "init", "--chart").code == 0
    config = repo.path / "release.yaml"
    text = config.read_text()
    # What the CHANGE ME lines ask for, here the loopback registry (no forge remote to guess it from).
    space = f"starter-{len(commands)}"  # the registry lives for the session: one namespace per case
    text = text.replace("registry.example.com/app/app", f"{registry.host}/{space}/app")
    text = text.replace(
        "      # - oci://registry.example.com/app/charts", f"      - oci://{registry.host}/{space}/charts"
    )
    config.write_text(text)
    repo.git("add", "-A")
    repo.commit("feat: chart and release.yaml")
    env = {
        "DOCKER_HOST": podman.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
    }
    for command in commands:
        result = release(repo, *command.split(), env=env)
        assert result.code == 0, result.err
    assert commands != ["run"] or result.out == "0.1.0\n"
    assert repo.git("tag", "--points-at", "HEAD") == "v0.1.0"
    state = json.loads((repo.path / ".release/state.json").read_text())
    digest = state["images"][0]["digest"]
    with helm_oracle.registry_client(credentials_file=tmp_path / "creds.json") as client:
        helm_oracle.login(client, registry.host, registry.user, registry.password)
        pulled = helm_oracle.pull(client, f"oci://{registry.host}/{space}/charts/app", tmp_path / "pulled")
    assert helm_oracle.lint_errors(helm_oracle.lint(pulled)) == []
    rendered = documents(helm_oracle.render(pulled, release="prod"))
    pod = rendered["Deployment"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == f"{registry.host}/{space}/app:0.1.0@{digest}"
    assert pod["metadata"]["annotations"] == {"release/version": "0.1.0", "release/commit": repo.head()}
