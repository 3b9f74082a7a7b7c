"""Without a release.yaml, plan reads the tag format from the tags (podinfo's shape: v1.x, then bare 2.0.0+)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Repo


def podinfo_like(repo: Repo) -> None:
    for version in ("v1.7.0", "v1.8.0"):
        repo.commit("feat: old")
        repo.tag(version)
    for version in ("2.0.0", "6.14.0", "6.14.1"):
        repo.commit("feat: newer")
        repo.tag(version)
    repo.commit("fix: since the last release")


def test_mixed_formats_plan_from_the_highest_release_and_say_so(repo: Repo, release: Any) -> None:
    podinfo_like(repo)
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["previous_tag"], data["next_version"], data["tag"]) == ("6.14.1", "6.14.2", "6.14.2")
    assert "3 like 1.2.3 (up to 6.14.1), 2 like v1.2.3 (up to v1.8.0)" in result.err
    assert "versioning.tag_format" in result.err


def test_cut_without_config_tags_in_the_format_it_planned_from(repo: Repo, release: Any) -> None:
    podinfo_like(repo)
    result = release(repo, "cut")
    assert result.code == 0, result.err
    assert repo.git("tag", "--points-at", "HEAD") == "6.14.2"


def test_a_config_file_decides_and_nothing_is_said(repo: Repo, release: Any) -> None:
    podinfo_like(repo)
    repo.write("release.yaml", "versioning:\n  tag_format: v{version}\n")
    result = release(repo, "plan", "--json")
    assert json.loads(result.out)["next_version"] == "1.9.0"
    assert "mix formats" not in result.err


def test_only_bare_tags_without_config_are_read_silently(repo: Repo, release: Any) -> None:
    repo.commit("feat: one")
    repo.tag("3.1.0")
    repo.commit("feat: two")
    result = release(repo, "plan", "--json")
    assert json.loads(result.out)["next_version"] == "3.2.0"
    assert "warning" not in result.err


def test_only_v_tags_stay_as_they_were(repo: Repo, release: Any) -> None:
    repo.commit("feat: one")
    repo.tag("v3.1.0")
    repo.commit("fix: two")
    result = release(repo, "plan", "--json")
    assert json.loads(result.out)["tag"] == "v3.1.1"
    assert result.err == ""


def test_one_stray_bare_tag_does_not_switch_a_history_of_v_tags(repo: Repo, release: Any) -> None:
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("chore: hand-made")
    repo.tag("1.9.0")
    repo.commit("fix: two")
    result = release(repo, "plan", "--json")
    assert json.loads(result.out)["next_version"] == "1.0.1"
    assert "1 like 1.2.3 (up to 1.9.0), 1 like v1.2.3 (up to v1.0.0)" in result.err or (
        "1 like v1.2.3 (up to v1.0.0), 1 like 1.2.3 (up to 1.9.0)" in result.err
    )
    assert "planning from v1.0.0" in result.err
