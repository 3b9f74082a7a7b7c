"""Chart monorepos the chart-releaser way: several charts, each tagged NAME-X.Y.Z, each released on its own.

The fixture has the shape met in the wild (charts/<folder>/Chart.yaml, tags like cpn-console-2.4.25): an app chart
whose image the repository builds, a chart of a third-party image (PostgreSQL) and a chart untouched since its tag.
`release init` must see the components, `release plan` each chart's version, and `release run` publish only the
charts that changed, tagged NAME-X.Y.Z; Helm pulls what was published.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from release.config import from_text
from tests import helm_oracle
from tests.conftest import Repo
from tests.services import Registry

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels: {app: "{{ .Release.Name }}"}
  template:
    metadata:
      labels: {app: "{{ .Release.Name }}"}
    spec:
      containers:
        - name: main
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""

CHARTS = {  # folder → (Chart.yaml name, image.repository, the version chart-releaser last tagged)
    "console": ("cpn-console", "registry.example.com/team/console", "2.4.25"),
    "pg": ("pg", "docker.io/bitnami/postgresql", "1.2.0"),
    "site": ("site", "nginxinc/nginx-unprivileged", "0.3.0"),
}


def chart_files(folder: str, name: str, image: str, version: str) -> dict[str, str]:
    return {
        f"charts/{folder}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '1.0'\n",
        f"charts/{folder}/values.yaml": f"image:\n  repository: {image}\n  tag: '1.0'\n",
        f"charts/{folder}/templates/deployment.yaml": DEPLOYMENT,
    }


def chart_monorepo(repo: Repo, *, dockerfile: bool) -> None:
    """Three charts released by chart-releaser; then a fix in console, a feature in pg, nothing in site."""
    files: dict[str, str] = {"README.md": "charts\n"}
    for folder, (name, image, version) in CHARTS.items():
        files |= chart_files(folder, name, image, version)
    if dockerfile:
        files["console/Dockerfile"] = "FROM scratch\n"
    repo.commit("feat: charts", files)
    for name, _, version in CHARTS.values():
        repo.tag(f"{name}-{version}")
    repo.commit("fix(console): probe path", {"charts/console/templates/deployment.yaml": DEPLOYMENT + "# probe\n"})
    repo.commit(
        "feat(pg): backups",
        {"charts/pg/values.yaml": "image:\n  repository: docker.io/bitnami/postgresql\n  tag: '1.0'\nbackup: 1\n"},
    )
    repo.commit("docs: readme", {"README.md": "charts, documented\n"})  # in no chart: releases nothing


def plans(repo: Repo, release) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    return {c["name"]: c for c in json.loads(result.out)["components"]}


def test_init_writes_one_component_per_chart_and_wires_only_the_image_built_here(repo, release):
    chart_monorepo(repo, dockerfile=True)
    result = release(repo, "init")
    assert result.code == 0, result.err
    assert "chart-releaser tags NAME-X.Y.Z for 3 charts" in result.err
    text = (repo.path / "release.yaml").read_text()
    config = from_text(text)
    assert config.versioning.tag_format == "v{version}"  # no repo-wide tag: every chart has its own
    assert [(c.name, c.path, c.tag_format) for c in config.components] == [
        ("cpn-console", "charts/console", "{component}-{version}"),
        ("pg", "charts/pg", "{component}-{version}"),
        ("site", "charts/site", "{component}-{version}"),
    ]
    charts = {c.path: c for c in config.charts}
    assert {p: c.component for p, c in charts.items()} == {
        "charts/console": "cpn-console",
        "charts/pg": "pg",
        "charts/site": "site",
    }
    # console runs the image built from console/Dockerfile; pg and site run other people's images: untouched.
    assert charts["charts/console"].values == {
        "image.repository": "{image.console.repository}",
        "image.tag": "{version}",
    }
    assert charts["charts/pg"].values == {} and charts["charts/site"].values == {}
    assert "CHANGE ME if it runs docker.io/bitnami/postgresql, an image built here (console)" in text
    by_name = plans(repo, release)
    assert (by_name["cpn-console"]["current_version"], by_name["cpn-console"]["next_version"]) == ("2.4.25", "2.4.26")
    assert by_name["cpn-console"]["tag"] == "cpn-console-2.4.26"
    assert (by_name["pg"]["current_version"], by_name["pg"]["next_version"]) == ("1.2.0", "1.3.0")
    assert (by_name["site"]["current_version"], by_name["site"]["next_version"]) == ("0.3.0", None)


def test_plan_shows_each_charts_current_and_next_version(repo, release):
    chart_monorepo(repo, dockerfile=False)
    assert release(repo, "init").code == 0
    result = release(repo, "plan")
    assert result.code == 0, result.err
    assert "cpn-console: branch main" in result.out
    assert "current  cpn-console-2.4.25" in result.out and "next     2.4.26  (tag cpn-console-2.4.26" in result.out
    assert "current  pg-1.2.0" in result.out and "next     1.3.0  (tag pg-1.3.0" in result.out
    site = result.out.split("site: ")[1]
    assert "current  site-0.3.0" in site and "next     nothing to release" in site
    # The monorepo CI (ci-templates/templates/monorepo.yml runs `release ci generate`): a job per changed chart.
    matrix = release(repo, "ci", "generate", "--format", "github")
    assert matrix.code == 0, matrix.err
    assert "cpn-console" in matrix.out and '"pg"' in matrix.out and '"site"' not in matrix.out


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_run_publishes_only_the_changed_charts_and_tags_them_name_version(
    repo, release, registry: Registry, tmp_path: Path
):
    chart_monorepo(repo, dockerfile=False)
    assert release(repo, "init").code == 0
    config = repo.path / "release.yaml"
    # What the CHANGE ME asks for: the real chart registry (init had no forge remote to guess it from).
    text = config.read_text().replace(
        "      # - oci://registry.example.com/app/charts", f"      - oci://{registry.host}/mono"
    )
    config.write_text(text)
    repo.commit("chore: release.yaml", {"release.yaml": text})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}

    result = release(repo, "run", env=env)
    assert result.code == 0, result.err
    assert sorted(result.out.split("\n")[:-1]) == ["cpn-console 2.4.26", "pg 1.3.0"]
    tags = git(origin, "tag", "-l")
    assert "cpn-console-2.4.26" in tags.split() and "pg-1.3.0" in tags.split()
    assert git(origin, "rev-parse", "cpn-console-2.4.26^{commit}") == repo.head()
    assert not [t for t in tags.split() if t.startswith("site-") and t != "site-0.3.0"]
    assert registry.manifest("mono/site", "0.3.0").status_code == 404  # unchanged: not published at all
    assert registry.manifest("mono/site", "0.3.1").status_code == 404

    with helm_oracle.registry_client(credentials_file=tmp_path / "creds.json") as client:
        helm_oracle.login(client, registry.host, registry.user, registry.password)
        for name, version in (("cpn-console", "2.4.26"), ("pg", "1.3.0")):
            pulled = helm_oracle.pull(
                client, f"oci://{registry.host}/mono/{name}", tmp_path / "pulled", version=version
            )
            loaded = helm_oracle.load(pulled)
            assert (loaded.name, loaded.version) == (name, version)
            assert helm_oracle.render(pulled)  # Helm renders what was published

    # The next commit touching only site releases site alone, from its own tag.
    repo.commit("fix(site): title", {"charts/site/values.yaml": "image:\n  repository: n/n\n  tag: '2'\n"})
    repo.git("push", "-q", "origin", "main")
    again = release(repo, "run", env=env)
    assert again.code == 0, again.err
    assert again.out == "site 0.3.1\n"
    assert git(origin, "rev-parse", "site-0.3.1^{commit}") == repo.head()


def test_one_chart_with_chart_releaser_tags_gets_its_tag_format(repo, release):
    repo.commit("feat: chart", chart_files("podinfo", "podinfo", "ghcr.io/x/podinfo", "6.5.0"))
    repo.tag("podinfo-6.5.0")
    repo.commit("fix: probe", {"charts/podinfo/templates/deployment.yaml": DEPLOYMENT + "# fixed\n"})
    assert release(repo, "init").code == 0
    config = from_text((repo.path / "release.yaml").read_text())
    assert (config.versioning.tag_format, config.components) == ("podinfo-{version}", ())
    plan = json.loads(release(repo, "plan", "--json").out)
    assert (plan["current_version"], plan["next_version"], plan["tag"]) == ("6.5.0", "6.5.1", "podinfo-6.5.1")


def test_two_charts_of_one_name_the_tags_go_to_the_folder_of_that_name(repo, release):
    files = chart_files("guestbook", "guestbook", "gcr.io/x/gb", "0.1.0")
    files |= chart_files("blue-green", "guestbook", "gcr.io/x/gb", "0.1.0")  # a copy, under another folder
    repo.commit("feat: charts", files)
    repo.tag("guestbook-0.1.0")
    repo.commit("fix: probe", {"charts/guestbook/templates/deployment.yaml": DEPLOYMENT + "# fixed\n"})
    assert release(repo, "init").code == 0
    config = from_text((repo.path / "release.yaml").read_text())
    assert sorted((c.name, c.path) for c in config.components) == [
        ("blue-green", "charts/blue-green"),
        ("guestbook", "charts/guestbook"),
    ]
    by_name = plans(repo, release)
    assert (by_name["guestbook"]["current_version"], by_name["guestbook"]["next_version"]) == ("0.1.0", "0.1.1")
