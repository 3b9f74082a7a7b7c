"""Monorepos as a user meets them: a pnpm-style workspace with apps and a shared package, planned, noted and cut
with the CLI on real temporary git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Repo, assert_one_line_error
from tests.source.test_plans import PLAN_KEYS

WORKSPACE = """\
components:
  - {name: client, path: apps/client, shared: [packages/shared]}
  - {name: server, path: [apps/server, packages/shared]}
  - {name: docs, path: apps/docs}
"""


def workspace(repo: Repo, config: str = WORKSPACE) -> None:
    """pnpm-workspace.yaml, two apps importing packages/shared, a docs site; each component released once."""
    repo.write("release.yaml", config)
    repo.commit(
        "chore: workspace",
        {
            "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
            "package.json": '{"private": true}\n',
            "apps/client/package.json": '{"name": "client", "dependencies": {"shared": "workspace:*"}}\n',
            "apps/server/package.json": '{"name": "server", "dependencies": {"shared": "workspace:*"}}\n',
            "apps/docs/package.json": '{"name": "docs"}\n',
            "packages/shared/package.json": '{"name": "shared"}\n',
            "release.yaml": config,
        },
    )
    for tag in ("client-v1.0.0", "server-v2.0.0", "docs-v0.3.0"):
        repo.tag(tag, annotated=True)


def plan_json(release: Any, repo: Repo, *args: str) -> dict[str, Any]:
    result = release(repo, "plan", "--json", *args)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["components"]}


def test_a_fix_in_the_shared_package_releases_every_app_that_lists_it(repo: Repo, release: Any) -> None:
    workspace(repo)
    fix = repo.commit("fix(shared): dates parse in every time zone", {"packages/shared/date.ts": "export {}\n"})
    plans = by_name(plan_json(release, repo))
    assert (plans["client"]["next_version"], plans["client"]["tag"]) == ("1.0.1", "client-v1.0.1")
    assert (plans["server"]["next_version"], plans["server"]["tag"]) == ("2.0.1", "server-v2.0.1")
    assert plans["docs"]["next_version"] is None
    assert [r["sha"] for r in plans["client"]["reasons"]] == [fix]

    text = release(repo, "plan").out
    # The text says why an app that did not change releases: the shared path it lists.
    client = text.split("server:")[0]
    assert "fix(shared): dates parse" in client
    assert "via packages/shared" in client
    assert sorted(release(repo, "version").out.split("\n")[:-1]) == ["client 1.0.1", "server 2.0.1"]


def test_a_change_only_in_one_app_releases_only_that_app(repo: Repo, release: Any) -> None:
    workspace(repo)
    repo.commit("feat(server): health endpoint", {"apps/server/health.ts": "1\n"})
    repo.commit("feat(docs-site): a sibling folder that is not apps/docs", {"apps/docs-site/x.md": "1\n"})
    plans = by_name(plan_json(release, repo))
    assert plans["server"]["next_version"] == "2.1.0"
    assert plans["client"]["next_version"] is None
    assert plans["docs"]["next_version"] is None
    assert plans["server"]["commits"] == 1


def test_notes_and_cut_of_a_shared_fix_reach_each_app(repo: Repo, release: Any) -> None:
    workspace(repo)
    repo.commit("fix(shared): dates parse in every time zone", {"packages/shared/date.ts": "export {}\n"})
    notes = release(repo, "notes")
    assert notes.code == 0, notes.err
    # One block per component, each headed by its name, so the reader knows whose notes these are.
    blocks = {name: notes.out.split(f"# {name}\n", 1)[1].split("\n# ", 1)[0] for name in ("client", "server", "docs")}
    assert "1.0.1" in blocks["client"] and "dates parse" in blocks["client"]
    assert "2.0.1" in blocks["server"] and "dates parse" in blocks["server"]
    assert "dates parse" not in blocks["docs"]

    cut = release(repo, "cut")
    assert cut.code == 0, cut.err
    assert sorted(cut.out.split()) == sorted(["client", "1.0.1", "server", "2.0.1"])
    assert "dates parse" in (repo.path / "apps/client/CHANGELOG.md").read_text()
    assert "dates parse" in (repo.path / "apps/server/CHANGELOG.md").read_text()
    assert repo.git("tag", "--points-at", "HEAD").split() == ["client-v1.0.1", "server-v2.0.1"]


def test_a_component_with_several_paths_counts_each(repo: Repo, release: Any) -> None:
    workspace(
        repo,
        "components:\n  - {name: client, path: [apps/client, libs/ui]}\n  - {name: server, path: apps/server}\n",
    )
    repo.commit("chore: ui lib", {"libs/ui/index.ts": "1\n"})
    repo.tag("client-v1.0.1")
    repo.commit("feat(ui): a button", {"libs/ui/button.ts": "1\n"})
    plans = by_name(plan_json(release, repo))
    assert plans["client"]["next_version"] == "1.1.0"
    assert plans["server"]["next_version"] is None


def test_a_mistyped_component_path_is_an_error_naming_the_right_one(repo: Repo, release: Any) -> None:
    config = "components:\n  - {name: client, path: apps/clinet}\n  - {name: server, path: apps/server}\n"
    workspace(repo, config)
    repo.commit("fix: something", {"apps/client/x.ts": "1\n"})
    for command in ("plan", "version", "notes"):
        result = release(repo, command)
        assert_one_line_error(result, "client", "apps/clinet", "apps/client")
        assert "did you mean" in result.err
    shared = "components:\n  - {name: client, path: apps/client, shared: [packages/shard]}\n"
    repo.write("release.yaml", shared)
    assert_one_line_error(release(repo, "plan"), "packages/shard", "packages/shared")


def test_plan_json_with_components_has_every_documented_top_level_key(repo: Repo, release: Any) -> None:
    workspace(repo)
    repo.commit("fix(shared): x", {"packages/shared/x.ts": "1\n"})
    data = plan_json(release, repo)
    assert set(data) == PLAN_KEYS | {"components"}
    assert data["branch"] == "main"
    assert data["next_version"] is None  # each component has its own
    assert [c["name"] for c in data["components"]] == ["client", "server", "docs"]
    for item in data["components"]:
        assert set(item) == PLAN_KEYS | {"name"}


def test_plan_text_at_a_released_head_does_not_say_current_none(repo: Repo, release: Any) -> None:
    config = "components:\n  - {name: client, path: apps/client}\n"
    repo.commit("feat(client): first", {"apps/client/a.ts": "1\n", "release.yaml": config})
    repo.tag("client-v9.24.0", annotated=True)
    out = release(repo, "plan").out
    assert "HEAD is already released as client-v9.24.0" in out
    assert "none" not in out
    assert "current  client-v9.24.0" in out


def test_a_shallow_clone_of_a_workspace_plans_as_the_full_one(repo: Repo, release: Any, tmp_path: Path) -> None:
    """CI checks out one commit: the one-pass history is deepened from origin until each range is complete."""
    workspace(repo)
    for n in range(30):
        folder = ("apps/client", "apps/server", "packages/shared")[n % 3]
        repo.commit(f"fix({folder.split('/')[-1]}): change {n}", {f"{folder}/f{n}.ts": str(n)})
    repo.git("checkout", "-q", "-b", "side", "HEAD~5")
    repo.commit("feat(server): from a side branch", {"apps/server/side.ts": "1"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side")
    full = plan_json(release, repo)
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth=1", f"file://{repo.path}", str(clone)], check=True)
    shallow = release(clone, "plan", "--json")
    assert shallow.code == 0, shallow.err
    assert "shallow clone: fetched" in shallow.err
    assert json.loads(shallow.out) == full
    assert by_name(full)["server"]["next_version"] == "2.1.0"  # the side branch's feat counts
    assert by_name(full)["client"]["commits"] == 20  # its own ten and the shared ten


def test_a_path_that_is_neither_a_string_nor_a_list_says_how_to_write_it(repo: Repo, release: Any) -> None:
    workspace(repo, "components:\n  - {name: client, path: 12}\n")
    assert_one_line_error(release(repo, "plan"), "release.yaml:2", "components[0].path", "must be a string", '"12"')
    repo.write("release.yaml", "components:\n  - {name: client, path: []}\n")
    assert_one_line_error(release(repo, "plan"), "components[0].path", "empty list")


def test_a_glob_path_counts_every_folder_it_matches_and_must_match_one(repo: Repo, release: Any) -> None:
    workspace(repo, "components:\n  - {name: client, path: apps/client}\n  - {name: libs, path: 'packages/*'}\n")
    repo.tag("libs-v1.0.0")
    repo.commit("feat(shared): a helper", {"packages/shared/helper.ts": "1\n"})
    plans = by_name(plan_json(release, repo))
    assert plans["libs"]["next_version"] == "1.1.0"
    assert plans["client"]["next_version"] is None
    repo.write("release.yaml", "components:\n  - {name: libs, path: 'pkgs/*'}\n")
    assert_one_line_error(release(repo, "plan"), "pkgs/*", "matches nothing")
