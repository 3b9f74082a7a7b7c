"""Prerelease channels against releases made on other branches, through the CLI on real repos."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Repo


def version(release: Any, repo: Repo) -> str | None:
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["next_version"]


def test_next_plans_above_a_stable_release_cut_from_main_without_merging_it(repo: Repo, release: Any) -> None:
    repo.commit("feat: base")
    repo.tag("v4.10.0")
    repo.git("checkout", "-q", "-b", "next")
    repo.commit("feat: one")
    repo.tag("v4.11.0-rc.1")
    repo.commit("feat: two")
    repo.tag("v4.11.0-rc.2")
    repo.git("checkout", "-q", "main")
    repo.commit("feat: released from main")
    repo.tag("v4.11.0")  # the stable release, cut from main; main is not merged into next
    repo.git("checkout", "-q", "next")
    repo.commit("feat: three")
    assert version(release, repo) == "4.12.0-rc.1"
    repo.tag("v4.12.0-rc.1")
    repo.commit("fix: four")
    assert version(release, repo) == "4.12.0-rc.2"


def test_a_fix_on_next_after_main_released_is_a_patch_prerelease_above_it(repo: Repo, release: Any) -> None:
    repo.commit("fix: base")
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "next")
    repo.git("checkout", "-q", "main")
    repo.commit("fix: on main")
    repo.tag("v1.0.1")
    repo.git("checkout", "-q", "next")
    repo.commit("fix: on next")
    assert version(release, repo) == "1.0.2-rc.1"
