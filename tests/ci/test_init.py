"""`release init`: a starter release.yaml from real repos, read back by the strict config reader, then planned."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from release.config import Config, from_text
from tests.conftest import Repo, assert_one_line_error

CHART = "apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
VALUES_WITH_IMAGE = "replicaCount: 1\nimage:\n  repository: nginx\n  tag: latest\n  digest: ''\n"


def written(repo: Repo, name: str = "release.yaml") -> tuple[str, Config]:
    text = (repo.path / name).read_text(encoding="utf-8")
    return text, from_text(text, name)


def init_ok(repo: Repo, release, *args: str):  # type: ignore[no-untyped-def]
    result = release(repo, "init", *args)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result


def plan_json(repo: Repo, release) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def uncommented(text: str, start: str) -> str:
    """The commented block that starts at the line `# {start}`, with the comment markers taken off."""
    lines = text.splitlines()
    first = lines.index(f"# {start}")
    block = []
    for line in lines[first:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    return "\n".join(block) + "\n"


# --- what it finds ----------------------------------------------------------------------------------------


def test_empty_repo_gets_a_minimal_valid_file_and_plan_works(repo, release):
    repo.commit("feat: first")
    result = init_ok(repo, release)
    text, config = written(repo)
    assert result.out == f"{repo.path / 'release.yaml'}\n"
    assert "found no Dockerfile, chart or CI file" in result.err
    assert text.startswith("# release.yaml for app, written by `release init`")
    assert config.versioning.tag_format == "v{version}"
    assert config.versioning.initial == "0.1.0"
    assert (config.images, config.charts, config.tests, config.environments, config.components) == ((),) * 5
    assert "\n# images:\n" in text and "\n# environments:\n" in text
    # The commented examples are real config once uncommented.
    assert from_text(uncommented(text, "images:")).images[0].repository == "registry.example.com/app/app"
    assert from_text(uncommented(text, "forge_release: {enabled: false}")).forge_release.enabled is False
    assert plan_json(repo, release)["next_version"] == "0.1.0"


def test_root_dockerfile_and_chart_wire_the_image_into_the_values(repo, release):
    repo.commit(
        "feat: app",
        {
            "Dockerfile": "FROM scratch\n",
            "charts/app/Chart.yaml": CHART.format(name="app"),
            "charts/app/values.yaml": VALUES_WITH_IMAGE,
            "charts/app/templates/deployment.yaml": "kind: Deployment\n",
        },
    )
    result = init_ok(repo, release)
    text, config = written(repo)
    assert "found 1 Dockerfile, 1 chart" in result.err
    [image] = config.images
    assert (image.name, image.context, image.dockerfile) == ("app", ".", "Dockerfile")
    # No forge remote: an obviously made-up registry, flagged for the user.
    assert image.repository == "registry.example.com/app/app"
    assert "CHANGE ME: no GitLab or GitHub origin remote" in text
    [chart] = config.charts
    assert chart.path == "charts/app"
    assert chart.values == {
        "image.repository": "{image.app.repository}",
        "image.tag": "{version}",
        "image.digest": "{image.app.digest}",
    }
    # A made-up publish target stays commented out: `release chart --publish` would otherwise push there.
    assert chart.publish == ()
    assert "      # - oci://registry.example.com/app/charts" in text
    assert plan_json(repo, release)["next_version"] == "0.1.0"


def test_two_service_dockerfiles_and_what_is_skipped(repo, release):
    repo.commit(
        "feat: services",
        {
            "services/api/Dockerfile": "FROM scratch\n",
            "services/web/Containerfile": "FROM scratch\n",
            "node_modules/left-pad/Dockerfile": "FROM scratch\n",
            ".devcontainer/Dockerfile": "FROM scratch\n",
            "vendor/lib/Dockerfile": "FROM scratch\n",
            "a/b/c/d/Dockerfile": "FROM scratch\n",  # deeper than three folders
        },
    )
    repo.write("ignored/Dockerfile", "FROM scratch\n")
    repo.write(".gitignore", "ignored/\n")
    result = init_ok(repo, release)
    _, config = written(repo)
    assert "found 2 Dockerfiles, 0 charts" in result.err
    assert [(i.name, i.context, i.dockerfile, i.repository) for i in config.images] == [
        ("api", "services/api", "Dockerfile", "registry.example.com/app/api"),
        ("web", "services/web", "Containerfile", "registry.example.com/app/web"),
    ]
    assert config.charts == ()
    plan_json(repo, release)


def test_named_dockerfiles_and_clashing_names_stay_unique(repo, release):
    repo.commit(
        "feat: x",
        {"Dockerfile": "FROM scratch\n", "worker.Dockerfile": "FROM scratch\n", "app/Dockerfile": "FROM scratch\n"},
    )
    init_ok(repo, release)
    _, config = written(repo)
    assert [(i.name, i.context, i.dockerfile) for i in config.images] == [
        ("app", ".", "Dockerfile"),
        ("app-2", "app", "Dockerfile"),
        ("worker", ".", "worker.Dockerfile"),
    ]


def test_gitlab_remote_guesses_the_project_registry_and_prints_the_ci_snippet(repo, release):
    repo.commit(
        "feat: shop",
        {
            "Dockerfile": "FROM scratch\n",
            "worker/Dockerfile": "FROM scratch\n",
            "charts/shop/Chart.yaml": CHART.format(name="shop"),
            "charts/shop/values.yaml": VALUES_WITH_IMAGE,
            ".gitlab-ci.yml": "stages: [test]\n",
        },
    )
    repo.git("remote", "add", "origin", "git@gitlab.com:Team/Shop.git")
    result = init_ok(repo, release)
    text, config = written(repo)
    assert "found 2 Dockerfiles, 1 chart, GitLab CI" in result.err
    # $CI_REGISTRY_IMAGE's shape: lowercase, the project's path, then the image's folder for extra images.
    assert [(i.name, i.repository) for i in config.images] == [
        ("shop", "registry.gitlab.com/team/shop"),
        ("worker", "registry.gitlab.com/team/shop/worker"),
    ]
    assert config.charts[0].values["image.repository"] == "{image.shop.repository}"
    assert config.charts[0].publish == ("oci://registry.gitlab.com/team/shop/charts",)
    assert config.notes.forge == "gitlab"
    assert "merge requests (!12)" in text
    assert "include:" in result.err
    assert "- component: $CI_SERVER_FQDN/<group>/release-ci/release@" in result.err
    assert "CHANGE ME" not in text.split("# GitOps environments")[0].split("# Release notes")[1]
    plan_json(repo, release)


def test_self_managed_gitlab_remote_with_credentials_never_leaks_them(repo, release):
    repo.commit("feat: x", {"Dockerfile": "FROM scratch\n"})
    repo.git("remote", "add", "origin", "https://ci:s3cr3t-token@gitlab.example.com/Group/Sub/App.git")
    result = init_ok(repo, release)
    text, config = written(repo)
    assert config.images[0].repository == "registry.gitlab.example.com/group/sub/app"
    assert config.notes.forge == "gitlab"
    assert "CHANGE ME if registry.gitlab.example.com is not your GitLab's $CI_REGISTRY" in text
    assert "s3cr3t" not in text + result.err + result.out


def test_github_workflow_and_remote(repo, release):
    repo.commit(
        "feat: x",
        {"Dockerfile": "FROM scratch\n", "api/Dockerfile": "FROM scratch\n", ".github/workflows/ci.yml": "on: push\n"},
    )
    repo.git("remote", "add", "origin", "https://github.com/Owner/My_Repo.git")
    result = init_ok(repo, release)
    text, config = written(repo)
    assert "found 2 Dockerfiles, 0 charts, GitHub CI" in result.err
    assert [i.repository for i in config.images] == ["ghcr.io/owner/my_repo", "ghcr.io/owner/my_repo/api"]
    assert config.notes.forge == "github"
    assert "pull requests (#12)" in text
    assert "add to a job in .github/workflows/ci.yml" in result.err
    assert "uses: <owner>/release@<version>" in result.err
    assert "fetch-depth: 0" in result.err


def test_github_workflow_without_a_remote_picks_the_forge_from_the_ci_file(repo, release):
    repo.commit("feat: x", {"Dockerfile": "FROM scratch\n", ".github/workflows/release.yaml": "on: push\n"})
    result = init_ok(repo, release)
    text, config = written(repo)
    assert config.notes.forge == "github"
    assert "from .github/workflows/release.yaml" in text
    assert config.images[0].repository == "registry.example.com/app/app"
    assert "uses: <owner>/release@<version>" in result.err


# --- tags -------------------------------------------------------------------------------------------------


def test_v_tags_keep_the_default_format(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("fix: two")
    repo.tag("v1.0.1")
    repo.tag("latest")
    repo.commit("feat: three")
    result = init_ok(repo, release)
    text, config = written(repo)
    assert config.versioning.tag_format == "v{version}"
    assert "found 2 tags like v1.2.3" in text
    assert "2 tags like v1.2.3" in result.err
    plan = plan_json(repo, release)
    assert (plan["current_version"], plan["next_version"]) == ("1.0.1", "1.1.0")


def test_plain_tags_give_a_format_without_v(repo, release):
    repo.commit("feat: one")
    repo.tag("1.0.0")
    repo.commit("feat: two")
    repo.tag("1.1.0")
    repo.commit("fix: three")
    init_ok(repo, release)
    text, config = written(repo)
    assert config.versioning.tag_format == "{version}"
    assert 'tag_format: "{version}"' in text
    plan = plan_json(repo, release)
    assert (plan["current_version"], plan["next_version"], plan["tag"]) == ("1.1.0", "1.1.1", "1.1.1")


def test_component_tags_suggest_components_with_their_folders(repo, release):
    repo.commit("feat(api): api", {"services/api/main.go": "package main\n", "services/api/Dockerfile": "FROM x\n"})
    repo.tag("api-v1.0.0")
    repo.commit("feat(web): web", {"web/index.js": "//\n", "Dockerfile": "FROM scratch\n"})
    repo.tag("web-v0.3.0")
    repo.tag("lost-v1.0.0")
    repo.commit("fix(api): crash", {"services/api/main.go": "package main // fixed\n"})
    result = init_ok(repo, release)
    text, config = written(repo)
    assert "tags for 3 components (api, lost, web)" in result.err
    assert [(c.name, c.path, c.tag_format) for c in config.components] == [
        ("api", "services/api", "{component}-v{version}"),
        ("web", "web", "{component}-v{version}"),
    ]
    assert "  # - name: lost" in text and "CHANGE ME: no folder named lost found" in text
    images = {i.name: i.component for i in config.images}
    assert images == {"api": "api", "app": None}
    # The root image is in no component's folder: said, rather than silently never built.
    assert "# component: NAME" in text and "or it is never released" in text
    plan = plan_json(repo, release)
    by_name = {c["name"]: c for c in plan["components"]}
    assert (by_name["api"]["current_version"], by_name["api"]["next_version"]) == ("1.0.0", "1.0.1")
    assert by_name["web"]["current_version"] == "0.3.0"


def test_at_style_component_tags_keep_their_format(repo, release):
    repo.commit("feat: x", {"pkgs/ui/a.txt": "a", "pkgs/core/b.txt": "b"})
    repo.tag("ui@1.0.0")
    repo.tag("core@2.0.0")
    init_ok(repo, release)
    _, config = written(repo)
    assert [(c.name, c.path, c.tag_format) for c in config.components] == [
        ("core", "pkgs/core", "{component}@{version}"),
        ("ui", "pkgs/ui", "{component}@{version}"),
    ]
    plan_json(repo, release)


def test_one_prefixed_tag_name_becomes_the_repo_tag_format(repo, release):
    repo.commit("feat: x")
    repo.tag("app-v1.2.0")
    repo.commit("fix: y")
    init_ok(repo, release)
    _, config = written(repo)
    assert config.versioning.tag_format == "app-v{version}"
    assert config.components == ()
    plan = plan_json(repo, release)
    assert (plan["current_version"], plan["tag"]) == ("1.2.0", "app-v1.2.1")


# --- test commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "live", "commented"),
    [
        ({"pyproject.toml": "[tool.pytest.ini_options]\n", "tests/test_a.py": ""}, [("python", "pytest -q")], []),
        ({"setup.cfg": "[metadata]\nname = x\n"}, [], ["pytest -q"]),
        ({"package.json": '{"scripts": {"test": "jest"}}'}, [("node", "npm test")], []),
        ({"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'}, [], ["npm test"]),
        ({"go.mod": "module x\n"}, [("go", "go test ./...")], []),
        ({"Makefile": "test:\n\tgo test ./...\n", "go.mod": "module x\n"}, [("test", "make test")], []),
        ({"Makefile": "test := 1\nbuild:\n\ttrue\n"}, [], []),
    ],
)
def test_test_command_guesses(repo, release, files, live, commented):
    repo.commit("feat: x", files)
    init_ok(repo, release)
    text, config = written(repo)
    assert [(t.name, t.run) for t in config.tests] == live
    for run in commented:
        assert re.search(rf"^ *# .*run: \"?{re.escape(run)}", text, re.M), text
        assert "unsure:" in text
    if not live and not commented:
        assert "no test command recognised: CHANGE ME" in text


# --- charts -----------------------------------------------------------------------------------------------


def test_charts_anywhere_up_to_depth_three_without_subcharts(repo, release):
    repo.commit(
        "feat: charts",
        {
            "deploy/helm/svc/Chart.yaml": CHART.format(name="svc"),
            "deploy/helm/svc/values.yaml": "image:\n  tag: v1\n",
            "deploy/helm/svc/charts/sub/Chart.yaml": CHART.format(name="sub"),
            "charts/plain/Chart.yaml": CHART.format(name="plain"),
            "charts/plain/values.yaml": "replicas: 1\n",
            "charts/broken/Chart.yaml": CHART.format(name="broken"),
            "charts/broken/values.yaml": "image: [unclosed\n",
            "a/b/c/d/Chart.yaml": CHART.format(name="deep"),
        },
    )
    result = init_ok(repo, release)
    text, config = written(repo)
    assert "found 0 Dockerfiles, 3 charts" in result.err
    assert [(c.path, c.values) for c in config.charts] == [
        ("charts/broken", {}),
        ("charts/plain", {}),
        ("deploy/helm/svc", {}),  # no Dockerfile here: its image is not ours to tag with the release version
    ]
    assert '    #   image.tag: "{version}"' in text
    assert "values.yaml did not parse" in text
    assert "values.yaml has no image.repository or image.tag" in text


def test_a_chart_only_repo_packages_with_the_written_config(repo, release, tmp_path):
    repo.commit(
        "feat: chart",
        {
            "charts/web/Chart.yaml": CHART.format(name="web"),
            "charts/web/values.yaml": "image:\n  repository: nginx\n  tag: stable\n",
            "charts/web/templates/cm.yaml": "kind: ConfigMap\n",
        },
    )
    init_ok(repo, release)
    repo.git("add", "release.yaml")
    repo.git("commit", "-q", "-m", "chore: release.yaml")
    result = release(repo, "chart", "--output", str(tmp_path / "out"))
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "web-0.1.0.tgz").is_file()


def test_a_chart_among_several_images_is_wired_by_name_or_left_to_the_user(repo, release):
    repo.commit(
        "feat: x",
        {
            "api/Dockerfile": "FROM scratch\n",
            "web/Dockerfile": "FROM scratch\n",
            "charts/web/Chart.yaml": CHART.format(name="web"),
            "charts/web/values.yaml": VALUES_WITH_IMAGE,
            "charts/stack/Chart.yaml": CHART.format(name="stack"),
            "charts/stack/values.yaml": VALUES_WITH_IMAGE,
        },
    )
    init_ok(repo, release)
    text, config = written(repo)
    charts = {c.path: c.values for c in config.charts}
    assert charts["charts/web"]["image.repository"] == "{image.web.repository}"
    # stack runs nginx, which neither Dockerfile builds: nothing is wired, the user is asked.
    assert charts["charts/stack"] == {}
    assert '    #   image.repository: "{image.NAME.repository}"' in text
    assert "CHANGE ME if it runs nginx, an image built here (api, web)" in text
    assert '    #   image.tag: "{version}"' in text
    assert '    #   image.digest: "{image.NAME.digest}"' in text


# --- environments -----------------------------------------------------------------------------------------


def test_environments_are_only_a_commented_example_that_parses_once_uncommented(repo, release):
    repo.commit("feat: x", {"Dockerfile": "FROM scratch\n"})
    repo.git("remote", "add", "origin", "git@gitlab.com:team/sub/shop.git")
    init_ok(repo, release)
    text, config = written(repo)
    assert config.environments == ()
    example = from_text(uncommented(text, "environments:"))
    dev, prod = example.environments
    assert dev.repo == "https://gitlab.com/team/sub/infra.git"
    assert dev.updates[0].set == {"image.tag": "{version}", "image.digest": "{image.shop.digest}"}
    assert (dev.automatic, prod.mode, prod.after) == (True, "merge-request", "dev")


# --- writing ----------------------------------------------------------------------------------------------


def test_refuses_to_overwrite_an_existing_config(repo, release):
    repo.commit("feat: x", {"release.yaml": "version: 1\n"})
    result = release(repo, "init")
    assert_one_line_error(result, "release.yaml already exists", "pass --force to replace it, or edit it")
    assert (repo.path / "release.yaml").read_text() == "version: 1\n"


def test_refuses_a_hidden_config_too_and_force_replaces_it_in_place(repo, release):
    repo.commit("feat: x", {".release.yml": "version: 1\n", "Dockerfile": "FROM scratch\n"})
    assert_one_line_error(release(repo, "init"), ".release.yml already exists", "--force")
    init_ok(repo, release, "--force")
    # Replaced where it was: a new release.yaml would shadow it and leave two configs behind.
    assert not (repo.path / "release.yaml").exists()
    _, config = written(repo, ".release.yml")
    assert config.images[0].name == "app"


def test_force_replaces_release_yaml(repo, release):
    repo.commit("feat: x", {"release.yaml": "version: 1\n", "Dockerfile": "FROM scratch\n"})
    init_ok(repo, release, "--force")
    text, config = written(repo)
    assert text.startswith("# release.yaml for app")
    assert [i.name for i in config.images] == ["app"]
    plan_json(repo, release)


def test_stdout_writes_nothing_and_prints_the_same_bytes(repo, release):
    repo.commit("feat: x", {"Dockerfile": "FROM scratch\n"})
    result = init_ok(repo, release, "--stdout")
    assert not (repo.path / "release.yaml").exists()
    assert repo.git("status", "--porcelain") == ""
    init_ok(repo, release)
    assert result.out == (repo.path / "release.yaml").read_text(encoding="utf-8")
    # An existing file does not stop --stdout, and is left alone.
    before = (repo.path / "release.yaml").read_bytes()
    again = init_ok(repo, release, "--stdout")
    assert again.out == result.out
    assert (repo.path / "release.yaml").read_bytes() == before


def test_same_repo_same_bytes(repo, release, tmp_path):
    repo.commit(
        "feat: x",
        {
            "b/Dockerfile": "FROM scratch\n",
            "a/Dockerfile": "FROM scratch\n",
            "charts/a/Chart.yaml": CHART.format(name="a"),
            "charts/a/values.yaml": VALUES_WITH_IMAGE,
            "pyproject.toml": "[tool.pytest.ini_options]\n",
            ".gitlab-ci.yml": "x: 1\n",
        },
    )
    repo.tag("v0.1.0")
    repo.git("remote", "add", "origin", "https://gitlab.com/team/app.git")
    init_ok(repo, release)
    first = (repo.path / "release.yaml").read_bytes()
    init_ok(repo, release, "--force")  # now release.yaml itself is an untracked file in the tree
    assert (repo.path / "release.yaml").read_bytes() == first
    # A clone under another folder name gives the same file: names come from the remote, not the folder.
    clone = tmp_path / "elsewhere"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    subprocess.run(
        ["git", "-C", str(clone), "remote", "set-url", "origin", "https://gitlab.com/team/app.git"], check=True
    )
    init_ok(Repo(clone), release, "--force")
    assert (clone / "release.yaml").read_bytes() == first


def test_dash_c_from_a_subfolder_writes_in_the_repo_root(repo, release):
    repo.commit("feat: x", {"src/main.py": "print()\n"})
    result = release(repo.path / "src", "init", "-C", ".")
    assert result.code == 0, result.err
    assert (repo.path / "release.yaml").is_file()
    assert not (repo.path / "src" / "release.yaml").exists()


def test_outside_a_git_repo_is_a_one_line_error(release, tmp_path: Path):
    folder = tmp_path / "plain"
    folder.mkdir()
    assert_one_line_error(release(folder, "init"), "not a git repository")
    assert not (folder / "release.yaml").exists()


def test_works_before_the_first_commit(repo, release):
    repo.write("Dockerfile", "FROM scratch\n")
    repo.write("Containerfile", "FROM scratch\n")
    repo.git("remote", "add", "origin", "https://gitlab.com/team/app.git")
    init_ok(repo, release)
    _, config = written(repo)
    # Two images at the root: only one can take the project's own registry path.
    assert [(i.name, i.dockerfile, i.repository) for i in config.images] == [
        ("app", "Containerfile", "registry.gitlab.com/team/app"),
        ("app-2", "Dockerfile", "registry.gitlab.com/team/app/app-2"),
    ]


def test_the_app_version_choice_is_written_by_the_chart_role_and_packaging_follows_it(repo, release, tmp_path):
    """An umbrella (dependencies, no image of ours) keeps the appVersion of what it bundles; the others follow."""
    umbrella = CHART.format(name="suite") + 'appVersion: "9.22.1"\n'
    umbrella += "dependencies:\n  - name: lib\n    version: 0.1.0\n    repository: file://../lib\n"
    repo.commit(
        "feat: charts",
        {
            "charts/suite/Chart.yaml": umbrella,
            "charts/suite/values.yaml": "image:\n  repository: quay.io/vendor/server\n  tag: 9.22.1\n",
            "charts/lib/Chart.yaml": CHART.format(name="lib") + "appVersion: '1.0'\ndependencies: []\n",
            "charts/lib/templates/cm.yaml": "kind: ConfigMap\n",
        },
    )
    init_ok(repo, release)
    text, config = written(repo)
    by_path = {chart.path: chart for chart in config.charts}
    assert by_path["charts/suite"].app_version == "keep"
    assert by_path["charts/lib"].app_version == "{version}"  # an empty dependency list is no umbrella
    assert "app_version: keep                   # bundles 1 chart: appVersion 9.22.1 stays" in text
    repo.git("add", "release.yaml")
    repo.git("commit", "-q", "-m", "chore: release.yaml")
    result = release(repo, "chart", "--output", str(tmp_path / "out"))
    assert result.code == 0, result.err
    versions = {}
    for name in ("suite", "lib"):
        with tarfile.open(tmp_path / "out" / f"{name}-0.1.0.tgz") as archive:
            member = archive.extractfile(f"{name}/Chart.yaml")
            assert member is not None
            versions[name] = yaml.safe_load(member.read())["appVersion"]
    assert versions == {"suite": "9.22.1", "lib": "0.1.0"}
